"""The integer primitives: exact definitions on hand-checked values, and accuracy of
the I-BERT approximations against the real functions (bounds measured, not assumed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from compiler.golden import intops


def test_rshift_round_is_half_up_and_floors_negatives():
    x = np.array([5, 6, 7, -5, -6, -7, 0])
    # x / 4 = 1.25 1.5 1.75 -1.25 -1.5 -1.75 0 ; half up -> 1 2 2 -1 -1 -2 0
    assert intops.rshift_round(x, 2).tolist() == [1, 2, 2, -1, -1, -2, 0]


@pytest.mark.parametrize("m", [1e-9, 0.003, 0.5, 1.0, 1.7, 12345.678])
def test_quantize_multiplier(m):
    big_m, s = intops.quantize_multiplier(m)
    assert 2**30 <= big_m < 2**31 and 1 <= s <= 62
    assert abs(big_m * 2.0**-s - m) <= m * 2**-30


def test_quantize_multiplier_edges():
    assert intops.quantize_multiplier(0.0) == (0, 1)
    with pytest.raises(ValueError):
        intops.quantize_multiplier(-1.0)
    with pytest.raises(ValueError):
        intops.quantize_multiplier(2.0**31)
    m, s = intops.quantize_multiplier(1e-30)  # needs shift > 62: capped, M smaller
    assert s == 62 and m < 2**30


def test_requant_identity():
    x = np.array([-(2**31), -3, 0, 5, 2**31 - 1])
    assert np.array_equal(intops.requant(x, 2**30, 30), x)


def test_isqrt_exact():
    rng = np.random.default_rng(0)
    v = np.concatenate(
        [rng.integers(0, 2**62, 2000), np.arange(0, 300), [2**62 - 1, (2**31 - 1) ** 2, (2**31 - 1) ** 2 - 1]]
    )
    got = intops.isqrt(v)
    assert got.tolist() == [math.isqrt(int(a)) for a in v]


def test_iexp_accuracy():
    d = np.arange(-16 * intops.EXP_LN2, 1)
    e = intops.iexp(d) / 2**intops.F_EXP
    ref = np.exp(d / 2**intops.F_EXP)
    assert np.max(np.abs(e - ref)) < 2.5e-3  # I-BERT's 2nd-order polynomial: ~1.9e-3 at worst
    assert intops.iexp(np.array([0]))[0] == 16389  # slightly above 1.0 (2**14 = 16384)


def test_softmax_rows_masks_and_normalises():
    rng = np.random.default_rng(1)
    s = rng.integers(-5000, 5000, size=(4, 32))
    valid = np.ones((4, 32), dtype=bool)
    valid[1, 5:] = False
    valid[2, 1:] = False  # a single valid key
    m, sh = intops.quantize_multiplier(1e-3 * 2**intops.F_EXP)
    p = intops.softmax_rows(s, valid, m, sh)
    assert p.dtype == np.int64 and p.min() >= 0 and p.max() <= 255
    assert np.all(p[~valid] == 0)
    assert p[2, 0] == 255  # one key: probability 1 saturates to 255/256
    ref = np.exp(1e-3 * (s - s.max(axis=1, keepdims=True)))
    ref = np.where(valid, ref, 0)
    ref = ref / ref.sum(axis=1, keepdims=True)
    assert np.max(np.abs(p / 256 - ref)) < 6e-3


def test_igelu_accuracy():
    x = np.linspace(-8, 8, 4001)
    y = intops.igelu(np.rint(x * 2**intops.F_GELU).astype(np.int64)) / 2**intops.F_GELU
    ref = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    assert np.max(np.abs(y - ref)) < 0.02  # I-BERT i-GELU: measured 0.018


def test_itanh_accuracy_and_symmetry():
    x = np.linspace(-6, 6, 2001)
    xq = np.rint(x * 2**intops.F_TANH).astype(np.int64)
    y = intops.itanh(xq)
    assert np.array_equal(y, -intops.itanh(-xq))
    assert np.max(np.abs(y / 2**intops.F_TANH - np.tanh(x))) < 5e-3


def test_layernorm_rows_matches_float():
    rng = np.random.default_rng(2)
    h = 96
    x = rng.normal(0, 3, size=(8, h))
    x[:, 7] *= 40  # an outlier channel
    r = np.rint(x * 2**intops.F_RES).astype(np.int64)
    gamma = rng.uniform(0.5, 1.5, h)
    beta = rng.normal(0, 0.1, h)
    s_out = 4.0 / 127
    m, sh = intops.quantize_multiplier(2.0**-intops.F_LN / s_out)
    out = intops.layernorm_rows(
        r, np.rint(gamma * 2**intops.F_GAMMA), np.rint(beta * 2 ** (intops.F_LN + intops.F_GAMMA)), 0, m, sh
    )
    ref = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True) * gamma + beta
    assert np.max(np.abs(out * s_out - np.clip(ref, -128 * s_out, 127 * s_out))) <= s_out * 0.51 + 1e-3


def test_layernorm_constant_row_is_beta():
    r = np.full((1, 16), 12345, dtype=np.int64)
    beta = np.arange(16) - 8
    out = intops.layernorm_rows(
        r, np.full(16, 4096), beta * 2 ** (intops.F_LN + intops.F_GAMMA), 0, 2**30, 30 + intops.F_LN
    )
    assert out[0].tolist() == beta.tolist()
