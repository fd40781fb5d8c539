"""Sweep pruning methods x sparsity x block on MiniLM; store fidelity, block sparsity and time.

    .venv/bin/python bench/prune_sweep.py                       # full sweep (long)
    .venv/bin/python bench/prune_sweep.py --sparsity 0.8 --block 16x16 4x4

Results are merged into bench/results/prune_sweep.json (one row per method/sparsity/block/steps)
as each run finishes, so partial runs accumulate (``--resume`` skips the rows already there).
Each row is a task of compiler/scale: ``--ray`` / ``--ray-address`` spread them over a local Ray
or a cluster (docs/scale.md).  Times are wall-clock on the machine that ran them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compiler.prune.command import METHODS, run_prune  # noqa: E402
from compiler.scale.args import add_executor_args, executor_from_args  # noqa: E402
from compiler.scale.run import run_tasks  # noqa: E402
from compiler.scale.tasks import Outcome, Task  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "prune_sweep.json"


def prune_task(
    model: str, method: str, sparsity: float, block: str, steps: int | None, seed: int, threads: int
) -> dict:
    """One row of the table: a pure function of its inputs (``seed`` fixes the calibration and
    fine-tuning draws), run as a task of compiler/scale on this machine or a Ray worker."""
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        r = run_prune(model, Path(d) / "p", method, sparsity, block, steps=steps, seed=seed)
        wall = time.perf_counter() - t0
    return {
        "model": model,
        "method": method,
        "sparsity": sparsity,
        "block": block,
        "steps": steps,
        "seed": seed,
        "achieved_sparsity": round(r["achieved_sparsity"], 6),
        "block_sparsity": round(r["achieved_block_sparsity"], 6),
        "nnz_blocks": r["nnz_blocks"],
        "mean_cosine": round(r["fidelity"]["mean_cosine"], 4),
        "spearman": round(r["fidelity"]["spearman"], 4),
        "pruned_heads": sum(len(v) for v in r["pruned_heads"].values()),
        "pruned_layers": r["pruned_layers"],
        "time_s": round(wall, 1),
        "threads": threads,
        "settings": r["settings"],
    }


def _id(r: dict) -> tuple:
    return (r["model"], r["method"], r["sparsity"], r["block"], r["steps"], r["seed"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--sparsity", nargs="+", type=float, default=[0.5, 0.8, 0.9])
    ap.add_argument("--block", nargs="+", default=["1x4", "4x4", "16x16"])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--steps", type=int, default=None, help="override every method's --steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)"
    )
    ap.add_argument("--resume", action="store_true", help="skip the rows already stored in --out")
    ap.add_argument(
        "--table", action="store_true", help="print the stored results as a Markdown table and exit"
    )
    add_executor_args(ap)
    args = ap.parse_args()
    if args.table:
        print_table(args.out)
        return 0
    logging.basicConfig(level=logging.WARNING)
    rows = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    stored = {_id(r) for r in rows}
    tasks = []
    for sp in args.sparsity:
        for blk in args.block:
            for m in args.methods:
                kw = {"model": args.model, "method": m, "sparsity": sp, "block": blk}
                kw |= {"steps": args.steps, "seed": args.seed, "threads": args.threads}
                if args.resume and _id(kw) in stored:
                    continue
                tasks.append(Task(f"{m}_sp{sp:g}_b{blk}_steps{args.steps}_seed{args.seed}", prune_task, kw))

    def record(task: Task, out: Outcome) -> None:
        nonlocal rows
        if not out.ok:
            print(f"failed {task.key}: {out.error} (inputs {task.inputs()})", file=sys.stderr, flush=True)
            return
        row = out.result
        keys = ("method", "sparsity", "block", "mean_cosine", "spearman", "block_sparsity", "time_s")
        print(json.dumps({k: row[k] for k in keys}), flush=True)
        rows = [x for x in rows if _id(x) != _id(row)]
        rows.append(row)
        meta = {
            "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared, contended)",
            "python": platform.python_version(),
        }
        tmp = args.out.with_name(args.out.name + ".tmp")  # temp + rename: never a half-written table
        tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        tmp.replace(args.out)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    executor = executor_from_args(args)
    try:
        summary = run_tasks(tasks, executor, on_outcome=record, label="prune sweep", show=False)
    finally:
        executor.close()
    return 1 if summary.failed else 0


def print_table(path: Path) -> None:
    rows = json.loads(path.read_text())["rows"]
    order = {m: i for i, m in enumerate(METHODS)}
    rows.sort(key=lambda r: (r["sparsity"], r["block"], order[r["method"]], r["steps"] or 0))
    print(
        "| sparsity | block | method | --steps | mean cosine | Spearman | block sparsity | heads pruned | time s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        steps = "default" if r["steps"] is None else r["steps"]
        print(
            f"| {r['sparsity']} | {r['block']} | {r['method']} | {steps} | {r['mean_cosine']:.3f} | {r['spearman']:.3f} "
            f"| {r['block_sparsity']:.4f} | {r['pruned_heads']} | {r['time_s']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
