"""``pgb``: permutation and grouping, one-shot (after Lim et al., "PGB: Permutation and
Grouping for BERT Pruning").

1. Saliency of every weight from gradient samples: S = sum (w * g)^2 (diagonal
   Fisher / OBD estimate of the loss increase when the weight is removed).
2. Permutation: inside each layer, the units whose order is free (Q/K rows of a
   head together; V rows with O columns of a head; FFN neurons = intermediate rows
   with output columns) are reordered so that units whose saliency falls in the
   same column blocks sit in the same block row: greedy grouping, seeded with the
   most salient remaining unit, filled with the units that carry most saliency in
   the seed's important columns.  The permutation is applied to the weights and
   biases, so the model computes exactly the same function.  With ``PERMUTE_HIDDEN``
   the hidden (residual) dimension is grouped the same way first, with one permutation
   applied to the whole model (compiler/prune/permute_hidden.py: embeddings, every
   layer's input columns and output rows, LayerNorm parameters); the encoder's output
   then comes out permuted (recorded in the report as ``hidden_permutation``).
3. Groups: blocks of the permuted matrices, ranked globally by saliency; the top
   (1 - s) of all blocks are kept.  A head whose V or O blocks, or whose Q and K
   blocks, are all gone is pruned whole.  A layer where no important group forms
   (no kept block in its FFN and no surviving head, or fewer than ``min_layer_keep``
   of its blocks) is dropped: all six matrices become zero.  The freed budget goes
   to the next best blocks elsewhere, so the total number of zero blocks is exactly
   round(s * total blocks) (globally, not per matrix).
4. Short masked distillation (``--steps``, default 40).

``--pruning-steps K`` (default 1: one-shot, as in the paper) prunes gradually instead: the
permutation is found once, then K selections on the cubic schedule of Zhu & Gupta (as
obert's), each from saliencies re-estimated on the masked, distilled student, with every
pruned block kept pruned; half of the ``--steps`` are spread evenly between the selections,
the other half follow the last one (docs/pruning.md).
"""

from __future__ import annotations

import logging
import math

import torch

from compiler.prune.blocks import block_sum, expand, n_zero_blocks
from compiler.prune.compensate import compensate
from compiler.prune.obert import cubic_schedule
from compiler.prune.objective import Context
from compiler.prune.permute_hidden import hidden_profile, permute_hidden, permute_saliency
from compiler.prune.result import PruneResult
from compiler.prune.targets import Target, by_layer, find_targets

log = logging.getLogger(__name__)

GRAD_SAMPLES = 32
FINETUNE_STEPS = 40
MIN_LAYER_KEEP = 0.02  # a layer keeping fewer than 2% of its blocks has no important group
# off by default: the pruned encoder's output would come out permuted (cosines to other
# sentences and linear probes are unchanged, but embeddings are no longer comparable with
# the dense model's without the recorded permutation); docs/pruning.md
PERMUTE_HIDDEN = False
COMPENSATE = False  # refit the kept weights by least squares before fine-tuning (compensate.py)


def saliency(ctx: Context, n: int) -> dict[str, torch.Tensor]:
    s = {t.name: torch.zeros(t.shape) for t in ctx.targets}
    w = {t.name: t.weight.detach() for t in ctx.targets}
    for g in ctx.grad_samples(n):
        for k, gk in g.items():
            s[k] += (w[k] * gk) ** 2
    return s


def _profile(s: torch.Tensor, unit_dim: int, block: int) -> torch.Tensor:
    """Saliency per unit (row if unit_dim == 0, column if 1) summed over blocks of the other dim."""
    m = s if unit_dim == 0 else s.T
    return block_sum(m, 1, block)  # [units, n_other_blocks]


def group_order(profile: torch.Tensor, g: int, keep_frac: float) -> torch.Tensor:
    """Greedy grouping: an order of the units such that consecutive runs of ``g`` share important columns."""
    n, c = profile.shape
    prof = profile / profile.sum().clamp(min=1e-30)
    left = torch.ones(n, dtype=torch.bool)
    order: list[int] = []
    k = max(1, round(keep_frac * c))
    while bool(left.any()):
        tot = torch.where(left, prof.sum(1), torch.tensor(-1.0))
        seed = int(tot.argmax())
        cols = torch.topk(prof[seed], k).indices
        aff = torch.where(left, prof[:, cols].sum(1), torch.tensor(-1.0))
        aff[seed] = float("inf")
        take = torch.topk(aff, min(g, int(left.sum()))).indices
        order.extend(int(i) for i in take)
        left[take] = False
    return torch.tensor(order)


@torch.no_grad()
def _permute_rows(t: Target, perm: torch.Tensor) -> None:
    t.module.weight.copy_(t.module.weight[perm])
    if t.module.bias is not None:
        t.module.bias.copy_(t.module.bias[perm])


@torch.no_grad()
def _permute_cols(t: Target, perm: torch.Tensor) -> None:
    t.module.weight.copy_(t.module.weight[:, perm])


def permute_layer(
    ctx: Context, d: dict[str, Target], s: dict[str, torch.Tensor], keep_frac: float
) -> dict[str, list[int]]:
    """Reorder free units of one layer (function-preserving); permute saliencies alike."""
    bm, bn = ctx.bm, ctx.bn
    hidden = d["q"].shape[0]
    hd = hidden // ctx.heads
    g_qk = bm
    g_vo = bm * bn // math.gcd(bm, bn)
    qk_perm, vo_perm = [], []
    for h in range(ctx.heads):
        rows = slice(h * hd, (h + 1) * hd)
        p_qk = torch.cat([_profile(s[d["q"].name][rows], 0, bn), _profile(s[d["k"].name][rows], 0, bn)], 1)
        p_vo = torch.cat([_profile(s[d["v"].name][rows], 0, bn), _profile(s[d["o"].name][:, rows], 1, bm)], 1)
        qk_perm.append(h * hd + group_order(p_qk, min(g_qk, hd), keep_frac))
        vo_perm.append(h * hd + group_order(p_vo, min(g_vo, hd), keep_frac))
    pqk, pvo = torch.cat(qk_perm), torch.cat(vo_perm)
    ffn = d["ffn_in"].shape[0]
    p_f = torch.cat([_profile(s[d["ffn_in"].name], 0, bn), _profile(s[d["ffn_out"].name], 1, bm)], 1)
    pf = group_order(p_f, min(bm * bn // math.gcd(bm, bn), ffn), keep_frac)
    for k, p in (("q", pqk), ("k", pqk), ("v", pvo), ("ffn_in", pf)):
        _permute_rows(d[k], p)
        s[d[k].name] = s[d[k].name][p]
    for k, p in (("o", pvo), ("ffn_out", pf)):
        _permute_cols(d[k], p)
        s[d[k].name] = s[d[k].name][:, p]
    return {"qk": pqk.tolist(), "vo": pvo.tolist(), "ffn": pf.tolist()}


def select(
    ctx: Context, scores: dict[str, torch.Tensor], min_layer_keep: float, sparsity: float | None = None
) -> tuple[dict[str, torch.Tensor], list[int], dict[int, list[int]]]:
    """Global block selection with head and layer cleanup; exact total budget (``sparsity``,
    default the context's)."""
    names = [t.name for t in ctx.targets]
    total = sum(scores[n].numel() for n in names)
    n_keep = total - n_zero_blocks(total, ctx.sparsity if sparsity is None else sparsity)
    banned = {n: torch.zeros_like(scores[n], dtype=torch.bool) for n in names}
    layers = by_layer(ctx.targets)
    dropped: list[int] = []
    dead_heads: dict[int, list[int]] = {}
    for _ in range(2 * len(layers) * ctx.heads + 2):
        flat = torch.cat([torch.where(banned[n], float("-inf"), scores[n].double()).flatten() for n in names])
        keep_flat = torch.zeros_like(flat, dtype=torch.bool)
        keep_flat[torch.sort(flat, descending=True, stable=True).indices[:n_keep]] = True
        keep, off = {}, 0
        for n in names:
            keep[n] = keep_flat[off : off + scores[n].numel()].view(scores[n].shape)
            off += scores[n].numel()
        changed = False
        for layer, d in layers.items():
            if layer in dropped:
                continue
            changed |= _cleanup_heads(ctx, d, keep, banned, dead_heads.setdefault(layer, []))
            nb = sum(keep[t.name].numel() for t in d.values())
            nk = sum(int(keep[t.name].sum()) for t in d.values())
            ffn_dead = not bool(keep[d["ffn_in"].name].any()) or not bool(keep[d["ffn_out"].name].any())
            if nk < min_layer_keep * nb or (ffn_dead and len(dead_heads[layer]) == ctx.heads):
                dropped.append(layer)
                for t in d.values():
                    banned[t.name][:] = True
                changed = True
        if not changed:
            return keep, sorted(dropped), {k: v for k, v in dead_heads.items() if v}
    return keep, sorted(dropped), {k: v for k, v in dead_heads.items() if v}


def _cleanup_heads(
    ctx: Context,
    d: dict[str, Target],
    keep: dict[str, torch.Tensor],
    banned: dict[str, torch.Tensor],
    dead: list[int],
) -> bool:
    bm, bn = ctx.bm, ctx.bn
    hd = d["q"].shape[0] // ctx.heads
    if hd % bm or hd % bn:
        return False  # blocks straddle heads: no head-level decision
    changed = False
    for h in range(ctx.heads):
        if h in dead:
            continue
        r = slice(h * hd // bm, (h + 1) * hd // bm)
        c = slice(h * hd // bn, (h + 1) * hd // bn)
        # a head whose V rows or O columns are all gone adds nothing but a bias: prune it whole
        # (Q/K gone alone still leaves uniform attention over V, which is kept)
        if not bool(keep[d["v"].name][r].any()) or not bool(keep[d["o"].name][:, c].any()):
            dead.append(h)
            for k in ("q", "k", "v"):
                banned[d[k].name][r] = True
            banned[d["o"].name][:, c] = True
            changed = True
    return changed


def permute_hidden_dim(ctx: Context, s: dict[str, torch.Tensor], keep_frac: float) -> list[int]:
    """Group hidden units by saliency; permute student, teacher and saliencies alike."""
    g = ctx.bm * ctx.bn // math.gcd(ctx.bm, ctx.bn)
    hidden = ctx.targets[0].shape[1]
    perm = group_order(hidden_profile(s, ctx.targets, ctx.bm, ctx.bn), min(g, hidden), keep_frac)
    permute_hidden(ctx.student, ctx.targets, perm)
    permute_hidden(ctx.teacher, find_targets(ctx.teacher), perm)
    permute_saliency(s, ctx.targets, perm)
    ctx.reset_teacher_cache()
    return perm.tolist()


def block_scores(ctx: Context, s: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Block saliency relative to the mean of its matrix kind (q, k, ... over all layers): the
    global ranking moves budget between layers and towards concentrated saliency, without
    starving a whole kind (Q/K saliency is orders of magnitude below FFN saliency)."""
    scores = {t.name: block_sum(s[t.name], ctx.bm, ctx.bn) for t in ctx.targets}
    for kind in {t.kind for t in ctx.targets}:
        names = [t.name for t in ctx.targets if t.kind == kind]
        mean = torch.cat([scores[n].flatten() for n in names]).mean().clamp(min=1e-30)
        for n in names:
            scores[n] = scores[n] / mean
    return scores


def prune_pgb(ctx: Context) -> PruneResult:
    s = saliency(ctx, GRAD_SAMPLES)
    keep_frac = 1.0 - ctx.sparsity
    hidden_perm = permute_hidden_dim(ctx, s, keep_frac) if PERMUTE_HIDDEN else None
    perms = {}
    for layer, d in by_layer(ctx.targets).items():
        perms[layer] = permute_layer(ctx, d, s, keep_frac)
    dense = {t.name: t.weight.detach().clone() for t in ctx.targets} if COMPENSATE else {}
    n_prune = max(1, ctx.pruning_steps or 1)
    sched = cubic_schedule(ctx.sparsity, n_prune)
    steps = FINETUNE_STEPS if ctx.steps is None else ctx.steps
    between = steps // (2 * (n_prune - 1)) if n_prune > 1 else 0
    prev: dict[str, torch.Tensor] | None = None
    for k, s_k in enumerate(sched):
        if k > 0:
            s = saliency(ctx, GRAD_SAMPLES)  # on the masked, distilled student
        scores = block_scores(ctx, s)
        if prev is not None:  # a pruned block stays pruned
            scores = {n: torch.where(prev[n], v, torch.full_like(v, -1e30)) for n, v in scores.items()}
        keep, dropped, dead_heads = select(ctx, scores, MIN_LAYER_KEEP, sparsity=s_k)
        prev = keep
        masks = {t.name: expand(keep[t.name], ctx.bm, ctx.bn, t.shape) for t in ctx.targets}
        ctx.apply(masks)
        if k < n_prune - 1:
            ctx.finetune(between, masks, seed_offset=k + 1)
            if ctx.progress:
                ctx.progress(f"pgb step {k + 1}/{n_prune}: sparsity {s_k:.3f}")
    comp = compensate(ctx, masks, dense) if COMPENSATE else None
    ctx.finetune(steps - between * (n_prune - 1), masks)
    return PruneResult(
        masks,
        settings={
            "grad_samples": GRAD_SAMPLES,
            "finetune_steps": steps,
            "pruning_steps": n_prune,
            **({"schedule": [round(x, 4) for x in sched], "between_steps": between} if n_prune > 1 else {}),
            "lr": ctx.lr,
            "min_layer_keep": MIN_LAYER_KEEP,
            "budget": "global",
            "permute_hidden": PERMUTE_HIDDEN,
            "compensate": COMPENSATE,
        },
        info={
            "dropped_layers": dropped,
            "dead_heads": {str(k): v for k, v in dead_heads.items()},
            "permuted": True,
            **({"hidden_permutation": hidden_perm} if hidden_perm is not None else {}),
            **({"compensation_error": comp} if comp is not None else {}),
        },
        dropped_layers=dropped,
    )
