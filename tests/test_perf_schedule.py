"""Scheduler fit decisions and the performance model against RTL cycle counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.perf import cycle_model
from compiler.perf.boards import BOARD_RESOURCES
from compiler.perf.model import kernel_cycles
from compiler.perf.schedule import schedule
from compiler.perf.workload import LinearWork, from_shape

RTL = Path(__file__).resolve().parents[1] / "bench" / "results" / "rtl_linear.json"


@pytest.mark.skipif(not RTL.exists(), reason="bench/results/rtl_linear.json not measured yet")
def test_kernel_model_matches_rtl_cycles() -> None:
    cases = json.loads(RTL.read_text())["cases"]
    assert cases
    for c in cases:
        bm, bn = c["block"]
        m = LinearWork("x", 0, "q", c["n"], c["k"], bm, bn, c["nnzb"])
        pred = kernel_cycles(m, c["tokens"], engines=1, tt=c["tt"])
        assert abs(pred - c["cycles"]) / c["cycles"] <= 0.02, c["case"]


@pytest.mark.parametrize("board", sorted(BOARD_RESOURCES))
def test_fit_within_80_percent(board: str) -> None:
    wl = from_shape(4, 256, 4, 1024, 64, (16, 16), 0.8)
    s = schedule(wl, board)
    assert s.fits
    for res, u in s.estimate["utilization"].items():
        assert u <= 0.8, (res, u)
    assert s.estimate["latency_ms"] >= s.estimate["limit_ms"]  # never faster than the physical limit


def test_does_not_fit_says_what_it_needs() -> None:
    wl = from_shape(2, 4096, 32, 16384, 512, (16, 16), 0.0)  # dense and huge activations
    s = schedule(wl, "u200", budget=0.05)
    assert not s.fits
    assert "does NOT fit" in s.message and "%" in s.message


def test_latency_monotone_in_sparsity() -> None:
    lats = [
        schedule(from_shape(2, 256, 4, 1024, 64, (16, 16), sp), "u250").estimate["latency_ms"]
        for sp in (0.0, 0.5, 0.8, 0.9, 0.95)
    ]
    assert all(a >= b * 0.999 for a, b in zip(lats[:4], lats[1:4], strict=False)), lats
    # past ~90 % the engines become load/store bound (nnzb < KB or NB, docs/rtl.md): flat, not faster
    assert lats[4] <= lats[3] * 1.05, lats


def test_more_engines_never_slower_per_kernel() -> None:
    m = LinearWork("x", 0, "fc1", 1024, 256, 16, 16, 200)
    cyc = [kernel_cycles(m, 128, e, 2) for e in (1, 2, 4, 8)]
    assert cyc == sorted(cyc, reverse=True)
    assert cyc[0] == cycle_model.linear_cycles(128, m.nb, m.kb, m.nnzb, 2)


def test_limit_is_computed_from_board() -> None:
    wl = from_shape(2, 256, 4, 1024, 128, (16, 16), 0.9)
    e = schedule(wl, "u250").estimate
    b = BOARD_RESOURCES["u250"]
    assert e["limit"]["compute_ms"] == pytest.approx(wl.macs() / (b.total("dsp") * 2 * 300e6) * 1e3)


@pytest.mark.parametrize("board", sorted(BOARD_RESOURCES))
def test_bert_base_shape_fit_decisions(board: str) -> None:
    """The headline case: every board it says fits is within 80 % on every resource."""
    s = schedule(from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9), board)
    u = s.estimate["utilization"]
    assert s.fits == all(v <= 0.8 for v in u.values())
    assert s.fits  # 8.5 MB of weights fit on chip on all four cards
    assert s.estimate["weights_streamed_layers"] == []
    assert s.estimate["latency_over_limit"] >= 1.25  # the 80 % budget bounds the ratio


def test_weights_too_big_for_chip_are_streamed() -> None:
    wl = from_shape(4, 1024, 16, 4096, 64, (16, 16), 0.0)  # 51 MB of int8 weights > 80 % of U200 RAM
    s = schedule(wl, "u200")
    e = s.estimate
    assert s.fits and e["weights_streamed_layers"] and "streamed" in s.message
    assert e["latency_ms"] >= e["memory_ms"] * 0.999  # a streamed layer waits for its weights
    assert all(u <= 0.8 for u in e["utilization"].values())


def test_nonlinear_stage_cycles_are_the_rtl_units() -> None:
    """LayerNorm / GELU stage cycles with one unit are the RTL units' measured full-rate cycles."""
    from compiler.perf.model import _rtl_unit, gelu_cycles, layernorm_cycles

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    ly = wl.layers[0]
    # int_layernorm.sv overlaps rows (load k | statistics k-1 | output k-2): first load, last output,
    # two ramp phases, then one (768 + 2)-cycle phase per further row (loads are longer than the 137-cycle statistics)
    want = (768 + 1) + (768 + 10) + 2 * (768 + 1) + 126 * (768 + 2)
    assert layernorm_cycles(768, 128, 1) == _rtl_unit("layernorm", 0, 128, 768) == want
    assert gelu_cycles(ly, 128, 1) == _rtl_unit("gelu", 128 * 3072)
    assert layernorm_cycles(768, 128, 4) < layernorm_cycles(768, 128, 2) < layernorm_cycles(768, 128, 1)


def test_gelu_fill_is_one_token_over_its_lanes() -> None:
    """The GELU stage delays its successor by one token's row spread over its lanes, not by a 1-lane row."""
    from compiler.perf.model import first_tile_cycles, gelu_fill, late_q, layer_timing

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    ly = wl.layers[0]
    assert gelu_fill(ly, 48) == 3072 // 48 + 13
    d = schedule(wl, "u250").design
    t = layer_timing(wl, d, ly)
    w = d.costs.ln_width
    beats, stats = -(-768 // w), 137 + (w.bit_length() - 1)  # int_layernorm.sv: row beats, statistics
    more = -(-128 // d.ln_lanes) > 1  # the unit's second row is loading during the first's statistics
    ln_row = (beats + 1) + (max(beats + 1, stats) if more else stats) + beats + 10  # first row out
    fills = {
        "gelu": -(-3072 // d.gelu_lanes) + 13,
        "ln1": ln_row,
        "ln2": ln_row,
        # packed-QK pipeline, QK row, softmax row, PV row, shared requant of 64 lanes + its 3 stages
        "attention": 6 + 128 + (3 * 128 + 51) + 128 + 64 + 3,
        "add1": -(-768 // d.add_lanes) + 6,  # int_add.sv: one token over the lanes + 6
        "add2": -(-768 // d.add_lanes) + 6,
    }
    roles_b = ("q", "o", "fc1", "fc2") if late_q(ly, d) else ("o", "fc1", "fc2")
    for m in ly.linears:
        if m.role in roles_b:
            fills[m.role] = first_tile_cycles(m, d.tt, d.rows[0][m.role])
    # q in phase B runs on fc2's engines: whatever of it outlasts the fills before fc2 delays fc2
    excess = 0
    if "q" in roles_b:
        excess = max(0, t.kernels["q"] - sum(f for s, f in fills.items() if s not in ("fc2", "add2", "ln2")))
        assert d.alloc[0]["q"] == d.alloc[0]["fc2"]
        assert t.phase_a == max(t.kernels["k"], t.kernels["v"])
    # phase B = slowest stage + the fill latency of every other stage
    top = t.kernels[t.bottleneck]
    assert t.phase_b == top + sum(f for s, f in fills.items() if s != t.bottleneck) + excess


@pytest.mark.parametrize("mpd", [1, 2])
def test_gap_factors_multiply_to_latency_over_compute_limit(mpd: int) -> None:
    """The report's gap ledger explains latency / compute limit exactly (its factors multiply to it)."""
    import math

    wl = from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9)
    e = schedule(wl, "u250", mac_per_dsp=mpd).estimate
    g = e["gap_to_compute_limit"]
    assert g["packing"] == 2 / mpd
    assert all(v >= 1.0 for v in g.values())  # no factor can beat the limit
    ratio = e["latency_ms"] / e["limit"]["compute_ms"]
    assert math.prod(g.values()) == pytest.approx(ratio, rel=2e-3)


def test_phase_a_overlaps_only_the_previous_layernorm_drain() -> None:
    """Phase A of layer l+1 starts on the rows layer l's last LayerNorm has already given out."""
    from dataclasses import replace

    from compiler.perf.model import DDR_LATENCY, EMBED_LANES, first_tile_cycles, phase_a_roles, total_cycles

    wl = from_shape(4, 768, 12, 3072, 128, (16, 16), 0.9)
    d = schedule(wl, "u250").design
    cyc, lys, other = total_cycles(wl, d)
    assert lys[0].overlap == 0  # nothing before the first layer's phase A but the embedding
    for prev, t, ly in zip(lys[:-1], lys[1:], wl.layers[1:], strict=True):
        assert 0 < t.overlap <= prev.ln2_fill
        for m in ly.linears:
            if m.role in phase_a_roles(ly, d.late_q):  # the last tile waits for the last row
                assert t.overlap <= t.phase_a - first_tile_cycles(m, d.tt, d.rows[ly.index][m.role])
    assert cyc == other + sum(t.phase_a + t.phase_b - t.overlap for t in lys)
    assert other == wl.seq * -(-wl.hidden // EMBED_LANES) + DDR_LATENCY  # no tail in this workload
    # one LayerNorm lane per row: every row arrives at the very end, nothing can start early
    allrows = replace(d, ln_lanes=wl.seq)
    assert all(t.overlap == 0 for t in total_cycles(wl, allrows)[1])


def test_scheduler_picks_the_fastest_layernorm_width() -> None:
    """Without fixed costs the schedule is no slower than the best fixed LayerNorm width."""
    from compiler.perf.costs import LN_WIDTHS, design_costs

    wl = from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9)
    s = schedule(wl, "u250")
    fixed = {
        w: schedule(wl, "u250", costs=design_costs(wl.block, None, w)).estimate["cycles"] for w in LN_WIDTHS
    }
    assert s.design.costs.ln_width in LN_WIDTHS
    assert s.estimate["cycles"] == min(fixed.values())
    assert s.estimate["ln_width"] == s.design.costs.ln_width
    assert f"(W={s.design.costs.ln_width})" in s.message


def test_late_q_needs_an_fc2_to_borrow() -> None:
    """A layer whose FFN was pruned away keeps q in phase A (there are no fc2 engines to run it on)."""
    from dataclasses import replace

    from compiler.perf.model import layer_timing

    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    ly1 = wl.layers[1]
    no_ffn = replace(ly1, linears=tuple(m for m in ly1.linears if m.role not in ("fc1", "fc2")), ffn=0)
    wl = replace(wl, layers=(wl.layers[0], no_ffn))
    s = schedule(wl, "u250")
    d = s.design
    assert 1 not in d.late_q
    t = layer_timing(wl, d, no_ffn)
    assert t.phase_a == max(t.kernels[r] for r in ("q", "k", "v"))
    assert "q" in d.alloc[1] and "fc2" not in d.alloc[1]


def test_both_layernorm_and_add_stages_are_paid_for() -> None:
    """ln1/ln2 and the two residual adds run at the same time in phase B: each has its own units."""
    from dataclasses import replace

    from compiler.perf.model import resources

    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    d = schedule(wl, "u250").design
    base = resources(wl, d)
    one_more_ln = resources(wl, replace(d, ln_lanes=d.ln_lanes + 1))
    one_more_add = resources(wl, replace(d, add_lanes=d.add_lanes + 1))
    assert one_more_ln.dsp - base.dsp == pytest.approx(2 * d.costs.layernorm_lane().dsp)
    assert one_more_add.dsp - base.dsp == pytest.approx(2 * d.costs.add_lane().dsp)
    from compiler.perf.costs import unit_synth_cost

    yosys = unit_synth_cost("add")  # int_add.sv as Yosys maps it (rtl_synth_units.json)
    assert yosys is not None and d.costs.add_lane() == yosys
