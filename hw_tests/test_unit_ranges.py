"""The narrowed arithmetic of the non-linear RTL units, bit for bit against the golden (no simulator).

``hls_templates/rtl/int_{gelu,softmax,attention_head}.sv`` keep each value in as
few bits as its range needs and split the products of wide operands into 27x18-bit
DSP pieces mod 2^64.  Each ``*_rtl`` function below is the unit's datapath
transcribed expression by expression (every register truncated to its declared
width, every piece product to its declared width) in NumPy uint64/int64; the tests
compare its output with the golden function (``compiler/golden``) on the input
sets that reach the ranges' edges: all int8 values where the input is int8, and
for int32 inputs the edges +-2^31, the clamp boundaries and 10^6 random values,
for every extreme of the port parameters.  They also check each range claim of the
RTL's comments (``_fit``: truncation to the declared width loses nothing).
The cocotb tests (test_nonlinear.py) check that the RTL is this arithmetic.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from compiler.golden import intops
from compiler.golden.intops import IDENTITY
from compiler.golden.ops import gelu as gelu_op

U = np.uint64
I32 = (intops.INT32_MIN, intops.INT32_MAX)


def _m(bits: int) -> np.uint64:
    return U((1 << bits) - 1)


def _u(v: np.ndarray) -> np.ndarray:
    """Two's-complement bit pattern (mod 2^64) of int64 values."""
    return np.asarray(v, dtype=np.int64).view(np.uint64)


def _sext(v: np.ndarray, bits: int) -> np.ndarray:
    """A ``bits``-wide register read as signed: the pattern's low bits, sign-extended to int64."""
    s = U(64 - bits)
    return (np.asarray(v).astype(np.uint64, copy=False) << s).view(np.int64) >> np.int64(64 - bits)


def _fit(v: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """Assert the range claim of a ``bits``-wide register; return the value."""
    v = np.asarray(v, dtype=np.int64)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    assert v.min() >= lo and v.max() <= hi, f"{bits}-bit register: range [{v.min()}, {v.max()}]"
    return v


def _rshift_round_rtl(p: np.ndarray, s: int) -> np.ndarray:
    """(p + (1 <<< (s-1))) >>> s on 64-bit signed values (wraps like the RTL's 64-bit add)."""
    return (_u(p) + U(1 << (s - 1))).view(np.int64) >> np.int64(s)


# --------------------------------------------------------------------------
# int_gelu
# --------------------------------------------------------------------------
def gelu_rtl(
    x: np.ndarray,
    im: int,
    ish: int,
    om: int,
    osh: int,
    off: int,
    zero: int,
    drop: str = "",
    identity: bool = False,
) -> np.ndarray:
    """hls_templates/rtl/int_gelu.sv, stage by stage (``drop``: leave out one piece, to show the tests see it;
    ``identity``: the IN_IDENTITY = 1 build, xf = x and im/ish unused)."""
    x = _fit(x, 32)
    if identity:
        xf = x  # s1_p = 64'(s0_x), s2_xf = s1_p
    else:
        p = (_u(x) * U(im)).view(np.int64)  # s1_p: 64'(x) * 64'(M), M < 2^32
        xf = _rshift_round_rtl(p, ish)  # s2_xf
    xu = _u(xf)
    m26, top = _m(26), (xu >> U(52)) & _m(12)
    m0 = (xu & m26) * U(23170)  # 41 bits
    m0 = _fit(m0.view(np.int64), 41, signed=False).view(np.uint64)
    m1 = (((xu >> U(26)) & m26) * U(23170)) & _m(38)
    m2 = ((top << U(11)) + (top << U(9)) + (top << U(7)) + (top << U(1))) & _m(12)
    m = m0 + (m1 << U(26)) + (m2 << U(52) if drop != "m2" else U(0))
    xs = _fit(m.view(np.int64) >> np.int64(15), 49)  # s3_xs
    ab = np.where(xs < 0, -xs, xs)  # abs_w (49 bits unsigned)
    t = _fit(np.where(ab < 7246, ab - 7246, 0), 14)  # s4_t
    sg = np.sign(xs)
    tt = _fit(t * t, 27)  # s5_tt
    qt = _fit(-1183 * tt, 41)
    ell = ((qt >> 24) + 4096) & 0x1FFF  # ell_w: 13 bits
    _fit(ell, 13, signed=False)
    g = np.where(sg == 0, 4096, np.where(sg < 0, 4096 - ell, 4096 + ell)) & 0x3FFF  # s6_g
    _fit(g, 14, signed=False)
    gu = g.astype(np.uint64)
    q0 = (xu & m26) * gu
    _fit(q0.view(np.int64), 40, signed=False)
    q1 = (((xu >> U(26)) & m26) * gu) & _m(38)
    q2 = np.zeros_like(xu)
    for i in range(12):
        q2 = np.where((gu >> U(i)) & U(1), (q2 + (top << U(i))) & _m(12), q2)
    q = q0 + (q1 << U(26)) + (q2 << U(52) if drop != "q2" else U(0))
    y = _fit(q.view(np.int64) >> np.int64(13), 51)  # s7_y
    z = _fit(y + off, 52)  # s8_y
    zu = _u(z)
    zh = _sext(zu >> U(26), 26)  # zh_w = s8_y[51:26]
    ml, mh = U(om & 0x1FFFF), U(om >> 17)
    r0 = (zu & m26) * ml  # 43 bits
    r1 = (zu & m26) * mh  # 41 bits
    _fit(r0.view(np.int64), 43, signed=False)
    _fit(r1.view(np.int64), 41, signed=False)
    r2 = (_u(zh) * ml) & _m(38)  # 38'(zh) * 38'(ml): mod 2^38
    r3 = (_u(zh) * mh) & _m(21)
    p9 = (r0 + (r1 << U(17)) + (r2 << U(26)) + (r3 << U(43) if drop != "r3" else U(0))).view(np.int64)
    r = _rshift_round_rtl(p9, osh)  # s10_r
    fin = (_u(r) + _u(np.array(zero, dtype=np.int64))).view(np.int64)
    return np.clip(fin, -128, 127)


def gelu_golden(x: np.ndarray, im: int, ish: int, om: int, osh: int, off: int, zero: int) -> np.ndarray:
    attrs = dict(in_mult=im, in_shift=ish, out_mult=om, out_shift=osh, out_offset=off, out_zero=zero)
    node = types.SimpleNamespace(attrs=attrs)
    return gelu_op.run_int(node, [np.asarray(x, dtype=np.int64)], None)  # type: ignore[arg-type]


def _gelu_inputs(rng: np.random.Generator, im: int, ish: int) -> np.ndarray:
    """int32 edges, every int8, the x whose xf sits at the clamp boundaries, 10^6 random int32."""
    edges = [*I32, I32[0] + 1, I32[1] - 1, 0, 1, -1, 2**30, -(2**30), 2**20, -(2**20)]
    # xf at |xs| = QB +- 2 (10247 / 10248 are the last small / first clamped xf), xs = 0, and
    # at the chunk borders of xf (2^26, 2^52): x = xf * 2^ish / M
    xf = np.array([0, 1, -1, 2, -2, 10245, 10246, 10247, 10248, 10249, 2**14, 2**26, 2**52, 2**61])
    xf = np.concatenate([xf, -xf])
    if im:
        xs = np.clip(np.round(xf.astype(np.float64) * 2.0**ish / im), *I32).astype(np.int64)
        near = (xs[:, None] + np.arange(-2, 3)[None, :]).ravel()
    else:
        near = np.zeros(0, dtype=np.int64)
    rand = rng.integers(I32[0], I32[1], size=10**6, endpoint=True)
    return np.clip(np.concatenate([edges, np.arange(-128, 128), near, rand]), *I32).astype(np.int64)


# port extremes: multipliers 0 .. 2^32-1 (the 32-bit ports), shifts 1 .. 62, offsets/zeros int32
GELU_PARAMS = [
    # (in_mult, in_shift, out_mult, out_shift, out_offset, out_zero)
    ((1 << 30), 30, *intops.quantize_multiplier(2.0**-12 / 0.021), 696, -128),  # the quantizer's FX form
    (*intops.quantize_multiplier(0.05 * 4096), *intops.quantize_multiplier(2.0**-12 / 0.021), 696, -128),
    (*intops.quantize_multiplier(0.001), *intops.quantize_multiplier(0.5), 0, 0),
    (2**31 - 1, 3, 3, 62, -5, 17),  # xf*INV_SQRT2 and xf*g wrap
    (2**31 - 1, 1, 2**31 - 1, 1, I32[1], I32[0]),
    (2**32 - 1, 1, 2**32 - 1, 1, I32[0], I32[1]),
    (2**32 - 1, 62, 2**32 - 1, 62, I32[1], -128),
    (0, 1, 0, 1, 0, 0),
    (1, 1, 1, 1, 0, 0),
    (1 << 30, 31, 1 << 31, 20, 696, -128),
    (12345, 62, 99999, 40, -(2**20), 5),
    ((1 << 30), 30, 2**31 - 1, 30, 696, -128),
    (2**32 - 1, 1, 1, 45, 0, 0),  # the wrapped top bits of y reach an unsaturated output
    (2**31 - 1, 3, 1, 45, 0, 0),
]


@pytest.mark.parametrize("params", GELU_PARAMS, ids=lambda p: "_".join(str(v) for v in p))
def test_gelu_narrowed_matches_golden(params):
    rng = np.random.default_rng(abs(hash(params)) % 2**32)
    x = _gelu_inputs(rng, params[0], params[1])
    np.testing.assert_array_equal(gelu_rtl(x, *params), gelu_golden(x, *params))


def test_gelu_random_params():
    """Random port values over their whole ranges (10^4 inputs each)."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        params = (
            int(rng.integers(0, 2**32)),
            int(rng.integers(1, 63)),
            int(rng.integers(0, 2**32)),
            int(rng.integers(1, 63)),
            int(rng.integers(*I32)),
            int(rng.integers(*I32)),
        )
        x = rng.integers(I32[0], I32[1], size=10**4, endpoint=True)
        x[:2] = I32
        np.testing.assert_array_equal(gelu_rtl(x, *params), gelu_golden(x, *params), err_msg=str(params))


def test_gelu_identity_requant_is_exact():
    """IN_IDENTITY's premise: requant(x, IDENTITY) == x for every int32 x.

    (x*2^30 + 2^29) >> 30 with |x*2^30| <= 2^61: no int64 wrap, and the added 2^29 < 2^30
    never carries into bit 30, so the floor is x.  Checked on the int32 edges, every value
    within 2^16 of 0 and of both ends, and 10^6 random int32.
    """
    rng = np.random.default_rng(3)
    near = np.arange(-(2**16), 2**16)
    x = np.concatenate([near, near + I32[0] + 2**16, near + I32[1] - 2**16 + 1])
    x = np.concatenate([x, rng.integers(I32[0], I32[1], size=10**6, endpoint=True)])
    assert x.min() == I32[0] and x.max() == I32[1]
    np.testing.assert_array_equal(intops.requant(x, *IDENTITY), x)


# the output parameters of GELU_PARAMS (its in_mult/in_shift replaced by IDENTITY) and random ones
GELU_ID_OUT = sorted({p[2:] for p in GELU_PARAMS}) + [
    (int(m), int(s), int(o), int(z))
    for m, s, o, z in zip(
        *(np.random.default_rng(9).integers(lo, hi, size=40) for lo, hi in [(0, 2**32), (1, 63), I32, I32]),
        strict=True,
    )
]


@pytest.mark.parametrize("out", GELU_ID_OUT, ids=lambda p: "_".join(str(v) for v in p))
def test_gelu_identity_narrowed_matches_golden(out):
    """The IN_IDENTITY = 1 build (xf = x) against run_int with in_mult/in_shift = IDENTITY;
    the model's im/ish are wrong on purpose (the build ignores them)."""
    rng = np.random.default_rng(abs(hash(out)) % 2**32)
    x = _gelu_inputs(rng, *IDENTITY)
    got = gelu_rtl(x, 12345, 7, *out, identity=True)
    np.testing.assert_array_equal(got, gelu_golden(x, *IDENTITY, *out))


@pytest.mark.parametrize("piece", ["m2", "q2", "r3"])
def test_gelu_inputs_reach_every_piece(piece):
    """The comparison can fail: without any one of the small top pieces the model differs somewhere."""
    rng = np.random.default_rng(11)
    for params in [GELU_PARAMS[0], (2**32 - 1, 1, 1, 45, 0, 0), (2**31 - 1, 3, 1, 45, 0, 0)]:
        x = _gelu_inputs(rng, params[0], params[1])
        if not np.array_equal(gelu_rtl(x, *params, drop=piece), gelu_golden(x, *params)):
            return
    pytest.fail(f"no input set depends on piece {piece}")


# --------------------------------------------------------------------------
# int_softmax (also the softmax inside int_attention_head)
# --------------------------------------------------------------------------
LN2, QB, QA, QC, CLAMP = intops.EXP_LN2, intops.EXP_QB, intops.EXP_QA, intops.EXP_QC, intops.EXP_CLAMP


def iexp_rtl(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stages 5..10 of int_softmax.sv's EXP pass on d (stage 4): (e, q)."""
    d = np.asarray(d, dtype=np.int64)
    dd = _fit(np.where((d < CLAMP) | (d > 0), CLAMP, d), 19)  # e_dd
    q = np.zeros_like(dd)
    for k in range(1, 17):
        q = np.where(-dd >= k * LN2, k, q)  # q_w
    t = _fit(dd + q * LN2 + QB, 15, signed=False)  # e_t
    tt = _fit(t * t, 29, signed=False)  # e_tt
    lo = _fit((tt & ((1 << 26) - 1)) * QA, 39, signed=False)  # qa_lo_w
    hi = _fit((tt >> 26) * QA, 16, signed=False)  # qa_hi_w
    ex = _fit(lo + (hi << 26) + QC, 43, signed=False)
    e = _fit(ex >> 28, 15, signed=False)  # e_e
    return e >> q, q


def softmax_rtl(s: np.ndarray, valid: np.ndarray, mult: int, shift: int, lmax: int = 512) -> np.ndarray:
    """int_softmax.sv on rows [R, L] (L <= lmax)."""
    s = _fit(s, 32)
    smax = np.where(valid, s, -(2**32)).max(axis=-1, keepdims=True)  # NEG = -2^32 (33 bits)
    diff = _sext(_u(s - smax), 33)  # e_diff (a masked key's may wrap: its e is 0)
    _fit(np.where(valid, diff, 0), 33)
    p = (_u(diff) * U(mult)).view(np.int64)  # e_p: 64'(diff) * 64'(M) mod 2^64
    d = _rshift_round_rtl(p, shift)  # e_d
    e, _ = iexp_rtl(d)
    e = np.where(valid, _fit(e, 16, signed=False), 0)  # e_out
    total = _fit(e.sum(axis=-1, keepdims=True), (lmax - 1).bit_length() + 15, signed=False)  # sum: SW bits
    dw = max(33, (lmax - 1).bit_length() + 15)
    q = np.where(total > 0, (1 << 32) // np.maximum(total, 1), (1 << dw) - 1)  # divider (0: all ones)
    recip = q & ((1 << 18) - 1)  # div_q[17:0]
    _fit(np.where(total > 0, q, 0), 18, signed=False)
    o_p = _fit(e * recip, 33, signed=False)
    o_r = _fit((o_p + (1 << 23)) >> 24, 9, signed=False)
    return np.minimum(o_r, 255)


def test_iexp_every_d_in_the_clamp_range():
    """Stages 5..10 against intops.iexp for every d in [CLAMP - 1000, 1000] and far outside it."""
    d = np.concatenate(
        [np.arange(CLAMP - 1000, 1001), [I32[0], I32[1], -(2**62), 2**62 - 1, -(2**63), 2**63 - 1]]
    ).astype(np.int64)
    e, _ = iexp_rtl(d)
    np.testing.assert_array_equal(e, intops.iexp(d))
    assert e.max() == intops.iexp(np.int64(0)) == 16389


def _softmax_rows(rng: np.random.Generator, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """~10^6 random int32 scores in rows of n_keys with masks; the edge rows first."""
    rows = max(2, 10**6 // n_keys)
    s = rng.integers(I32[0], I32[1], size=(rows, n_keys), endpoint=True)
    small = rng.integers(-(2**15), 2**15, size=(rows // 2, n_keys))  # realistic scores (not all clamped)
    s[: rows // 2] = small
    valid = rng.random((rows, n_keys)) < 0.8
    s[0, :4] = [I32[0], I32[1], I32[0], I32[1]][:n_keys]
    s[1, :] = I32[0]
    s[1, 0] = I32[1]  # diff = -(2^32 - 1)
    s[2, :] = 7  # equal scores
    valid[3] = False  # no valid key: sum 0
    valid[4] = False
    valid[4, -1] = True  # one valid key
    valid[5] = True
    valid[:, :1] |= rng.random((rows, 1)) < 0.5
    return s, valid


SOFTMAX_PARAMS = [
    intops.quantize_multiplier(0.003 * 2**14),
    intops.quantize_multiplier(0.05 * 2**14),
    intops.quantize_multiplier(2.0**-3),
    (0, 1),
    (1, 1),
    (2**31 - 1, 1),
    (2**31 - 1, 31),
    (2**31 - 1, 62),
    (2**32 - 1, 1),  # (s - m) * M wraps: d > 0 appears
    (2**32 - 1, 33),
    (12345, 20),
]


@pytest.mark.parametrize("mult, shift", SOFTMAX_PARAMS)
@pytest.mark.parametrize("n_keys", [1, 7, 512])
def test_softmax_narrowed_matches_golden(mult, shift, n_keys):
    rng = np.random.default_rng(mult % 1000 + shift + n_keys)
    s, valid = _softmax_rows(rng, n_keys)
    with np.errstate(divide="ignore"):  # the golden's 2^32 // 0 for a row without valid keys
        want = intops.softmax_rows(s, valid, mult, shift)
    np.testing.assert_array_equal(softmax_rtl(s, valid, mult, shift), want)


# --------------------------------------------------------------------------
# int_attention_head: packed QK, PV accumulators and the output requant
# --------------------------------------------------------------------------
def attn_requant_rtl(acc: np.ndarray, om: int, osh: int, smax: int) -> np.ndarray:
    """The o_out lanes of int_attention_head.sv from its ACCW-bit accumulators."""
    accw = (smax - 1).bit_length() + 16
    acc = _fit(acc, accw)
    r_lo = _sext(_u(acc) * U(om & 0x1FFFF), accw + 18)  # RLW'(acc) * RLW'(om[16:0])
    r_hi = _sext(_u(acc) * U(om >> 17), accw + 16)  # RHW'(acc) * RHW'(om[31:17])
    _fit(acc * (om & 0x1FFFF), accw + 18)
    _fit(acc * (om >> 17), accw + 16)
    r = _rshift_round_rtl((_u(r_lo) + (_u(r_hi) << U(17))).view(np.int64), osh)
    return np.clip(r, -128, 127)


ATTN_OUT_PARAMS = [
    intops.quantize_multiplier(0.4 / 256),
    (0, 1),
    (1, 1),
    (2**31 - 1, 20),
    (2**31 - 1, 1),
    (2**32 - 1, 1),
    (2**32 - 1, 40),
    (2**32 - 1, 62),
    (123457, 33),
]


@pytest.mark.parametrize("smax", [128, 512])
@pytest.mark.parametrize("om, osh", ATTN_OUT_PARAMS)
def test_attention_requant_on_every_accumulator_range(om, osh, smax):
    """acc at its bounds (SMAX keys of p = 255 times v = -128 / 127), near 0 and 10^6 random."""
    bound = smax * 255 * 128
    rng = np.random.default_rng(om % 997 + osh)
    acc = np.concatenate(
        [[-bound, smax * 255 * 127, 0, 1, -1], np.arange(-300, 300), rng.integers(-bound, bound, size=10**6)]
    ).astype(np.int64)
    want = intops.sat8(intops.requant(acc, om, osh))
    np.testing.assert_array_equal(attn_requant_rtl(acc, om, osh, smax), want)


def qk_rtl(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The packed QK of int_attention_head.sv: a key pair (j, j+1) on H = ceil(D/2) multipliers,
    lanes 0..H-1 then H..2H-1, each q_l * (k_{j+1,l} * 2^18 + k_{j,l}) unpacked (low 18 bits
    signed = q*k_j), 4-lane group sums (18 bits), scores in SCW = 16 + clog2(D) bits."""
    rows, d = q.shape
    s_len = k.shape[0]
    h, scw = (d + 1) // 2, 16 + (d - 1).bit_length()
    qp = np.zeros((rows, 2 * h), dtype=np.int64)
    qp[:, :d] = q
    kp = np.zeros((s_len + s_len % 2, 2 * h), dtype=np.int64)  # an odd row's last key pairs with 0
    kp[:s_len, :d] = k
    out = np.zeros((rows, kp.shape[0]), dtype=np.int64)
    for j in range(0, s_len, 2):
        sa = sb = np.zeros(rows, dtype=np.int64)
        for ph in (0, 1):
            lanes = slice(ph * h, (ph + 1) * h)
            pk = _fit(kp[j + 1, lanes] * (1 << 18) + kp[j, lanes], 27)  # the DSP's 27-bit port
            prod = _fit(qp[:, lanes] * pk[None, :], 34)
            lo = _sext(_u(prod), 18)
            hi = _fit((prod - lo) >> 18, 18)
            ga = [_fit(lo[:, g : g + 4].sum(axis=1), 18) for g in range(0, h, 4)]
            gb = [_fit(hi[:, g : g + 4].sum(axis=1), 18) for g in range(0, h, 4)]
            sa = _fit(sa + _fit(np.sum(ga, axis=0), scw), scw)
            sb = _fit(sb + _fit(np.sum(gb, axis=0), scw), scw)
        out[:, j], out[:, j + 1] = sa, sb
    return out[:, :s_len]


def test_qk_two_keys_in_one_dsp_every_value():
    """QK packing: q * (k1 * 2^18 + k0) gives q*k0 (low 18 bits, signed) and q*k1, for every q, k0, k1."""
    v = np.arange(-128, 128, dtype=np.int64)
    k0, k1 = (a.ravel() for a in np.meshgrid(v, v))
    pk = _fit(k1 * (1 << 18) + k0, 27)
    for q in range(-128, 128):
        prod = _fit(pk * q, 34)
        lo = _sext(_u(prod), 18)
        np.testing.assert_array_equal(lo, q * k0)
        np.testing.assert_array_equal((prod - lo) >> 18, q * k1)


@pytest.mark.parametrize("d", [1, 5, 8, 64, 128])
def test_packed_qk_scores_exact(d):
    """Packed QK = q @ k.T at the score extremes (|s| = D * 2^14), odd and even key counts."""
    rng = np.random.default_rng(d)
    for s_len in (1, 2, 7, 32):
        q, k = rng.integers(-128, 128, size=(s_len, d)), rng.integers(-128, 128, size=(s_len, d))
        q[0], k[0] = -128, -128  # the largest score
        k[-1] = 127  # the most negative one against q[0]
        np.testing.assert_array_equal(qk_rtl(q, k), q @ k.T)


def attention_rtl(q, k, v, mask, sm_mult, sm_shift, om, osh, smax):
    """One head of int_attention_head.sv: packed QK scores, softmax_rtl, ACCW-bit PV, requant."""
    scores = _fit(qk_rtl(q, k), 32)
    valid = np.broadcast_to(mask != 0, scores.shape)
    p = softmax_rtl(scores, valid, sm_mult, sm_shift, smax)
    accw = (smax - 1).bit_length() + 16
    acc = np.zeros((q.shape[0], v.shape[1]), dtype=np.int64)
    for j in range(k.shape[0]):  # the MAC order of the RTL, each partial sum in ACCW bits
        acc = _fit(acc + p[:, j : j + 1] * v[j][None, :], accw)
    return attn_requant_rtl(acc, om, osh, smax)


@pytest.mark.parametrize("case", ["random", "extreme_neg", "extreme_pos", "masked"], ids=lambda c: c)
def test_attention_head_narrowed_matches_golden(case):
    from compiler.golden.ops import attention as attention_op

    rng = np.random.default_rng(len(case))
    s_len, d, smax = 512, 4, 512
    q, k, v = (rng.integers(-128, 128, size=(s_len, d)) for _ in range(3))
    mask = np.ones(s_len, dtype=np.int64)
    if case == "extreme_neg":  # every p = 255 on one key, v = -128: the most negative accumulators
        q[:] = -128
        k[:] = -128
        v[:] = -128
    elif case == "extreme_pos":
        q[:] = 127
        k[:] = 127
        v[:] = 127
    elif case == "masked":
        mask[s_len // 3 :] = 0
    for sm, out in [
        (intops.quantize_multiplier(0.002 * 2**14), intops.quantize_multiplier(0.4 / 256)),
        ((0, 1), (2**31 - 1, 20)),  # all scores equal after the requant: p = 0 or 1 each
        ((2**31 - 1, 1), (2**32 - 1, 40)),
    ]:
        attrs = dict(heads=1, head_dim=d, sm_mult=sm[0], sm_shift=sm[1], out_mult=out[0], out_shift=out[1])
        node = types.SimpleNamespace(attrs=attrs)
        want = attention_op.run_int(node, [q[None], k[None], v[None], mask[None]], None)[0]  # type: ignore[arg-type]
        got = attention_rtl(q, k, v, mask, *sm, *out, smax)
        np.testing.assert_array_equal(got, want)


def test_pv_two_lanes_in_one_dsp_every_value():
    """PV packing: p * (vb * 2^18 + va) gives p*va (low 18 bits, signed) and p*vb, for every p, va, vb."""
    v = np.arange(-128, 128, dtype=np.int64)
    va, vb = (a.ravel() for a in np.meshgrid(v, v))
    pk = _fit(vb * (1 << 18) + va, 27)  # pk (27 bits: the DSP's A port)
    for p in range(256):
        pp = _fit(pk * p, 36)
        lo = _sext(_u(pp), 18)
        np.testing.assert_array_equal(lo, p * va)
        np.testing.assert_array_equal((pp - lo) >> 18, p * vb)
