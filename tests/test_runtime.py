"""The Accelerator interface: golden and csim backends agree; xrt explains itself when absent."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls import toolchain
from compiler.backends.hls.command import generate_hls
from compiler.errors import UserError
from compiler.hw.boards import get_board
from compiler.passes.quantize import quantize
from runtime.accelerator import open_accelerator
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks
from tests.xclbins import make_xclbin

# its module fixtures are built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("test_runtime")


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    g = make_bert_graph(1, 32, 2, 64, 8, seed=21, classifier=True, block=(4, 8))
    g = zero_blocks(g, 0.5, seed=22)
    return quantize(g, random_feeds(g, 3, seed=23))


def test_unknown_backend_and_missing_project(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match="unknown backend"):
        open_accelerator("fpga", tmp_path, graph)
    with pytest.raises(UserError, match="no generated HLS project"):
        open_accelerator("csim", tmp_path)
    with pytest.raises(UserError, match="needs the quantized graph"):
        open_accelerator("golden")


@pytest.mark.skipif(importlib.util.find_spec("pyxrt") is not None, reason="pyxrt is installed here")
def test_xrt_backend_without_pyxrt(xrt_project: Path) -> None:
    with pytest.raises(UserError, match="xclbin not found"):
        open_accelerator("xrt", xrt_project)
    with pytest.raises(UserError, match="pyxrt"):
        open_accelerator("xrt", xrt_project, xclbin=xrt_project / "mine.xclbin")


@pytest.mark.csim
@pytest.mark.skipif(not toolchain.have_toolchain(), reason="needs g++ and the hls4ml ap_types headers")
def test_golden_and_csim_agree(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    generate_hls(graph, tmp_path, "u55c")
    feeds = random_feeds(graph, 3, seed=24)
    with open_accelerator("golden", graph=graph) as gold, open_accelerator("csim", tmp_path) as sim:
        want, got = gold.run(feeds), sim.run(feeds)
    assert set(want) == set(got) == {"logits"}
    assert np.array_equal(want["logits"], got["logits"])


HOST = Path(__file__).resolve().parents[1] / "runtime" / "host"
# xrt/xrt_device.h under /opt/xilinx/xrt/include (AMD's package) or /usr/include/xrt (Debian's libxrt-dev)
XRT_HEADERS = [Path("/opt/xilinx/xrt/include/xrt/xrt_device.h"), Path("/usr/include/xrt/xrt/xrt_device.h")]
needs_xrt_headers = pytest.mark.skipif(
    not any(h.is_file() for h in XRT_HEADERS) or shutil.which("g++") is None or shutil.which("make") is None,
    reason="XRT headers absent (apt-get install libxrt-dev, or source /opt/xilinx/xrt/setup.sh) or no g++/make",
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runtime/host/sparsehls_host.cpp compiled and linked against XRT by runtime/host/Makefile."""
    exe = tmp_path_factory.mktemp("host") / "sparsehls_host"
    make = ["make", "-s", "-f", str(HOST / "Makefile"), f"OUT={exe}"]
    cmd = subprocess.run([*make, "-n"], capture_output=True, text=True, check=True).stdout
    for flag in ("g++", "-std=c++17", "/include/xrt", "-lxrt_coreutil", "sparsehls_host.cpp"):
        assert flag in cmd, cmd
    res = subprocess.run(make, capture_output=True, text=True)
    assert res.returncode == 0 and exe.is_file(), res.stderr
    return exe


@pytest.fixture(scope="module")
def xrt_project(graph, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """A U280 project with the testbench batch the host reads (tb_data/meta.txt) and a matching xclbin."""
    project = tmp_path_factory.mktemp("xrt-project")
    generate_hls(graph, project, "u280")
    (project / "hls" / "tb_data").mkdir()
    (project / "hls" / "tb_data" / "meta.txt").write_text("1 16\n")
    interface = json.loads((project / "hls" / "interface.json").read_text())
    make_xclbin(project / "mine.xclbin", interface["top"], interface["args"], get_board("u280").platform)
    make_xclbin(project / "other.xclbin", "other_top", interface["args"], get_board("u280").platform)
    return project


def _run_host(host: Path, xclbin: Path, hls: Path) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "XILINX_XRT"}
    res = subprocess.run(
        [str(host), str(xclbin), str(hls)], capture_output=True, text=True, env=env, timeout=60
    )
    return res.returncode, [ln for ln in res.stderr.splitlines() if ln.strip()]


@needs_xrt_headers
def test_host_builds_and_gives_xrts_answer_in_one_line(host: Path, xrt_project: Path) -> None:
    """No card here: XRT itself refuses (XILINX_XRT not set / no device); the host says so in one line."""
    code, lines = _run_host(host, xrt_project / "mine.xclbin", xrt_project / "hls")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("sparsehls_host: XRT: ")
    assert re.search(r"XILINX_XRT not set|no devices? found|device", lines[0], re.I), lines[0]


@needs_xrt_headers
def test_host_refuses_an_xclbin_of_another_design(host: Path, xrt_project: Path) -> None:
    """XRT's own xclbin parser reads the kernel list; another kernel name is one line, before the device."""
    code, lines = _run_host(host, xrt_project / "other.xclbin", xrt_project / "hls")
    assert code == 2 and len(lines) == 1, lines
    assert "holds kernel(s) [other_top], not sparsehls_top" in lines[0]
    code, lines = _run_host(host, xrt_project / "missing.xclbin", xrt_project / "hls")
    assert code == 2 and len(lines) == 1 and "missing.xclbin" in lines[0], lines


@needs_xrt_headers
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not on PATH")
def test_host_cmake_build_agrees(tmp_path: Path) -> None:
    """runtime/host/CMakeLists.txt finds the same XRT and builds the same host."""
    env = {k: v for k, v in os.environ.items() if k != "XILINX_XRT"}
    for cmd in (["cmake", "-S", str(HOST), "-B", str(tmp_path)], ["cmake", "--build", str(tmp_path)]):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "sparsehls_host").is_file()


def test_xclbin_reader(xrt_project: Path, tmp_path: Path) -> None:
    """What runtime/xclbin.py reads back from a file in XRT's layout, and the damaged files it refuses."""
    from runtime.xclbin import check_xclbin, read_xclbin

    interface = json.loads((xrt_project / "hls" / "interface.json").read_text())
    xb = read_xclbin(xrt_project / "mine.xclbin")
    assert xb.platform == get_board("u280").platform
    args = xb.kernels[interface["top"]]
    assert [a.name for a in args] == [a["name"] for a in interface["args"]]
    assert [a.pointer for a in args] == [a["kind"] == "m_axi" for a in interface["args"]]
    check_xclbin(xb, interface, "u280")
    with pytest.raises(UserError, match="register 0x10, this project's at 0x20"):
        first = interface["args"][0]["name"]
        check_xclbin(xb, {**interface, "register_map": {first: 0x20}}, "u280")
    bare = make_xclbin(tmp_path / "bare.xclbin", "k", interface["args"], "p", metadata=False)
    assert read_xclbin(bare).kernels == {"k": ()}  # the compute unit names the kernel; no argument list
    cut = tmp_path / "cut.xclbin"
    cut.write_bytes((xrt_project / "mine.xclbin").read_bytes()[:600])
    with pytest.raises(UserError, match="runs past the end"):
        read_xclbin(cut)
