"""``block-lasso``: reweighted group lasso on weight blocks, then hard pruning and
retraining (after Li et al. 2020, "Efficient Transformer-based Large Scale Language
Representations using Hardware-friendly Block Structured Pruning").

Phase 1 (60% of ``--steps``, default 100 in all): masked-free distillation with a
reweighted group-lasso penalty on every bm x bn block, applied as its proximal
step after each Adam step:

    W_g <- W_g * max(0, 1 - lambda_g / ||W_g||),   lambda_g = alpha/T1 * theta^2 / (||W_g|| + eps)

theta is the per-matrix block norm at the target sparsity quantile and the
weights 1/(||W_g|| + eps) are re-estimated every ``REWEIGHT`` steps (reweighting
drives small blocks to zero fast and leaves large ones nearly untouched).  alpha
sets how far a block at the threshold would shrink over the phase if the loss did
not push back.
Phase 2: hard prune to exactly round(s * blocks) zero blocks per matrix by block norm.
Phase 3 (the remaining 40%): masked distillation (retraining).
"""

from __future__ import annotations

import torch

from compiler.prune.blocks import block_sizes, block_sum, expand, n_zero_blocks, zero_lowest
from compiler.prune.objective import Context
from compiler.prune.result import PruneResult

TOTAL_STEPS = 100
LASSO_FRACTION = 0.6
ALPHA = 1.0
REWEIGHT = 10
EPS = 1e-8


def block_norms(w: torch.Tensor, bm: int, bn: int) -> torch.Tensor:
    """L2 norm per block, scaled to a full block's size for partial edge blocks."""
    w = w.detach()
    return (block_sum(w * w, bm, bn) * (bm * bn) / block_sizes(tuple(w.shape), bm, bn)).sqrt()  # type: ignore[arg-type]


def prune_block_lasso(ctx: Context) -> PruneResult:
    total = TOTAL_STEPS if ctx.steps is None else ctx.steps
    t1 = int(round(LASSO_FRACTION * total))
    t2 = total - t1
    bm, bn = ctx.bm, ctx.bn
    gamma: dict[str, torch.Tensor] = {}

    def reweight() -> None:
        for t in ctx.targets:
            norms = block_norms(t.weight, bm, bn)
            k = n_zero_blocks(norms.numel(), ctx.sparsity)
            theta = float(torch.sort(norms.flatten()).values[max(k - 1, 0)]) if k else 0.0
            gamma[t.name] = (ALPHA / max(t1, 1)) * theta * theta / (norms + EPS)

    @torch.no_grad()
    def prox(step: int) -> None:
        if step % REWEIGHT == 0:
            reweight()
        for t in ctx.targets:
            norms = block_norms(t.weight, bm, bn)
            factor = (1.0 - gamma[t.name] / (norms + EPS)).clamp(min=0.0)
            t.weight.mul_(expand(factor, bm, bn, t.shape))

    reweight()
    ctx.finetune(t1, None, hook=prox, seed_offset=1)
    keep = {}
    for t in ctx.targets:
        norms = block_norms(t.weight, bm, bn)
        keep[t.name] = zero_lowest(norms, n_zero_blocks(norms.numel(), ctx.sparsity))
    masks = ctx.masks_from_blocks(keep)
    ctx.apply(masks)
    ctx.finetune(t2, masks, seed_offset=2)
    return PruneResult(
        masks,
        settings={
            "total_steps": total,
            "lasso_steps": t1,
            "retrain_steps": t2,
            "alpha": ALPHA,
            "reweight_every": REWEIGHT,
            "lr": ctx.lr,
        },
    )
