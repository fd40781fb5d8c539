"""PermuteBlocks: reorder rows/columns so unstructured zeros fill whole blocks.

Requires: a float graph in the importer's layout; run after the drop passes.

A linear's cost on the FPGA is its number of non-zero ``bm x bn`` blocks.
Which rows share a block row (and which columns share a block column) is a
free choice wherever a permutation can be compensated exactly:

* FFN: permuting the neurons permutes fc1's rows (+ bias) and fc2's columns
  together; GELU is elementwise, so the output is unchanged;
* attention, within each head: the same permutation of q's and k's rows
  (+ biases) leaves every score ``q_h . k_h`` unchanged; the same permutation
  of v's rows (+ bias) and o's columns leaves ``O @ (P @ V)`` unchanged.

For each such group the pass builds every item's block-occupancy pattern
(which blocks of the other axis it touches, over all matrices it moves in),
proposes candidate orders (lexicographic sort of the patterns, which puts
identical patterns side by side; greedy grouping that grows each block row
from the densest free item by the item adding the fewest new blocks, for
each group size bm/bn involved) and keeps the cheapest one only if it has
strictly fewer non-zero blocks than the current order.

Not handled: permutations of whole heads (they change nothing when
``head_dim`` is a multiple of bm and bn, the case of every real model);
permutations of the hidden dimension (the residual stream and LayerNorms
mix it); optimality (block grouping is NP-hard; the heuristic is exact when
the matrix is a row/column permutation of a block-aligned block-sparse one);
quantized graphs (refused).

Records in meta: ``permutations`` ``{layer: {"ffn"|"qk"|"vo": [index]}}``:
position ``j`` now holds what was at index ``perm[j]`` before the first
PermuteBlocks (composed over repeated runs); ``orig_shapes`` is untouched.
"""

from __future__ import annotations

import logging

import numpy as np

from compiler.ir.bsr import nnz_blocks
from compiler.ir.graph import Graph, Node
from compiler.ir.stats import int_keys, node_block
from compiler.ir.verify import require_float

log = logging.getLogger(__name__)

# A side is one matrix moved by the permutation: (weight, axis it is permuted on, block).
Side = tuple[np.ndarray, int, tuple[int, int]]


def occupancy(w: np.ndarray, axis: int, block: tuple[int, int]) -> np.ndarray:
    """Bool [items, blocks]: for each row (axis 0) / column (axis 1), the blocks
    of the other axis it has a non-zero in."""
    m = (w != 0) if axis == 0 else (w != 0).T
    other = block[1] if axis == 0 else block[0]
    n, k = m.shape
    nb = -(-k // other)
    pad = np.zeros((n, nb * other), dtype=bool)
    pad[:, :k] = m
    return np.asarray(pad.reshape(n, nb, other).any(axis=2))


def greedy_groups(p: np.ndarray, g: int) -> np.ndarray:
    """Order items in groups of ``g``: each group starts at the densest free item and
    adds the item that brings the fewest new blocks (ties: most overlap, lowest index)."""
    n, bits = p.shape
    pt = np.ascontiguousarray(p.T, dtype=np.int64)  # [bits, items]
    free = np.ones(n, dtype=bool)
    pop = pt.sum(axis=0)
    taken = np.iinfo(np.int64).max
    order: list[int] = []
    while free.any():
        idx = np.flatnonzero(free)
        seed = int(idx[np.argmax(pop[idx])])
        free[seed] = False
        order.append(seed)
        union = p[seed].copy()
        # blocks each item shares with the group, kept up to date as the union grows
        overlap = pt[union].sum(axis=0)
        for _ in range(g - 1):
            if not free.any():
                break
            score = (pop - overlap) * (bits + 1) - overlap  # added * (bits + 1) - overlap
            score[~free] = taken
            j = int(np.argmin(score))  # first minimum: the lowest index among ties
            free[j] = False
            order.append(j)
            new = p[j] & ~union
            if new.any():
                overlap += pt[new].sum(axis=0)
                union |= new
    return np.asarray(order, dtype=np.int64)


def lex_sort(p: np.ndarray) -> np.ndarray:
    """Order that puts identical patterns next to each other (denser patterns first)."""
    if p.shape[1] == 0:
        return np.arange(len(p))
    return np.lexsort(tuple(~p.T[::-1]))


def cost(sides: list[Side], perm: np.ndarray) -> int:
    return sum(nnz_blocks(np.take(w, perm, axis=axis), blk) for w, axis, blk in sides)


def best_permutation(
    sides: list[Side], segments: list[tuple[int, int]]
) -> tuple[np.ndarray | None, int, int]:
    """Best candidate order (permuting only inside each ``[start, end)`` segment).

    Returns ``(perm or None, cost before, cost after)``; ``None`` when no
    candidate is strictly cheaper than the identity.
    """
    size = sides[0][0].shape[sides[0][1]]
    ident = np.arange(size)
    base = cost(sides, ident)
    # A side grouped 1 at a time (block size 1 on the permuted axis) does not care.
    live = [(w, axis, blk) for w, axis, blk in sides if blk[axis] > 1]
    if not live:
        return None, base, base
    occ = [occupancy(w, axis, blk) for w, axis, blk in live]
    pattern_sets = [np.concatenate(occ, axis=1)] + (occ if len(occ) > 1 else [])
    sizes = sorted({blk[axis] for _, axis, blk in live})
    strategies = [lex_sort] + [lambda p, g=g: greedy_groups(p, g) for g in sizes]
    best, best_cost = None, base
    for pats in pattern_sets:
        for strat in strategies:
            perm = np.concatenate([s + strat(pats[s:e]) for s, e in segments])
            c = cost(sides, perm)
            if c < best_cost:
                best, best_cost = perm, c
    return best, base, best_cost


def _permute_node(g: Graph, node: Node, perm: np.ndarray, axis: int, upd: dict[str, np.ndarray]) -> None:
    upd[node.params["weight"]] = np.ascontiguousarray(np.take(g.param(node, "weight"), perm, axis=axis))
    if axis == 0 and "bias" in node.params:
        upd[node.params["bias"]] = np.ascontiguousarray(g.param(node, "bias")[perm])


class PermuteBlocks:
    name = "permute_blocks"

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        require_float(graph, self.name)
        g = graph
        perms = {k: dict(v) for k, v in int_keys(graph.meta.get("permutations")).items()}
        changed = False
        for layer in graph.layers():
            for kind, plan in self._plans(g, layer):
                nodes_axes, segments = plan
                sides = [(g.param(nd, "weight"), ax, node_block(g, nd)) for nd, ax in nodes_axes]
                perm, before, after = best_permutation(sides, segments)
                if perm is None:
                    continue
                log.info("layer %d %s: nnz blocks %d -> %d", layer, kind, before, after)
                upd: dict[str, np.ndarray] = {}
                for nd, ax in nodes_axes:
                    _permute_node(g, nd, perm, ax, upd)
                g = g.with_params(upd)
                prev = np.asarray(perms.get(layer, {}).get(kind, np.arange(len(perm))))
                perms.setdefault(layer, {})[kind] = [int(i) for i in prev[perm]]
                changed = True
        if not changed:
            return graph, False
        return g.with_meta(permutations=perms), True

    @staticmethod
    def _plans(
        g: Graph, layer: int
    ) -> list[tuple[str, tuple[list[tuple[Node, int]], list[tuple[int, int]]]]]:
        plans = []
        fc1, fc2 = g.find(layer, "fc1"), g.find(layer, "fc2")
        if fc1 is not None and fc2 is not None:
            f = g.param(fc1, "weight").shape[0]
            plans.append(("ffn", ([(fc1, 0), (fc2, 1)], [(0, f)])))
        attn = g.find(layer, "attn")
        if attn is not None:
            q, k, v, o = (g.find(layer, r) for r in ("q", "k", "v", "o"))
            assert q is not None and k is not None and v is not None and o is not None
            d = int(attn.attrs["head_dim"])
            segs = [(h * d, (h + 1) * d) for h in range(int(attn.attrs["heads"]))]
            plans.append(("qk", ([(q, 0), (k, 0)], segs)))
            plans.append(("vo", ([(v, 0), (o, 1)], segs)))
        return plans
