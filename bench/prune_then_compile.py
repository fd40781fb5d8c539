"""Each pruning method's output goes through `sparsehls compile` (with C simulation).

    .venv/bin/python bench/prune_then_compile.py [--sparsity 0.8] [--block 16x16]

Writes bench/results/prune_then_compile.json: per method, the prune report's sparsity
and fidelity, and the compile report's checks, sparsity and csim result.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from compiler.cli import main

METHODS = ("magnitude", "balanced", "block-lasso", "pgb", "obert", "ae")


def run(method: str, sparsity: float, block: str, work: Path) -> dict:
    ckpt, proj = work / f"{method}-ckpt", work / f"{method}-proj"
    t0 = time.perf_counter()
    rc_p = main(
        [
            "prune",
            "minilm",
            "-o",
            str(ckpt),
            "--method",
            method,
            "--sparsity",
            str(sparsity),
            "--block",
            block,
            "--force",
        ]
    )
    t1 = time.perf_counter()
    rc_c = (
        main(["compile", str(ckpt), "-o", str(proj), "--block", block, "--force", "-q"])
        if rc_p == 0
        else None
    )
    t2 = time.perf_counter()
    row: dict = {
        "method": method,
        "sparsity": sparsity,
        "block": block,
        "prune_rc": rc_p,
        "compile_rc": rc_c,
        "prune_s": round(t1 - t0, 1),
        "compile_s": round(t2 - t1, 1),
    }
    if rc_p == 0:
        pr = json.loads((ckpt / "prune_report.json").read_text())
        row["achieved_block_sparsity"] = pr["achieved_block_sparsity"]
        row["fidelity"] = pr.get("fidelity")
    if rc_c == 0:
        r = json.loads((proj / "report.json").read_text())
        row.update(checks=r["checks"], sparsity_after_passes=r["sparsity"], csim=r.get("csim"))
    return row


def main_() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sparsity", type=float, default=0.8)
    ap.add_argument("--block", default="16x16")
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "prune_then_compile.json"))
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for m in a.methods:
            rows.append(run(m, a.sparsity, a.block, Path(d)))
            print(json.dumps(rows[-1]["method"]), rows[-1].get("compile_rc"), rows[-1].get("csim", {}))
    Path(a.out).write_text(
        json.dumps(
            {"rows": rows, "what": "prune with each method, then sparsehls compile (csim on)"}, indent=1
        )
        + "\n"
    )


if __name__ == "__main__":
    main_()
