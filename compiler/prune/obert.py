"""``obert``: Optimal Brain Surgeon with a block-wise empirical Fisher inverse (after
Kurtic et al. 2022, "The Optimal BERT Surgeon", built on WoodFisher).

Every matrix row is cut into Fisher blocks of ``B`` consecutive weights along the
input dimension (B = a multiple of the pruning block's bn, >= 32).  The Fisher
F = damp * I + (1/m) sum g g^T is estimated per Fisher block from ``m`` gradient
samples and inverted exactly (B x B).  A pruning block (bm rows x bn cols) covers
one column group Q of bn weights in each of its bm rows; its saliency is

    rho = sum over its rows of  1/2 * w_Q^T [(F^-1)_QQ]^-1 w_Q

and the round(s * blocks) blocks of lowest saliency are removed in each matrix.
The OBS update then corrects the remaining weights of each Fisher block for all
its removed weights P jointly:  dw = -F^-1[:, P] [(F^-1)_PP]^-1 w_P.

Gradual by default, as in the paper: ``--steps K`` pruning steps (default
:data:`PRUNING_STEPS`; ``--steps 1`` is one-shot) on the cubic schedule of Zhu & Gupta
that oBERT uses, s_t = s_f + (s_i - s_f) (1 - t/K)^3 for t = 1..K from the dense model
(s_i = 0), re-estimating the Fisher at each step, with :data:`BETWEEN_STEPS` masked
distillation steps between pruning steps (recovery before the next Fisher), then
:data:`FINETUNE_STEPS` at the end.  With ``--pruning-steps K`` instead, ``--steps`` is the
whole distillation budget, split as gradual PGB splits it: half spread evenly between the
K selections, the rest after the last one.

Gradient samples: the empirical Fisher of a B-wide block from m samples has rank <= m,
so m >= B is needed for it to be invertible without leaning on the damping; we take
m = max(:data:`GRAD_SAMPLES`, :data:`SAMPLES_PER_WEIGHT` x B) (64 for B = 32, 128 for B = 64).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from compiler.prune.blocks import block_sum, expand, grid, n_zero_blocks, zero_lowest
from compiler.prune.objective import Context
from compiler.prune.result import PruneResult

log = logging.getLogger(__name__)

GRAD_SAMPLES = 64  # at least this many gradient samples per Fisher estimate
SAMPLES_PER_WEIGHT = 2  # ... and at least 2 per weight of a Fisher block (rank >= B)
PRUNING_STEPS = 3  # default K of the gradual schedule (1 = one-shot)
DAMP = 1e-3  # relative to the mean Fisher diagonal of the matrix
BETWEEN_STEPS = 20
FINETUNE_STEPS = 40


def cubic_schedule(final: float, steps: int, initial: float = 0.0) -> list[float]:
    """Target sparsity after each of ``steps`` pruning steps: s_f + (s_i - s_f)(1 - t/steps)^3, t = 1..steps."""
    return [final + (initial - final) * (1.0 - t / steps) ** 3 for t in range(1, steps + 1)]


def grad_samples_for(fisher_block: int) -> int:
    """Gradient samples for one Fisher estimate of ``fisher_block``-wide blocks."""
    return max(GRAD_SAMPLES, SAMPLES_PER_WEIGHT * fisher_block)


def fisher_block_size(bn: int, cols: int) -> int:
    b = bn * max(1, -(-32 // bn))
    return min(b, bn * -(-cols // bn))


def _blocks(x: torch.Tensor, fb: int) -> torch.Tensor:
    """[rows, cols] -> [rows, nfb, fb], zero-padded along the columns."""
    rows, cols = x.shape
    nfb = -(-cols // fb)
    pad = x.new_zeros(rows, nfb * fb)
    pad[:, :cols] = x
    return pad.view(rows, nfb, fb)


def fisher_inverses(ctx: Context, n: int, masks: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """Inverse block Fisher per matrix: [rows, nfb, fb, fb]."""
    fis: dict[str, torch.Tensor] = {}
    fbs = {t.name: fisher_block_size(ctx.bn, t.shape[1]) for t in ctx.targets}
    for t in ctx.targets:
        rows, cols = t.shape
        fb = fbs[t.name]
        fis[t.name] = torch.zeros(rows * (-(-cols // fb)), fb, fb)
    for g in ctx.grad_samples(n, seed_offset=11):
        for t in ctx.targets:
            gb = _blocks(g[t.name], fbs[t.name]).reshape(-1, fbs[t.name], 1)
            fis[t.name].baddbmm_(gb, gb.transpose(1, 2))
    out = {}
    for t in ctx.targets:
        f = fis.pop(t.name) / n
        fb = fbs[t.name]
        diag = f.diagonal(dim1=1, dim2=2)
        lam = DAMP * float(diag.mean()) + 1e-12
        f = f + lam * torch.eye(fb)
        out[t.name] = torch.linalg.inv(f.double()).float().view(t.shape[0], -1, fb, fb)
    return out


def saliencies(w: torch.Tensor, finv: torch.Tensor, bm: int, bn: int) -> torch.Tensor:
    """Block saliency [R, C] of removing each bm x bn block (rows summed)."""
    rows, nfb, fb, _ = finv.shape
    gpf = fb // bn  # column groups per Fisher block
    wb = _blocks(w.detach(), fb).view(rows, nfb, gpf, bn)
    sub = finv.view(rows, nfb, gpf, bn, gpf, bn)
    idx = torch.arange(gpf)
    diag = sub[:, :, idx, :, idx, :]  # [gpf, rows, nfb, bn, bn]
    diag = diag.permute(1, 2, 0, 3, 4)
    x = torch.linalg.solve(diag.double(), wb.unsqueeze(-1).double()).squeeze(-1)
    rho = 0.5 * (wb.double() * x).sum(-1)  # [rows, nfb, gpf]
    per_row_group = rho.reshape(rows, nfb * gpf)[:, : grid(tuple(w.shape), 1, bn)[1]]  # type: ignore[arg-type]
    return block_sum(per_row_group.float(), bm, 1)


@torch.no_grad()
def obs_update(w: torch.Tensor, finv: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Weights after removing ``~keep`` with the OBS correction of each Fisher block."""
    rows, nfb, fb, _ = finv.shape
    cols = w.shape[1]
    wb = _blocks(w, fb).double()
    pb = _blocks((~keep).to(w.dtype), fb).double()
    if cols % fb:  # padded entries are zero weights: removing them changes nothing
        pb.view(rows, -1)[:, cols:] = 1.0
    fd = finv.double()
    a = fd * pb.unsqueeze(-1) * pb.unsqueeze(-2) + torch.diag_embed(1.0 - pb)
    x = torch.linalg.solve(a, (wb * pb).unsqueeze(-1))  # zero outside P
    dw = -(fd @ x).squeeze(-1)
    new = (wb + dw) * (1.0 - pb)
    return new.view(rows, -1)[:, :cols].float()


def prune_obert(ctx: Context) -> PruneResult:
    if ctx.pruning_steps:  # --pruning-steps K: --steps is the fine-tune budget, split as pgb's
        n_steps = ctx.pruning_steps
        total = BETWEEN_STEPS * (n_steps - 1) + FINETUNE_STEPS if ctx.steps is None else ctx.steps
        between = total // (2 * (n_steps - 1)) if n_steps > 1 else 0
        final = total - between * (n_steps - 1)
    else:  # legacy: --steps is K, with the fixed fine-tune steps
        n_steps = PRUNING_STEPS if ctx.steps is None else max(1, ctx.steps)
        between, final = BETWEEN_STEPS, FINETUNE_STEPS
    sched = cubic_schedule(ctx.sparsity, n_steps)
    fb = max(fisher_block_size(ctx.bn, t.shape[1]) for t in ctx.targets)
    samples = grad_samples_for(fb)
    masks: dict[str, torch.Tensor] | None = None
    for k, s_k in enumerate(sched):
        new_masks: dict[str, torch.Tensor] = {}
        one_shot_prune(ctx, s_k, new_masks, masks, grad_samples=samples)
        masks = new_masks
        if k < n_steps - 1:
            ctx.finetune(between, masks, seed_offset=k)
        if ctx.progress:
            ctx.progress(f"obert step {k + 1}/{n_steps}: sparsity {s_k:.3f}")
    assert masks is not None
    ctx.finetune(final, masks, seed_offset=n_steps)
    settings: dict[str, Any] = {
        "grad_samples": samples,
        "damp": DAMP,
        "fisher_block": fb,
        "pruning_steps": n_steps,
        "schedule": [round(x, 4) for x in sched],
        "between_steps": between if n_steps > 1 else 0,
        "finetune_steps": final,
        "lr": ctx.lr,
    }
    return PruneResult(masks, settings=settings)


def one_shot_prune(
    ctx: Context,
    sparsity: float,
    masks_out: dict[str, torch.Tensor],
    prev: dict[str, torch.Tensor] | None,
    update: bool = True,
    grad_samples: int | None = None,
) -> None:
    """Prune every target to ``sparsity`` (blocks, per matrix) with OBS; keeps ``prev`` pruned."""
    if grad_samples is None:
        grad_samples = grad_samples_for(max(fisher_block_size(ctx.bn, t.shape[1]) for t in ctx.targets))
    finvs = fisher_inverses(ctx, grad_samples, prev)
    for t in ctx.targets:
        finv = finvs.pop(t.name)
        rho = saliencies(t.weight, finv, ctx.bm, ctx.bn)
        if prev is not None:
            was = block_sum((~prev[t.name]).float(), ctx.bm, ctx.bn) > 0
            rho = torch.where(was, torch.tensor(float("-inf")), rho)
        keep_b = zero_lowest(rho, n_zero_blocks(rho.numel(), sparsity))
        keep = expand(keep_b, ctx.bm, ctx.bn, t.shape)
        with torch.no_grad():
            if update:
                t.weight.copy_(obs_update(t.weight.detach(), finv, keep))
            else:
                t.weight.mul_(keep.to(t.weight.dtype))
        masks_out[t.name] = keep
