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
    x = as_i64(x)
    s = as_i64(s)
    return (x + (np.int64(1) << (s - 1))) >> s


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


def requant(x: npt.ArrayLike, mult: npt.ArrayLike, shift: npt.ArrayLike) -> IntArray:
    """``round_half_up(x * mult / 2**shift)`` with |x| < 2**31, 0 <= mult < 2**31.

    The product fits 62 bits; the rounding constant keeps it below 2**63.
    No saturation here: callers saturate to their target width.
    """
    return rshift_round(as_i64(x) * as_i64(mult), shift)


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
    dd = np.maximum(as_i64(d), EXP_CLAMP)
    q = (-dd) // EXP_LN2
    r = dd + q * EXP_LN2
    t = r + EXP_QB
    e = (EXP_QA * t * t + EXP_QC) >> (2 * F_EXP)
    return e >> q


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
    d = requant(s - smax, mult, shift)
    e = np.where(valid, iexp(d), 0)
    total = np.sum(e, axis=-1, keepdims=True)  # >= 2**(F_EXP-1): the max key gives ~2**F_EXP
    recip = (np.int64(1) << 32) // total
    p = rshift_round(e * recip, 32 - SOFTMAX_OUT_BITS)
    return sat(p, 0, UINT8_MAX)


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
    xs = (x * GELU_INV_SQRT2) >> 15
    a = np.minimum(np.abs(xs), GELU_QB)
    t = a - GELU_QB
    ell = ((GELU_QA * t * t) >> (2 * F_GELU)) + GELU_ONE
    erf = np.sign(xs) * ell
    return (x * (GELU_ONE + erf)) >> (F_GELU + 1)


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
    var = np.sum(d * d, axis=-1, keepdims=True) // h
    std = np.maximum(isqrt(var + eps_q), 1)
    inv = (np.int64(1) << 31) // std
    y = rshift_round(d * inv, 31 - F_LN)  # FX(F_LN)
    z = rshift_round(y * as_i64(gamma_q) + as_i64(beta_q), F_GAMMA)  # FX(F_LN)
    return sat8(requant(z, mult, shift))
