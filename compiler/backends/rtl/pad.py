"""Pad the encoder layers of a quantized graph to one shape, without changing what it computes.

The accelerator runs every layer on one layer datapath, so every layer must
have the same heads and FFN width.  Pruning leaves them uneven (PGB drops
heads, whole attention blocks and FFN neurons per layer).  :func:`pad_layers`
gives every layer the most heads and the widest FFN of any layer:

* missing heads: zero rows of q, k and v (weights, bias, requant multiplier
  0), zero columns of o.  The padded head's scores are 0, its output is
  requant(P @ 0) = 0, and o's zero columns add nothing;
* a layer without attention (its res1 adds a constant to the layer input):
  q, k, v, attention and o are added with zero weights and bias (o's output
  is 0), and res1 becomes o + x with x's multipliers and the same constant;
* missing FFN neurons: zero rows of fc1 (its output 0, whatever GELU makes
  of it) and zero columns of fc2.

Integer arithmetic only, so the padded graph's integer outputs equal the
original's exactly (``tests``: the interpreter on both).  The float params
are padded the same way.  Costs: the padded work runs (a padded head is
simulated like a real one); the summary says what was added.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.graph import Graph, Node, frozen

ATTN_ROLES = ("q", "k", "v", "attn", "o")
#: identity requant of an int32 input (2^30 >> 30)
IDENTITY = (1 << 30, 30)


def _rows(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, *a.shape[1:]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _cols(a: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((a.shape[0], k), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


def _pad_linear(g: Graph, node: Node, rows: int | None, cols: int | None, upd: dict[str, np.ndarray]) -> None:
    """Zero rows (outputs) and / or columns (inputs) of a linear's weight-shaped params."""
    for role, key in node.params.items():
        a = g.params[key]
        if role in ("weight", "weight_q"):
            if rows is not None:
                a = _rows(a, rows)
            if cols is not None:
                a = _cols(a, cols)
        elif rows is not None and a.ndim == 1:  # bias, bias_q, mult, shift, w_scale: per output row
            pad = _rows(a, rows)
            if role == "shift":
                pad[a.shape[0] :] = 1  # a valid shift; the multiplier is 0
            a = pad
        upd[key] = a


def _shape(g: Graph, layer: int) -> tuple[int, int, int]:
    """(heads, head_dim, ffn) of a layer (heads 0 without attention)."""
    att = g.find(layer, "attn")
    fc1 = g.find(layer, "fc1")
    if fc1 is None:
        raise UserError(f"layer {layer} has no FFN (fc1): the accelerator needs one in every layer")
    ffn = int(g.param(fc1, "weight_q").shape[0])
    if att is None:
        return 0, 0, ffn
    return int(att.attrs["heads"]), int(att.attrs["head_dim"]), ffn


def pad_layers(graph: Graph) -> tuple[Graph, dict[int, dict[str, Any]]]:
    """The graph with every layer at the most heads and the widest FFN; what was padded, by layer."""
    layers = sorted(n.layer for n in graph.nodes if n.role == "ln2" and n.layer >= 0)
    shapes = {i: _shape(graph, i) for i in layers}
    heads = max(s[0] for s in shapes.values())
    dims = {s[1] for s in shapes.values() if s[0]}
    ffn = max(s[2] for s in shapes.values())
    if heads == 0:
        raise UserError("no layer has attention: nothing for the accelerator's attention to run")
    if len(dims) != 1:
        raise UserError(f"layers have different head sizes {sorted(dims)}: they cannot share one datapath")
    d = dims.pop()
    hq = heads * d
    proto = next(i for i in layers if shapes[i][0] == heads)  # a layer with every head: the template
    g = graph
    upd: dict[str, np.ndarray] = {}
    summary: dict[int, dict[str, Any]] = {}
    nodes = list(g.nodes)
    for i in layers:
        h_i, _, f_i = shapes[i]
        if h_i == heads and f_i == ffn:
            continue
        summary[i] = {"heads": [h_i, heads], "ffn": [f_i, ffn], "attention_added": h_i == 0}
        if f_i != ffn:
            fc1, fc2 = g.find(i, "fc1"), g.find(i, "fc2")
            assert fc1 is not None and fc2 is not None
            _pad_linear(g, fc1, ffn, None, upd)
            _pad_linear(g, fc2, None, ffn, upd)
        if h_i == heads:
            continue
        if h_i:
            for r in ("q", "k", "v"):
                n = g.find(i, r)
                assert n is not None
                _pad_linear(g, n, hq, None, upd)
            o = g.find(i, "o")
            att = g.find(i, "attn")
            assert o is not None and att is not None
            _pad_linear(g, o, None, hq, upd)
            nodes[nodes.index(att)] = att.with_attrs(heads=heads)
        else:
            nodes = _add_attention(g, nodes, i, proto, hq, upd)
    padded = replace(g, nodes=tuple(nodes), params=frozen({**g.params, **upd}))
    return padded, summary


def _add_attention(
    g: Graph, nodes: list[Node], layer: int, proto: int, hq: int, upd: dict[str, np.ndarray]
) -> list[Node]:
    """q, k, v, attention and o with zero weights before ``layer``'s res1 (which becomes o + x)."""
    res1 = g.find(layer, "res1")
    if res1 is None or len(res1.inputs) != 1:
        raise UserError(f"layer {layer} has no attention and no one-input res1: cannot pad it")
    x = res1.inputs[0]
    hidden = int(g.params[g.find(proto, "o").params["weight_q"]].shape[0])  # type: ignore[union-attr]
    new: list[Node] = []
    outs = {}
    for r in ("q", "k", "v", "o"):
        p = g.find(proto, r)
        assert p is not None
        params = {}
        for role, key in p.params.items():
            a = g.params[key]
            z = np.zeros_like(a)
            if role == "shift":
                z[...] = 1
            name = f"pad.l{layer}.{r}.{role}"
            upd[name] = z
            params[role] = name
        t_in = x if r in ("q", "k", "v") else f"pad.l{layer}.attn_out"
        outs[r] = f"pad.l{layer}.{r}_out"
        new.append(
            replace(
                p,
                name=f"pad.l{layer}.{r}",
                inputs=(t_in,),
                outputs=(outs[r],),
                params=frozen(params),
                layer=layer,
            )
        )
        if r == "v":
            att = g.find(proto, "attn")
            assert att is not None
            mask = att.inputs[3]
            new.append(
                replace(
                    att,
                    name=f"pad.l{layer}.attn",
                    inputs=(outs["q"], outs["k"], outs["v"], mask),
                    outputs=(f"pad.l{layer}.attn_out",),
                    layer=layer,
                )
            )
    assert hidden and hq
    # res1 = o + x, x with its own multipliers, the same constant
    params = dict(res1.params)
    attrs = {k: v for k, v in res1.attrs.items() if k not in ("a_mult", "a_shift", "b_mult", "b_shift")}
    for tag in ("mult", "shift"):
        if f"a_{tag}" in params:
            params[f"b_{tag}"] = params.pop(f"a_{tag}")
        else:
            attrs[f"b_{tag}"] = res1.attrs[f"a_{tag}"]
    attrs["a_mult"], attrs["a_shift"] = IDENTITY
    new_res1 = replace(res1, inputs=(outs["o"], x), params=frozen(params), attrs=frozen(attrs))
    at = nodes.index(res1)
    return [*nodes[:at], *new, new_res1, *nodes[at + 1 :]]
