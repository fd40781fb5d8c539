"""RTL simulation of the block-sparse linear engine against the integer golden.

Every output word is compared with compiler.golden.ops.linear.run_int (the
cocotb scoreboard), and every full-rate run's ap_start->ap_done cycle count
with compiler/perf/cycle_model.py (within 2 %).  One Verilator build per
engine shape; sparsities share it (the weights are ROM files read at start).
"""

from __future__ import annotations

import pytest
from cases import random_layer, random_tokens
from conftest import needs_sim

from compiler.backends.rtl import rtlsim
from compiler.perf import cycle_model

pytestmark = [pytest.mark.sim, needs_sim]

# block -> (N, K), none a multiple of its block on both axes (odd sizes: padded
# lanes carry 0 in and must come out 0): grids of 23x8, 10x12, 8x8, 4x4 blocks.
SHAPES = {
    (1, 4): (23, 30),
    (4, 4): (37, 45),
    (8, 8): (60, 57),
    (16, 16): (64, 50),
}
SPARSITIES = (0.0, 0.5, 0.9, 1.0)


def check(plan, build_root, tmp_path, seed: int) -> dict:
    tt = plan.tt
    runs = [
        (random_tokens(seed, 2 * tt + 1, plan.k), None),  # full rate, tail tile of 1 token
        (random_tokens(seed + 1, tt + 3, plan.k), seed),  # random idle input + output backpressure
        (random_tokens(seed + 2, 1, plan.k), None),  # a single token
    ]
    res = rtlsim.run_case(plan, runs, tmp_path, build_root)
    assert res["mismatches"] == 0 and res["passed"], (
        f"{res['mismatches']} words differ; see {tmp_path}/sim.log"
    )
    assert res["compared"] == sum(len(x) for x, _ in runs) * plan.nb * plan.bm
    shape = rtlsim.shape_of(plan)
    for run in res["runs"]:
        if run["paused"]:
            continue
        want = cycle_model.linear_cycles(run["tokens"], shape.nb, shape.kb, plan.nnzb, plan.tt)
        assert abs(run["cycles"] - want) <= 0.02 * want, f"RTL {run['cycles']} cycles, model {want}"
    return res


# Block varies fastest in collection order: pytest-xdist's round-robin start then
# keeps each engine shape (one Verilator build) on one worker of two.
@pytest.mark.parametrize("block", list(SHAPES), ids=lambda b: f"{b[0]}x{b[1]}")
@pytest.mark.parametrize("sparsity", SPARSITIES, ids=lambda s: f"sp{int(s * 100)}")
def test_linear_matches_golden(block, sparsity, build_root, tmp_path):
    n, k = SHAPES[block]
    nb = -(-n // block[0])
    empty = (0, nb // 2) if sparsity == 0.5 else ()  # empty block rows, first and middle
    plan = random_layer(
        seed=int(sparsity * 100) + block[0], n=n, k=k, block=block, sparsity=sparsity, empty_rows=empty
    )
    check(plan, build_root, tmp_path, seed=7)


def test_linear_wide_output(build_root, tmp_path):
    """out_bits = 32 (a linear feeding GELU or a residual add): int32 lanes, sat32."""
    plan = random_layer(
        seed=11, n=37, k=45, block=(4, 4), sparsity=0.5, empty_rows=(2,), out_bits=32, gain=2.0**12
    )
    check(plan, build_root, tmp_path, seed=5)
