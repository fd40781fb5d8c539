"""HLS project generation and C simulation of whole (random, small) quantized BERT graphs."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls import toolchain
from compiler.backends.hls.command import generate_hls, run_csim
from compiler.backends.hls.csim import CsimDesign
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.hw.boards import BOARDS, get_board
from compiler.ir.graph import Graph
from compiler.outputs import write_manifest
from compiler.passes.quantize import quantize
from compiler.perf.schedule_design import ScheduleDesign
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks

# its module fixtures are built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("test_hls_project")

needs_gxx = pytest.mark.skipif(
    not toolchain.have_toolchain(), reason="needs g++ and the hls4ml ap_types headers"
)

# (layers, hidden, heads, ffn, seq, block, classifier, token_types, sparsity)
CONFIGS = {
    "l1_h32_b1x4": (1, 32, 2, 64, 8, (1, 4), False, True, 0.3),
    "l2_h32_b4x4_cls": (2, 32, 4, 64, 16, (4, 4), True, True, 0.6),
    "l1_h48_b8x8_notype": (1, 48, 3, 96, 12, (8, 8), False, False, 0.5),
    "l1_h64_b16x16": (1, 64, 4, 128, 16, (16, 16), True, True, 0.4),
}


def quantized_graph(name: str) -> Graph:
    layers, hidden, heads, ffn, seq, block, cls, tt, sp = CONFIGS[name]
    g = make_bert_graph(layers, hidden, heads, ffn, seq, seed=3, classifier=cls, token_types=tt, block=block)
    g = zero_blocks(g, sp, seed=4)
    return quantize(g, random_feeds(g, 4, seed=5))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Path]:
    g = quantized_graph("l2_h32_b4x4_cls")
    proj = tmp_path_factory.mktemp("proj")
    generate_hls(g, proj, "u280")
    return g, proj


# ---- generation (plain tests) ----------------------------------------------------------------
def test_board_table() -> None:
    assert set(BOARDS) >= {"u200", "u250", "u280", "u55c"}
    assert get_board("U55C").platform == "xilinx_u55c_gen3x16_xdma_3_202210_1"
    assert get_board("u200").memory == "DDR" and get_board("u280").memory == "HBM"
    with pytest.raises(UserError, match="unknown board"):
        get_board("u9000")


def test_generate_is_deterministic(tmp_path: Path) -> None:
    g = quantized_graph("l1_h32_b1x4")
    r1 = generate_hls(g, tmp_path / "a", "u250")
    r2 = generate_hls(g, tmp_path / "b", "u250")
    assert r1["hls"]["sha256"] == r2["hls"]["sha256"]
    for rel in r1["hls"]["files"]:
        assert (tmp_path / "a" / "hls" / rel).read_bytes() == (tmp_path / "b" / "hls" / rel).read_bytes(), rel


def test_generate_layout(small: tuple[Graph, Path]) -> None:
    g, proj = small
    hls = proj / "hls"
    for rel in (
        "src/sparsehls_top.cpp",
        "src/config_layer0.h",
        "src/config_layer1.h",
        "src/config_model.h",
        "src/sparsehls_consts.h",
        "run_hls.tcl",
        "Makefile",
        "connectivity.cfg",
        "tb/sparsehls_tb.cpp",
    ):
        assert (hls / rel).is_file(), rel
    man = json.loads((hls / "weights.json").read_text())
    assert (hls / "weights.bin").stat().st_size == man["bytes"] and man["bytes"] % 64 == 0
    assert all(s["offset"] % 64 == 0 for s in man["sections"])
    # the packed BSR of one layer rebuilds its dense weight exactly
    node = g.node("l1.fc1")
    raw = np.fromfile(hls / "weights.bin", dtype=np.uint8)
    sec = {s["name"]: s for s in man["sections"]}

    def view(name: str, dt: str) -> np.ndarray:
        s = sec[name]
        return raw[s["offset"] : s["offset"] + s["bytes"]].view(dt).reshape(s["shape"])

    indptr, indices, blocks = (
        view("l1.fc1.indptr", "<i4"),
        view("l1.fc1.indices", "<i4"),
        view("l1.fc1.blocks", "i1"),
    )
    w = np.zeros_like(g.param(node, "weight_q"))
    for rb in range(indptr.size - 1):
        for b in range(indptr[rb], indptr[rb + 1]):
            w[rb * 4 : rb * 4 + 4, indices[b] * 4 : indices[b] * 4 + 4] = blocks[b]
    assert np.array_equal(w, g.param(node, "weight_q"))
    tcl = (hls / "run_hls.tcl").read_text()
    for step in (
        "csim_design",
        "csynth_design",
        "cosim_design",
        "export_design -format xo",
        "xcu280-fsvh2892-2L-e",
    ):
        assert step in tcl
    mk = (hls / "Makefile").read_text()
    assert "v++ -c" in mk and "v++ -l" in mk and "xilinx_u280_gen3x16_xdma_1_202211_1" in mk
    # v++ --hls.clock takes Hz: "$(FREQ_MHZ)000000" must read 300000000
    assert "\nFREQ_MHZ ?= 300\n" in mk and "--hls.clock $(FREQ_MHZ)000000:" in mk


def test_connectivity_snapshots(tmp_path: Path) -> None:
    g = quantized_graph("l1_h32_b1x4")
    generate_hls(g, tmp_path / "ddr", "u200")
    generate_hls(g, tmp_path / "hbm", "u55c")
    assert (tmp_path / "ddr/hls/connectivity.cfg").read_text() == (
        "# Generated by sparsehls: v++ link connectivity for u200 (xilinx_u200_gen3x16_xdma_2_202110_1, DDR).\n"
        "[connectivity]\n"
        "nk=sparsehls_top:1:sparsehls_top_1\n"
        "sp=sparsehls_top_1.input_ids:DDR[1]\n"
        "sp=sparsehls_top_1.attention_mask:DDR[1]\n"
        "sp=sparsehls_top_1.token_type_ids:DDR[1]\n"
        "sp=sparsehls_top_1.last_hidden_state:DDR[1]\n"
        "sp=sparsehls_top_1.w:DDR[0]\n"
    )
    hbm = (tmp_path / "hbm/hls/connectivity.cfg").read_text()
    assert "xilinx_u55c_gen3x16_xdma_3_202210_1" in hbm and "sp=sparsehls_top_1.w:HBM[0]" in hbm
    assert "slr=sparsehls_top_1:SLR0" in hbm


def test_config_header_snapshot(small: tuple[Graph, Path]) -> None:
    g, proj = small
    text = (proj / "hls/src/config_layer0.h").read_text()
    node = g.node("l0.q")
    nnzb = int(np.count_nonzero(np.any(g.param(node, "weight_q").reshape(8, 4, 8, 4) != 0, axis=(1, 3))))
    assert (
        "// op 2: linear l0.q (role q)\n// schedule: 1 engines, 1 instantiated; weights unscheduled"
        " (burst-read through the 512-bit port w on every call)\n"
        "struct cfg_2_l0_q {\n    typedef int8_t out_t;\n    static const int N = 32;\n    static const int K = 32;\n"
        "    static const int BM = 4;\n    static const int BN = 4;\n    static const int OUT_BITS = 8;\n"
        f"    static const int MAX_ROWS = 16;\n    static const int NNZB = {nnzb};\n" in text
    )
    # an unscheduled graph gets one engine / lane everywhere
    assert "    static const int ENGINES = 1;\n    static const int ROW_GROUPS = 1;\n" in text
    assert "    static const int TOKEN_GROUPS = 1;\n};" in text
    assert "static const int LANES = 1;" in text.split("l0.attn")[1] and "LANES = 2" not in text
    fc1 = g.node("l0.fc1")
    if fc1.attrs.get("out_bits") == 32:  # the quantizer keeps fc1 -> GELU wide
        assert "typedef int32_t out_t;" in text.split("l0.fc1")[1]


# ---- the schedule in the generated code --------------------------------------------------------
def scheduled_graph(name: str, board: str) -> Graph:
    new, _ = ScheduleDesign(board)(quantized_graph(name))
    return new


def config_consts(hls: Path) -> dict[str, dict[str, int]]:
    """node name -> {const: value} parsed from every generated config header."""
    out: dict[str, dict[str, int]] = {}
    for header in sorted((hls / "src").glob("config_*.h")):
        for block in header.read_text().split("// op ")[1:]:
            name = block.split()[2]
            out[name] = {
                ln.split()[-3]: int(ln.split()[-1].rstrip(";").removesuffix("LL"))
                for ln in block.splitlines()
                if ln.strip().startswith("static const")
            }
    return out


def test_schedule_becomes_kernel_parameters(tmp_path: Path) -> None:
    """Every scheduled engine / lane count reaches the kernel configs (clamped only where documented)."""
    g = scheduled_graph("l1_h48_b8x8_notype", "u200")
    generate_hls(g, tmp_path, "u200")
    consts = config_consts(tmp_path / "hls")
    seq = int(g.meta["seq_len"])
    parallel = 0
    for n in g.nodes:
        c = consts[n.name]
        if n.op == "linear":
            e, r = n.attrs["engines"], n.attrs["row_groups"]
            rg = min(r, c["N"] // c["BM"], e)
            assert (c["ENGINES"], c["ROW_GROUPS"], c["TOKEN_GROUPS"]) == (e, rg, min(e // rg, c["MAX_ROWS"]))
            parallel += c["ROW_GROUPS"] * c["TOKEN_GROUPS"] > 1
        elif n.op in ("attention", "gelu", "layernorm"):
            assert c["LANES"] == min(n.attrs["lanes"], seq if n.op != "gelu" else seq * c["COLS"]), n.name
            parallel += c["LANES"] > 1
    assert parallel >= 8  # the schedule of this graph is far from one engine per op
    # the schedule's adders in LUTs become the fabric-bound add kernel (BIND_OP impl=fabric)
    adds = [n for n in g.nodes if n.op == "add"]
    top_cpp = (tmp_path / "hls/src/sparsehls_top.cpp").read_text()
    assert adds and all(n.attrs["impl"] == "fabric" for n in adds)
    assert top_cpp.count("sparsehls::add_fabric<") == len(adds) and "sparsehls::add<" not in top_cpp
    # both kinds of split reach the kernels: engines over the tokens and over the block rows
    lin = [consts[n.name] for n in g.nodes if n.op == "linear"]
    assert any(c["TOKEN_GROUPS"] > 1 for c in lin) and any(c["ROW_GROUPS"] > 1 for c in lin)
    # the buffers are partitioned for the parallel readers / writers
    top = (tmp_path / "hls/src/sparsehls_top.cpp").read_text()
    fc1 = consts["l0.fc1"]
    factor = fc1["ROW_GROUPS"] * fc1["BM"]
    parts = [int(f) for f in re.findall(r"cyclic factor = (\d+)\b", top)]
    assert factor > fc1["BM"] and any(f % factor == 0 for f in parts), (factor, parts)


def test_bad_schedule_attribute_is_a_user_error(tmp_path: Path) -> None:
    g = quantized_graph("l1_h32_b1x4")
    bad = g.with_nodes([n.with_attrs(lanes=0) if n.op == "gelu" else n for n in g.nodes])
    with pytest.raises(UserError, match="lanes=0 must be a positive integer"):
        generate_hls(bad, tmp_path, "u250")


def test_user_errors(tmp_path: Path) -> None:
    g = make_bert_graph(1, 16, 2, 32, 8)
    with pytest.raises(UserError, match="quantized"):
        generate_hls(g, tmp_path, "u200")
    with pytest.raises(UserError, match="unknown board"):
        generate_hls(quantized_graph("l1_h32_b1x4"), tmp_path, "zcu104")


def test_missing_ap_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPARSEHLS_AP_TYPES", str(tmp_path))
    toolchain.ap_types_dir.cache_clear()
    try:
        with pytest.raises(UserError, match="ap_types headers not found"):
            toolchain.ap_types_dir()
    finally:
        monkeypatch.delenv("SPARSEHLS_AP_TYPES")
        toolchain.ap_types_dir.cache_clear()
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    with pytest.raises(UserError, match="not found on PATH"):
        toolchain.gxx()


# ---- C simulation (csim) ---------------------------------------------------------------------
@pytest.mark.csim
@needs_gxx
@pytest.mark.parametrize("name", [n for n in CONFIGS if n != "l2_h32_b4x4_cls"])
def test_csim_matches_golden(tmp_path: Path, name: str) -> None:
    g = quantized_graph(name)
    generate_hls(g, tmp_path, "u250")
    feeds = random_feeds(g, 3, seed=11)
    res = run_csim(tmp_path, g, feeds)
    assert res["passed"], res
    assert res["mismatches"] == 0 and res["inputs"] == 3


@pytest.mark.csim
@needs_gxx
@pytest.mark.parametrize("name,board", [("l1_h48_b8x8_notype", "u200"), ("l2_h32_b4x4_cls", "u250")])
def test_csim_scheduled_design_matches_golden(tmp_path: Path, name: str, board: str) -> None:
    """Several engines per linear and several lanes per non-linear op: still bit-exact, op by op."""
    g = scheduled_graph(name, board)
    generate_hls(g, tmp_path, board)
    consts = config_consts(tmp_path / "hls")
    assert max(c.get("ROW_GROUPS", 1) * c.get("TOKEN_GROUPS", 1) for c in consts.values()) > 1
    assert max(c.get("LANES", 1) for c in consts.values()) > 1
    assert "sparsehls::add_fabric<" in (tmp_path / "hls/src/sparsehls_top.cpp").read_text()
    feeds = random_feeds(g, 3, seed=21)
    res = run_csim(tmp_path, g, feeds)
    assert res["passed"] and res["mismatches"] == 0, res
    short = {k: v[:, :5] for k, v in random_feeds(g, 2, seed=22).items()}  # fewer rows than lanes
    assert run_csim(tmp_path, g, short)["passed"]
    _, traces = CsimDesign.load(tmp_path / "hls").run(feeds, trace=True)
    env = interpreter.run(g, feeds, mode="int", trace=True)
    for i, node in enumerate(g.nodes):
        assert np.array_equal(traces[(i, 1)], np.asarray(env[node.outputs[0]][1]).ravel()), node.name


@pytest.mark.csim
@needs_gxx
def test_csim_small_full_and_short_sequences(small: tuple[Graph, Path]) -> None:
    g, proj = small
    res = run_csim(proj, g, random_feeds(g, 4, seed=12))
    assert res["passed"], res
    short = {k: v[:, :5] for k, v in random_feeds(g, 2, seed=13).items()}  # n_seq < max_seq
    assert run_csim(proj, g, short)["passed"]
    too_long = {k: np.concatenate([v, v], axis=1) for k, v in random_feeds(g, 1, seed=14).items()}
    with pytest.raises(UserError, match="sequence length"):
        run_csim(proj, g, too_long)


@pytest.mark.csim
@needs_gxx
def test_csim_names_the_first_differing_op(small: tuple[Graph, Path], tmp_path: Path) -> None:
    g, proj = small
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(proj, bad)
    man = json.loads((bad / "hls/weights.json").read_text())
    sec = next(s for s in man["sections"] if s["name"] == "l1.v.bias")
    raw = bytearray((bad / "hls/weights.bin").read_bytes())
    for i in range(sec["offset"], sec["offset"] + sec["bytes"], 4):
        raw[i + 2] ^= 0x40  # +-2**22 on every bias of l1.v
    (bad / "hls/weights.bin").write_bytes(bytes(raw))
    write_manifest(bad / "hls")  # a deliberate change: re-signed, or the manifest check refuses it first
    res = run_csim(bad, g, random_feeds(g, 2, seed=15))
    assert not res["passed"] and res["mismatches"] > 0
    assert res["first_mismatch"]["op"] == "l1.v" and res["first_mismatch"]["layer"] == 1


@pytest.mark.csim
@needs_gxx
def test_csim_trace_matches_every_op(small: tuple[Graph, Path]) -> None:
    g, proj = small
    feeds = random_feeds(g, 2, seed=16)
    _, traces = CsimDesign.load(proj / "hls").run(feeds, trace=True)
    env = interpreter.run(g, feeds, mode="int", trace=True)
    for i, node in enumerate(g.nodes):
        for b in range(2):
            assert np.array_equal(traces[(i, b)], np.asarray(env[node.outputs[0]][b]).ravel()), node.name


@pytest.mark.csim
@needs_gxx
def test_vitis_testbench_compiles_and_passes(small: tuple[Graph, Path], tmp_path: Path) -> None:
    """The generated csim_design testbench, built with g++, is bit-exact on run_csim's tb_data."""
    g, proj = small
    hls = proj / "hls"
    run_csim(proj, g, random_feeds(g, 2, seed=17))  # writes tb_data
    exe = tmp_path / "tb"
    cmd = [
        toolchain.gxx(),
        *toolchain.CXXFLAGS,
        "-O1",
        f"-I{hls / 'src'}",
        "-isystem",
        str(toolchain.ap_types_dir()),
        str(hls / "src/sparsehls_top.cpp"),
        str(hls / "tb/sparsehls_tb.cpp"),
        "-o",
        str(exe),
    ]
    subprocess.run(cmd, check=True)
    res = subprocess.run([str(exe), str(hls)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "0 mismatches" in res.stdout
