"""The golden model's fast paths give the same bits as the plain formulas.

The integer kernels (in-place int64 passes, float BLAS matmuls, batch slices,
block-sparse products) and the calibration percentiles are checked against
straightforward reference versions: plain NumPy int64 arithmetic, written the
way docs/numerics.md states it, and ``np.percentile``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from irfactory import make_bert_graph, random_feeds, zero_blocks
from scipy.special import erf

from compiler.golden import interpreter, intops
from compiler.golden.ops import gelu
from compiler.ir.graph import Node
from compiler.passes.quantize import percentile_all, percentile_cols, quantize

RNG = np.random.default_rng(11)


# ---- reference formulas (one expression each, as in docs/numerics.md) -----------------
def ref_rshift_round(x, s):
    x, s = np.asarray(x, dtype=np.int64), np.asarray(s, dtype=np.int64)
    return (x + (np.int64(1) << (s - 1))) >> s


def ref_requant(x, m, s):
    return ref_rshift_round(np.asarray(x, dtype=np.int64) * np.asarray(m, dtype=np.int64), s)


def ref_iexp(d):
    dd = np.maximum(np.asarray(d, dtype=np.int64), intops.EXP_CLAMP)
    q = (-dd) // intops.EXP_LN2
    t = dd + q * intops.EXP_LN2 + intops.EXP_QB
    return ((intops.EXP_QA * t * t + intops.EXP_QC) >> (2 * intops.F_EXP)) >> q


def ref_igelu(x):
    x = np.asarray(x, dtype=np.int64)
    xs = (x * intops.GELU_INV_SQRT2) >> 15
    t = np.minimum(np.abs(xs), intops.GELU_QB) - intops.GELU_QB
    ell = ((intops.GELU_QA * t * t) >> (2 * intops.F_GELU)) + intops.GELU_ONE
    return (x * (intops.GELU_ONE + np.sign(xs) * ell)) >> (intops.F_GELU + 1)


def ref_softmax(s, valid, m, sh):
    s = np.asarray(s, dtype=np.int64)
    valid = np.broadcast_to(valid, s.shape)
    smax = np.max(np.where(valid, s, -(2**40)), axis=-1, keepdims=True)
    e = np.where(valid, ref_iexp(ref_requant(s - smax, m, sh)), 0)
    recip = (np.int64(1) << 32) // np.sum(e, axis=-1, keepdims=True)
    return np.clip(ref_rshift_round(e * recip, 32 - intops.SOFTMAX_OUT_BITS), 0, 255)


def ref_layernorm(r, g, b, eps_q, m, sh):
    r = np.asarray(r, dtype=np.int64)
    h = r.shape[-1]
    mean = np.floor_divide(np.sum(r, axis=-1, keepdims=True), h)
    d = r - mean
    var = np.sum(d * d, axis=-1, keepdims=True) // h
    std = np.maximum(intops.isqrt(var + eps_q), 1)
    y = ref_rshift_round(d * ((np.int64(1) << 31) // std), 31 - intops.F_LN)
    z = ref_rshift_round(y * g + b, intops.F_GAMMA)
    return np.clip(ref_requant(z, m, sh), -128, 127)


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# ---- elementwise kernels ------------------------------------------------------------------
def test_elementwise_kernels_match_reference():
    x = RNG.integers(-(2**20), 2**20, size=(3, 7, 33))
    m = RNG.integers(2**30, 2**31, size=33)
    s = RNG.integers(1, 40, size=33)
    assert same(intops.requant(x, m, s), ref_requant(x, m, s))
    assert same(intops.requant(x, 12345, 7), ref_requant(x, 12345, 7))
    assert same(intops.rshift_round(x, 3), ref_rshift_round(x, 3))
    d = RNG.integers(-(2**22), 1, size=(5, 40))
    assert same(intops.iexp(d), ref_iexp(d))
    assert same(intops.igelu(x), ref_igelu(x))
    for scalar in (-70000, -1, 0, 5):
        assert intops.iexp(scalar) == ref_iexp(scalar)
        assert intops.igelu(scalar) == ref_igelu(scalar)


def test_softmax_and_layernorm_match_reference():
    s = RNG.integers(-(2**20), 2**20, size=(2, 3, 9, 9))
    valid = RNG.random((2, 1, 1, 9)) < 0.7
    valid[..., 0] = True
    assert same(intops.softmax_rows(s, valid, 1 << 30, 33), ref_softmax(s, valid, 1 << 30, 33))
    r = RNG.integers(-(2**24), 2**24, size=(4, 6, 48))
    g = RNG.integers(-(2**14), 2**14, size=48)
    b = RNG.integers(-(2**26), 2**26, size=48)
    m, sh = RNG.integers(2**30, 2**31, size=48), RNG.integers(20, 40, size=48)
    assert same(intops.layernorm_rows(r, g, b, 3, m, sh), ref_layernorm(r, g, b, 3, m, sh))


# ---- exact matmuls --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "k", "lo", "hi", "density"),
    [
        (48, 40, -128, 128, 1.0),  # dense float32
        (40, 2100, -128, 128, 1.0),  # K beyond the float32 limit: sliced K
        (64, 80, -128, 128, 0.2),  # block-sparse tile rows
        (37, 53, -128, 128, 0.2),  # ragged tiles
        (16, 24, -(2**20), 2**20, 1.0),  # too wide for float32: float64
        (8, 8, 0, 1, 1.0),  # all zero
    ],
)
def test_matmul_nt_is_exact(n, k, lo, hi, density):
    x = RNG.integers(lo, hi, size=(70, k))
    w = RNG.integers(-127, 128, size=(n, k)).astype(np.int8)
    tiles = RNG.random((-(-n // 16), -(-k // 16))) < density
    w[~np.kron(tiles, np.ones((16, 16), dtype=bool))[:n, :k]] = 0
    want = x @ w.astype(np.int64).T
    assert same(intops.matmul_nt(x, w), want)
    with intops.weight_cache():  # prepared once, used twice
        assert same(intops.matmul_nt(x, w), want)
        assert same(intops.matmul_nt(x[:5], w), want[:5])


def test_batched_matmul_is_exact():
    a = RNG.integers(-128, 128, size=(2, 3, 9, 64))
    b = RNG.integers(-128, 128, size=(2, 3, 64, 9))
    assert same(intops.matmul(a, b), a @ b)
    a = RNG.integers(-(2**20), 2**20, size=(2, 9, 64))
    assert same(intops.matmul(a, b[0, 0]), a @ b[0, 0])


# ---- float GELU ------------------------------------------------------------------------------
def test_float_gelu_matches_one_line_form():
    x = (RNG.standard_normal((3, 300, 40)) * 4).astype(np.float32)
    x.ravel()[:6] = [0.0, -0.0, np.inf, -np.inf, 1e-30, -50.0]
    node = Node("gelu", "g", ("a",), ("b",))
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):  # -inf * 0
        want = (0.5 * x64 * (1.0 + erf(x64 / math.sqrt(2.0)))).astype(np.float32)
        got = gelu.run_float(node, [x], None)  # type: ignore[arg-type]
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


# ---- calibration percentiles -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 5000, 70_000, 300_000])
def test_percentiles_match_numpy_bit_for_bit(dtype, n):
    for a in (
        np.abs(RNG.standard_normal(n)),
        np.abs(RNG.standard_t(2, n)),
        RNG.integers(0, 4, n).astype(float),  # ties
    ):
        a = a.astype(dtype)
        for p in (99.999, 99.99, 50.0, 0.0, 100.0):
            assert np.float64(percentile_all(a, p)).tobytes() == np.float64(np.percentile(a, p)).tobytes()
        if n >= 64:
            cols = a[: n // 8 * 8].reshape(-1, 8)
            for p in (99.999, 90.0, 100.0):
                want, got = np.percentile(cols, p, axis=0), percentile_cols(cols, p)
                assert want.dtype == got.dtype and want.tobytes() == got.tobytes()


def test_percentile_of_nan_is_numpys():
    a = np.abs(RNG.standard_normal(100_000)).astype(np.float32)
    a[5] = np.nan
    assert np.isnan(percentile_all(a, 99.999))


# ---- whole graph: batch slices and block-sparse weights ----------------------------------------
def test_int_run_in_slices_equals_one_batch(monkeypatch):
    g = make_bert_graph(layers=2, hidden=64, heads=4, ffn=128, seq=12, seed=5, block=(16, 16))
    g = zero_blocks(g, 0.8, seed=2)
    q = quantize(g, random_feeds(g, 8, seed=1))
    feeds = random_feeds(g, 11, seed=4)
    sliced = interpreter.run(q, feeds, mode="int", trace=True)
    monkeypatch.setattr(interpreter, "INT_SLICE", 1000)
    whole = interpreter.run(q, feeds, mode="int", trace=True)
    assert sliced.keys() == whole.keys()
    for k in whole:
        assert same(sliced[k], whole[k]), k


def test_run_to_stops_at_the_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's gather for the RTL accelerator: the embedding LayerNorm's input, equal to the full
    trace's, without running any node after it (they are made to fail here)."""
    g = make_bert_graph(layers=1, hidden=32, heads=2, ffn=64, seq=8, seed=2)
    g = quantize(g, random_feeds(g, 2, seed=1))
    feeds = random_feeds(g, 2, seed=4)
    eln = next(n for n in g.nodes if n.role == "ln_emb")
    want = interpreter.run(g, feeds, mode="int", trace=True)[eln.inputs[0]]
    after = {n.op for n in g.nodes[g.nodes.index(g.producer(eln.inputs[0])) + 1 :]}
    assert {"layernorm", "linear"} <= after, after
    for op in after:
        mod = interpreter.OP_MODULES[op]
        monkeypatch.setattr(mod, "run_int", lambda *a: (_ for _ in ()).throw(AssertionError("ran too far")))
    got = interpreter.run_to(g, feeds, eln.inputs[0])
    assert np.array_equal(got, want)
    with pytest.raises(KeyError):
        interpreter.run_to(g, feeds, "no such tensor")
