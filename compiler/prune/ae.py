"""``ae``: automatic per-matrix sparsity under an exact overall budget (after Huang et
al. 2022, "An Automatic and Efficient BERT Pruning Framework", AE-BERT).

A candidate is a number of zero blocks for every prunable matrix, summing to
exactly round(s * total blocks).  Block-magnitude masks with those counts are
applied to the dense weights (no training) and the candidate is scored on the task
metric, as AE-BERT scores its candidates by task performance: ``ctx.quality``, the
VADER sentiment probe's Spearman on fixed subsets (:data:`SEARCH_TRAIN` /
:data:`SEARCH_TEST` sentences, set by the prune command).  Without the VADER data
the fallback is the one-shot distillation loss on ``EVAL_BATCHES`` calibration
batches (the report's ``method_info.search_score`` says which).  An
evolutionary search starts from the uniform allocation plus random
budget-preserving perturbations, keeps the best ``ELITE`` each generation and
mutates them by moving blocks between matrices (``GENERATIONS`` x ``POPULATION``
evaluations).  The best allocation is then applied and fine-tuned with masked
distillation (``--steps``, default 40).
"""

from __future__ import annotations

import random

import torch

from compiler.prune.blocks import block_energy, expand, n_zero_blocks
from compiler.prune.objective import Context
from compiler.prune.result import PruneResult

GENERATIONS = 8
POPULATION = 10
ELITE = 3
EVAL_BATCHES = 4
SEARCH_TRAIN = 300  # probe sentences per candidate: ~500 short sentences, ~10 s on MiniLM, 1 thread
SEARCH_TEST = 200
FINETUNE_STEPS = 40
MAX_FRACTION = 0.98  # no matrix is emptied by the search


def prune_ae(ctx: Context) -> PruneResult:
    rng = random.Random(ctx.seed * 31 + 5)
    names = [t.name for t in ctx.targets]
    dense = {t.name: t.weight.detach().clone() for t in ctx.targets}
    order = {}
    sizes = []
    for t in ctx.targets:
        e = block_energy(t.weight, ctx.bm, ctx.bn)
        order[t.name] = (torch.sort(e.flatten().double(), stable=True).indices, e.shape)
        sizes.append(e.numel())
    total = sum(sizes)
    budget = n_zero_blocks(total, ctx.sparsity)
    caps = [max(int(MAX_FRACTION * n), n_zero_blocks(n, ctx.sparsity)) for n in sizes]
    uniform = _fix_sum([n_zero_blocks(n, ctx.sparsity) for n in sizes], budget, caps, rng)

    def masks_for(counts: list[int]) -> dict[str, torch.Tensor]:
        out = {}
        for n, c in zip(names, counts, strict=True):
            idx, shape = order[n]
            keep = torch.ones(idx.numel(), dtype=torch.bool)
            keep[idx[:c]] = False
            out[n] = expand(keep.view(shape), ctx.bm, ctx.bn, ctx.targets[names.index(n)].shape)
        return out

    quality = ctx.quality

    @torch.no_grad()
    def score(counts: list[int]) -> float:
        """Lower is better: minus the probe's Spearman, or the distillation loss."""
        m = masks_for(counts)
        for t in ctx.targets:
            t.weight.copy_(dense[t.name] * m[t.name])
        return -quality(ctx.student) if quality is not None else ctx.eval_loss(EVAL_BATCHES)

    def mutate(c: list[int], strength: float) -> list[int]:
        c = list(c)
        for _ in range(rng.randint(1, 4)):
            a, b = rng.sample(range(len(c)), 2)
            d = max(1, int(strength * min(sizes[a], sizes[b]) * rng.random()))
            d = min(d, c[a], caps[b] - c[b])  # move d zero blocks from a to b
            c[a] -= d
            c[b] += d
        return c

    pop = [(score(uniform), uniform)]
    for _ in range(POPULATION - 1):
        cand = mutate(uniform, 0.15)
        pop.append((score(cand), cand))
    evals = len(pop)
    for gen in range(GENERATIONS):
        pop.sort(key=lambda x: x[0])
        elite = pop[:ELITE]
        children = []
        for _ in range(POPULATION - ELITE):
            pa, pb = rng.sample(elite, 2) if len(elite) > 1 else (elite[0], elite[0])
            child = _crossover(pa[1], pb[1], budget, caps, rng)
            child = mutate(child, 0.1 * (1 - gen / GENERATIONS) + 0.02)
            children.append((score(child), child))
        evals += len(children)
        pop = elite + children
        if ctx.progress:
            ctx.progress(f"ae generation {gen + 1}/{GENERATIONS}: best score {min(p[0] for p in pop):.4f}")
    pop.sort(key=lambda x: x[0])
    best_score, best = pop[0]
    uniform_score = score(uniform)
    with torch.no_grad():
        for t in ctx.targets:
            t.weight.copy_(dense[t.name])
    masks = masks_for(best)
    ctx.apply(masks)
    steps = FINETUNE_STEPS if ctx.steps is None else ctx.steps
    ctx.finetune(steps, masks)
    ratios = {n: round(c / s, 4) for n, c, s in zip(names, best, sizes, strict=True)}
    return PruneResult(
        masks,
        settings={
            "generations": GENERATIONS,
            "population": POPULATION,
            "eval_batches": EVAL_BATCHES,
            "evaluations": evals,
            "finetune_steps": steps,
            "lr": ctx.lr,
        },
        info={
            "layer_ratios": ratios,
            # both "lower is better": -Spearman of the probe, or the distillation loss
            "search_score": "-probe_spearman" if quality is not None else "distill_loss",
            "search_best": best_score,
            "search_uniform": uniform_score,
        },
    )


def _crossover(a: list[int], b: list[int], budget: int, caps: list[int], rng: random.Random) -> list[int]:
    child = [x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True)]
    return _fix_sum(child, budget, caps, rng)


def _fix_sum(c: list[int], budget: int, caps: list[int], rng: random.Random) -> list[int]:
    """Nudge counts (within [0, cap]) until they sum to ``budget`` exactly."""
    c = [min(max(0, x), cap) for x, cap in zip(c, caps, strict=True)]
    diff = budget - sum(c)
    idx = list(range(len(c)))
    while diff:
        rng.shuffle(idx)
        moved = False
        for i in idx:
            if diff > 0 and c[i] < caps[i]:
                step = min(diff, caps[i] - c[i], max(1, diff // len(c)))
                c[i] += step
                diff -= step
                moved = True
            elif diff < 0 and c[i] > 0:
                step = min(-diff, c[i], max(1, -diff // len(c)))
                c[i] -= step
                diff += step
                moved = True
            if not diff:
                break
        if not moved:
            raise ValueError("budget cannot be met within per-matrix caps")
    return c
