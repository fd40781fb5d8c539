"""The block-sparse IR: a typed graph of frozen dataclasses.

A :class:`Graph` is an ordered tuple of :class:`Node` (already in execution
order), named tensors flowing between them, and a parameter store that maps a
key to a NumPy array.  Passes never mutate: they build a new graph with
``dataclasses.replace``.  Arrays in ``params`` are shared between graphs and
treated as read-only (a pass that changes a weight stores a new array under a
new or the same key in a new mapping).

Ops (``Node.op``) and their semantics are defined by the golden model in
``compiler/golden/ops/`` (one file per op) and documented in
``docs/numerics.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

OPS = ("embed", "layernorm", "linear", "attention", "gelu", "add", "take_first", "tanh")

# Role of each parameter per op (float graph).  Quantize adds the *_q params.
PARAM_ROLES = {
    "embed": ("word", "pos", "type"),
    "layernorm": ("gamma", "beta"),
    "linear": ("weight", "bias"),
    "add": ("const",),
}


def frozen(d: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Node:
    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=frozen)
    params: Mapping[str, str] = field(default_factory=frozen)  # role -> key in Graph.params
    layer: int = -1  # encoder layer index, -1 outside the encoder
    role: str = ""  # e.g. "q", "k", "v", "o", "fc1", "fc2", "ln1", "ln2", "res1"

    def with_attrs(self, **kw: Any) -> Node:
        return replace(self, attrs=frozen({**self.attrs, **kw}))

    def with_params(self, **kw: str) -> Node:
        return replace(self, params=frozen({**self.params, **kw}))


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: Mapping[str, np.ndarray]
    meta: Mapping[str, Any] = field(default_factory=frozen)

    # ---- lookups -------------------------------------------------------
    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def producer(self, tensor: str) -> Node | None:
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def param(self, node: Node, role: str) -> np.ndarray:
        return self.params[node.params[role]]

    def layer_nodes(self, layer: int) -> list[Node]:
        return [n for n in self.nodes if n.layer == layer]

    def find(self, layer: int, role: str) -> Node | None:
        for n in self.nodes:
            if n.layer == layer and n.role == role:
                return n
        return None

    def layers(self) -> list[int]:
        return sorted({n.layer for n in self.nodes if n.layer >= 0})

    # ---- functional updates -------------------------------------------
    def with_nodes(self, nodes: Iterable[Node]) -> Graph:
        return replace(self, nodes=tuple(nodes))

    def with_params(self, updates: Mapping[str, np.ndarray], drop: Iterable[str] = ()) -> Graph:
        new = dict(self.params)
        for k in drop:
            new.pop(k, None)
        new.update(updates)
        return replace(self, params=frozen(new))

    def with_meta(self, **kw: Any) -> Graph:
        return replace(self, meta=frozen({**self.meta, **kw}))

    def replace_node(self, old: Node, new: Node | None) -> Graph:
        nodes = []
        for n in self.nodes:
            if n is old or n.name == old.name:
                if new is not None:
                    nodes.append(new)
            else:
                nodes.append(n)
        return self.with_nodes(nodes)

    def prune_params(self) -> Graph:
        """Drop parameters no node refers to."""
        used = {k for n in self.nodes for k in n.params.values()}
        return replace(self, params=frozen({k: v for k, v in self.params.items() if k in used}))

    @property
    def quantized(self) -> bool:
        return bool(self.meta.get("quantized", False))


def rename_tensor(nodes: Iterable[Node], old: str, new: str) -> list[Node]:
    """Rewire every use of tensor ``old`` to ``new``."""
    out = []
    for n in nodes:
        if old in n.inputs:
            n = replace(n, inputs=tuple(new if t == old else t for t in n.inputs))
        out.append(n)
    return out
