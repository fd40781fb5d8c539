"""Random, seeded linear layers with a chosen block sparsity (test and bench data)."""

from __future__ import annotations

import numpy as np

from compiler.backends.rtl.linear import LinearPlan, plan_linear
from compiler.golden import intops


def random_layer(
    seed: int,
    n: int,
    k: int,
    block: tuple[int, int],
    sparsity: float,
    empty_rows: tuple[int, ...] = (),
    tt: int = 4,
    name: str = "dut",
    out_bits: int = 8,
    gain: float = 1.0,
) -> LinearPlan:
    """int8 weights where round(sparsity * blocks) blocks are zero (plus forced empty block rows).

    Requant multipliers are chosen so outputs spread over int8 (some saturate),
    with a few extreme rows: mult 0, a tiny multiplier (shift 62) and a large one.
    """
    rng = np.random.default_rng(seed)
    bm, bn = block
    nb, kb = -(-n // bm), -(-k // bn)
    mask = np.ones(nb * kb, dtype=bool)
    mask[rng.permutation(nb * kb)[: round(sparsity * nb * kb)]] = False
    mask = mask.reshape(nb, kb)
    mask[list(empty_rows), :] = False
    w = rng.integers(-128, 128, size=(n, k))
    w[w == 0] = 1  # a kept block is never all-zero by chance
    w *= np.kron(mask, np.ones((bm, bn), dtype=np.int64))[:n, :k]
    bias = rng.integers(-(2**18), 2**18, size=n)
    fan = max(1, int(np.count_nonzero(w, axis=1).max()))
    scales = gain * rng.uniform(0.3, 3.0, size=n) / (np.sqrt(fan) * 128.0)
    scales[0] = 0.0
    if n > 2:
        scales[1] = 2.0**-45
        scales[2] = 0.9 if out_bits == 8 else 2.0**20  # saturates int8 / int32
    pairs = [intops.quantize_multiplier(float(s)) for s in scales]
    mult = np.array([p[0] for p in pairs], dtype=np.int64)
    shift = np.array([p[1] for p in pairs], dtype=np.int64)
    return plan_linear(name, w, bias, mult, shift, block, tt=tt, out_bits=out_bits)


def random_tokens(seed: int, tokens: int, k: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(tokens, k))
