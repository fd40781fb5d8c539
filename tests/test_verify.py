"""The verifier accepts well-formed graphs and names each broken invariant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from irfactory import make_bert_graph, zero_layer

from compiler.ir.graph import Graph, Node, frozen
from compiler.ir.verify import IRError, verify
from compiler.passes.pipeline import STRUCTURE_PASSES, run_passes


def _g() -> Graph:
    return make_bert_graph(2, 24, 2, 32, 6, classifier=True, seed=3)


def _node(g: Graph, which: str, **kw: object) -> Graph:
    return g.replace_node(g.node(which), replace(g.node(which), **kw))


def fake_quantize(g: Graph) -> Graph:
    """Add integer params with the right names/dtypes/shapes (values meaningless)."""
    upd: dict[str, np.ndarray] = {}
    nodes = []
    for n in g.nodes:
        extra = {}
        if n.op == "linear":
            rows = g.param(n, "weight").shape[0]
            for role, arr in (
                ("weight_q", g.param(n, "weight").astype(np.int8)),
                ("bias_q", np.zeros(rows, np.int32)),
                ("mult", np.full(rows, 2**30, np.int64)),
                ("shift", np.full(rows, 31, np.int64)),
            ):
                upd[f"{n.name}.{role}"] = arr
                extra[role] = f"{n.name}.{role}"
        elif n.op == "layernorm":
            h = g.param(n, "gamma").shape[0]
            for role, dt in (("gamma_q", np.int32), ("beta_q", np.int64)):
                upd[f"{n.name}.{role}"] = np.zeros(h, dt)
                extra[role] = f"{n.name}.{role}"
        elif n.op == "embed":
            for role in n.params:
                upd[f"{n.name}.{role}_q"] = g.param(n, role).astype(np.int8)
                extra[role + "_q"] = f"{n.name}.{role}_q"
        nodes.append(n.with_params(**extra) if extra else n)
    return g.with_nodes(nodes).with_params(upd).with_meta(quantized=True)


def test_valid_graphs_pass() -> None:
    verify(_g())
    verify(make_bert_graph(3, 72, 3, 40, 5, token_types=False, block=(1, 4)))
    g = zero_layer(_g(), 1)
    g, _ = run_passes(g, STRUCTURE_PASSES, check=verify)
    assert g.find(1, "attn") is None
    verify(fake_quantize(_g()))


def _swap_first_two_layer_nodes(g: Graph) -> Graph:
    nodes = list(g.nodes)
    i = nodes.index(g.node("l0.q"))
    nodes[i], nodes[i + 3] = nodes[i + 3], nodes[i]  # attention before q
    return g.with_nodes(nodes)


def _drop_gelu(g: Graph) -> Graph:
    g = g.replace_node(g.node("l0.gelu"), None)
    return _node(g, "l0.fc2", inputs=("l0.fc1_out",))


def _set(key: str, value: np.ndarray) -> Callable[[Graph], Graph]:
    return lambda g: g.with_params({key: value})


BREAKS: list[tuple[str, Callable[[Graph], Graph], str]] = [
    ("dup name", lambda g: _node(g, "l0.k", name="l0.q"), "duplicate node name"),
    ("unknown op", lambda g: _node(g, "l0.gelu", op="relu"), "unknown op"),
    ("use before def", _swap_first_two_layer_nodes, "used before it is produced"),
    ("dangling input", lambda g: _node(g, "l0.fc1", inputs=("nope",)), "used before it is produced"),
    ("dup producer", lambda g: _node(g, "l0.k", outputs=("l0.q_out",)), "already produced"),
    ("writes graph input", lambda g: _node(g, "l0.k", outputs=("attention_mask",)), "already produced"),
    ("output missing", lambda g: replace(g, outputs=("nope",)), "not produced"),
    ("two outputs", lambda g: _node(g, "l0.k", outputs=("a", "b")), "exactly one output"),
    ("arity", lambda g: _node(g, "l0.gelu", inputs=("l0.fc1_out", "h_0")), "inputs"),
    ("missing param key", lambda g: g.with_params({}, drop=["l0.q.weight"]), "missing key"),
    ("missing param role", lambda g: _node(g, "l0.ln1", params=frozen({"gamma": "l0.ln1.gamma"})), "beta"),
    ("weight shape", _set("l0.q.weight", np.zeros((24, 23), np.float32)), "K=23"),
    ("weight dtype", _set("l0.q.weight", np.zeros((24, 24), np.float64)), "dtype"),
    ("bias shape", _set("l0.fc1.bias", np.zeros(31, np.float32)), "'bias' has shape"),
    ("gamma width", _set("l1.ln2.gamma", np.ones(23, np.float32)), "has shape"),
    (
        "heads*head_dim",
        lambda g: _node(g, "l1.attn", attrs=frozen({**g.node("l1.attn").attrs, "heads": 3})),
        r"heads\*head_dim",
    ),
    (
        "mask not input",
        lambda g: _node(g, "l0.attn", inputs=g.node("l0.attn").inputs[:3] + ("h_0",)),
        "graph input",
    ),
    ("unknown role", lambda g: _node(g, "l0.gelu", role="act"), "unknown encoder role"),
    ("role/op mismatch", lambda g: _node(g, "l0.ln1", role="res2"), "needs op"),
    ("roles out of order", lambda g: _node(g, "l0.ln2", layer=1), "out of order"),
    ("partial ffn", _drop_gelu, "partial FFN"),
    (
        "attn wiring",
        lambda g: _node(g, "l0.attn", inputs=("l0.q_out", "l0.q_out", "l0.v_out", "attention_mask")),
        "'k'",
    ),
    ("add widths", lambda g: _node(g, "l0.res2", inputs=("l0.fc1_out", "l0.ln1_out")), "different widths"),
    ("block attr", lambda g: _node(g, "l0.q", attrs=frozen({"block": (0, 4)})), "block"),
    ("quantized without *_q", lambda g: g.with_meta(quantized=True), "missing param 'word_q'"),
    (
        "linear without weight_q",
        lambda g: _node(fake_quantize(g), "l0.k", params=frozen({"weight": "l0.k.weight"})),
        "weight_q",
    ),
    (
        "bias_q dtype",
        lambda g: fake_quantize(g).with_params({"l0.q.bias_q": np.zeros(24, np.int64)}),
        "int32",
    ),
    ("shift range", lambda g: fake_quantize(g).with_params({"l0.o.shift": np.zeros(24, np.int64)}), "shift"),
    ("mult shape", lambda g: fake_quantize(g).with_params({"l0.o.mult": np.ones(23, np.int64)}), "'mult'"),
]


@pytest.mark.parametrize("case,breaker,message", BREAKS, ids=[b[0] for b in BREAKS])
def test_verifier_catches(case: str, breaker: Callable[[Graph], Graph], message: str) -> None:
    g = _g()
    verify(g)
    with pytest.raises(IRError, match=message):
        verify(breaker(g))


def test_add_const_shape_checked() -> None:
    g = zero_layer(_g(), 0)
    g, _ = run_passes(g, STRUCTURE_PASSES, check=verify)
    res1 = g.find(0, "res1")
    assert res1 is not None and len(res1.inputs) == 1
    bad = g.with_params({res1.params["const"]: np.zeros(5, np.float32)})
    with pytest.raises(IRError, match="const"):
        verify(bad)
    stray = Node("add", "x", ("h_0",), ("x_out",), layer=-1, role="")
    verify(g.with_nodes((*g.nodes, stray)))  # an unused extra node is legal


def test_real_quantized_graph_verifies() -> None:
    """The quantize pass's output (after the structure passes) satisfies the verifier."""
    from irfactory import random_feeds, zero_head

    from compiler.golden.interpreter import run
    from compiler.passes.quantize import quantize

    g = zero_head(zero_layer(make_bert_graph(2, 24, 2, 32, 6, classifier=True, seed=4), 1), 0, 1, "v")
    g, _ = run_passes(g, STRUCTURE_PASSES, check=verify)
    q = quantize(g, random_feeds(g, 4, seed=0))
    verify(q)
    run(q, random_feeds(g, 2, seed=1), mode="int")
    key = q.node("l0.q").params["weight_q"]
    broken = q.with_params({key: q.params[key].astype(np.int16)})
    with pytest.raises(IRError, match="int8"):
        verify(broken)
