"""RTL simulation of the block-sparse linear engine against the integer golden.

Every output word is compared with compiler.golden.ops.linear.run_int (the
cocotb scoreboard), and every full-rate run's ap_start->ap_done cycle count
with compiler/perf/cycle_model.py (equal: the model is exact at full rate).
One Verilator build per engine shape (PACK and REQ_LANES included);
sparsities share it (the weights are ROM files read at start).
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import random_layer, random_tokens
from conftest import needs_sim

from compiler.backends.rtl import linear, rtlsim
from compiler.errors import UserError
from compiler.perf import cycle_model

sim = [pytest.mark.sim, needs_sim]

# block -> (N, K), none a multiple of its block on both axes (odd sizes: padded
# lanes carry 0 in and must come out 0): grids of 23x8, 10x12, 8x8, 4x4 blocks.
SHAPES = {
    (1, 4): (23, 30),
    (4, 4): (37, 45),
    (8, 8): (60, 57),
    (16, 16): (64, 50),
}
SPARSITIES = (0.0, 0.5, 0.9, 1.0)
# DSP-saving engines (PACK = 2, REQ_LANES shared): one build each.  bm / REQ_LANES
# = 1 (packing alone, in-line requant), 2, 8 and 4 requant cycles per row-token.
PACKED = [
    ((4, 4), 2, 4),
    ((4, 4), 2, 2),
    ((8, 8), 2, 1),
    ((16, 16), 2, 4),
]


def model_cycles(plan: linear.LinearPlan, tokens: int) -> int:
    shape = rtlsim.shape_of(plan)
    return cycle_model.linear_cycles(
        tokens, shape.nb, shape.kb, plan.nnzb, plan.tt, rq_cycles=plan.rq_cycles, row_nnz=plan.row_nnz
    )


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
    for run in res["runs"]:
        if not run["paused"]:
            want = model_cycles(plan, run["tokens"])
            assert run["cycles"] == want, f"RTL {run['cycles']} cycles, model {want}"
        if not run["paused"] and run["tokens"] >= tt:
            # the first token tile (a streamed stage's first input in perf.model): first x beat
            # to the tile's last y beat
            x, y = run["beats"]["x_in"], run["beats"]["y_out"]
            first = y[tt * plan.nb - 1] - x[0] + 1
            shape = rtlsim.shape_of(plan)
            want = cycle_model.linear_first_tile(
                shape.nb, shape.kb, plan.nnzb, tt, rq_cycles=plan.rq_cycles, row_nnz=plan.row_nnz
            )
            assert first == want, f"first tile {first} cycles, model {want}"
    return res


def engine(pack: int = 1, req_lanes: int | None = None, **kw) -> linear.LinearPlan:
    """A seeded random layer (hw_tests/cases.py) planned for PACK / REQ_LANES."""
    return linear.with_engine(random_layer(**kw), pack, req_lanes)


def layer(block, sparsity, pack=1, req_lanes=None):
    n, k = SHAPES[block]
    nb = -(-n // block[0])
    empty = (0, nb // 2) if sparsity == 0.5 else ()  # empty block rows, first and middle
    return engine(
        pack,
        req_lanes,
        seed=int(sparsity * 100) + block[0],
        n=n,
        k=k,
        block=block,
        sparsity=sparsity,
        empty_rows=empty,
    )


# Block varies fastest in collection order: pytest-xdist's round-robin start then
# keeps each engine shape (one Verilator build) on one worker of two.
@pytest.mark.parametrize("block", list(SHAPES), ids=lambda b: f"{b[0]}x{b[1]}")
@pytest.mark.parametrize("sparsity", SPARSITIES, ids=lambda s: f"sp{int(s * 100)}")
@pytest.mark.sim
@needs_sim
def test_linear_matches_golden(block, sparsity, build_root, tmp_path):
    check(layer(block, sparsity), build_root, tmp_path, seed=7)


@pytest.mark.parametrize("cfg", PACKED, ids=lambda c: f"{c[0][0]}x{c[0][1]}_pack{c[1]}_rq{c[2]}")
@pytest.mark.parametrize("sparsity", SPARSITIES, ids=lambda s: f"sp{int(s * 100)}")
@pytest.mark.sim
@needs_sim
def test_packed_shared_requant_matches_golden(cfg, sparsity, build_root, tmp_path):
    """PACK = 2 and REQ_LANES < BM: bit-exact, and the cycle model stays exact (issue stalls included)."""
    block, pack, rq = cfg
    plan = layer(block, sparsity, pack, rq)
    assert (plan.pack, plan.rq_lanes) == (pack, rq)
    check(plan, build_root, tmp_path, seed=9)


@pytest.mark.sim
@needs_sim
def test_shared_requant_backlog(build_root, tmp_path):
    """One kept block per row (most rows), 8 requant cycles per row-token: the issue stage must stall."""
    plan = engine(2, 1, seed=3, n=60, k=57, block=(8, 8), sparsity=0.85)
    assert plan.rq_cycles == 8 and min(plan.row_nnz[plan.row_nnz > 0]) < plan.rq_cycles
    free = cycle_model.linear_cycles(13, plan.nb, plan.kb, plan.nnzb, plan.tt)
    assert model_cycles(plan, 13) > free  # the requant backlog costs cycles here
    res = rtlsim.run_case(plan, [(random_tokens(4, 13, plan.k), None)], tmp_path, build_root)
    assert res["passed"] and res["runs"][0]["cycles"] == model_cycles(plan, 13)


@pytest.mark.sim
@needs_sim
def test_linear_wide_output(build_root, tmp_path):
    """out_bits = 32 (a linear feeding GELU or a residual add): int32 lanes, sat32."""
    plan = random_layer(
        seed=11, n=37, k=45, block=(4, 4), sparsity=0.5, empty_rows=(2,), out_bits=32, gain=2.0**12
    )
    check(plan, build_root, tmp_path, seed=5)


# ------------------------------------------------------------------ no simulator
def test_pack_needs_even_block_rows():
    with pytest.raises(UserError, match="pack=2 pairs adjacent block rows"):
        engine(2, seed=1, n=8, k=8, block=(1, 4), sparsity=0.5)
    with pytest.raises(UserError, match="pack must be 1 or 2"):
        engine(3, seed=1, n=8, k=8, block=(4, 4), sparsity=0.5)
    with pytest.raises(UserError, match="req_lanes must be a power of two"):
        engine(1, 3, seed=1, n=8, k=8, block=(4, 4), sparsity=0.5)


def test_plan_defaults_and_top():
    base = random_layer(seed=2, n=20, k=24, block=(4, 8), sparsity=0.5, name="l3_fc1")
    assert (base.pack, base.req_lanes, base.rq_lanes, base.rq_cycles) == (1, None, 4, 1)
    top = linear.render_top(base)
    assert "PACK" not in top and "REQ_LANES" not in top  # the default engine, as before
    assert rtlsim.shape_of(base).parameters().keys() == {"BM", "BN", "NB", "KB", "NNZB_CAP", "TT", "OB"}
    wide = engine(1, 16, seed=2, n=20, k=24, block=(4, 8), sparsity=0.5)
    assert wide.req_lanes is None  # req_lanes >= bm: one lane per output, the default
    packed = engine(2, 2, seed=2, n=20, k=24, block=(4, 8), sparsity=0.5, name="l3_fc1")
    top = linear.render_top(packed)
    assert ".PACK(2),\n      .REQ_LANES(2)," in top
    assert rtlsim.shape_of(packed).tag.endswith("_pack2_rq2")
    mems, base_mems = linear.mem_files(packed), linear.mem_files(base)
    assert {k: v for k, v in mems.items() if k != "weights"} == {
        k: v for k, v in base_mems.items() if k != "weights"
    }
    # PACK = 2 weight words: per pair (q, c) 17 bits {hi9, lo8}; the operand they form is exact
    w = np.array([int(h, 16) for h in mems["weights"].split()], dtype=object)
    for word, blk in zip(w, packed.blocks, strict=False):
        for q in range(2):
            for c in range(8):
                f = (int(word) >> ((q * 8 + c) * 17)) & 0x1FFFF
                hi = (f >> 8) - 512 * (f >> 16)  # signed 9 bits
                lo18 = (f & 0xFF) | (0x3FF00 if f & 0x80 else 0)  # sext18(lo8), as unsigned bits
                assert hi * 2**18 + lo18 == int(blk[2 * q, c]) * 2**18 + int(blk[2 * q + 1, c])


def test_cycle_model_shared_requant():
    """rq_cycles = 1 is today's model; the job-by-job replay agrees with the vectorized path."""
    rows = np.array([3, 0, 5, 2, 4, 0, 4])
    for tokens in (1, 7, 64):
        today = cycle_model.linear_cycles(tokens, 7, 9, int(rows.sum()), 4)
        assert cycle_model.linear_cycles(tokens, 7, 9, int(rows.sum()), 4, rq_cycles=1, row_nnz=rows) == today
        # two requant cycles per row-token on rows of >= 2 blocks: only the drain of a tile's last row shows
        assert cycle_model.linear_cycles(tokens, 7, 9, 18, 4, rq_cycles=2, row_nnz=rows) >= today
    dense = np.full(8, 16)  # 16 blocks per row, 16 requant cycles per row-token: no stall
    slow = np.ones(8, dtype=np.int64)  # 1 block per row: about 16 cycles per job
    a = cycle_model.linear_cycles(32, 8, 16, 128, 4, rq_cycles=16, row_nnz=dense)
    assert a - cycle_model.linear_cycles(32, 8, 16, 128, 4) < 100
    b = cycle_model.linear_cycles(32, 8, 16, 8, 4, rq_cycles=16, row_nnz=slow)
    assert b >= 32 * 8 * 16  # every job takes 16 serializer cycles
    with pytest.raises(ValueError, match="row_nnz"):
        cycle_model.linear_cycles(4, 3, 3, 5, 4, rq_cycles=2, row_nnz=[1, 1, 1])


def test_requant_queue_fast_path_equals_replay():
    """The vectorized no-stall path gives the job-by-job replay's answer, stalls or not."""
    rng = np.random.default_rng(0)
    stalled = 0
    for _ in range(60):
        rows = rng.integers(0, 7, size=int(rng.integers(1, 12)))
        rows[rng.integers(0, len(rows))] += 1  # at least one kept block
        d, tt = int(rng.choice([2, 4, 8, 16])), int(rng.choice([2, 4, 8]))
        fast, slow = (
            cycle_model._RequantQueue(rows, d, 2 * tt, cycle_model.TIMING, r) for r in (False, True)
        )
        cs = 0
        for t in (tt, tt, tt, 1):
            a, b = fast.tile(cs, max(t, 2)), slow.tile(cs, max(t, 2))
            assert a == b
            cs = a[0] + int(rng.integers(1, 9))
        stalled += slow.stalled
    assert 0 < stalled < 60  # both kinds of case were drawn
