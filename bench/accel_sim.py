"""The whole accelerator simulated end to end (Verilator + cocotb): simulated latency, model error.

For each design: compile the checkpoint for the board (csim skipped), then
``sparsehls rtlsim PROJECT --sequences N`` (the accelerator scope: weight
image loaded over AXI4, then one call per sequence, every output byte
compared with the golden).  Records passed / mismatches, the simulated cycles
and latency at the scheduled clock, the as-built model's cycles and error, the
weight-load cycles, the scheduled (pooled, not built) design's estimate next
to it, and build / simulation seconds, into bench/results/accel_sim.json
(one entry per design and lane count, other entries kept).

    .venv/bin/python bench/accel_sim.py [--design minilm-dense] [--sequences 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.backends.rtl.command import run_rtlsim  # noqa: E402
from compiler.errors import UserError  # noqa: E402
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "accel_sim.json"
#: name -> (prune arguments, None for dense, or "bert-base"; compile arguments)
DESIGNS: dict[str, tuple[list[str] | str | None, list[str]]] = {
    "minilm-dense": (None, ["--block", "16x16", "--board", "u250"]),
    "minilm-80-magnitude": (
        ["--method", "magnitude", "--sparsity", "0.8", "--block", "16x16"],
        ["--block", "16x16", "--board", "u250"],
    ),
    "minilm-80-pgb": (
        ["--method", "pgb", "--sparsity", "0.8", "--block", "16x16"],
        ["--block", "16x16", "--board", "u250"],
    ),
    # BERT-base shaped, random weights, magnitude-pruned (compiler.bench.models, as `sparsehls bench`)
    "bert-base-90": ("bert-base", ["--block", "16x16", "--board", "u250"]),
}


def _sparsehls(*args: str) -> None:
    exe = Path(sys.executable).with_name("sparsehls")
    subprocess.run([str(exe), *args], check=True)


def run_design(name: str, sequences: int, work: Path, lanes: int | None = None) -> dict:
    prune, compile_args = DESIGNS[name]
    src = "minilm"
    t0 = time.perf_counter()
    if prune == "bert-base":
        from compiler.bench.models import make_pruned_bert

        src = str(work / f"{name}-ckpt")
        make_pruned_bert(Path(src), "bert-base", 0.9, "16x16")
    elif prune is not None:
        src = str(work / f"{name}-ckpt")
        _sparsehls("prune", "minilm", "-o", src, *prune)
    project = work / name
    _sparsehls("compile", src, "-o", str(project), *compile_args, "--no-csim", "-q")
    compile_s = time.perf_counter() - t0
    load0 = os.getloadavg()[0]
    t1 = time.perf_counter()
    try:
        res = run_rtlsim(project, sequences=sequences, lanes=lanes)
    except UserError as e:
        return {"design": name, "built": False, "refused": str(e), "compile_seconds": round(compile_s, 1)}
    wall = time.perf_counter() - t1
    keep = (
        "passed", "mismatches", "bytes", "sequences", "tokens", "cycles", "latency_ms", "clock_mhz", "board",
        "model_cycles", "model_error", "load_cycles", "load_model_cycles", "runs", "design", "scheduled_design",
        "build_seconds", "sim_seconds", "layer_cycles",
    )  # fmt: skip
    row = {"design": name, "built": True, "lanes": res["design"]["lanes"], **{k: res.get(k) for k in keep}}
    row["compile_seconds"] = round(compile_s, 1)
    row["wall_seconds"] = round(wall, 1)
    row["simulated_cycles_per_second"] = round(sum(r["cycles"] for r in res["runs"]) / res["sim_seconds"])
    row["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_1m_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "processor": platform.processor(),
    }
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append", choices=sorted(DESIGNS), help="default: all")
    ap.add_argument("--sequences", type=int, default=2)
    ap.add_argument(
        "--lanes", type=int, default=None, help="token lanes (default: from the schedule, fitting)"
    )
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    a = ap.parse_args()
    results = json.loads(a.out.read_text()) if a.out.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="sparsehls-accel-bench-"))
    ok = True
    for name in a.design or sorted(DESIGNS):
        row = run_design(name, a.sequences, work, a.lanes)
        results[f"{name}-{row['lanes']}lane" if row["built"] else name] = row
        write_json(a.out, results)
        if row["built"]:
            ok &= bool(row["passed"])
            print(
                f"{name}: passed={row['passed']} mismatches={row['mismatches']} {row['cycles']} cycles = "
                f"{row['latency_ms']} ms at {row['clock_mhz']} MHz (simulated); model {row['model_cycles']} "
                f"({row['model_error']:+.2%}); build {row['build_seconds']} s, sim {row['sim_seconds']} s"
            )
        else:
            print(f"{name}: not simulated: {row['refused']}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
