"""Entry points of the HLS backend called by the CLI: generate a project, run C simulation."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.hls.csim import CsimDesign
from compiler.backends.hls.cycles import expected_cycles, expected_latency_ms
from compiler.backends.hls.emit import write_project
from compiler.backends.hls.plan import BEAT_BYTES, MAX_BURST_BEATS, plan_design
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.hw.boards import get_board
from compiler.ir.graph import Graph
from compiler.outputs import atomic_dir

log = logging.getLogger(__name__)


def generate_hls(graph: Graph, project: Path, board: str) -> dict[str, Any]:
    """Write ``project/hls`` (replacing it) and return the report fragment ``{"hls": {...}}``."""
    b = get_board(board)
    plan = plan_design(graph, b)
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    with atomic_dir(project / "hls", force=True) as tmp:
        files = write_project(plan, tmp)
    linears = [op for op in plan.ops if op.op == "linear"]
    cycles = expected_cycles(plan)  # its own structure's number, not the RTL's (see cycles.BASIS)
    return {
        "hls": {
            "board": b.name,
            "part": b.part,
            "platform": b.platform,
            "memory": f"{b.memory} x{b.channels}",
            "clock_mhz": b.clock_mhz,
            "top": plan.top,
            "max_seq": plan.max_seq,
            "ops": len(plan.ops),
            "linear_blocks": sum(op.nnzb for op in linears),
            "weights_bytes": len(plan.image.tobytes()),
            "onchip_buffer_bytes": plan.onchip_bytes,
            "weight_port": {"bits": 8 * BEAT_BYTES, "max_read_burst_beats": MAX_BURST_BEATS},
            "expected_cycles": cycles,
            "expected_latency_ms": expected_latency_ms(cycles["total"], b.clock_mhz),
            "files": files["files"],
            "sha256": files["sha256"],
        }
    }


def _write_tb_data(
    hls_dir: Path, design: CsimDesign, feeds: dict[str, np.ndarray], golden: dict[str, np.ndarray]
) -> None:
    """Inputs and golden outputs for the generated C testbench (Vitis csim_design / cosim_design)."""
    d = hls_dir / "tb_data"
    d.mkdir(exist_ok=True)
    first = next(iter(design.inputs))
    b, s = np.asarray(feeds[first["tensor"]]).shape
    (d / "meta.txt").write_text(f"{b} {s}\n")
    for a in design.inputs:
        np.ascontiguousarray(feeds[a["tensor"]], dtype="<i4").tofile(d / f"{a['name']}.bin")
    for a in design.outputs:
        dt = "<i1" if a["ctype"] == "int8_t" else "<i4"
        np.ascontiguousarray(golden[a["tensor"]], dtype=dt).tofile(d / f"golden_{a['name']}.bin")


def _first_divergence(
    graph: Graph, feeds: dict[str, np.ndarray], design: CsimDesign
) -> dict[str, Any] | None:
    _, traces = design.run(feeds, trace=True)
    env = interpreter.run(graph, feeds, mode="int", trace=True)
    n_batch = np.asarray(next(iter(feeds.values()))).shape[0]
    for i, node in enumerate(graph.nodes):
        want_all = env[node.outputs[0]]
        for b in range(n_batch):
            got = traces.get((i, b))
            want = np.asarray(want_all[b]).ravel()
            if got is None or got.shape != want.shape or not np.array_equal(got.astype(np.int64), want):
                bad = -1 if got is None or got.shape != want.shape else int(np.flatnonzero(got != want)[0])
                return {
                    "op": node.name,
                    "kind": node.op,
                    "layer": node.layer,
                    "tensor": node.outputs[0],
                    "batch": b,
                    "element": bad,
                }
    return None


def run_csim(
    project: Path,
    graph: Graph,
    feeds: dict[str, np.ndarray],
    golden: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Run the generated C++ on every input and compare every output element with the golden model.

    ``golden``: the integer golden model's outputs on ``feeds`` when the caller has them already.

    Returns ``{"passed", "mismatches", "inputs", "seconds", ...}``; on a mismatch
    ``first_mismatch`` names the first op whose per-op trace differs.
    """
    hls_dir = Path(project) / "hls"
    t0 = time.perf_counter()
    design = CsimDesign.load(hls_dir)
    build_s = time.perf_counter() - t0
    feeds = {k: np.asarray(v) for k, v in feeds.items()}
    emb = next((n for n in graph.nodes if n.op == "embed"), None)
    if emb is not None:
        vocab = graph.param(emb, "word_q").shape[0]
        ids = feeds.get(emb.inputs[0])
        if ids is not None and (ids.min() < 0 or ids.max() >= vocab):
            raise UserError(f"input ids must be in 0..{vocab - 1}")
    t1 = time.perf_counter()
    outs, _ = design.run(feeds)
    run_s = time.perf_counter() - t1
    if golden is None:
        golden = interpreter.run(graph, feeds, mode="int")
    try:
        _write_tb_data(hls_dir, design, feeds, golden)
    except OSError as e:  # a read-only project still simulates; only the Vitis testbench data is skipped
        log.warning(
            "could not write %s/tb_data (%s): the C testbench data was not updated", hls_dir, e.strerror
        )
    mismatches = 0
    for name, want in golden.items():
        got = outs[name]
        if got.shape != want.shape:
            raise UserError(f"output {name}: C simulation shape {got.shape} differs from golden {want.shape}")
        mismatches += int(np.count_nonzero(got.astype(np.int64) != want))
    n = int(np.asarray(next(iter(feeds.values()))).shape[0])
    result: dict[str, Any] = {
        "passed": mismatches == 0,
        "mismatches": mismatches,
        "inputs": n,
        "seconds": round(run_s, 4),
        "build_seconds": round(build_s, 2),
        "seconds_per_input": round(run_s / max(n, 1), 5),
    }
    if mismatches:
        result["first_mismatch"] = _first_divergence(graph, feeds, design)
        log.warning("C simulation differs from the golden model; first at %s", result["first_mismatch"])
    return result
