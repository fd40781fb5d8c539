"""Compile-time benchmark: checkpoint -> project, per stage.

1. ``sparsehls compile minilm`` (default options, C simulation included), wall
   time of the CLI process (target <= 60 s);
2. a BERT-base shaped random-weight checkpoint pruned to 90 % 16x16 blocks,
   compiled with ``--no-csim`` (HLS project generated, csim skipped), wall
   time (target <= 3 min).

Per-stage times come from each project's report.json (``timing``).  Writes
bench/results/compile_time.json.

    .venv/bin/python bench/compile_time.py [--skip-minilm] [--skip-bert]
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

from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "compile_time.json"
CLI = [sys.executable, "-m", "compiler"]


def run_compile(model: str, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*CLI, "compile", model, "-o", str(out), "--force", "-q", *extra], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return {
        "command": f"sparsehls compile {model} {' '.join(extra)}".strip(),
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "stages_s": rep.get("timing", {}),
        "csim": {k: rep["csim"][k] for k in ("passed", "seconds")} if "csim" in rep else None,
        "stderr_tail": proc.stderr[-500:] if proc.returncode else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--skip-bert", action="store_true")
    ap.add_argument("--work", type=Path, default=None)
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

            t0 = time.perf_counter()
            make_pruned_bert(work / "bert-base-90", "bert-base", 0.9, "16x16")
            prep = time.perf_counter() - t0
            r = run_compile(str(work / "bert-base-90"), work / "bert-base-proj", ["--no-csim"])
            r.update(
                target_s=180,
                met=r["returncode"] == 0 and r["wall_s"] <= 180,
                checkpoint_prep_s=round(prep, 1),
            )
            print(json.dumps(r), flush=True)
            rows.append(r)
    load = os.getloadavg()
    write_json(
        OUT,
        {
            "what": "sparsehls compile wall time per model (CLI process) and per stage (report.json timing)",
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
