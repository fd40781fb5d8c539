"""Compile-time benchmark: checkpoint -> project, per stage.

1. ``sparsehls compile minilm`` (default options, C simulation included), wall
   time of the CLI process (target <= 60 s);
2. a BERT-base shaped random-weight checkpoint pruned to 90 % 16x16 blocks,
   compiled with ``--no-csim`` (HLS project generated, csim skipped), wall
   time (target <= 3 min).

Per-stage times come from each project's report.json (``timing``): wall
seconds (``timing.stages``) and CPU seconds (``timing.stages_cpu``: the compiler's
threads plus finished children such as g++).  The whole CLI process is
measured the same way here (``wall_s``, ``cpu_s``).  Other work on a shared
machine inflates wall time; CPU time is the steadier number to compare.
Writes bench/results/compile_time.json.

    .venv/bin/python bench/compile_time.py [--skip-minilm] [--skip-bert] [--bert-checkpoint DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "compile_time.json"
CLI = [sys.executable, "-m", "compiler"]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_compile(model: str, out: Path, extra: list[str]) -> dict:
    t0, c0, load0 = time.perf_counter(), _children_cpu(), os.getloadavg()[0]
    proc = subprocess.run(
        [*CLI, "compile", model, "-o", str(out), "--force", "-q", *extra], capture_output=True, text=True
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    timing = rep.get("timing", {})
    return {
        "command": f"sparsehls compile {model} {' '.join(extra)}".strip(),
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "loadavg_1m_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "stages": {  # report.json timing.stages (wall seconds) and timing.stages_cpu
            k: {"wall_s": v, "cpu_s": timing.get("stages_cpu", {}).get(k)}
            for k, v in timing.get("stages", {}).items()
        },
        "csim": {k: rep["csim"][k] for k in ("passed", "seconds")} if "csim" in rep else None,
        "stderr_tail": proc.stderr[-500:] if proc.returncode else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--skip-bert", action="store_true")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument(
        "--bert-checkpoint", type=Path, default=None, help="reuse a checkpoint made by make_pruned_bert"
    )
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sparsehls-ct-") as tmp:
        work = a.work or Path(tmp)
        if not a.skip_minilm:
            r = run_compile("minilm", work / "minilm", [])
            r.update(target_s=60, met=r["returncode"] == 0 and r["wall_s"] <= 60)
            print(json.dumps(r), flush=True)
            rows.append(r)
        if not a.skip_bert:
            from compiler.bench.models import make_pruned_bert

            ckpt, prep = a.bert_checkpoint, None
            if ckpt is None:
                t0 = time.perf_counter()
                ckpt = work / "bert-base-90"
                make_pruned_bert(ckpt, "bert-base", 0.9, "16x16")
                prep = round(time.perf_counter() - t0, 1)
            r = run_compile(str(ckpt), work / "bert-base-proj", ["--no-csim"])
            r.update(
                target_s=180,
                met=r["returncode"] == 0 and r["wall_s"] <= 180,
                checkpoint_prep_s=prep,
            )
            print(json.dumps(r), flush=True)
            rows.append(r)
    load = os.getloadavg()
    write_json(
        OUT,
        {
            "what": "sparsehls compile wall and CPU time per model (CLI process) and per stage (report.json timing)",
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_at_end": [round(x, 2) for x in load],
            "runs": rows,
        },
    )
    print(f"wrote {OUT}")
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
