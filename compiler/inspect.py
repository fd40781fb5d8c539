"""`sparsehls inspect PROJECT_DIR`: a readable per-layer table of a compiled project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.graph import Graph
from compiler.ir.io import load_graph
from compiler.ir.stats import int_keys, matrix_table
from compiler.outputs import read_json


def _scale_text(scales: dict[str, Any], t: str) -> str:
    s = scales.get(t)
    if s is None:
        return "-"
    if isinstance(s, list):
        a = np.asarray(s)
        return f"{a.min():.2g}..{a.max():.2g}/ch"
    if s in (2.0**-10, 2.0**-12, 2.0**-14):
        return f"FX{int(-np.log2(s))} (int32)"
    return f"{s:.3g}"


def inspect_project(project: Path) -> Any:
    from rich.console import Group

    project = Path(project)
    if not project.is_dir():
        raise UserError(f"project folder {project} not found")
    graph = load_graph(project / "ir")
    report: dict[str, Any] = {}
    if (project / "report.json").exists():
        report = read_json(project / "report.json", "object")
    return Group(_matrix_table(graph), _layer_table(graph, report))


def _matrix_table(graph: Graph) -> Any:
    from rich.table import Table

    scales = graph.meta.get("tensor_scales", {})
    t = Table(title="block-sparse matrices", title_justify="left")
    for col in (
        "layer",
        "matrix",
        "shape [N,K]",
        "orig",
        "block",
        "weight sp.",
        "block sp.",
        "nnz blocks",
        "nnz blk/row min-max",
        "out scale",
    ):
        t.add_column(col, justify="right" if col not in ("matrix",) else "left")
    for m in matrix_table(graph):
        node = graph.node(m.name)
        t.add_row(
            str(m.layer) if m.layer >= 0 else "-",
            m.role,
            f"{m.shape[0]}x{m.shape[1]}",
            f"{m.orig_shape[0]}x{m.orig_shape[1]}",
            f"{m.block[0]}x{m.block[1]}",
            f"{m.weight_sparsity:.3f}",
            f"{m.block_sparsity:.3f}",
            f"{m.nnz_blocks}/{m.total_blocks}",
            f"{m.nnz_blocks_per_row_min}-{m.nnz_blocks_per_row_max}",
            _scale_text(scales, node.outputs[0]),
        )
    return t


def _layer_table(graph: Graph, report: dict[str, Any]) -> Any:
    from rich.table import Table

    heads_d = int_keys(graph.meta.get("dropped_heads"))
    neur_d = int_keys(graph.meta.get("dropped_neurons"))
    dropped_layers = {int(x) for x in graph.meta.get("dropped_layers", [])}
    total_layers = int(graph.meta.get("layers", 0))
    scales = graph.meta.get("tensor_scales", {})
    t = Table(title="encoder layers", title_justify="left")
    for col in (
        "layer",
        "heads kept",
        "dropped heads",
        "FFN neurons kept",
        "dropped neurons",
        "status",
        "LN out scale",
    ):
        t.add_column(col, justify="right" if col != "status" else "left")
    for li in range(total_layers):
        attn = graph.find(li, "attn")
        fc1 = graph.find(li, "fc1")
        ln2 = graph.find(li, "ln2")
        t.add_row(
            str(li),
            str(attn.attrs["heads"]) if attn else "0",
            ",".join(str(h) for h in heads_d.get(li, [])) or "-",
            str(graph.param(fc1, "weight").shape[0]) if fc1 else "0",
            str(neur_d.get(li, 0)),
            "dropped (residual + LayerNorms only)" if li in dropped_layers else "kept",
            _scale_text(scales, ln2.outputs[0]) if ln2 else "-",
        )
    sp = report.get("sparsity")
    if sp:
        t.caption = (
            f"weight sparsity {sp['weight']:.3f}, block sparsity {sp['block']:.3f}; "
            f"dropped {sp['dropped_heads']} heads, {sp['dropped_neurons']} neurons, {sp['dropped_layers']} layers"
        )
    return t
