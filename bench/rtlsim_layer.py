"""RTL simulation speed of one chained encoder layer: simulated cycles per second (Verilator + cocotb).

Simulates layer ``--layer`` of a compiled project as one module
(``sparsehls rtlsim PROJECT --layer N``) and records cycles, model cycles,
mismatches, build and simulation seconds and simulated cycles per second into
bench/results/rtlsim_layer.json.  Without ``--project`` it compiles the
embedded MiniLM (dense, 16x16 blocks, csim skipped) into a temporary folder first.

    .venv/bin/python bench/rtlsim_layer.py [--project J] [--layer 0]
"""

from __future__ import annotations

import argparse
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
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "rtlsim_layer.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, default=None, help="compiled project (default: compile minilm)")
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    a = ap.parse_args()
    project = a.project
    if project is None:
        project = Path(tempfile.mkdtemp(prefix="sparsehls-rtlsim-bench-")) / "minilm"
        exe = Path(sys.executable).with_name("sparsehls")
        cmd = [str(exe), "compile", "minilm", "-o", str(project), "--block", "16x16", "--no-csim", "-q"]
        subprocess.run(cmd, check=True)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = run_rtlsim(project, a.layer)
    wall = time.perf_counter() - t0
    sim_s = float(res.get("sim_seconds", res["seconds"]))
    row = {
        "what": "one encoder layer simulated as one chained RTL module (Verilator via cocotb), full-rate streams",
        "project": str(project),
        "layer": a.layer,
        "tokens": res.get("tokens"),
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": res.get("words"),
        "cycles": res["cycles"],
        "model_cycles": res.get("model_cycles"),
        "ideal_cycles": res["ideal_cycles"],
        "build_seconds": res.get("build_seconds"),
        "sim_seconds": sim_s,
        "wall_seconds": round(wall, 2),
        "simulated_cycles_per_second": round(res["cycles"] / sim_s) if sim_s else None,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_1m_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "processor": platform.processor(),
        },
    }
    write_json(a.out, row)
    print(
        f"layer {a.layer}: passed={row['passed']} mismatches={row['mismatches']} cycles={row['cycles']} "
        f"(model {row['model_cycles']}), build {row['build_seconds']} s, simulation {sim_s:.1f} s, "
        f"{row['simulated_cycles_per_second']} simulated cycles/s -> {a.out}"
    )
    return 0 if row["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
