"""``magnitude`` and ``balanced``: one-shot block L2-norm pruning.

magnitude: per matrix, the round(s * blocks) blocks with the smallest L2 norm
(mean square for partial edge blocks) become zero.
balanced: every block row of a matrix keeps the same number of blocks: the
round(s * C) smallest of each row of C blocks are zeroed (so the overall count
is R * round(s * C), which can differ from round(s * R * C) by < R blocks).
Optional ``--steps N``: N masked distillation steps afterwards (default 0).
"""

from __future__ import annotations

from compiler.prune.blocks import block_energy, grid, n_zero_blocks, zero_lowest, zero_lowest_per_row
from compiler.prune.objective import Context
from compiler.prune.result import PruneResult


def prune_magnitude(ctx: Context) -> PruneResult:
    keep = {}
    for t in ctx.targets:
        scores = block_energy(t.weight, ctx.bm, ctx.bn)
        keep[t.name] = zero_lowest(scores, n_zero_blocks(scores.numel(), ctx.sparsity))
    return _finish(ctx, keep, "block L2 norm, uniform per matrix")


def prune_balanced(ctx: Context) -> PruneResult:
    keep = {}
    for t in ctx.targets:
        scores = block_energy(t.weight, ctx.bm, ctx.bn)
        _, c = grid(t.shape, ctx.bm, ctx.bn)
        keep[t.name] = zero_lowest_per_row(scores, n_zero_blocks(c, ctx.sparsity))
    return _finish(ctx, keep, "block L2 norm, equal nonzero blocks per block row")


def _finish(ctx: Context, keep: dict, criterion: str) -> PruneResult:
    masks = ctx.masks_from_blocks(keep)
    ctx.apply(masks)
    steps = ctx.steps or 0
    ctx.finetune(steps, masks)
    return PruneResult(masks, settings={"criterion": criterion, "finetune_steps": steps, "lr": ctx.lr})
