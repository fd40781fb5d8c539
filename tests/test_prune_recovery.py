"""Distillation recovery: bounded teacher cache, time budget, best parameters kept, --batch / --max-len."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_prune import tiny

from compiler.prune import calib
from compiler.prune.command import make_context, run_prune


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _ctx(tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    ctx, tok, cal, held = make_context(tiny(tmp_path), calib.default_set(), 4, 4, 0.5, **kw)
    masks = ctx.masks_from_blocks({t.name: torch.rand(*_grid(t.shape)) > 0.5 for t in ctx.targets})
    ctx.apply(masks)
    return ctx, masks


def _grid(shape: tuple[int, int]) -> tuple[int, int]:
    return shape[0] // 4, shape[1] // 4


def test_teacher_cache_is_bounded_and_exact(tmp_path: Path) -> None:
    ctx, _ = _ctx(tmp_path)
    full = [float(ctx.batch_loss(i).detach()) for i in range(len(ctx.calib))]
    assert len(ctx.teacher_cache) == len(ctx.calib)
    assert all(h.dtype == torch.float16 for o in ctx.teacher_cache.values() for h in o.hidden)
    one = next(iter(ctx.teacher_cache.values())).nbytes()
    ctx.teacher_cache.clear()
    ctx._cached_bytes, ctx.cache_bytes = 0, 3 * one  # room for about three batches
    again = [float(ctx.batch_loss(i).detach()) for i in range(len(ctx.calib))]
    assert 1 <= len(ctx.teacher_cache) <= 3
    assert again == pytest.approx(full, rel=1e-6)  # recomputed in fp32 or cached in fp16: same loss
    assert sum(o.nbytes() for o in ctx.teacher_cache.values()) <= ctx.cache_bytes


def test_best_parameters_are_kept(tmp_path: Path) -> None:
    """A learning rate that wrecks the model: fine-tuning hands back the parameters it started from."""
    ctx, masks = _ctx(tmp_path)
    assert ctx.val and not set(ctx.val) & set(ctx.train_idx)
    before = ctx.val_loss()
    ctx.finetune(12, masks, lr=5.0)
    assert ctx.recovery["best_step"] == 0
    assert ctx.val_loss() == pytest.approx(before, rel=1e-6)


def test_best_parameters_improve(tmp_path: Path) -> None:
    ctx, masks = _ctx(tmp_path)
    before = ctx.val_loss()
    ctx.finetune(16, masks, lr=1e-3)
    assert ctx.recovery["best_step"] > 0
    assert (
        ctx.val_loss() == pytest.approx(ctx.recovery["best_val_loss"], rel=1e-4) and ctx.val_loss() < before
    )
    for t in ctx.targets:  # pruned weights stay zero
        assert bool((t.weight[~masks[t.name]] == 0).all())


def test_time_budget_stops_fine_tuning(tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = run_prune(str(tiny(tmp_path)), tmp_path / "o", "magnitude", 0.5, "4x4", steps=100000, time_budget=2.0)
    assert time.monotonic() - t0 < 60
    rec = r["recovery"]
    assert rec["stopped_at_time_budget"] and 0 < rec["steps_done"] < 100000
    assert r["time_budget_s"] == 2.0 and (tmp_path / "o" / "model.safetensors").is_file()


def test_batch_and_max_len(tmp_path: Path) -> None:
    data = tmp_path / "d.tsv"
    data.write_text("text\n" + "".join(f"w{i} " * 40 + "\n" for i in range(60)))
    r = run_prune(
        str(tiny(tmp_path)),
        tmp_path / "o",
        "magnitude",
        0.5,
        "4x4",
        data=str(data),
        steps=2,
        batch=5,
        max_len=12,
    )
    assert r["batch"] == 5 and r["max_len"] == 12 and r["calibration_sentences"] == 48
    ctx, tok, cal, held = make_context(
        tiny(tmp_path, name="t2"), calib.load_data(str(data)), 4, 4, 0.5, batch=5, max_len=12
    )
    assert {b["input_ids"].shape for b in ctx.calib} == {torch.Size([5, 12]), torch.Size([3, 12])}


def test_cli_shows_a_progress_bar_with_the_loss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compiler.cli import main

    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"text": "sentence number {i} here"}}\n' for i in range(40)))
    args = ["prune", str(tiny(tmp_path)), "-o", str(tmp_path / "o"), "--sparsity", "0.5", "--block", "4x4"]
    assert main([*args, "--data", str(data), "--steps", "3", "--batch", "4", "--time-budget", "60"]) == 0
    out = capsys.readouterr().out
    assert "fine-tune" in out and "3/3" in out and "loss 0." in out
    assert "fine-tuning: 3 steps of 4 sentences, best validation loss" in out
