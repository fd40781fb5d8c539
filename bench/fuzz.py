"""Differential fuzz campaign: random model configurations through `compile`, every check compared.

    .venv/bin/python bench/fuzz.py --n 200 --seed 0 [--out bench/results/fuzz.json] [--work DIR]

Configuration ``i`` is drawn from seed ``S + i``: family (BERT, DistilBERT, RoBERTa, with or
without a classification head), 1-3 layers, 1-12 heads of 4-64 (hidden <= 256), FFN ratio
1-4 with odd sizes, a block from 1x4 to 32x32 (many do not divide the matrices), block or
unstructured magnitude pruning to a sparsity in 0-0.97, sequence length 1-128 (mostly
small).  Each is saved as a random-weight checkpoint, pruned, and compiled with C simulation;
the checks are the compile's own (ONNX vs torch <= 1e-3, float golden vs onnxruntime
<= 1e-4, every structure pass <= 1e-4, C simulation 0 mismatches) and the error path: a
configuration the tool refuses (a block larger than a matrix) must be refused with one
UserError line, anything else unexpected is a failure.

Results go to ``--out`` after every configuration (configuration, seed, checks, seconds,
outcome); a rerun skips the seeds already there.  Each configuration is a task of
compiler/scale: ``--ray`` runs them on a local Ray (``--num-cpus``), ``--ray-address``
on an existing cluster (docs/scale.md); the default runs them one after another here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script, bench/ leads sys.path, and bench/numbers.py would shadow the stdlib's numbers
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402

from compiler.scale.args import add_executor_args, executor_from_args  # noqa: E402
from compiler.scale.run import run_tasks  # noqa: E402
from compiler.scale.tasks import Task  # noqa: E402

BLOCK_SIDES = (1, 2, 3, 4, 5, 7, 8, 12, 16, 24, 32)
GOLDEN_TOL = 1e-4


@dataclass(frozen=True)
class Config:
    family: str  # bert | distilbert | roberta
    classifier: bool
    layers: int
    heads: int
    head_size: int
    ffn: int
    block: tuple[int, int]
    sparsity: float
    prune: str  # block | unstructured
    seq: int
    vocab: int = 97

    @property
    def hidden(self) -> int:
        return self.heads * self.head_size


def draw(seed: int) -> Config:
    """One random configuration; the same seed gives the same configuration."""
    rng = np.random.default_rng(seed)
    heads = int(rng.integers(1, 13))
    head_size = int(rng.integers(4, 65))
    head_size = min(head_size, 256 // heads)
    hidden = heads * head_size
    ffn = max(1, int(round(hidden * rng.uniform(1, 4))) + int(rng.integers(-1, 2)))
    bm = int(rng.choice(BLOCK_SIDES))
    bn = int(rng.choice(BLOCK_SIDES[3:]))  # 4..32 wide: 1x4 is the narrowest block
    r = rng.random()
    seq = (
        int(rng.integers(1, 17))
        if r < 0.7
        else int(rng.integers(17, 65))
        if r < 0.95
        else int(rng.integers(65, 129))
    )
    sparsity = 0.0 if rng.random() < 0.1 else float(round(rng.uniform(0, 0.97), 3))
    return Config(
        family=str(rng.choice(["bert", "distilbert", "roberta"])),
        classifier=bool(rng.random() < 0.4),
        layers=int(rng.integers(1, 4)),
        heads=heads,
        head_size=head_size,
        ffn=ffn,
        block=(bm, bn),
        sparsity=sparsity,
        prune=str(rng.choice(["block", "unstructured"])),
        seq=seq,
    )


def expected_refusal(c: Config) -> str | None:
    """Why the tool must refuse ``c``, or None: ``head`` (DistilBERT's classification head has a
    ReLU the IR lacks) or ``block`` (a block larger than a matrix)."""
    if c.family == "distilbert" and c.classifier:
        return "head"
    side = min(c.hidden, c.ffn)  # the smallest rows and columns among q/k/v/o, fc1, fc2
    if c.block[0] > side or c.block[1] > side:
        return "block"
    return None


#: A refusal is right when the tool says this (one line, exit 2).
#: (From an .onnx file there is no config.json: the head is refused at the node no pattern covers.)
REFUSAL_WORDS = {
    "head": (("head", "not supported"), ("unsupported op Relu at node",)),
    "block": (("block", "larger"),),
}


def _prune(w: np.ndarray, c: Config, rng: np.random.Generator) -> np.ndarray:
    """Magnitude pruning of one [N, K] matrix: whole blocks (edges included) or single weights."""
    if c.sparsity <= 0:
        return w
    if c.prune == "unstructured":
        cut = np.quantile(np.abs(w), c.sparsity)
        return np.where(np.abs(w) <= cut, 0, w).astype(w.dtype)
    bm, bn = c.block
    n, k = w.shape
    gn, gk = -(-n // bm), -(-k // bn)
    pad = np.zeros((gn * bm, gk * bn), dtype=np.float64)
    pad[:n, :k] = w
    energy = (pad.reshape(gn, bm, gk, bn) ** 2).sum(axis=(1, 3)) + rng.random((gn, gk)) * 1e-12
    n_zero = int(round(c.sparsity * energy.size))
    keep = np.ones(energy.size, dtype=bool)
    keep[np.argsort(energy, axis=None)[:n_zero]] = False
    mask = np.kron(keep.reshape(gn, gk), np.ones((bm, bn)))[:n, :k]
    return (w * mask).astype(w.dtype)


def make_model(c: Config, folder: Path, seed: int) -> Path:
    """Random-weight checkpoint of ``c``, its encoder matrices pruned."""
    from ckpts import make_checkpoint
    from safetensors.numpy import load_file, save_file

    make_checkpoint(
        folder,
        c.family,
        c.classifier,
        seed=seed,
        layers=c.layers,
        hidden=c.hidden,
        heads=c.heads,
        ffn=c.ffn,
        vocab=c.vocab,
        max_pos=max(c.seq, 8),
    )
    st = load_file(str(folder / "model.safetensors"))
    rng = np.random.default_rng(seed)
    for k in sorted(st):
        if k.endswith("weight") and st[k].ndim == 2 and ("layer." in k) and "embeddings" not in k:
            st[k] = _prune(st[k], c, rng)
    save_file(st, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def export_torchscript(ckpt: Path, path: Path) -> Path:
    """The checkpoint as the TorchScript exporter writes it (opset 17, dynamic batch and sequence)."""
    import torch

    from compiler.checkpoint import load_hf_model
    from compiler.frontend.export import _Wrapper, model_input_names, output_name

    model = load_hf_model(ckpt)
    names = model_input_names(model)
    args = tuple(torch.ones((1, 4), dtype=torch.long) for _ in names)
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with warnings.catch_warnings(), quiet[0], quiet[1]:
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapper.make(model, names, output_name(model)),
            args,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=list(names),
            output_names=[output_name(model)],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in names},
        )
    return path


def run_config(
    c: Config, seed: int, work: Path, csim: bool = True, exporter: str = "dynamo"
) -> dict[str, Any]:
    """``sparsehls compile`` on ``c`` as a user runs it; outcome pass | refused | fail, with the
    checks and the reason.  ``exporter="torchscript"`` compiles the TorchScript exporter's
    ``.onnx`` of the checkpoint (dynamic axes) instead of the checkpoint."""
    from compiler.cli import main as cli

    t0 = time.perf_counter()
    row: dict[str, Any] = {"seed": seed, "config": asdict(c), "expected_refusal": expected_refusal(c)}
    if exporter != "dynamo":
        row["exporter"] = exporter
    ckpt, proj = work / f"ckpt-{seed}", work / f"proj-{seed}"
    src = ckpt / "model.onnx" if exporter == "torchscript" else ckpt
    args = ["compile", str(src), "-o", str(proj), "--seq-len", str(c.seq)]
    args += ["--block", "x".join(map(str, c.block)), "--calib", "4", "--force", "-q"]
    args += [] if csim else ["--no-csim"]
    err = io.StringIO()
    try:
        make_model(c, ckpt, seed)
        if exporter == "torchscript":
            export_torchscript(ckpt, src)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli(args)
        if rc in (130, 143):  # the CLI turned Ctrl-C / SIGTERM into an exit code: stop the campaign
            raise KeyboardInterrupt
        row["exit"] = rc
        if rc == 0:
            _judge_compiled(row, json.loads((proj / "report.json").read_text()), csim)
        else:
            _judge_refused(row, rc, err.getvalue())
    except Exception as e:  # a crash: the campaign's main catch
        row["outcome"] = "fail"
        row["reason"] = f"crash: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        row["traceback"] = traceback.format_exc(limit=6)[-2000:]
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
        shutil.rmtree(proj, ignore_errors=True)
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _judge_compiled(row: dict[str, Any], report: dict[str, Any], csim: bool) -> None:
    row["checks"] = _checks(report, csim)
    bad = [k for k, ok in row["checks"]["ok"].items() if not ok]
    row["outcome"] = "fail" if bad or row["expected_refusal"] else "pass"
    if bad:
        row["reason"] = "check failed: " + ", ".join(bad)
    elif row["expected_refusal"]:
        row["reason"] = f"compiled, but a {row['expected_refusal']} refusal was expected"


def _judge_refused(row: dict[str, Any], rc: int, stderr: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    row["error"] = lines[-1] if lines else ""
    one_line = rc == 2 and len(lines) == 1 and lines[0].startswith("sparsehls: error:")
    why = row["expected_refusal"]
    expected = why is not None and any(all(w in row["error"] for w in words) for words in REFUSAL_WORDS[why])
    row["outcome"] = "refused" if one_line and expected else "fail"
    if not one_line:
        row["reason"] = f"refusal is not one line with exit 2 (exit {rc}, {len(lines)} lines)"
    elif not expected:
        row["reason"] = "unexpected refusal"


def _checks(report: dict[str, Any], csim: bool) -> dict[str, Any]:
    ch = report["checks"]
    out: dict[str, Any] = {
        "onnx_vs_torch_max_abs": ch.get("onnx_vs_torch_max_abs"),
        "golden_float_vs_onnx_max_abs": ch["golden_float_vs_onnx_max_abs"],
        "passes_max_abs": max(ch.get("passes_max_abs", {}).values(), default=0.0),
        "golden_int_vs_float_cosine": ch.get("golden_int_vs_float_cosine"),
        "block_sparsity": report["sparsity"]["block"],
    }
    ok = {
        "golden_float_vs_onnx": out["golden_float_vs_onnx_max_abs"] <= GOLDEN_TOL,
        "passes": out["passes_max_abs"] <= GOLDEN_TOL,
    }
    if csim:
        cs = report.get("csim", {})
        out["csim_mismatches"] = cs.get("mismatches")
        ok["csim"] = bool(cs.get("passed")) and cs.get("mismatches") == 0
    out["ok"] = ok
    return out


def fuzz_task(seed: int, csim: bool, exporter: str, work: str | None) -> dict[str, Any]:
    """One configuration as a task of compiler/scale: a pure function of its seed (scratch in
    ``work``, or a temporary folder of the worker's own machine)."""
    from compiler.checkpoint import quiet_transformers

    quiet_transformers()
    if work:
        Path(work).mkdir(parents=True, exist_ok=True)
        return run_config(draw(seed), seed, Path(work), csim=csim, exporter=exporter)
    with tempfile.TemporaryDirectory(prefix="sparsehls-fuzz-") as tmp:
        return run_config(draw(seed), seed, Path(tmp), csim=csim, exporter=exporter)


def _row(seed: int, out: Any) -> dict[str, Any]:
    """The task's row, or a failure row when the task itself could not run (a lost worker, say)."""
    if out.ok:
        row: dict[str, Any] = out.result
        return row
    return {
        "seed": seed,
        "config": asdict(draw(seed)),
        "expected_refusal": expected_refusal(draw(seed)),
        "outcome": "fail",
        "reason": f"task: {out.error}",
        "traceback": out.traceback,
        "seconds": out.seconds,
    }


def _load(out: Path) -> dict[str, Any]:
    if out.exists():
        doc: dict[str, Any] = json.loads(out.read_text())
        return doc
    return {"results": []}


def _save(out: Path, doc: dict[str, Any]) -> None:
    rows = doc["results"]
    rows.sort(key=lambda r: r["seed"])  # the same file whatever order the tasks finished in
    doc["summary"] = {
        "configs": len(rows),
        **{k: sum(r["outcome"] == k for r in rows) for k in ("pass", "refused", "fail")},
        "seconds": round(sum(r["seconds"] for r in rows), 1),
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench/results/fuzz.json"))
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--no-csim", action="store_true")
    ap.add_argument(
        "--exporter",
        choices=("dynamo", "torchscript"),
        default="dynamo",
        help="compile the checkpoint (dynamo: our exporter) or its TorchScript .onnx with dynamic axes",
    )
    add_executor_args(ap)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from compiler.checkpoint import quiet_transformers

    quiet_transformers()
    out = Path(a.out)
    doc = _load(out)
    doc["meta"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "csim": not a.no_csim,
        "exporter": a.exporter,
    }
    done = {r["seed"] for r in doc["results"]}
    tasks = [
        Task(
            f"seed-{seed}",
            fuzz_task,
            {"seed": seed, "csim": not a.no_csim, "exporter": a.exporter, "work": a.work},
        )
        for seed in range(a.seed, a.seed + a.n)
        if seed not in done
    ]

    def record(task: Task, outcome: Any) -> None:
        row = _row(task.kwargs["seed"], outcome)
        doc["results"].append(row)
        _save(out, doc)
        print(
            f"seed {row['seed']}: {row['outcome']} ({row['seconds']} s) {row.get('reason', '')}", flush=True
        )

    executor = executor_from_args(a)
    try:
        run_tasks(tasks, executor, on_outcome=record, label="fuzz", show=False)
    finally:
        executor.close()
    _save(out, doc)
    s = doc["summary"]
    print(f"{s['configs']} configurations: {s['pass']} pass, {s['refused']} refused, {s['fail']} fail")
    return 1 if s["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
