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
    assert layernorm_cycles(768, 128, 1) == _rtl_unit("layernorm", 0, 128, 768) == 128 * (3 * 768 + 195) + 1
    assert gelu_cycles(ly, 128, 1) == _rtl_unit("gelu", 128 * 3072)
    assert layernorm_cycles(768, 128, 4) < layernorm_cycles(768, 128, 2) < layernorm_cycles(768, 128, 1)


def test_gelu_fill_is_one_token_over_its_lanes() -> None:
    """The GELU stage delays its successor by one token's row spread over its lanes, not by a 1-lane row."""
    from compiler.perf.model import first_tile_cycles, gelu_fill, layer_timing

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    ly = wl.layers[0]
    assert gelu_fill(ly, 48) == 3072 // 48 + 13
    d = schedule(wl, "u250").design
    t = layer_timing(wl, d, ly)
    w = d.costs.ln_width
    ln_row = 3 * -(-768 // w) + 195 + 2 * (w.bit_length() - 1) + 1  # int_layernorm.sv, one row
    fills = {
        "gelu": -(-3072 // d.gelu_lanes) + 13,
        "ln1": ln_row,
        "ln2": ln_row,
        "attention": 128 + (3 * 128 + 51) + 128,  # QK row, softmax row, PV row
    }
    for m in ly.linears:
        if m.role in ("o", "fc1", "fc2"):
            fills[m.role] = first_tile_cycles(m, d.tt, d.rows[0][m.role])
    # phase B = slowest stage + the fill latency of every other stage
    assert t.phase_b == t.kernels[t.bottleneck] + sum(f for s, f in fills.items() if s != t.bottleneck)


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
