"""The IR verifier: checks the invariants every pass must keep.

``verify(graph)`` raises :class:`IRError` on the first broken invariant.  Tests
call it after every pass; the CLI calls it after every pass under ``--debug``.

Checked:

* node names unique; each tensor produced once, never overwriting a graph input;
  every input produced (or a graph input) before it is used; outputs produced;
* ops known, input arity per op, exactly one output per node;
* params: every referenced key exists; the required roles per op are present
  with the right rank, dtype and shape, for the float graph and, when
  ``meta["quantized"]``, for the integer variants (linear ``weight_q`` int8
  ``[N, K]``, ``bias_q`` int32 ``[N]``, ``mult``/``shift`` integer ``[N]``; layernorm
  ``gamma_q``/``beta_q``; embed ``word_q``/``pos_q``/``type_q`` int8; add ``const_q``);
* widths: a linear's K equals its input width; layernorm/add widths agree;
  attention ``heads * head_dim`` equals the q, k and v widths; the mask is a graph input;
* roles: encoder nodes (``layer >= 0``) have a known role whose op matches, one
  node per (layer, role), roles in the canonical order within a layer, layers in
  non-decreasing order; an attention node takes the q/k/v projections of its layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.graph import OPS, Graph, Node


class IRError(Exception):
    """The IR breaks an invariant (a compiler bug, not a user error)."""


# Canonical order of the roles inside one encoder layer, and the op of each.
LAYER_ROLES: tuple[tuple[str, str], ...] = (
    ("q", "linear"),
    ("k", "linear"),
    ("v", "linear"),
    ("attn", "attention"),
    ("o", "linear"),
    ("res1", "add"),
    ("ln1", "layernorm"),
    ("fc1", "linear"),
    ("gelu", "gelu"),
    ("fc2", "linear"),
    ("res2", "add"),
    ("ln2", "layernorm"),
)
ROLE_OP = dict(LAYER_ROLES)
ROLE_ORDER = {r: i for i, (r, _) in enumerate(LAYER_ROLES)}
OUTER_ROLES = {
    "embed": "embed",
    "ln_emb": "layernorm",
    "cls": "take_first",
    "pooler": "linear",
    "pooler_act": "tanh",
    "classifier": "linear",
}

# (min, max) number of inputs per op.
ARITY = {
    "embed": (1, 3),
    "layernorm": (1, 1),
    "linear": (1, 1),
    "attention": (4, 4),
    "gelu": (1, 1),
    "add": (1, 2),
    "take_first": (1, 1),
    "tanh": (1, 1),
}


def require_float(graph: Graph, who: str) -> None:
    """Refuse a quantized graph in a pass that rewrites float weights."""
    if graph.quantized:
        raise UserError(
            f"{who} runs on the float graph, but this graph is already quantized; "
            "run the structure passes before quantization"
        )


def _fail(node: Node | None, msg: str) -> None:
    where = f"node {node.name!r} ({node.op}): " if node is not None else ""
    raise IRError(where + msg)


def _arr(g: Graph, node: Node, role: str, required: bool = True) -> np.ndarray | None:
    if role not in node.params:
        if required:
            _fail(node, f"missing param {role!r}")
        return None
    key = node.params[role]
    if key not in g.params:
        _fail(node, f"param {role!r} refers to missing key {key!r}")
    return np.asarray(g.params[key])


def _check(node: Node, a: np.ndarray | None, role: str, shape: tuple[Any, ...], kind: str) -> None:
    """kind: 'float' (float32), 'int8', 'int32', 'int64', 'int' (any integer)."""
    if a is None:
        return
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape, strict=True)):
        want = "x".join("?" if s is None else str(s) for s in shape)
        _fail(node, f"param {role!r} has shape {a.shape}, expected [{want}]")
    ok = {
        "float": a.dtype == np.float32,
        "int8": a.dtype == np.int8,
        "int32": a.dtype == np.int32,
        "int64": a.dtype in (np.int32, np.int64),
        "int": np.issubdtype(a.dtype, np.integer),
    }[kind]
    if not ok:
        _fail(node, f"param {role!r} has dtype {a.dtype}, expected {kind}")


def _params(g: Graph, node: Node, widths: list[int | None]) -> int | None:
    """Check params of ``node``; return its output width (None if unknown)."""
    q = g.quantized
    w_in = widths[0] if widths else None
    if node.op == "linear":
        w = _arr(g, node, "weight", required=not q)
        wq = _arr(g, node, "weight_q", required=q)
        ref = w if w is not None else wq
        assert ref is not None
        if ref.ndim != 2:
            _fail(node, f"weight must be 2-D, got shape {ref.shape}")
        n, k = ref.shape
        _check(node, w, "weight", (n, k), "float")
        _check(node, _arr(g, node, "bias", required=False), "bias", (n,), "float")
        if q:
            _check(node, wq, "weight_q", (n, k), "int8")
            _check(node, _arr(g, node, "bias_q"), "bias_q", (n,), "int32")
            mult = _arr(g, node, "mult")
            shift = _arr(g, node, "shift")
            _check(node, mult, "mult", (n,), "int")
            _check(node, shift, "shift", (n,), "int")
            assert mult is not None and shift is not None
            if np.any(mult < 0) or np.any(mult >= 2**31) or np.any(shift < 1) or np.any(shift > 62):
                _fail(node, "mult must be in [0, 2**31) and shift in [1, 62]")
        if w_in is not None and w_in != k:
            _fail(node, f"weight has K={k} but its input is {w_in} wide")
        blk = node.attrs.get("block")
        if blk is not None and (len(tuple(blk)) != 2 or any(int(b) <= 0 for b in blk)):
            _fail(node, f"attr block must be two positive ints, got {blk!r}")
        return int(n)
    if node.op == "layernorm":
        gamma = _arr(g, node, "gamma", required=not q)
        ref = gamma if gamma is not None else _arr(g, node, "gamma_q")
        assert ref is not None
        h = ref.shape[0] if ref.ndim == 1 else -1
        _check(node, gamma, "gamma", (h,), "float")
        _check(node, _arr(g, node, "beta", required=not q), "beta", (h,), "float")
        if q:
            _check(node, _arr(g, node, "gamma_q"), "gamma_q", (h,), "int64")
            _check(node, _arr(g, node, "beta_q"), "beta_q", (h,), "int64")
        if "eps" not in node.attrs:
            _fail(node, "missing attr eps")
        if w_in is not None and w_in != h:
            _fail(node, f"gamma has {h} entries but the input is {w_in} wide")
        return h
    if node.op == "embed":
        word = _arr(g, node, "word", required=not q)
        ref = word if word is not None else _arr(g, node, "word_q")
        assert ref is not None
        if ref.ndim != 2:
            _fail(node, f"word table must be 2-D, got {ref.shape}")
        h = ref.shape[1]
        for role in ("word", "pos", "type"):
            _check(node, _arr(g, node, role, required=(role != "type" and not q)), role, (None, h), "float")
            if q and (role != "type" or "type" in node.params):
                _check(node, _arr(g, node, role + "_q"), role + "_q", (None, h), "int8")
        return int(h)
    if node.op == "add":
        ws = {w for w in widths if w is not None}
        if len(ws) > 1:
            _fail(node, f"adds tensors of different widths {sorted(ws)}")
        c = _arr(g, node, "const", required=False)
        if c is not None:
            _check(node, c, "const", (w_in,), "float")
        if q and c is not None:
            _check(node, _arr(g, node, "const_q"), "const_q", (w_in,), "int")
        return w_in
    if node.op == "attention":
        for a in ("heads", "head_dim", "scale"):
            if a not in node.attrs:
                _fail(node, f"missing attr {a}")
        hd = int(node.attrs["heads"]) * int(node.attrs["head_dim"])
        if int(node.attrs["heads"]) < 1 or int(node.attrs["head_dim"]) < 1:
            _fail(node, "heads and head_dim must be >= 1")
        for t, tw in zip(node.inputs[:3], widths[:3], strict=True):
            if tw is not None and tw != hd:
                _fail(node, f"heads*head_dim = {hd} but input {t!r} is {tw} wide")
        if node.inputs[3] not in g.inputs:
            _fail(node, f"mask {node.inputs[3]!r} is not a graph input")
        return hd
    return w_in  # gelu, tanh, take_first keep the width


def _roles(g: Graph) -> None:
    seen: dict[tuple[int, str], Node] = {}
    last_layer, last_order = -1, -1
    started = False
    for n in g.nodes:
        if n.layer < 0:
            if n.role and n.role in OUTER_ROLES and OUTER_ROLES[n.role] != n.op:
                _fail(n, f"role {n.role!r} needs op {OUTER_ROLES[n.role]!r}")
            if started and n.role in ("embed", "ln_emb"):
                _fail(n, "embedding node after the encoder layers")
            continue
        started = True
        if n.role not in ROLE_OP:
            _fail(n, f"unknown encoder role {n.role!r}")
        if ROLE_OP[n.role] != n.op:
            _fail(n, f"role {n.role!r} needs op {ROLE_OP[n.role]!r}")
        if (n.layer, n.role) in seen:
            _fail(n, f"layer {n.layer} has two {n.role!r} nodes")
        seen[(n.layer, n.role)] = n
        if n.layer < last_layer:
            _fail(n, f"layer {n.layer} node after a layer {last_layer} node")
        order = ROLE_ORDER[n.role]
        if n.layer == last_layer and order < last_order:
            _fail(n, f"role {n.role!r} out of order in layer {n.layer}")
        last_layer, last_order = n.layer, order
    for (layer, role), n in seen.items():
        if role == "attn":
            for r, t in zip(("q", "k", "v"), n.inputs[:3], strict=True):
                p = seen.get((layer, r))
                if p is None or p.outputs[0] != t:
                    _fail(n, f"input {t!r} is not the output of layer {layer}'s {r!r} projection")
            o = seen.get((layer, "o"))
            if o is None or o.inputs[0] != n.outputs[0]:
                _fail(n, f"layer {layer}'s 'o' projection does not consume the attention output")
        if role in ("q", "k", "v", "o") and (layer, "attn") not in seen:
            _fail(n, f"layer {layer} has {role!r} but no attention")
        if role in ("fc1", "gelu", "fc2"):
            missing = [r for r in ("fc1", "gelu", "fc2") if (layer, r) not in seen]
            if missing:
                _fail(n, f"layer {layer} has a partial FFN (missing {missing})")


def verify(graph: Graph) -> None:
    """Raise :class:`IRError` if ``graph`` breaks an IR invariant."""
    g = graph
    names: set[str] = set()
    width: dict[str, int | None] = {t: None for t in g.inputs}
    if len(set(g.inputs)) != len(g.inputs):
        _fail(None, f"duplicate graph inputs {g.inputs}")
    for n in g.nodes:
        if n.name in names:
            _fail(n, "duplicate node name")
        names.add(n.name)
        if n.op not in OPS:
            _fail(n, f"unknown op {n.op!r}")
        lo, hi = ARITY[n.op]
        if not lo <= len(n.inputs) <= hi:
            _fail(n, f"takes {lo}..{hi} inputs, got {len(n.inputs)}")
        if len(n.outputs) != 1:
            _fail(n, f"must have exactly one output, got {len(n.outputs)}")
        for t in n.inputs:
            if t not in width:
                _fail(n, f"input {t!r} is used before it is produced")
        widths = [width[t] for t in n.inputs]
        if n.op == "embed":
            widths = []
        out_w = _params(g, n, widths)
        out = n.outputs[0]
        if out in width:
            _fail(n, f"output {out!r} is already produced (or is a graph input)")
        width[out] = out_w
    if not g.outputs:
        _fail(None, "graph has no outputs")
    for t in g.outputs:
        if t not in width or t in g.inputs:
            _fail(None, f"graph output {t!r} is not produced by any node")
    _roles(g)
