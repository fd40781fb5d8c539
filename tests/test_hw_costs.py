"""Unit costs (compiler/hw/costs.py) against the Yosys numbers shipped as package data, and the
unit builds (compiler/hw/builds.py) they are keyed by."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compiler.hw.builds import DEFAULT_BUILDS, VARIANTS, Builds, EngineBuild
from compiler.perf.schedule import schedule
from compiler.perf.workload import from_shape


def test_default_design_is_the_built_units() -> None:
    """The schedule's default units are the RTL builds: PACK = 2, REQ_LANES = 4, XW = 2 engines
    (Yosys numbers of that build when rtl_synth.json has them) and FABRIC adders (no DSP)."""
    from compiler.hw.costs import load_synth, synth_key, unit_synth_cost
    from compiler.perf.model import resources

    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    s = schedule(wl, "u250")
    c = s.design.costs
    assert (c.mac_per_dsp, c.requant_lanes, c.xw, c.add_fabric, c.rq_fabric) == (2, 4, 2, True, 2)
    assert s.to_meta()["builds"]["engine"] == {
        "pack": 2,
        "requant_lanes": 4,
        "xw": 2,
        "rq_fabric": 2,
        "token_tile": 2,
    }
    assert Builds.from_meta(s.to_meta()["builds"]) == c.builds
    synth = load_synth()
    key = synth_key(16, 16, 2, 4, 2)
    assert key == "16x16-p2-rq4-xw2" and synth_key(16, 16, 2, 4) == "16x16-p2-rq4"
    eng = c.engine(16, 16, 192, 192, s.design.tt)
    base = synth.get(key) or synth[synth_key(16, 16, 2, 4)]
    on, split = unit_synth_cost("rq_mul"), unit_synth_cost("rq_mul_split")
    assert on is not None and split is not None
    d = split + on * -1.0  # the 4 requant lanes are RQ_FABRIC = 2 builds
    assert (eng.dsp, eng.lut, eng.ff) == (
        base["DSP"] + 4 * d.dsp,
        base["LUT"] + 4 * d.lut,
        base["FF"] + 4 * d.ff,
    )
    if key in synth:
        assert f"engine {key}: Yosys" in c.source
    # the adders cost no DSP: one more add lane per stage adds LUTs only
    from dataclasses import replace

    more = resources(wl, replace(s.design, add_lanes=s.design.add_lanes + 1))
    base_res = resources(wl, s.design)
    assert more.dsp == base_res.dsp and more.lut > base_res.lut


@pytest.mark.parametrize("build, unit, dsp_left", [(1, "rq_mul_fabric", 0), (2, "rq_mul_split", 2)])
def test_engine_requant_build_costs_the_synthesized_lane(build, unit, dsp_left) -> None:
    """RQ_FABRIC = 1 / 2: each requant lane's 4-DSP product is replaced by the one Yosys measured for
    that build (all LUTs; split: 2 DSPs + LUT adds)."""
    from compiler.hw.costs import unit_costs, unit_synth_cost

    on, off = unit_synth_cost("rq_mul"), unit_synth_cost(unit)
    assert on is not None and off is not None and on.dsp == 4 and off.dsp == dsp_left and off.lut > on.lut
    base = DEFAULT_BUILDS.with_ln_width(4)
    dsp = unit_costs(replace(base, engine=replace(base.engine, rq_fabric=0)), (16, 16))
    other = unit_costs(replace(base, engine=replace(base.engine, rq_fabric=build)), (16, 16))
    a, b = dsp.engine(16, 16, 192, 192, 2), other.engine(16, 16, 192, 192, 2)
    assert b.dsp == a.dsp - 4 * (4 - dsp_left) == 128 + 4 * dsp_left  # the 256 MACs, packed two per DSP, stay
    assert b.lut == a.lut + 4 * (off.lut - on.lut)
    assert b.bram == a.bram
    assert f"RQ_FABRIC={build}" in other.source


def test_builds_round_trip_through_the_schedule_meta() -> None:
    """What the scheduler records is what a generator reads back."""
    for b in [DEFAULT_BUILDS, *VARIANTS.values()]:
        assert Builds.from_meta(b.to_meta()) == b
    assert Builds.from_meta({}) == DEFAULT_BUILDS
    assert len(set(VARIANTS.values())) == len(VARIANTS)


def test_engine_build_parameters_for_a_block() -> None:
    """PACK = 2 needs an even block height; REQ_LANES never exceeds the block's rows."""
    e = EngineBuild()
    assert e.rtl_parameters(16) == {"PACK": 2, "REQ_LANES": 4, "XW": 2, "RQ_FABRIC": 2, "TT": 2}
    assert e.rtl_parameters(3) == {"PACK": 1, "REQ_LANES": 3, "XW": 2, "RQ_FABRIC": 2, "TT": 2}
    assert EngineBuild(requant_lanes=None).lanes(8) == 8
    assert (
        DEFAULT_BUILDS.for_block((3, 8)).engine.pack == 1
        and DEFAULT_BUILDS.for_block((4, 8)) == DEFAULT_BUILDS
    )


def test_costs_without_yosys_numbers_are_labelled_formulas() -> None:
    from compiler.hw.costs import DATA, unit_costs

    assert DATA.parent.name == "hw" and (DATA / "rtl_synth.json").is_file()  # shipped with the package
    c = unit_costs(DEFAULT_BUILDS, (16, 16), use_synth=False)
    assert "formulas (no rtl_synth.json)" in c.source and "engine 16x16-p2-rq4-xw2: formula" in c.source
    # 256 MACs packed two a DSP; 4 requant lanes of the split build (RQ_FABRIC = 2): 2 DSPs each
    assert c.engine(16, 16, 48, 48, 2).dsp == 16 * 16 / 2 + 4 * 2
    assert (
        replace(c, builds=replace(DEFAULT_BUILDS, engine=replace(DEFAULT_BUILDS.engine, pack=1))).mac_per_dsp
        == 1
    )


def test_schedule_reads_the_builds_it_is_given() -> None:
    wl = from_shape(1, 64, 2, 128, 16, (16, 16), 0.5)
    s = schedule(wl, "u250", builds=VARIANTS["unpacked (PACK=1, a requant lane per row, LayerNorm W=1)"])
    assert s.design.costs.builds.engine.pack == 1 and s.design.costs.builds.add.fabric is False
    assert s.to_meta()["builds"]["engine"]["pack"] == 1
    with pytest.raises(TypeError):
        Builds.from_meta({"engine": {"unknown_knob": 1}})


def test_rtl_engine_is_the_sv_module_defaults() -> None:
    """The RTL planner's default engine build is what sparse_linear.sv declares (TT aside: the planner
    always sets it)."""
    import re
    from pathlib import Path

    from compiler.hw.builds import RTL_ENGINE

    sv = (Path(__file__).resolve().parents[1] / "hls_templates" / "rtl" / "sparse_linear.sv").read_text()
    default = dict(re.findall(r"parameter int (\w+) = (\w+)", sv))
    assert default["PACK"] == str(RTL_ENGINE.pack) and default["XW"] == str(RTL_ENGINE.xw)
    assert default["RQ_FABRIC"] == str(RTL_ENGINE.rq_fabric)
    assert default["REQ_LANES"] == "BM" and RTL_ENGINE.requant_lanes is None  # one per output row
