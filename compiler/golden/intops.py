"""Integer primitives: the bit-exact numerics contract of sparsehls.

Every integer kernel (NumPy golden model, HLS C++ in ``hls_templates/``, RTL
in ``hls_templates/rtl/``) is defined by the functions in this file.  The
prose version of the same contract is ``docs/numerics.md``; keep both in sync.

Conventions (they matter for bit-exactness):

* All arithmetic is on Python/NumPy ``int64``; no intermediate value may
  exceed 63 bits (ranges are documented next to each function).
* ``>>`` is an *arithmetic* shift, i.e. floor division by a power of two,
  also for negative numbers (NumPy, C++20 and SystemVerilog ``>>>`` on
  signed values all agree on this).
* Rounding is "round half up" implemented as ``(x + (1 << (s-1))) >> s``.
* Division is only ever applied to non-negative operands, except
  :func:`floor_div`, which is spelled out explicitly.
* Saturation clips to the target range; nothing wraps silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

# Fixed-point fraction bits of the internal domains (see docs/numerics.md).
F_RES = 10  # residual stream / LayerNorm input: int32, value = q * 2**-10
F_EXP = 14  # softmax exponent domain
F_GELU = 12  # GELU domain
F_TANH = 14  # tanh domain
F_LN = 12  # normalised LayerNorm value (x - mean) / std
F_GAMMA = 12  # LayerNorm gamma fraction bits
EXP_MIN_Q = 16  # exp(d) is 0 for d < -16*ln2 ... see iexp

# I-BERT polynomial coefficients (Kim et al., 2021).
EXP_A, EXP_B, EXP_C = 0.3585, 1.353, 0.344
ERF_A, ERF_B = -0.2888, 1.769

SOFTMAX_OUT_BITS = 8  # probabilities are uint8 with scale 1/256

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT8_MAX = 255


def as_i64(x: npt.ArrayLike) -> IntArray:
    return np.asarray(x, dtype=np.int64)


def sat(x: npt.ArrayLike, lo: int, hi: int) -> IntArray:
    return np.clip(as_i64(x), lo, hi)


def sat8(x: npt.ArrayLike) -> IntArray:
    return sat(x, INT8_MIN, INT8_MAX)


def sat32(x: npt.ArrayLike) -> IntArray:
    return sat(x, INT32_MIN, INT32_MAX)


def rshift_round(x: npt.ArrayLike, s: int | npt.ArrayLike) -> IntArray:
    """Round-half-up arithmetic right shift by ``s >= 1``."""
    s = as_i64(s)
    return _shift_owned(as_i64(x) + (np.int64(1) << (s - 1)), s)


# The golden model spends most of its time in elementwise int64 passes over
# [batch, seq, channels] arrays.  The ``*_owned`` / trailing-underscore helpers
# compute the same values as their plain namesakes but overwrite a temporary
# the caller made (never an input), which saves an allocation and a pass each.


def _fits(t: IntArray, other: IntArray) -> bool:
    """Whether ``t op other`` has ``t``'s shape and dtype (so it can be written in place)."""
    return t.ndim > 0 and t.dtype == np.int64 and np.broadcast_shapes(t.shape, other.shape) == t.shape


def _shift_owned(t: IntArray, s: IntArray) -> IntArray:
    if _fits(t, s):
        return np.right_shift(t, s, out=t)
    return t >> s


def _rshift_round_owned(t: IntArray, s: npt.ArrayLike) -> IntArray:
    s = as_i64(s)
    rnd = np.int64(1) << (s - 1)
    if _fits(t, rnd):
        np.add(t, rnd, out=t)
        return _shift_owned(t, s)
    return rshift_round(t, s)


def sat_(t: IntArray, lo: int, hi: int) -> IntArray:
    """:func:`sat` of a temporary the caller owns, in place."""
    if t.ndim and t.dtype == np.int64:
        return np.clip(t, lo, hi, out=t)
    return sat(t, lo, hi)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """Represent a real multiplier ``m >= 0`` as ``M * 2**-shift``.

    ``M`` is in ``[2**30, 2**31)`` (or 0) and ``1 <= shift <= 62``; a multiplier
    so small that it needs ``shift > 62`` keeps ``shift = 62`` and a smaller M.
    """
    if not math.isfinite(m) or m < 0:
        raise ValueError(f"requantization multiplier must be finite and >= 0, got {m}")
    if m == 0.0:
        return 0, 1
    e = math.floor(math.log2(m))
    shift = 30 - e
    if shift > 62:
        shift = 62
    if shift < 1:
        raise ValueError(f"requantization multiplier {m} is too large (>= 2**30)")
    big_m = round(m * 2.0**shift)
    if big_m >= 2**31:
        big_m //= 2
        shift -= 1
    return int(big_m), int(shift)


#: (mult, shift) with requant(x, *IDENTITY) == x for every int32 x: an input already in the
#: right fixed-point format needs no rescale (the RTL units then skip their input requant)
IDENTITY = (1 << 30, 30)


def requant(x: npt.ArrayLike, mult: npt.ArrayLike, shift: npt.ArrayLike) -> IntArray:
    """``round_half_up(x * mult / 2**shift)`` with |x| < 2**31, 0 <= mult < 2**31.

    The product fits 62 bits; the rounding constant keeps it below 2**63.
    No saturation here: callers saturate to their target width.
    """
    return _rshift_round_owned(as_i64(x) * as_i64(mult), shift)


def requant_(t: IntArray, mult: npt.ArrayLike, shift: npt.ArrayLike) -> IntArray:
    """:func:`requant` of an int64 temporary the caller owns, in place."""
    m = as_i64(mult)
    if _fits(t, m):
        np.multiply(t, m, out=t)
        return _rshift_round_owned(t, shift)
    return requant(t, mult, shift)


# float32 represents every integer of magnitude <= 2**24 exactly
_F32_EXACT = 1 << 24


def _absmax(a: np.ndarray) -> int:
    return max(-int(a.min(initial=0)), int(a.max(initial=0)))


# A weight matrix with few non-zero 16x16 tiles is multiplied tile row by tile
# row, each on the columns of x its tiles touch (exact like the dense product:
# only the terms that are zero are left out).
_TILE = 16
_SPARSE_MAX_DENSITY = 0.35


@dataclass(frozen=True)
class _Weight:
    """A weight matrix w [N, K] made ready for :func:`matmul_nt`."""

    absmax: int
    wt: np.ndarray  # float32 w.T [K, N]
    # tile rows (r0, r1, columns of K they touch, float32 w[r0:r1, columns]), if sparse
    tile_rows: list[tuple[int, int, np.ndarray, np.ndarray]] | None
    max_cols: int


def _prepare(w: np.ndarray) -> _Weight:
    n, k = w.shape
    nr, nc = -(-n // _TILE), -(-k // _TILE)
    nz = np.zeros((nr * _TILE, nc * _TILE), dtype=bool)
    nz[:n, :k] = w != 0
    occ = np.asarray(nz.reshape(nr, _TILE, nc, _TILE).any(axis=(1, 3)))
    wt = np.ascontiguousarray(w.T, dtype=np.float32)
    if occ.mean() > _SPARSE_MAX_DENSITY:
        return _Weight(_absmax(w), wt, None, k)
    rows = []
    lane = np.arange(_TILE)
    for r in range(nr):
        cols = (np.flatnonzero(occ[r])[:, None] * _TILE + lane).ravel()
        cols = cols[cols < k]
        r0, r1 = r * _TILE, min(n, (r + 1) * _TILE)
        rows.append((r0, r1, cols, np.ascontiguousarray(w[r0:r1, cols], dtype=np.float32)))
    return _Weight(_absmax(w), wt, rows, max(len(c) for _, _, c, _ in rows))


# id(w) -> (w, prepared w), alive for one golden-model run (interpreter.run),
# so weights are converted once, not once per batch slice
_WEIGHTS: ContextVar[dict[int, tuple[np.ndarray, _Weight]] | None] = ContextVar(
    "sparsehls_golden_weights", default=None
)


@contextmanager
def weight_cache() -> Iterator[None]:
    token = _WEIGHTS.set({})
    try:
        yield
    finally:
        _WEIGHTS.reset(token)


def _prepared(w: np.ndarray) -> _Weight:
    cache = _WEIGHTS.get()
    hit = cache.get(id(w)) if cache is not None else None
    if hit is not None and hit[0] is w:
        return hit[1]
    prep = _prepare(np.asarray(w))
    if cache is not None:
        cache[id(w)] = (w, prep)  # holds w: its id stays unique while cached
    return prep


def matmul_nt(x: npt.ArrayLike, w: np.ndarray) -> IntArray:
    """Exact integer ``x @ w.T`` for x [M, K] and w [N, K] (int64 result).

    Computed with BLAS on floats, which is exact whenever every partial sum is
    an integer that the float type represents exactly: float32 (twice as fast)
    over slices of K short enough that ``K_slice * max|x| * max|w| <= 2**24``,
    summed in int64; float64 if the values are too wide for that
    (exact while ``K * max|x| * max|w| < 2**53``, the old contract).
    """
    x = as_i64(x)
    k = x.shape[-1]
    prep = _prepared(w)
    aw, w32 = prep.absmax, prep.wt
    ax = _absmax(x)
    if ax * aw == 0:
        return np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
    if ax * aw > _F32_EXACT:
        return (x.astype(np.float64) @ np.ascontiguousarray(w.T, dtype=np.float64)).astype(np.int64)
    step = _F32_EXACT // (ax * aw)
    if prep.tile_rows is not None and step >= prep.max_cols:
        xt = np.ascontiguousarray(x.T, dtype=np.float32)
        yt = np.zeros((w.shape[0], x.shape[0]), dtype=np.float32)
        for r0, r1, cols, wr in prep.tile_rows:
            if len(cols):
                np.matmul(wr, xt[cols], out=yt[r0:r1])
        return yt.T.astype(np.int64, order="C")
    x32 = x.astype(np.float32)
    if step >= k:
        return (x32 @ w32).astype(np.int64)
    acc = np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
    for k0 in range(0, k, step):
        acc += (x32[:, k0 : k0 + step] @ w32[k0 : k0 + step]).astype(np.int64)
    return acc


def matmul(a: npt.ArrayLike, b: npt.ArrayLike) -> IntArray:
    """Exact integer (batched) ``a @ b``: float32 BLAS when ``K * max|a| * max|b| <= 2**24``
    (every partial sum exact), else float64 (exact below 2**53)."""
    a, b = as_i64(a), as_i64(b)
    bound = a.shape[-1] * _absmax(a) * _absmax(b)
    dt = np.float32 if bound <= _F32_EXACT else np.float64
    return (a.astype(dt) @ b.astype(dt)).astype(np.int64)


def floor_div(a: npt.ArrayLike, b: npt.ArrayLike) -> IntArray:
    """Floor division (towards minus infinity), b > 0."""
    return np.floor_divide(as_i64(a), as_i64(b))


def isqrt(v: npt.ArrayLike) -> IntArray:
    """Floor square root of a non-negative int64 (< 2**62): the largest s with s*s <= v."""
    v = as_i64(v)
    if np.any(v < 0):
        raise ValueError("isqrt of a negative number")
    s = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    # float sqrt can be off by one for large v: correct it exactly.
    s = np.where(s * s > v, s - 1, s)
    s = np.where((s + 1) * (s + 1) <= v, s + 1, s)
    return s


# --------------------------------------------------------------------------
# exp / softmax (I-BERT i-exp on a fixed-point domain)
# --------------------------------------------------------------------------
EXP_LN2 = round(math.log(2) * 2**F_EXP)
EXP_QB = round(EXP_B * 2**F_EXP)
EXP_QA = round(EXP_A * 2**F_EXP)
EXP_QC = round(EXP_C * 2 ** (3 * F_EXP))
EXP_CLAMP = -EXP_MIN_Q * EXP_LN2  # d below this gives exp = 0 anyway after >> q


def iexp(d: npt.ArrayLike) -> IntArray:
    """exp(d) for d <= 0 in FX(F_EXP); result in FX(F_EXP), 0 <= e <= 2**F_EXP.

    d = -q*ln2 + r with r in (-ln2, 0]; exp(r) ~ A (r + B)^2 + C; exp(d) = exp(r) >> q.
    """
    d = as_i64(d)
    if d.ndim == 0:
        return iexp(d.reshape(1))[0]
    dd = np.maximum(d, EXP_CLAMP)
    q = np.negative(dd)
    np.floor_divide(q, EXP_LN2, out=q)
    # t = r + B with r = dd + q*ln2 (int64 sums and products: any order is exact)
    t = q * EXP_LN2
    t += dd
    t += EXP_QB
    e = np.multiply(t, t, out=dd)  # dd is no longer needed
    e *= EXP_QA
    e += EXP_QC
    e >>= 2 * F_EXP
    e >>= q
    return e


def softmax_rows(scores: npt.ArrayLike, valid: npt.ArrayLike, mult: int, shift: int) -> IntArray:
    """Integer softmax over the last axis.

    scores: int32 attention scores; valid: bool mask of keys that take part
    (at least one per row); (mult, shift) maps a score difference to FX(F_EXP).
    Returns uint8 probabilities with scale 1/256 (0 for masked keys).
    """
    s = as_i64(scores)
    valid = np.broadcast_to(np.asarray(valid, dtype=bool), s.shape)
    neg = np.int64(-(2**40))
    smax = np.max(np.where(valid, s, neg), axis=-1, keepdims=True)
    d = requant_(s - smax, mult, shift)
    e = iexp(d)
    np.copyto(e, 0, where=~valid)
    total = np.sum(e, axis=-1, keepdims=True)  # >= 2**(F_EXP-1): the max key gives ~2**F_EXP
    recip = (np.int64(1) << 32) // total
    e *= recip
    p = _rshift_round_owned(e, 32 - SOFTMAX_OUT_BITS)
    return sat_(p, 0, UINT8_MAX)


# --------------------------------------------------------------------------
# GELU (I-BERT i-GELU) on FX(F_GELU)
# --------------------------------------------------------------------------
GELU_INV_SQRT2 = round(2**15 / math.sqrt(2))
GELU_QB = round(ERF_B * 2**F_GELU)
GELU_QA = round(ERF_A * 2**F_GELU)
GELU_ONE = 1 << F_GELU


def igelu(x: npt.ArrayLike) -> IntArray:
    """GELU(x) for x in FX(F_GELU) (|x| < 2**20); result in FX(F_GELU)."""
    x = as_i64(x)
    if x.ndim == 0:
        return igelu(x.reshape(1))[0]
    xs = x * GELU_INV_SQRT2
    xs >>= 15
    t = np.abs(xs)
    np.minimum(t, GELU_QB, out=t)
    t -= GELU_QB
    ell = np.multiply(t, t, out=t)  # (A*t)*t == A*(t*t) in int64
    ell *= GELU_QA
    ell >>= 2 * F_GELU
    ell += GELU_ONE
    erf = np.sign(xs, out=xs)
    erf *= ell  # sign(xs) * ell
    erf += GELU_ONE
    erf *= x
    erf >>= F_GELU + 1
    return erf


# --------------------------------------------------------------------------
# tanh via iexp on FX(F_TANH)   (pooler only)
# --------------------------------------------------------------------------
TANH_ONE = 1 << F_TANH


def itanh(x: npt.ArrayLike) -> IntArray:
    """tanh(x) for x in FX(F_TANH); result in FX(F_TANH).

    tanh|x| = (1 - e) / (1 + e) with e = exp(-2|x|) (F_TANH == F_EXP).
    """
    x = as_i64(x)
    e = iexp(np.int64(-2) * np.abs(x))
    t = ((TANH_ONE - e) << F_TANH) // (TANH_ONE + e)
    return np.sign(x) * t


# --------------------------------------------------------------------------
# LayerNorm on FX(F_RES) rows
# --------------------------------------------------------------------------
def layernorm_rows(
    r: npt.ArrayLike,
    gamma_q: npt.ArrayLike,
    beta_q: npt.ArrayLike,
    eps_q: int,
    mult: npt.ArrayLike,
    shift: npt.ArrayLike,
) -> IntArray:
    """Integer LayerNorm over the last axis; returns int8.

    r: int32 in FX(F_RES); gamma_q = round(gamma * 2**F_GAMMA) (int32);
    beta_q = round(beta * 2**(F_LN + F_GAMMA)) (int64); eps_q = round(eps * 2**(2*F_RES)).
    (mult, shift) maps FX(F_LN) to the int8 output scale.
    """
    r = as_i64(r)
    h = r.shape[-1]
    mean = floor_div(np.sum(r, axis=-1, keepdims=True), h)
    d = r - mean
    var = np.einsum("...i,...i->...", d, d)[..., None] // h  # == sum(d * d): exact int64
    std = np.maximum(isqrt(var + eps_q), 1)
    inv = (np.int64(1) << 31) // std
    d *= inv
    y = _rshift_round_owned(d, 31 - F_LN)  # FX(F_LN)
    y *= as_i64(gamma_q)
    y += as_i64(beta_q)
    z = _rshift_round_owned(y, F_GAMMA)  # FX(F_LN)
    return sat_(requant_(z, mult, shift), INT8_MIN, INT8_MAX)
