"""Save / load the IR as one inspectable folder: graph.json + params.npz.

``graph.json`` holds the nodes, inputs, outputs and meta (human-readable);
``params.npz`` holds every array once, loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.graph import Graph, Node, frozen

IR_VERSION = 1


def _plain(x: Any) -> Any:
    if isinstance(x, dict) or hasattr(x, "items"):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def save_graph(graph: Graph, folder: Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "sparsehls_ir_version": IR_VERSION,
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "meta": _plain(graph.meta),
        "nodes": [
            {
                "op": n.op,
                "name": n.name,
                "layer": n.layer,
                "role": n.role,
                "inputs": list(n.inputs),
                "outputs": list(n.outputs),
                "attrs": _plain(n.attrs),
                "params": dict(n.params),
            }
            for n in graph.nodes
        ],
    }
    (folder / "graph.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    np.savez(folder / "params.npz", **{k: np.asarray(v) for k, v in sorted(graph.params.items())})  # type: ignore[arg-type]


def _attrs(d: dict[str, Any]) -> dict[str, Any]:
    out = dict(d)
    if "block" in out:
        out["block"] = tuple(out["block"])
    return out


def load_graph(folder: Path) -> Graph:
    folder = Path(folder)
    gj, pz = folder / "graph.json", folder / "params.npz"
    if not gj.exists() or not pz.exists():
        raise UserError(f"{folder} has no IR (graph.json + params.npz): not a compiled sparsehls project")
    try:
        doc = json.loads(gj.read_text())
    except json.JSONDecodeError:
        raise UserError(f"{gj} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise UserError(f"{gj} holds a JSON {type(doc).__name__}, not an object: recompile the project")
    if doc.get("sparsehls_ir_version") != IR_VERSION:
        raise UserError(
            f"{gj} has IR version {doc.get('sparsehls_ir_version')}; this sparsehls reads version {IR_VERSION} — recompile the project"
        )
    try:
        with np.load(pz, allow_pickle=False) as z:
            params = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise UserError(f"{pz} is not a readable parameter file ({e})") from None
    try:
        return _graph_from(doc, params)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"{gj} is not a sparsehls IR ({e.__class__.__name__}: {e}): recompile the project"
        ) from None


def _graph_from(doc: dict[str, Any], params: dict[str, Any]) -> Graph:
    nodes = tuple(
        Node(
            op=n["op"],
            name=n["name"],
            inputs=tuple(n["inputs"]),
            outputs=tuple(n["outputs"]),
            attrs=frozen(_attrs(n["attrs"])),
            params=frozen(n["params"]),
            layer=int(n["layer"]),
            role=n["role"],
        )
        for n in doc["nodes"]
    )
    meta = dict(doc["meta"])
    if "block" in meta:
        meta["block"] = tuple(meta["block"])
    return Graph(
        nodes=nodes,
        inputs=tuple(doc["inputs"]),
        outputs=tuple(doc["outputs"]),
        params=frozen(params),
        meta=frozen(meta),
    )
