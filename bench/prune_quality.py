"""Task quality of pruning: method x sparsity x block on MiniLM, measured by the sentiment probe.

    .venv/bin/python bench/prune_quality.py                     # full grid: hours on 2 cores
    .venv/bin/python bench/prune_quality.py --methods pgb --sparsity 0.5 --block 16x16 --steps 40

Per row: probe Spearman and sign accuracy (ridge on frozen mean-pooled embeddings, VADER
probe-train -> probe-test, compiler/prune/probe.py), mean cosine to the dense model on the
probe-test sentences beside the dense model's cosine between unrelated sentences, the wall
time and the peak resident memory of the prune.  The dense model's own probe score is stored
once per model and probe size.  Each prune runs in a child process, so its peak memory is
its own (``ru_maxrss`` right after the prune, before the probe).

Results merge into bench/results/prune_quality.json (one row per configuration), so partial
runs accumulate; ``--label partial`` marks rows of an incomplete run.  Needs ``make data``.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).parent / "results" / "prune_quality.json"
KEY = (
    "model",
    "method",
    "sparsity",
    "block",
    "steps",
    "batch",
    "max_len",
    "time_budget_s",
    "lr",
    "pruning_steps",
    "data",
    "n_train",
    "n_test",
)


def _probe_model(folder: Path, max_len: int, n_train: int, n_test: int, dense: Any = None, perm: Any = None):  # type: ignore[no-untyped-def]
    import numpy as np

    from compiler.checkpoint import load_hf_model
    from compiler.prune import probe
    from compiler.prune.calib import make_tokenizer

    model = load_hf_model(folder).eval()
    tok = make_tokenizer(folder, int(model.config.vocab_size), max_len)
    res, emb = probe.evaluate(model, tok, n_train, n_test)
    if perm is not None:  # a hidden permutation (pgb): back to the dense model's order
        emb = emb[:, np.argsort(np.asarray(perm))]
    if dense is not None:
        res["mean_cosine_to_dense"] = probe.mean_cosine(emb, dense)
        res["unrelated_cosine"] = probe.unrelated_cosine(dense)
    return res, emb


def int_probe(folder: Path, seq: int, block: str, n_train: int, n_test: int, dense: Any = None, perm: Any = None) -> dict[str, Any]:  # fmt: skip
    """Compile ``folder`` (golden backend: ``sparsehls compile --no-hls --no-csim``) and probe the
    integer model: its dequantized output, mean-pooled over real tokens, as the embedding."""
    import numpy as np

    from compiler.checkpoint import parse_block
    from compiler.data import vader
    from compiler.frontend.inputs import encode, load_tokenizer
    from compiler.golden import interpreter
    from compiler.ir.io import load_graph
    from compiler.pipeline import CompileOptions, compile_model, dequantized_output, pooled
    from compiler.prune import probe

    train = probe.subset(vader.load(split="probe_train"), n_train, "train")
    test = probe.subset(vader.load(split="probe_test"), n_test, "test")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        opts = CompileOptions(seq_len=seq, block=parse_block(block), csim=False, hls=False)
        rep = compile_model(str(folder), Path(d) / "p", opts)
        t_compile = time.perf_counter() - t0
        q, tok = load_graph(Path(d) / "p" / "ir"), load_tokenizer(Path(d) / "p" / "tokenizer")

        def emb(texts: list[str]) -> Any:
            out = []
            for i in range(0, len(texts), probe.EMBED_BATCH):
                f = encode(tok, texts[i : i + probe.EMBED_BATCH], seq)
                f = {k: f[k] for k in q.inputs}
                y = interpreter.run(q, f, mode="int")[q.outputs[0]]
                out.append(pooled(dequantized_output(q, y), f["attention_mask"]))
            return np.concatenate(out)

        t1 = time.perf_counter()
        etr, ete = emb([r.text for r in train]), emb([r.text for r in test])
        res = probe.probe_scores(
            etr, np.array([r.score for r in train]), ete, np.array([r.score for r in test])
        )
        if perm is not None:
            ete = ete[:, np.argsort(np.asarray(perm))]
        out = {
            "probe_spearman": round(res["spearman"], 4),
            "probe_sign_accuracy": round(res["sign_accuracy"], 4),
            "int_vs_float_cosine": rep.get("checks", {}).get("golden_int_vs_float_cosine"),
            "compile_s": round(t_compile, 1),
            "probe_s": round(time.perf_counter() - t1, 1),
        }
        if dense is not None:
            out["mean_cosine_to_dense"] = round(probe.mean_cosine(ete, dense), 4)
    return out


def one_row(a: argparse.Namespace) -> dict[str, Any]:
    """Child process: prune one configuration, then probe it."""
    import numpy as np
    import torch

    from compiler.prune.command import run_prune

    torch.set_num_threads(a.threads)
    if a.pgb_permute_hidden:
        from compiler.prune import pgb

        pgb.PERMUTE_HIDDEN = True
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "p"
        t0 = time.perf_counter()
        rep = run_prune(
            a.model, out, a.method, a.sp, a.blk, data=a.data, steps=a.steps, seed=a.seed,
            batch=a.batch, max_len=a.max_len, time_budget=a.time_budget, lr=a.lr,
            pruning_steps=a.pruning_steps if a.method in ("pgb", "obert") else None,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        dense = np.load(a.dense_emb)
        perm = (rep.get("method_info") or {}).get("hidden_permutation")
        res, _ = _probe_model(out, rep["max_len"], a.n_train, a.n_test, dense, perm)
        integer = (
            int_probe(out, rep["max_len"], a.blk, a.n_train, a.n_test, dense, perm) if a.int_probe else None
        )
    if integer is not None:
        integer["probe_loss_vs_float"] = round(res["spearman"] - integer["probe_spearman"], 4)
    return {
        **({"compiled_int": integer} if integer is not None else {}),
        "probe_spearman": round(res["spearman"], 4),
        "probe_sign_accuracy": round(res["sign_accuracy"], 4),
        "mean_cosine_to_dense": round(res["mean_cosine_to_dense"], 4),
        "unrelated_cosine_dense": round(res["unrelated_cosine"], 4),
        "achieved_sparsity": round(rep["achieved_sparsity"], 6),
        "block_sparsity": round(rep["achieved_block_sparsity"], 6),
        "pruned_heads": sum(len(v) for v in rep["pruned_heads"].values()),
        "pruned_layers": rep["pruned_layers"],
        "prune_fidelity_cosine": round(rep["fidelity"]["mean_cosine"], 4),
        "recovery": rep["recovery"],
        "settings": rep["settings"],
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }


def dense_entry(a: argparse.Namespace, emb_path: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    from compiler.checkpoint import resolve_model

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    res, emb = _probe_model(resolve_model(a.model).path, a.max_len or 64, a.n_train, a.n_test)
    np.save(emb_path, emb)
    return {
        "probe_spearman": round(res["spearman"], 4),
        "probe_sign_accuracy": round(res["sign_accuracy"], 4),
        "unrelated_cosine": round(res["unrelated_cosine"], 4),
        "alpha": res["alpha"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=["magnitude", "block-lasso", "pgb", "obert", "ae"])
    ap.add_argument("--sparsity", nargs="+", type=float, default=[0.5, 0.8, 0.9])
    ap.add_argument("--block", nargs="+", default=["4x4", "16x16"])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--data", default="vader", help="distillation text (vader or a file)")
    ap.add_argument(
        "--steps", type=int, default=None, help="--steps of every prune (method default if unset)"
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--time-budget", type=float, default=None, help="seconds of fine-tuning per prune")
    ap.add_argument(
        "--lr", type=float, default=None, help="distillation learning rate (default: the prune's)"
    )
    ap.add_argument("--pruning-steps", type=int, default=None, help="pgb / obert: gradual selections")
    ap.add_argument("--n-train", type=int, default=2000, help="probe-train sentences")
    ap.add_argument("--n-test", type=int, default=1000, help="probe-test sentences")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)"
    )
    ap.add_argument("--dense-only", action="store_true", help="only the dense model's probe score")
    ap.add_argument(
        "--pgb-permute-hidden", action="store_true", help="pgb also permutes the hidden dimension"
    )
    ap.add_argument(
        "--int-probe",
        action="store_true",
        help="also compile each result (golden backend) and probe the integer model (~6 min a row)",
    )
    ap.add_argument("--label", default=None, help="a note stored with every row of this run (e.g. partial)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    # the child process's own arguments
    ap.add_argument("--one-row", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--sp", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--blk", help=argparse.SUPPRESS)
    ap.add_argument("--dense-emb", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def _child_args(a: argparse.Namespace, method: str, sp: float, blk: str, emb: Path) -> list[str]:
    args = [sys.executable, __file__, "--one-row", "--method", method, "--sp", str(sp), "--blk", blk]
    args += ["--model", a.model, "--data", a.data, "--batch", str(a.batch), "--max-len", str(a.max_len)]
    args += ["--n-train", str(a.n_train), "--n-test", str(a.n_test), "--seed", str(a.seed)]
    args += ["--threads", str(a.threads), "--dense-emb", str(emb)]
    if a.pgb_permute_hidden:
        args.append("--pgb-permute-hidden")
    if a.int_probe:
        args.append("--int-probe")
    if a.steps is not None:
        args += ["--steps", str(a.steps)]
    if a.time_budget is not None:
        args += ["--time-budget", str(a.time_budget)]
    if a.lr is not None:
        args += ["--lr", str(a.lr)]
    if a.pruning_steps is not None:
        args += ["--pruning-steps", str(a.pruning_steps)]
    return args


def _save(path: Path, doc: dict[str, Any]) -> None:
    doc["meta"] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared, contended)",
        "python": platform.python_version(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    if a.one_row:
        print("ROW " + json.dumps(one_row(a)), flush=True)
        return 0
    from compiler.data import vader

    if not vader.available():
        print(
            f"prune_quality: no VADER sentences in {vader.cache_dir()}: run 'make data' first",
            file=sys.stderr,
        )
        return 2
    doc = json.loads(a.out.read_text()) if a.out.exists() else {"dense": {}, "rows": []}
    with tempfile.TemporaryDirectory() as d:
        emb = Path(d) / "dense.npy"
        dense = dense_entry(a, emb)
        doc["dense"][f"{a.model} n_train={a.n_train} n_test={a.n_test} max_len={a.max_len}"] = dense
        print(json.dumps({"dense": dense}), flush=True)
        _save(a.out, doc)
        if a.dense_only:
            return 0
        for sp in a.sparsity:
            for blk in a.block:
                for m in a.methods:
                    res = subprocess.run(
                        _child_args(a, m, sp, blk, emb), capture_output=True, text=True, cwd=ROOT
                    )
                    line = next((x for x in res.stdout.splitlines() if x.startswith("ROW ")), None)
                    if res.returncode != 0 or line is None:
                        print(f"{m} {sp} {blk}: failed\n{res.stderr[-2000:]}", file=sys.stderr)
                        return 1
                    row = {
                        "model": a.model, "method": m, "sparsity": sp, "block": blk, "steps": a.steps,
                        "batch": a.batch, "max_len": a.max_len, "time_budget_s": a.time_budget,
                        "lr": a.lr, "pruning_steps": a.pruning_steps, "data": a.data, "n_train": a.n_train,
                        "n_test": a.n_test, "seed": a.seed,
                        "threads": a.threads, "pgb_permute_hidden": a.pgb_permute_hidden and m == "pgb",
                        **({"label": a.label} if a.label else {}),
                        **json.loads(line[4:]),
                    }  # fmt: skip
                    print(json.dumps({k: row[k] for k in ("method", "sparsity", "block", "probe_spearman",
                                                          "mean_cosine_to_dense", "wall_s", "peak_rss_mb")}),
                          flush=True)  # fmt: skip
                    key = tuple(row[k] for k in KEY)
                    doc["rows"] = [r for r in doc["rows"] if tuple(r.get(k) for k in KEY) != key] + [row]
                    _save(a.out, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
