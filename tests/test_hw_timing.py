"""The unit timing formulas (compiler/hw/timing.py and the stage formulas built on them) against
RTL simulation: cycle counts measured on the Verilator model of each unit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.hw import timing
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


def test_more_engines_never_slower_per_kernel() -> None:
    m = LinearWork("x", 0, "fc1", 1024, 256, 16, 16, 200)
    cyc = [kernel_cycles(m, 128, e, 2) for e in (1, 2, 4, 8)]
    assert cyc == sorted(cyc, reverse=True)
    assert cyc[0] == timing.linear_cycles(128, m.nb, m.kb, m.nnzb, 2)


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


def test_wide_x_port_halves_a_wide_matrix_tile_load() -> None:
    """XW = 2 (sparse_linear.sv loads two X words per beat): a token tile of fc2 (K = 3072, KB = 192)
    loads in tt * 96 beats instead of tt * 192, so its first tile comes tt * 96 cycles sooner (compute
    starts when the tile's X bank is full); the stage takes its input in half the beats."""
    from compiler.perf.model import first_tile_cycles, layer_timing, phase_b_stages, x_beats

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    fc2 = wl.layers[0].linear("fc2")
    assert fc2 is not None and fc2.kb == 192
    for tt, rows in ((2, 1), (2, 3), (4, 6)):
        one, two = (first_tile_cycles(fc2, tt, rows, 4, xw) for xw in (1, 2))
        assert one - two == tt * (192 - 96), (tt, rows)
    assert x_beats(48, 2) == 24 and x_beats(47, 2) == 24 and x_beats(47, 4) == 12
    d = schedule(wl, "u250").design
    assert d.costs.xw == 2
    st = phase_b_stages(wl, d, wl.layers[0], layer_timing(wl, d, wl.layers[0]).kernels)
    assert st["fc2"].take == d.tt * 96 and st["fc1"].take == d.tt * 24


def test_chained_layernorm_at_full_rate_is_the_unit_formula() -> None:
    """The phase-by-phase LayerNorm (rows arriving at any time) and the closed-form call count agree
    when every row is there from the start (the chained form counts from the first phase, one
    cycle after ap_start)."""
    for rows, width, lanes in [(1, 24, 1), (2, 24, 1), (8, 24, 1), (32, 768, 4), (5, 32, 2), (3, 384, 16)]:
        full = timing.layernorm_chained([-(10**9)] * rows, width, lanes)
        assert full + 1 == timing.layernorm_unit_cycles(rows, width, lanes), (rows, width, lanes)
    # a row that arrives late delays the call past the full-rate count
    late = timing.layernorm_chained([-(10**9)] * 3 + [10**5], 768, 4)
    assert late > timing.layernorm_unit_cycles(4, 768, 4)
