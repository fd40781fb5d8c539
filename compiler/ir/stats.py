"""Sparsity statistics of a graph: the per-matrix table of ``sparsehls inspect``
and the ``sparsity`` section of ``report.json``.

What the structure passes removed is recorded in ``graph.meta`` (all values
JSON-friendly; integer layer keys may come back as strings after a JSON round
trip, so readers here accept both):

* ``orig_shapes``: ``{node name: {"layer": int, "role": str, "shape": [N, K]}}``
  for every linear, taken before the first pass changed anything, so totals are
  counted against the ORIGINAL dense sizes (removed heads/neurons count as zeros);
* ``dropped_heads``: ``{layer: [original head indices]}``;
* ``kept_heads``: ``{layer: [original head index of each current head]}``;
* ``dropped_neurons``: ``{layer: count}``;
* ``dropped_layers``: ``[layer, ...]``;
* ``permutations``: see ``compiler/passes/permute_blocks.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from compiler.ir.bsr import block_mask, check_block, grid
from compiler.ir.graph import Graph, Node

ENCODER_LINEARS = ("q", "k", "v", "o", "fc1", "fc2")


@dataclass(frozen=True)
class MatrixStats:
    name: str
    layer: int
    role: str
    shape: tuple[int, int]  # current [N, K]
    orig_shape: tuple[int, int]  # before the structure passes
    block: tuple[int, int]
    nnz: int
    weight_sparsity: float  # zeros / current size
    nnz_blocks: int
    total_blocks: int
    block_sparsity: float  # zero blocks / current blocks
    nnz_blocks_per_row_min: int
    nnz_blocks_per_row_max: int
    nnz_blocks_per_row_mean: float


def int_keys(d: Mapping[Any, Any] | None) -> dict[int, Any]:
    """A layer-keyed meta dict with int keys (JSON turns them into strings)."""
    return {int(k): v for k, v in (d or {}).items()}


def linear_weight(graph: Graph, node: Node) -> np.ndarray:
    """The float weight, or the int8 one of a quantized graph (same zeros)."""
    key = node.params.get("weight", node.params.get("weight_q"))
    if key is None:
        raise KeyError(f"linear {node.name} has no weight")
    return graph.params[key]


def node_block(graph: Graph, node: Node) -> tuple[int, int]:
    return check_block(node.attrs.get("block", graph.meta.get("block", (1, 1))))


def with_orig_shapes(graph: Graph) -> Graph:
    """Record ``meta["orig_shapes"]`` for linears not yet in it (call before changing shapes)."""
    rec = dict(graph.meta.get("orig_shapes", {}))
    missing = [n for n in graph.nodes if n.op == "linear" and n.name not in rec]
    if not missing:
        return graph
    for n in missing:
        rec[n.name] = {"layer": n.layer, "role": n.role, "shape": list(linear_weight(graph, n).shape)}
    return graph.with_meta(orig_shapes=rec)


def matrix_stats(graph: Graph, node: Node) -> MatrixStats:
    w = linear_weight(graph, node)
    block = node_block(graph, node)
    mask = block_mask(w, block)
    per_row = mask.sum(axis=1)
    nnz = int(np.count_nonzero(w))
    orig = graph.meta.get("orig_shapes", {}).get(node.name, {}).get("shape", w.shape)
    total = mask.size
    return MatrixStats(
        name=node.name,
        layer=node.layer,
        role=node.role,
        shape=(int(w.shape[0]), int(w.shape[1])),
        orig_shape=(int(orig[0]), int(orig[1])),
        block=block,
        nnz=nnz,
        weight_sparsity=1.0 - nnz / w.size if w.size else 0.0,
        nnz_blocks=int(mask.sum()),
        total_blocks=int(total),
        block_sparsity=1.0 - mask.sum() / total if total else 0.0,
        nnz_blocks_per_row_min=int(per_row.min()) if len(per_row) else 0,
        nnz_blocks_per_row_max=int(per_row.max()) if len(per_row) else 0,
        nnz_blocks_per_row_mean=float(per_row.mean()) if len(per_row) else 0.0,
    )


def matrix_table(graph: Graph) -> list[MatrixStats]:
    """One row per linear node, in graph order."""
    return [matrix_stats(graph, n) for n in graph.nodes if n.op == "linear"]


def sparsity_summary(graph: Graph) -> dict[str, float | int]:
    """``{"weight", "block", "dropped_heads", "dropped_neurons", "dropped_layers"}``.

    ``weight``/``block``: fraction of zero weights / zero blocks over all encoder
    linears, counted against their original dense sizes, so heads, neurons and
    sublayers the passes removed count as zeros.  The ``dropped_*`` are counts.
    """
    orig = graph.meta.get("orig_shapes", {})
    present = {n.name: n for n in graph.nodes if n.op == "linear" and n.layer >= 0}
    names = set(present) | {k for k, v in orig.items() if int(v["layer"]) >= 0}
    nnz = nnz_b = size = blocks = 0
    default_block = check_block(graph.meta.get("block", (1, 1)))
    for name in names:
        node = present.get(name)
        shape = orig[name]["shape"] if name in orig else linear_weight(graph, present[name]).shape
        block = node_block(graph, node) if node is not None else default_block
        nbr, nbc = grid((int(shape[0]), int(shape[1])), block)
        size += int(shape[0]) * int(shape[1])
        blocks += nbr * nbc
        if node is not None:  # a removed matrix contributes only zeros
            w = linear_weight(graph, node)
            nnz += int(np.count_nonzero(w))
            nnz_b += int(block_mask(w, block).sum())
    heads = int_keys(graph.meta.get("dropped_heads"))
    neurons = int_keys(graph.meta.get("dropped_neurons"))
    return {
        "weight": 1.0 - nnz / size if size else 0.0,
        "block": 1.0 - nnz_b / blocks if blocks else 0.0,
        "dropped_heads": sum(len(v) for v in heads.values()),
        "dropped_neurons": sum(int(v) for v in neurons.values()),
        "dropped_layers": len(graph.meta.get("dropped_layers", [])),
    }


def stats_report(graph: Graph) -> dict[str, Any]:
    """JSON-ready ``{"matrices": [...], "sparsity": {...}}``."""
    rows = []
    for m in matrix_table(graph):
        d = asdict(m)
        d["shape"], d["orig_shape"], d["block"] = list(m.shape), list(m.orig_shape), list(m.block)
        rows.append(d)
    return {"matrices": rows, "sparsity": sparsity_summary(graph)}


def format_table(rows: list[MatrixStats]) -> str:
    """Plain-text table of :func:`matrix_table` rows (for ``inspect`` / logs)."""
    head = f"{'layer':>5} {'role':<10} {'shape':>11} {'w.sp':>6} {'b.sp':>6} {'nnzb':>7} {'nnzb/row':>11}"
    lines = [head]
    for m in rows:
        shape = f"{m.shape[0]}x{m.shape[1]}"
        per = f"{m.nnz_blocks_per_row_min}..{m.nnz_blocks_per_row_max}"
        lines.append(
            f"{m.layer:>5} {m.role:<10} {shape:>11} {m.weight_sparsity:>6.1%} "
            f"{m.block_sparsity:>6.1%} {m.nnz_blocks:>7} {per:>11}"
        )
    return "\n".join(lines)
