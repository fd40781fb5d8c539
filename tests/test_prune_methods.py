"""The paper methods: block-lasso, pgb, obert, ae: exact sparsity, structure, and their key mechanisms."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_prune import tiny, weights

from compiler.prune import calib
from compiler.prune.blocks import block_sum
from compiler.prune.command import make_context, run_prune
from compiler.prune.objective import run_model
from compiler.prune.targets import by_layer


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one torch thread avoids OpenMP spin-waiting on a shared 2-core machine (5-10x faster)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _small_budgets(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tiny models need no long schedules; the mechanisms are the same.  No VADER cache: the
    tests do not depend on what this machine has fetched (probe scoring is tested on its own)."""
    from compiler.prune import ae, obert, pgb

    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(tmp_path_factory.mktemp("no-vader")))
    monkeypatch.setattr(obert, "FINETUNE_STEPS", 3)
    monkeypatch.setattr(obert, "BETWEEN_STEPS", 2)
    monkeypatch.setattr(obert, "GRAD_SAMPLES", 32)
    monkeypatch.setattr(pgb, "GRAD_SAMPLES", 16)
    monkeypatch.setattr(ae, "GENERATIONS", 3)
    monkeypatch.setattr(ae, "POPULATION", 5)


def whole_blocks(folder: Path, report: dict, bm: int, bn: int) -> int:
    w = weights(folder)
    total = 0
    for name in report["matrices"]:
        z = (w[name + ".weight"] == 0).float()
        zb, sizes = block_sum(z, bm, bn), block_sum(torch.ones_like(z), bm, bn)
        assert bool(((zb == 0) | (zb == sizes)).all()), f"{name}: zeros outside whole blocks"
        total += int((zb == sizes).sum())
    return total


@pytest.mark.parametrize(("method", "steps"), [("block-lasso", 8), ("obert", None), ("obert", 3)])
def test_per_matrix_exact(tmp_path: Path, method: str, steps: int | None) -> None:
    src = tiny(tmp_path)
    r = run_prune(str(src), tmp_path / "o", method, 0.6, "4x8", steps=steps)
    for name, m in r["matrices"].items():
        assert m["zero_blocks"] == m["target_zero_blocks"] == round(0.6 * m["blocks"]), name
    assert whole_blocks(tmp_path / "o", r, 4, 8) == r["zero_blocks"]
    if method == "obert":
        assert r["settings"]["pruning_steps"] == (steps or 3)  # gradual by default
        assert r["settings"]["schedule"][-1] == pytest.approx(0.6)


def test_obert_cubic_schedule_hand_worked() -> None:
    """s_t = s_f + (s_i - s_f)(1 - t/n)^3 worked by hand for s_f = 0.8, n = 3:
    0.8 (1 - 8/27) = 0.562963, 0.8 (1 - 1/27) = 0.770370, 0.8; with s_i = 0.5, n = 2: 0.8 - 0.3/8."""
    from compiler.prune.obert import cubic_schedule

    assert cubic_schedule(0.8, 3) == pytest.approx([0.562963, 0.770370, 0.8], abs=1e-6)
    assert cubic_schedule(0.8, 2, initial=0.5) == pytest.approx([0.7625, 0.8])
    assert cubic_schedule(0.9, 1) == [0.9]  # one-shot


def test_obert_gradual_steps_reach_their_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """By default oBERT prunes gradually: before each recovery run the weights themselves hold the
    schedule's number of zero blocks (counted from the weights, 4x8 blocks), and the final checkpoint
    the requested one; --steps 1 is one-shot (one recovery run, at the end)."""
    from compiler.prune import objective

    seen: list[int] = []
    real = objective.Context.finetune

    def spy(self, steps, masks, *a, **k):  # type: ignore[no-untyped-def]
        zero = 0
        for t in self.targets:
            z = (t.weight.detach() == 0).float()
            zero += int((block_sum(z, 4, 8) == block_sum(torch.ones_like(z), 4, 8)).sum())
        seen.append(zero)
        return real(self, steps, masks, *a, **k)

    monkeypatch.setattr(objective.Context, "finetune", spy)
    src = tiny(tmp_path)
    r = run_prune(str(src), tmp_path / "o", "obert", 0.6, "4x8")
    per = [m["blocks"] for m in r["matrices"].values()]
    # 0.6 (1 - (2/3)^3) = 0.42222, 0.6 (1 - (1/3)^3) = 0.57778 (recovery after each), 0.6 (final recovery)
    want = [sum(round(s * n) for n in per) for s in (0.422222, 0.577778, 0.6)]
    assert seen == want
    assert whole_blocks(tmp_path / "o", r, 4, 8) == want[-1] == r["zero_blocks"]
    seen.clear()
    run_prune(str(src), tmp_path / "one", "obert", 0.6, "4x8", steps=1)
    assert seen == [want[-1]]


def test_obert_pruning_steps_make_steps_the_finetune_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --pruning-steps 3, --steps 10 is the distillation budget: 10 // (2 x 2) = 2 steps after
    each of the first two selections, the remaining 6 after the last (not 10 pruning steps)."""
    from compiler.prune import objective

    runs: list[int] = []
    real = objective.Context.finetune

    def spy(self, steps, masks, *a, **k):  # type: ignore[no-untyped-def]
        runs.append(steps)
        return real(self, steps, masks, *a, **k)

    monkeypatch.setattr(objective.Context, "finetune", spy)
    r = run_prune(str(tiny(tmp_path)), tmp_path / "o", "obert", 0.6, "4x8", steps=10, pruning_steps=3)
    assert runs == [2, 2, 6]
    assert r["settings"]["pruning_steps"] == 3 and r["settings"]["between_steps"] == 2
    assert r["settings"]["finetune_steps"] == 6 and r["recovery"]["steps_done"] == 10


def test_pgb_gradual_keeps_pruned_blocks_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--pruning-steps 3: before each recovery run the weights hold the cubic schedule's zero blocks
    (global budget: round(s x all blocks)), every block pruned at one step is still zero at the
    next, and the fine-tune steps split half between the selections, half after the last."""
    from compiler.prune import objective

    seen: list[tuple[int, int, torch.Tensor]] = []
    real = objective.Context.finetune

    def spy(self, steps, masks, *a, **k):  # type: ignore[no-untyped-def]
        zb = torch.cat(
            [(block_sum((t.weight.detach() == 0).float(), 4, 4) == 16).flatten() for t in self.targets]
        )
        seen.append((steps, int(zb.sum()), zb))
        return real(self, steps, masks, *a, **k)

    monkeypatch.setattr(objective.Context, "finetune", spy)
    r = run_prune(str(tiny(tmp_path)), tmp_path / "o", "pgb", 0.6, "4x4", steps=8, pruning_steps=3)
    total = r["blocks"]
    want = [round(s * total) for s in (0.422222, 0.577778, 0.6)]
    assert [z for _, z, _ in seen] == want
    assert [n for n, _, _ in seen] == [2, 2, 4]  # 8 // (2 x 2) between, the rest at the end
    for (_, _, a), (_, _, b) in zip(seen, seen[1:], strict=False):
        assert bool(b[a].all())  # pruned stays pruned
    assert r["settings"]["pruning_steps"] == 3
    assert whole_blocks(tmp_path / "o", r, 4, 4) == want[-1] == r["zero_blocks"]


def test_cli_passes_lr_and_pruning_steps(tmp_path: Path) -> None:
    """`sparsehls prune --lr --pruning-steps` reach the prune: the report records both."""
    import json

    from compiler.cli import main

    out = tmp_path / "o"
    args = ["prune", str(tiny(tmp_path)), "-o", str(out), "--method", "pgb", "--sparsity", "0.5"]
    assert main([*args, "--block", "4x4", "--steps", "2", "--pruning-steps", "2", "--lr", "0.002"]) == 0
    settings = json.loads((out / "prune_report.json").read_text())["settings"]
    assert settings["lr"] == 0.002 and settings["pruning_steps"] == 2 and settings["between_steps"] == 1


def test_pruning_steps_only_for_gradual_methods(tmp_path: Path) -> None:
    from compiler.errors import UserError

    with pytest.raises(UserError, match="applies to pgb and obert"):
        run_prune(str(tiny(tmp_path)), tmp_path / "o", "magnitude", 0.5, "4x4", pruning_steps=2)


def test_obert_fisher_samples_cover_the_block() -> None:
    """Enough gradient samples for the Fisher block: rank(sum g g^T) <= m, so m >= B (here 2B)."""
    from compiler.prune.obert import fisher_block_size, grad_samples_for

    for bn, cols in ((16, 384), (4, 384), (64, 1536), (1, 32)):
        b = fisher_block_size(bn, cols)
        assert grad_samples_for(b) >= 2 * b
    assert fisher_block_size(16, 384) == 32 and fisher_block_size(64, 1536) == 64


@pytest.mark.parametrize("method", ["pgb", "ae"])
def test_global_budget_exact(tmp_path: Path, method: str) -> None:
    src = tiny(tmp_path, layers=3)
    r = run_prune(str(src), tmp_path / "o", method, 0.7, "4x4", steps=2)
    assert r["zero_blocks"] == round(0.7 * r["blocks"])
    assert whole_blocks(tmp_path / "o", r, 4, 4) == r["zero_blocks"]
    if method == "ae":
        info = r["method_info"]
        assert info["search_best"] <= info["search_uniform"] + 1e-9


def test_ae_scores_candidates_by_the_probe(tmp_path: Path) -> None:
    """AE's search ranks candidates by the probe's Spearman on a labelled set, not by the loss:
    every score call is recorded with the candidate (its zero weights per matrix), its probe and its
    loss; the kept allocation is the probe's best, which here is not the loss's best."""
    from compiler.prune import ae, probe

    ctx, tok, cal, _ = make_context(tiny(tmp_path, layers=3), calib.default_set(), 4, 4, 0.5, steps=0)
    texts = cal.texts[:90]
    rows = [
        (t, float(len(t.split()) % 7) + 0.1 * i % 3) for i, t in enumerate(texts)
    ]  # a text-dependent label
    scorer = probe.Scorer(tok, rows[:60], rows[60:])
    seen: list[tuple[tuple[int, ...], float, float]] = []

    def recorded(model):  # type: ignore[no-untyped-def]
        zeros = tuple(int((t.weight == 0).sum()) for t in ctx.targets)
        q = scorer(model)
        seen.append((zeros, q, ctx.eval_loss(ae.EVAL_BATCHES)))
        return q

    ctx.quality = recorded
    r = ae.prune_ae(ctx)
    assert r.info["search_score"] == "-probe_spearman"
    chosen = tuple(int((~r.masks[t.name]).sum()) for t in ctx.targets)
    by_probe = max(seen, key=lambda x: x[1])
    by_loss = min(seen, key=lambda x: x[2])
    assert chosen == by_probe[0]
    assert r.info["search_best"] == pytest.approx(-by_probe[1])
    assert by_loss[0] != by_probe[0]  # the two scores disagree here, so the test tells them apart


def test_ae_without_vader_falls_back_to_the_loss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    r = run_prune(str(tiny(tmp_path)), tmp_path / "o", "ae", 0.5, "4x4", steps=0)
    assert r["method_info"]["search_score"] == "distill_loss"
    assert any("no VADER sentences" in m for m in caplog.messages)


def test_pgb_permutation_preserves_function(tmp_path: Path) -> None:
    from compiler.prune.pgb import permute_layer, saliency

    ctx, tok, cal, held = make_context(tiny(tmp_path, layers=2), calib.default_set(), 4, 4, 0.5)
    batch = tok(held.texts[:6])
    before = run_model(ctx.student, batch).hidden[-1].detach()
    s = saliency(ctx, 4)
    perms = [permute_layer(ctx, d, s, 0.5) for d in by_layer(ctx.targets).values()]
    after = run_model(ctx.student, batch).hidden[-1].detach()
    assert any(p["ffn"] != sorted(p["ffn"]) for p in perms)  # something actually moved
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)
    # saliencies were permuted with the weights
    d = by_layer(ctx.targets)[0]
    assert bool((s[d["ffn_in"].name] >= 0).all())


def test_pgb_drops_a_layer_without_important_groups(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    src = tiny(tmp_path, layers=3, hidden=32)
    st = load_file(str(src / "model.safetensors"))
    for k in st:
        if k.startswith("encoder.layer.1.") and k.endswith("weight") and "LayerNorm" not in k:
            st[k] = st[k] * 1e-4
    save_file(st, str(src / "model.safetensors"), metadata={"format": "pt"})
    r = run_prune(str(src), tmp_path / "o", "pgb", 0.5, "4x4", steps=0)
    assert r["pruned_layers"] == [1]
    assert r["method_info"]["dropped_layers"] == [1]
    assert r["zero_blocks"] == round(0.5 * r["blocks"])
    w = weights(tmp_path / "o")
    assert all(bool((w[n + ".weight"] == 0).all()) for n, m in r["matrices"].items() if m["layer"] == 1)
    assert all(not bool((w[n + ".weight"] == 0).all()) for n, m in r["matrices"].items() if m["layer"] != 1)


def test_pgb_prunes_whole_heads(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    src = tiny(tmp_path, layers=2, hidden=32)  # 4 heads of 8
    st = load_file(str(src / "model.safetensors"))
    st["encoder.layer.0.attention.self.value.weight"][8:16] *= 1e-4  # head 1 of layer 0 contributes ~nothing
    save_file(st, str(src / "model.safetensors"), metadata={"format": "pt"})
    r = run_prune(str(src), tmp_path / "o", "pgb", 0.5, "8x8", steps=0)
    assert 1 in r["pruned_heads"].get("0", [])
    w = weights(tmp_path / "o")
    for k in ("query", "key", "value"):
        assert bool((w[f"encoder.layer.0.attention.self.{k}.weight"][8:16] == 0).all())
    assert bool((w["encoder.layer.0.attention.output.dense.weight"][:, 8:16] == 0).all())


def test_obert_update_lowers_loss(tmp_path: Path) -> None:
    from compiler.prune.obert import one_shot_prune

    ctx, *_ = make_context(tiny(tmp_path, layers=2, hidden=32, ffn=64), calib.default_set(), 1, 4, 0.5)
    dense = copy.deepcopy(ctx.student.state_dict())
    m_upd: dict = {}
    one_shot_prune(ctx, 0.5, m_upd, None, update=True, grad_samples=128)
    loss_upd = ctx.eval_loss()
    ctx.student.load_state_dict(dense)
    m_plain: dict = {}
    one_shot_prune(ctx, 0.5, m_plain, None, update=False, grad_samples=128)
    loss_plain = ctx.eval_loss()
    for k in m_upd:
        assert torch.equal(m_upd[k], m_plain[k])  # same mask
    assert loss_upd < 0.9 * loss_plain, (loss_upd, loss_plain)


@pytest.mark.slow
def test_minilm_obert_one_shot_beats_magnitude(tmp_path: Path) -> None:
    """oBERT's second-order choice and weight update against magnitude, both one-shot (a recovery of
    a few steps each, so the comparison is of the pruning, and the suite stays inside CI's limit)."""
    r_o = run_prune("minilm", tmp_path / "o", "obert", 0.5, "4x4", steps=1)
    r_m = run_prune("minilm", tmp_path / "m", "magnitude", 0.5, "4x4", steps=1)
    assert r_o["achieved_sparsity"] == pytest.approx(0.5, abs=1e-4)
    assert r_o["fidelity"]["mean_cosine"] >= r_m["fidelity"]["mean_cosine"] - 0.02


@pytest.mark.parametrize(
    "cls",
    ["BertModel", "BertForSequenceClassification", "DistilBertForSequenceClassification", "RobertaModel"],
)
def test_hidden_permutation_keeps_the_function(tmp_path: Path, cls: str) -> None:
    """One hidden permutation over embeddings, every layer and LayerNorm: hidden states come out permuted
    by it, pooler outputs and logits unchanged (tiny random models, torch allclose)."""
    from compiler.checkpoint import load_hf_model
    from compiler.prune.permute_hidden import permute_hidden
    from compiler.prune.targets import find_targets

    model = load_hf_model(tiny(tmp_path, cls)).eval()
    ids = torch.randint(3, 120, (3, 11), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    kw = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
    with torch.no_grad():
        before = model(**kw)
        perm = torch.randperm(32, generator=torch.Generator().manual_seed(1))
        permute_hidden(model, find_targets(model), perm)
        after = model(**kw)
    for hb, ha in zip(before.hidden_states, after.hidden_states, strict=True):
        torch.testing.assert_close(ha, hb[..., perm], rtol=1e-5, atol=1e-5)
    for key in ("pooler_output", "logits"):
        if getattr(before, key, None) is not None:
            torch.testing.assert_close(getattr(after, key), getattr(before, key), rtol=1e-5, atol=1e-5)


def test_pgb_with_hidden_permutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PGB with the hidden dimension grouped: a real permutation recorded, exact budget, whole blocks."""
    from compiler.prune import pgb

    monkeypatch.setattr(pgb, "PERMUTE_HIDDEN", True)
    src = tiny(tmp_path, layers=2)
    r = run_prune(str(src), tmp_path / "o", "pgb", 0.5, "4x4", steps=0)
    perm = r["method_info"]["hidden_permutation"]
    assert sorted(perm) == list(range(32)) and perm != list(range(32))
    assert r["zero_blocks"] == round(0.5 * r["blocks"])
    assert whole_blocks(tmp_path / "o", r, 4, 4) == r["zero_blocks"]


def test_compensation_lowers_each_output_error_and_keeps_zeros(tmp_path: Path) -> None:
    from compiler.prune.compensate import _gram, _refit, compensate

    ctx, *_ = make_context(tiny(tmp_path, layers=2), calib.default_set(), 4, 4, 0.5)
    gen = torch.Generator().manual_seed(0)
    keep = {t.name: torch.rand(t.shape[0] // 4, t.shape[1] // 4, generator=gen) > 0.5 for t in ctx.targets}
    masks = ctx.masks_from_blocks(keep)
    dense = {t.name: t.weight.detach().clone() for t in ctx.targets}
    ctx.apply(masks)
    t = ctx.targets[0]
    h = _gram(ctx.student, [t], ctx.calib[:4])[t.name]
    w = dense[t.name].double()
    d = w * masks[t.name] - w
    masked_err = float((d @ h * d).sum())
    err, base = _refit(t, masks[t.name], w, h, 4, 0.01)
    assert err < 0.9 * masked_err and masked_err < base
    errs = compensate(ctx, masks, dense)
    assert set(errs) == {"0", "1"} and all(0 <= e < 1 for e in errs.values())
    for t in ctx.targets:
        assert bool((t.weight[~masks[t.name]] == 0).all())
