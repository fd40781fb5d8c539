"""Weight compensation after a block mask: refit the kept weights so each linear's output moves least.

For one linear with dense weights W and inputs X (rows = tokens of calibration sentences,
as the pruned model computes them so far), the kept weights of every output row solve

    min_w | X_K w - X W_row |^2 + lambda |w|^2        (K = the row's kept input columns)

whose normal equations are H_KK w = H_K: W_row with H = X^T X: one linear solve per block
row (all rows of a block row share K).  lambda = ``damp`` x mean(diag H), as in OBS /
SparseGPT.  Layers are refitted in order, each from inputs computed by the already
refitted earlier layers (so errors do not pile up); inside a layer all six linears see
inputs of the masked, not yet refitted layer.  Padding tokens are left out of X.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from compiler.prune.objective import Context, Masks
from compiler.prune.targets import Target, by_layer

log = logging.getLogger(__name__)

SENTENCES = 256  # calibration sentences whose tokens make X
DAMP = 0.01


@torch.no_grad()
def compensate(
    ctx: Context, masks: Masks, dense: dict[str, torch.Tensor], sentences: int = SENTENCES, damp: float = DAMP
) -> dict[str, float]:
    """Refit the kept weights of every target in place; return the relative output error per layer."""
    batches, n = [], 0
    for i in ctx.train_idx:
        if n >= sentences:
            break
        batches.append(ctx.calib[i])
        n += int(ctx.calib[i]["input_ids"].shape[0])
    errs: dict[str, float] = {}
    for layer, d in sorted(by_layer(ctx.targets).items()):
        hs = _gram(ctx.student, list(d.values()), batches)
        num = den = 0.0
        for t in d.values():
            e, base = _refit(t, masks[t.name], dense[t.name].to(torch.float64), hs[t.name], ctx.bm, damp)
            num, den = num + e, den + base
        errs[str(layer)] = round(num / max(den, 1e-30), 6)
        if ctx.progress:
            ctx.progress(f"weight compensation: layer {layer} relative output error {errs[str(layer)]:.4f}")
    return errs


def _gram(
    model: Any, targets: list[Target], batches: list[dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """H = X^T X (float64) of each target's input over the non-padding tokens of ``batches``."""
    from compiler.prune.objective import run_model

    hs = {t.name: torch.zeros(t.shape[1], t.shape[1], dtype=torch.float64) for t in targets}
    keep: list[torch.Tensor] = []

    def hook(name: str) -> Any:
        def pre(mod: Any, args: tuple[Any, ...]) -> None:
            x = args[0].reshape(-1, args[0].shape[-1])[keep[0]].double()
            hs[name] += x.T @ x

        return pre

    handles = [t.module.register_forward_pre_hook(hook(t.name)) for t in targets]
    try:
        for b in batches:
            keep[:] = [b["attention_mask"].reshape(-1).bool()]
            run_model(model, b)
    finally:
        for h in handles:
            h.remove()
    return hs


@torch.no_grad()
def _refit(
    t: Target, mask: torch.Tensor, w: torch.Tensor, h: torch.Tensor, bm: int, damp: float
) -> tuple[float, float]:
    """Refit ``t``'s kept weights; return (output error after, output energy) summed over rows."""
    lam = damp * float(h.diagonal().mean().clamp(min=1e-12))
    out = torch.zeros_like(w)
    for r0 in range(0, w.shape[0], bm):
        k = mask[r0].nonzero().flatten()
        if len(k) == 0:
            continue
        rows = w[r0 : r0 + bm]
        hkk = h[k][:, k] + lam * torch.eye(len(k), dtype=h.dtype)
        out[r0 : r0 + bm, k] = torch.linalg.solve(hkk, h[k] @ rows.T).T
    diff = out - w
    err = float((diff @ h * diff).sum())
    base = float((w @ h * w).sum())
    t.module.weight.copy_(out.to(t.module.weight.dtype))
    return err, base
