"""``sparsehls prune``: load a dense checkpoint, prune it hardware-aware, write a checkpoint + report."""

from __future__ import annotations

import copy
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compiler.checkpoint import (
    check_sparsity,
    load_hf_model,
    parse_block,
    read_config,
    resolve_model,
    save_hf_model,
)
from compiler.errors import UserError
from compiler.outputs import atomic_dir, check_output_dir, write_json
from compiler.prune import METHODS, calib, check_recovery_args
from compiler.prune.objective import Context, StepHook, fidelity, seed_all
from compiler.prune.report import check_block_fits, dead_structures, sparsity_report
from compiler.prune.result import PruneResult
from compiler.prune.targets import find_targets, num_heads

log = logging.getLogger(__name__)

BATCH = 8
# sentence-transformers files worth keeping next to the pruned weights
_EXTRA_FILES = ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json")


def _methods() -> dict[str, Callable[[Context], PruneResult]]:
    from compiler.prune.ae import prune_ae
    from compiler.prune.lasso import prune_block_lasso
    from compiler.prune.magnitude import prune_balanced, prune_magnitude
    from compiler.prune.obert import prune_obert
    from compiler.prune.pgb import prune_pgb

    return {
        "magnitude": prune_magnitude,
        "balanced": prune_balanced,
        "block-lasso": prune_block_lasso,
        "pgb": prune_pgb,
        "obert": prune_obert,
        "ae": prune_ae,
    }


def run_prune(
    model: str,
    out: Path,
    method: str,
    sparsity: float,
    block: str,
    data: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    batch: int = BATCH,
    max_len: int | None = None,
    time_budget: float | None = None,
    on_step: StepHook | None = None,
    lr: float | None = None,
    pruning_steps: int | None = None,
) -> dict[str, Any]:
    """Prune ``model`` with ``method`` to ``sparsity`` in ``block`` (BMxBN) blocks; return the report.

    ``data``: a TSV/CSV/JSONL file, ``"vader"`` (the VADER distillation split) or None (the
    shipped corpus).  ``batch`` sentences per step, cut to ``max_len`` tokens; fine-tuning
    stops ``time_budget`` seconds after the start (the prune itself is not interrupted).
    ``lr``: the distillation learning rate (None: :data:`objective.LR`); ``pruning_steps``:
    selections of a gradual method (pgb: 1, one-shot; obert: ``steps``, else 3); with it,
    ``steps`` is the whole fine-tune budget of either method.
    """
    t0 = time.perf_counter()
    deadline = None if time_budget is None else time.monotonic() + time_budget
    if method not in METHODS:
        raise UserError(f"unknown pruning method '{method}' (choose from {', '.join(METHODS)})")
    check_sparsity(float(sparsity))
    bm, bn = parse_block(block)
    check_recovery_args(steps, batch, time_budget, lr, pruning_steps, method)
    ref = resolve_model(model)
    if ref.kind == "onnx":
        raise UserError(
            f"{ref.path} is an ONNX file; pruning needs a Hugging Face checkpoint folder (or 'minilm')"
        )
    out = Path(out)
    check_output_dir(out, force)  # fail before minutes of work, not after
    cfg = read_config(ref.path)
    max_len = calib.calibration_length(cfg, max_len)
    textset = calib.load_data(data)

    ctx, tokenize, cal, held = make_context(
        ref.path, textset, bm, bn, float(sparsity), seed, steps, progress, batch, max_len
    )
    ctx.on_step, ctx.deadline = on_step, deadline
    if lr is not None:
        ctx.lr = float(lr)
    ctx.pruning_steps = pruning_steps
    if method == "ae":
        ctx.quality = _ae_quality(tokenize)
    student, teacher, targets, heads = ctx.student, ctx.teacher, ctx.targets, ctx.heads
    log.info(
        "pruning %s with %s to %.3f in %dx%d blocks (%d matrices)",
        ref.name,
        method,
        sparsity,
        bm,
        bn,
        len(targets),
    )
    result = _methods()[method](ctx)
    ctx.apply(result.masks)  # pruned weights are exact zeros whatever the method did after masking
    fid = fidelity(student, teacher, calib.make_batches(tokenize, held, batch))
    report: dict[str, Any] = {
        "model": ref.name,
        "source": str(ref.path),
        "architecture": type(student).__name__,
        "model_type": cfg.get("model_type"),
        "method": method,
        "block": [bm, bn],
        "requested_sparsity": float(sparsity),
        "seed": seed,
        "steps": steps,
        "data": textset.source,
        "calibration_sentences": len(cal.texts),
        "batch": batch,
        "max_len": max_len,
        "time_budget_s": time_budget,
        "recovery": ctx.recovery,
        "settings": result.settings,
        **sparsity_report(targets, bm, bn, float(sparsity)),
        **dead_structures(targets, heads),
        "fidelity": fid,
        **({"method_info": result.info} if result.info else {}),
    }
    report["time_s"] = round(time.perf_counter() - t0, 3)
    with atomic_dir(out, force) as tmp:
        save_hf_model(student, tmp, tokenizer_from=ref.path)
        for name in _EXTRA_FILES:
            if (ref.path / name).is_file():
                shutil.copy(ref.path / name, tmp / name)
        if (ref.path / "1_Pooling").is_dir():
            shutil.copytree(ref.path / "1_Pooling", tmp / "1_Pooling")
        write_json(tmp / "prune_report.json", report)
    log.info(
        "achieved sparsity %.4f (blocks %.4f), fidelity cos %.4f spearman %.4f in %.1fs",
        report["achieved_sparsity"],
        report["achieved_block_sparsity"],
        fid["mean_cosine"],
        fid["spearman"],
        report["time_s"],
    )
    return report


def _ae_quality(tokenize: calib.Tokenize) -> Callable[[Any], float] | None:
    from compiler.prune import ae, probe

    scorer = probe.vader_scorer(tokenize, ae.SEARCH_TRAIN, ae.SEARCH_TEST)
    if scorer is None:
        log.warning("ae: no VADER sentences ('make data'): candidates are scored by the distillation loss")
    return scorer


def make_context(
    folder: Path,
    textset: calib.TextSet,
    bm: int,
    bn: int,
    sparsity: float,
    seed: int = 0,
    steps: int | None = None,
    progress: Callable[[str], None] | None = None,
    batch: int = BATCH,
    max_len: int | None = None,
) -> tuple[Context, calib.Tokenize, calib.TextSet, calib.TextSet]:
    """Load student + teacher, find targets, check the block, tokenize calibration text."""
    seed_all(seed)
    student = load_hf_model(folder)
    teacher = copy.deepcopy(student)
    targets = find_targets(student)
    check_block_fits(targets, bm, bn)
    heads = num_heads(student)
    cal, held = calib.split(textset)
    if cal.labels is not None:
        n_labels = getattr(student.config, "num_labels", 0) if hasattr(student, "classifier") else 0
        if n_labels:
            bad = [v for v in cal.labels + (held.labels or []) if not 0 <= v < n_labels]
            if bad:
                raise UserError(
                    f"data file {textset.source}: label {bad[0]} is outside [0, {n_labels}) for this classifier"
                )
        else:
            log.info("the model has no classification head: labels are ignored, distilling only")
            cal.labels = None
            held.labels = None
    max_len = calib.calibration_length(read_config(folder), max_len)
    tokenize = calib.make_tokenizer(folder, int(student.config.vocab_size), max_len)
    ctx = Context(
        student,
        teacher,
        targets,
        bm,
        bn,
        sparsity,
        heads,
        calib.make_batches(tokenize, cal, batch),
        seed=seed,
        steps=steps,
        progress=progress,
    )
    return ctx, tokenize, cal, held
