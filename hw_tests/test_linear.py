"""RTL simulation of the block-sparse linear engine against the integer golden.

Every output word is compared with compiler.golden.ops.linear.run_int (the
cocotb scoreboard), and every full-rate run's ap_start->ap_done cycle count
with compiler/perf/timing.py (equal: the model is exact at full rate).
One Verilator build per engine shape (PACK, REQ_LANES and XW included);
sparsities share it (the weights are ROM files read at start).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from cases import random_layer, random_tokens
from conftest import needs_sim

from compiler.backends.rtl import linear, rtlsim
from compiler.errors import UserError
from compiler.hw import timing

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
# Wide X port (XW bn-words per x_in beat): block, PACK, REQ_LANES, XW, (N, K).  First the
# production engine (16x16, PACK 2, REQ_LANES 4, XW 2; KB = 4); then KB = 11 (odd: a token's
# last beat is padded) at XW = 2 and 4, and KB = 2 < XW = 4 (one beat per token, half padding).
WIDE_X = [
    ((16, 16), 2, 4, 2, (64, 50)),
    ((4, 4), 1, None, 2, (37, 41)),
    ((4, 4), 2, 2, 4, (37, 41)),
    ((2, 32), 1, None, 4, (9, 40)),
]


def model_cycles(plan: linear.LinearPlan, tokens: int) -> int:
    shape = rtlsim.shape_of(plan)
    return timing.linear_cycles(
        tokens,
        shape.nb,
        shape.kb,
        plan.nnzb,
        plan.tt,
        rq_cycles=plan.rq_cycles,
        row_nnz=plan.row_nnz,
        xw=plan.xw,
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
            want = timing.linear_first_tile(
                shape.nb, shape.kb, plan.nnzb, tt, rq_cycles=plan.rq_cycles, row_nnz=plan.row_nnz, xw=plan.xw
            )
            assert first == want, f"first tile {first} cycles, model {want}"
    return res


def engine(pack: int = 1, req_lanes: int | None = None, xw: int = 1, **kw) -> linear.LinearPlan:
    """A seeded random layer (hw_tests/cases.py) planned for PACK / REQ_LANES / XW."""
    return linear.with_engine(random_layer(**kw), pack, req_lanes, xw)


def layer(block, sparsity, pack=1, req_lanes=None, xw=1, shape=None):
    n, k = shape or SHAPES[block]
    nb = -(-n // block[0])
    empty = (0, nb // 2) if sparsity == 0.5 else ()  # empty block rows, first and middle
    return engine(
        pack,
        req_lanes,
        xw,
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


@pytest.mark.parametrize(
    "cfg", WIDE_X, ids=lambda c: f"{c[0][0]}x{c[0][1]}_pack{c[1]}_rq{c[2] or c[0][0]}_xw{c[3]}"
)
@pytest.mark.parametrize("sparsity", SPARSITIES, ids=lambda s: f"sp{int(s * 100)}")
@pytest.mark.sim
@needs_sim
def test_wide_x_matches_golden(cfg, sparsity, build_root, tmp_path):
    """XW words per x_in beat (padded last beat when XW does not divide KB): bit-exact, and the cycle
    model (LOAD = tt * ceil(KB / XW) beats a tile) exact at full rate, first tile included."""
    block, pack, rq, xw, shape = cfg
    plan = layer(block, sparsity, pack, rq, xw, shape)
    assert (plan.pack, plan.rq_lanes, plan.xw) == (pack, rq or block[0], xw)
    assert plan.x_beats == -(-plan.kb // xw)
    check(plan, build_root, tmp_path, seed=13)


@pytest.mark.sim
@needs_sim
def test_wide_x_load_is_shorter(build_root, tmp_path):
    """A load-bound layer (KB = 16 > nnzb): XW = 4 loads a token in 4 beats, the RTL call is that
    much shorter, and the model still counts it to the cycle."""
    base = random_layer(seed=21, n=8, k=64, block=(4, 4), sparsity=0.75)
    x = random_tokens(22, 9, base.k)
    got = {}
    for xw in (1, 4):
        plan = linear.with_engine(base, 1, None, xw)
        res = rtlsim.run_case(plan, [(x, None)], tmp_path / f"xw{xw}", build_root)
        assert res["passed"], f"see {tmp_path}/xw{xw}/sim.log"
        got[xw] = res["runs"][0]["cycles"]
        assert got[xw] == model_cycles(plan, len(x))
    assert got[4] < got[1]


@pytest.mark.sim
@needs_sim
def test_shared_requant_backlog(build_root, tmp_path):
    """One kept block per row (most rows), 8 requant cycles per row-token: the issue stage must stall."""
    plan = engine(2, 1, seed=3, n=60, k=57, block=(8, 8), sparsity=0.85)
    assert plan.rq_cycles == 8 and min(plan.row_nnz[plan.row_nnz > 0]) < plan.rq_cycles
    free = timing.linear_cycles(13, plan.nb, plan.kb, plan.nnzb, plan.tt)
    assert model_cycles(plan, 13) > free  # the requant backlog costs cycles here
    res = rtlsim.run_case(plan, [(random_tokens(4, 13, plan.k), None)], tmp_path, build_root)
    assert res["passed"] and res["runs"][0]["cycles"] == model_cycles(plan, 13)


@pytest.mark.parametrize("sparsity", (0.5, 0.9), ids=lambda s: f"sp{int(s * 100)}")
@pytest.mark.sim
@needs_sim
def test_split_requant_matches_golden(sparsity, build_root, tmp_path):
    """RQ_FABRIC = 2 (each requant product on 2 DSPs + LUT adds, the scheduler's default engine):
    the production engine (16x16, PACK 2, REQ_LANES 4, XW 2) bit-exact, cycles as modelled."""
    plan = linear.with_engine(layer((16, 16), sparsity, 2, 4, 2, (64, 50)), 2, 4, 2, rq_fabric=2)
    assert (plan.pack, plan.rq_lanes, plan.xw, plan.rq_fabric) == (2, 4, 2, 2)
    assert rtlsim.shape_of(plan).parameters()["RQ_FABRIC"] == 2
    check(plan, build_root, tmp_path, seed=17)


@pytest.mark.sim
@needs_sim
def test_split_requant_wide_output(build_root, tmp_path):
    """RQ_FABRIC = 2 with in-line requant and int32 outputs: large accumulators and multipliers
    reach every piece of the split product (acc's top 15 bits, mult's top 5) unsaturated."""
    plan = random_layer(
        seed=19, n=37, k=45, block=(4, 4), sparsity=0.5, empty_rows=(2,), out_bits=32, gain=2.0**12
    )
    plan = linear.with_engine(plan, 1, None, 1, rq_fabric=2)
    assert int(plan.mult.max()) >= 2**26 and int(np.abs(plan.bias).max()) >= 2**17
    check(plan, build_root, tmp_path, seed=5)


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


def test_rq_fabric_refused():
    """RQ_FABRIC is 0, 1 or 2: anything else is refused by the planner with one line."""
    with pytest.raises(UserError, match="rq_fabric must be 0"):
        linear.with_engine(random_layer(seed=1, n=8, k=8, block=(4, 4), sparsity=0.5), rq_fabric=3)


def test_xw_refused():
    """XW is 1, 2 or 4: anything else is refused by the planner with one line."""
    for bad in (0, 3, 8, -2, 2.0, True, None):
        with pytest.raises(
            UserError, match=r"^dut: xw must be 1, 2 or 4 words of bn int8 per x_in beat, got "
        ) as e:
            engine(1, None, bad, seed=1, n=8, k=8, block=(4, 4), sparsity=0.5)
        assert "\n" not in str(e.value)
    plan = engine(seed=1, n=8, k=8, block=(4, 4), sparsity=0.5)
    with pytest.raises(UserError, match="xw must be 1, 2 or 4"):
        replace(plan, xw=3)  # a plan cannot be made with another XW behind the planner's back
    with pytest.raises(ValueError, match="xw"):
        timing.linear_cycles(8, 2, 2, 4, 4, xw=3)


def test_wide_x_plan_top_and_beats():
    """XW = 2 / 4: the top passes .XW and widens x_in; beats carry xw words, padded with zeros."""
    base = random_layer(seed=2, n=20, k=41, block=(4, 4), sparsity=0.5, name="l3_fc2")  # kb = 11
    assert (base.xw, base.x_beats) == (1, 11)
    assert "XW" not in linear.render_top(base) and "_xw" not in rtlsim.shape_of(base).tag
    assert "XW" not in rtlsim.shape_of(base).parameters()
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(3, base.k))
    one = linear.pack_input(base, x)
    for xw in (2, 4):
        plan = linear.with_engine(base, xw=xw)
        assert plan.x_beats == -(-11 // xw)
        top = linear.render_top(plan)
        assert f".XW({xw})," in top and f"input  wire [{xw * 32 - 1}:0] x_in_TDATA" in top
        shape = rtlsim.shape_of(plan)
        assert shape.parameters()["XW"] == xw and shape.tag.endswith(f"_xw{xw}")
        assert linear.mem_files(plan) == linear.mem_files(base)  # the ROMs do not change
        beats = linear.pack_input(plan, x)
        assert len(beats) == 3 * plan.x_beats
        assert all(0 <= b < 2 ** (xw * 32) for b in beats)
        for t in range(3):  # word j of token t is lane group j % xw of beat j // xw; padding is 0
            for j in range(plan.x_beats * xw):
                word = (beats[t * plan.x_beats + j // xw] >> (32 * (j % xw))) & 0xFFFFFFFF
                assert word == (one[t * 11 + j] if j < 11 else 0)
    # the LOAD stage: tt * ceil(kb / xw) beats a tile; xw = 1 is the default model
    for tokens in (1, 9, 64):
        assert timing.linear_cycles(tokens, 5, 11, 30, 4, xw=1) == timing.linear_cycles(tokens, 5, 11, 30, 4)
    assert timing.linear_first_tile(5, 11, 30, 4) - timing.linear_first_tile(5, 11, 30, 4, xw=2) == 4 * (
        11 - 6
    )


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
        today = timing.linear_cycles(tokens, 7, 9, int(rows.sum()), 4)
        assert timing.linear_cycles(tokens, 7, 9, int(rows.sum()), 4, rq_cycles=1, row_nnz=rows) == today
        # two requant cycles per row-token on rows of >= 2 blocks: only the drain of a tile's last row shows
        assert timing.linear_cycles(tokens, 7, 9, 18, 4, rq_cycles=2, row_nnz=rows) >= today
    dense = np.full(8, 16)  # 16 blocks per row, 16 requant cycles per row-token: no stall
    slow = np.ones(8, dtype=np.int64)  # 1 block per row: about 16 cycles per job
    a = timing.linear_cycles(32, 8, 16, 128, 4, rq_cycles=16, row_nnz=dense)
    assert a - timing.linear_cycles(32, 8, 16, 128, 4) < 100
    b = timing.linear_cycles(32, 8, 16, 8, 4, rq_cycles=16, row_nnz=slow)
    assert b >= 32 * 8 * 16  # every job takes 16 serializer cycles
    with pytest.raises(ValueError, match="row_nnz"):
        timing.linear_cycles(4, 3, 3, 5, 4, rq_cycles=2, row_nnz=[1, 1, 1])


def test_requant_queue_fast_path_equals_replay():
    """The vectorized no-stall path gives the job-by-job replay's answer, stalls or not."""
    rng = np.random.default_rng(0)
    stalled = 0
    for _ in range(60):
        rows = rng.integers(0, 7, size=int(rng.integers(1, 12)))
        rows[rng.integers(0, len(rows))] += 1  # at least one kept block
        d, tt = int(rng.choice([2, 4, 8, 16])), int(rng.choice([2, 4, 8]))
        fast, slow = (timing._RequantQueue(rows, d, 2 * tt, timing.TIMING, r) for r in (False, True))
        cs = 0
        for t in (tt, tt, tt, 1):
            a, b = fast.tile(cs, max(t, 2)), slow.tile(cs, max(t, 2))
            assert a == b
            cs = a[0] + int(rng.integers(1, 9))
        stalled += slow.stalled
    assert 0 < stalled < 60  # both kinds of case were drawn


def test_cycle_model_leading_empty_rows():
    """The first descriptor reaches the issue stage walker_ready cycles after ap_start plus one walker
    cycle per leading empty block row; a long first load hides it, a short one (wide X) does not."""
    args = (1, 5, 2, 3, 4)  # 1 token, nb 5, kb 2, nnzb 3, tt 4
    lead0, lead3 = [1, 1, 1, 0, 0], [0, 0, 0, 1, 2]
    for xw in (1, 2):
        assert timing.linear_cycles(*args, row_nnz=lead0, xw=xw) == timing.linear_cycles(*args, xw=xw)
        # load ends at 1 + ceil(2 / xw); the walker's first descriptor at 3 + 3 = 6
        assert timing.linear_cycles(*args, row_nnz=lead3, xw=xw) - timing.linear_cycles(
            *args, xw=xw
        ) == 6 - max(3, 1 + -(-2 // xw))
    long = (1, 5, 16, 3, 4)  # kb 16: the load (16 beats) hides the walker
    assert timing.linear_cycles(*long, row_nnz=lead3) == timing.linear_cycles(*long)
    with pytest.raises(ValueError, match="row_nnz"):
        timing.linear_cycles(*args, row_nnz=[0, 0, 0, 1])


# Verilator -Wall lint of wide-X engines (hw_tests/test_rtl_lint.py's helper): padded and
# unpadded KB, KB < XW, with PACK / REQ_LANES / OB = 32, and a generated XW = 2 top.
XW_LINT = [
    dict(BM=4, BN=4, NB=10, KB=11, NNZB_CAP=110, TT=4, XW=2),
    dict(BM=4, BN=4, NB=10, KB=13, NNZB_CAP=130, TT=4, XW=4),
    dict(BM=1, BN=4, NB=1, KB=1, NNZB_CAP=2, TT=2, XW=4),
    dict(BM=2, BN=32, NB=3, KB=2, NNZB_CAP=6, TT=64, XW=4),
    dict(BM=16, BN=16, NB=5, KB=7, NNZB_CAP=35, TT=16, PACK=2, REQ_LANES=4, XW=2),
    dict(BM=8, BN=2, NB=3, KB=9, NNZB_CAP=27, TT=2, PACK=2, REQ_LANES=2, OB=32, XW=4),
]


@pytest.mark.parametrize("params", XW_LINT, ids=lambda p: "_".join(f"{k.lower()}{v}" for k, v in p.items()))
@pytest.mark.sim
@needs_sim
def test_wide_x_lint_clean(params, tmp_path):
    from test_rtl_lint import _lint

    _lint(
        [f"-G{k}={v}" for k, v in params.items()]
        + [str(linear.PKG_SV), str(linear.CORE_SV), "--top-module", "sparse_linear"],
        tmp_path,
    )


@pytest.mark.sim
@needs_sim
def test_wide_x_generated_top_lint_clean(tmp_path):
    from test_rtl_lint import _lint

    plan = random_layer(seed=1, n=30, k=40, block=(4, 8), sparsity=0.6, name="l0_fc2")  # kb 5
    top = linear.write_layer(linear.with_engine(plan, 2, 2, 2), tmp_path)
    _lint([str(linear.PKG_SV), str(linear.CORE_SV), str(top), "--top-module", top.stem], tmp_path)
