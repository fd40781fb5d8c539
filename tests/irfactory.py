"""Random BERT-shaped IR graphs, laid out exactly as the ONNX importer lays them out.

``make_bert_graph`` builds the float graph; the ``zero_*`` helpers prune it the
way magnitude/movement pruning would leave it (unstructured blocks, whole heads,
FFN neurons, whole layers) so that pass tests can check what gets removed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from compiler.ir.graph import Graph, Node, frozen


def _lin(name: str, x: str, out: str, layer: int, role: str, block: tuple[int, int]) -> Node:
    return Node(
        "linear",
        name,
        (x,),
        (out,),
        attrs=frozen({"block": block}),
        params=frozen({"weight": f"{name}.weight", "bias": f"{name}.bias"}),
        layer=layer,
        role=role,
    )


def _ln(name: str, x: str, out: str, layer: int, role: str) -> Node:
    return Node(
        "layernorm",
        name,
        (x,),
        (out,),
        attrs=frozen({"eps": 1e-12}),
        params=frozen({"gamma": f"{name}.gamma", "beta": f"{name}.beta"}),
        layer=layer,
        role=role,
    )


def make_bert_graph(
    layers: int,
    hidden: int,
    heads: int,
    ffn: int,
    seq: int,
    vocab: int = 64,
    seed: int = 0,
    classifier: bool = False,
    token_types: bool = True,
    block: tuple[int, int] = (4, 4),
    num_labels: int = 3,
) -> Graph:
    if hidden % heads:
        raise ValueError("hidden must be a multiple of heads")
    rng = np.random.default_rng(seed)
    head_dim = hidden // heads
    params: dict[str, np.ndarray] = {}

    def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def add_linear(name: str, n: int, k: int) -> None:
        params[f"{name}.weight"] = rand(n, k, scale=1.0 / math.sqrt(k))
        params[f"{name}.bias"] = rand(n, scale=0.1)

    def add_ln(name: str, h: int) -> None:
        params[f"{name}.gamma"] = (1.0 + rand(h, scale=0.1)).astype(np.float32)
        params[f"{name}.beta"] = rand(h, scale=0.1)

    nodes: list[Node] = []
    emb_inputs = ("input_ids", "token_type_ids") if token_types else ("input_ids",)
    emb_params = {"word": "emb.word", "pos": "emb.pos"}
    params["emb.word"] = rand(vocab, hidden, scale=0.5)
    params["emb.pos"] = rand(seq, hidden, scale=0.5)
    if token_types:
        emb_params["type"] = "emb.type"
        params["emb.type"] = rand(2, hidden, scale=0.5)
    nodes.append(
        Node(
            "embed",
            "emb",
            emb_inputs,
            ("emb_out",),
            attrs=frozen({"position_mode": "arange", "position_offset": 0}),
            params=frozen(emb_params),
            layer=-1,
            role="embed",
        )
    )
    nodes.append(_ln("emb.ln", "emb_out", "h_0", -1, "ln_emb"))
    add_ln("emb.ln", hidden)

    h = "h_0"
    for i in range(layers):
        p = f"l{i}"
        for r in ("q", "k", "v"):
            nodes.append(_lin(f"{p}.{r}", h, f"{p}.{r}_out", i, r, block))
            add_linear(f"{p}.{r}", hidden, hidden)
        nodes.append(
            Node(
                "attention",
                f"{p}.attn",
                (f"{p}.q_out", f"{p}.k_out", f"{p}.v_out", "attention_mask"),
                (f"{p}.attn_out",),
                attrs=frozen({"heads": heads, "head_dim": head_dim, "scale": 1.0 / math.sqrt(head_dim)}),
                layer=i,
                role="attn",
            )
        )
        nodes.append(_lin(f"{p}.o", f"{p}.attn_out", f"{p}.o_out", i, "o", block))
        add_linear(f"{p}.o", hidden, hidden)
        nodes.append(Node("add", f"{p}.res1", (f"{p}.o_out", h), (f"{p}.res1_out",), layer=i, role="res1"))
        nodes.append(_ln(f"{p}.ln1", f"{p}.res1_out", f"{p}.ln1_out", i, "ln1"))
        add_ln(f"{p}.ln1", hidden)
        nodes.append(_lin(f"{p}.fc1", f"{p}.ln1_out", f"{p}.fc1_out", i, "fc1", block))
        add_linear(f"{p}.fc1", ffn, hidden)
        nodes.append(
            Node(
                "gelu",
                f"{p}.gelu",
                (f"{p}.fc1_out",),
                (f"{p}.gelu_out",),
                attrs=frozen({"approximate": "none"}),
                layer=i,
                role="gelu",
            )
        )
        nodes.append(_lin(f"{p}.fc2", f"{p}.gelu_out", f"{p}.fc2_out", i, "fc2", block))
        add_linear(f"{p}.fc2", hidden, ffn)
        nodes.append(
            Node(
                "add", f"{p}.res2", (f"{p}.fc2_out", f"{p}.ln1_out"), (f"{p}.res2_out",), layer=i, role="res2"
            )
        )
        nodes.append(_ln(f"{p}.ln2", f"{p}.res2_out", f"h_{i + 1}", i, "ln2"))
        add_ln(f"{p}.ln2", hidden)
        h = f"h_{i + 1}"

    last = nodes[-1]
    if classifier:
        nodes.append(Node("take_first", "cls", (h,), ("cls_out",), layer=-1, role="cls"))
        nodes.append(_lin("pooler", "cls_out", "pooler_out", -1, "pooler", block))
        add_linear("pooler", hidden, hidden)
        nodes.append(Node("tanh", "pooler_act", ("pooler_out",), ("pooled",), layer=-1, role="pooler_act"))
        nodes.append(_lin("classifier", "pooled", "logits", -1, "classifier", block))
        add_linear("classifier", num_labels, hidden)
        outputs: tuple[str, ...] = ("logits",)
    else:
        nodes[-1] = Node(
            last.op,
            last.name,
            last.inputs,
            ("last_hidden_state",),
            last.attrs,
            last.params,
            last.layer,
            last.role,
        )
        outputs = ("last_hidden_state",)

    inputs = ("input_ids", "attention_mask") + (("token_type_ids",) if token_types else ())
    meta = {
        "arch": "bert",
        "model_type": "bert",
        "layers": layers,
        "hidden": hidden,
        "heads": heads,
        "ffn": ffn,
        "seq_len": seq,
        "block": tuple(block),
    }
    return Graph(tuple(nodes), inputs, outputs, frozen(params), frozen(meta))


def random_feeds(graph: Graph, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random token ids; every sequence but the first is padded (>= 1 real token each)."""
    rng = np.random.default_rng(seed)
    seq = int(graph.meta["seq_len"])
    vocab = graph.params[graph.node("emb").params["word"]].shape[0]
    ids = rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)
    lengths = [seq] + [int(rng.integers(1, seq + 1)) for _ in range(batch - 1)]
    mask = np.zeros((batch, seq), dtype=np.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in graph.inputs:
        feeds["token_type_ids"] = rng.integers(0, 2, size=(batch, seq), dtype=np.int64)
    return feeds


# ---- pruning helpers ------------------------------------------------------
def set_param(graph: Graph, key: str, value: np.ndarray) -> Graph:
    return graph.with_params({key: np.ascontiguousarray(value, dtype=graph.params[key].dtype)})


def weight(graph: Graph, layer: int, role: str) -> np.ndarray:
    node = graph.find(layer, role)
    assert node is not None, (layer, role)
    return graph.param(node, "weight")


def _edit(graph: Graph, layer: int, role: str, fn) -> Graph:  # type: ignore[no-untyped-def]
    node = graph.find(layer, role)
    assert node is not None, (layer, role)
    w = graph.param(node, "weight").copy()
    fn(w)
    return set_param(graph, node.params["weight"], w)


def zero_blocks(
    graph: Graph,
    sparsity: float,
    seed: int = 0,
    block: tuple[int, int] | None = None,
    roles: Iterable[str] = ("q", "k", "v", "o", "fc1", "fc2"),
) -> Graph:
    """Zero a random ``sparsity`` fraction of the ``block`` tiles of every encoder linear."""
    rng = np.random.default_rng(seed)
    bm, bn = block or tuple(graph.meta["block"])
    for layer in graph.layers():
        for role in roles:
            if graph.find(layer, role) is None:
                continue

            def z(w: np.ndarray) -> None:
                nbr, nbc = -(-w.shape[0] // bm), -(-w.shape[1] // bn)
                dead = rng.random((nbr, nbc)) < sparsity
                cells = np.kron(dead, np.ones((bm, bn), dtype=bool))[: w.shape[0], : w.shape[1]]
                w[cells] = 0.0

            graph = _edit(graph, layer, role, z)
    return graph


def zero_unstructured(
    graph: Graph, sparsity: float, seed: int = 0, roles: Iterable[str] = ("fc1", "fc2")
) -> Graph:
    """Zero a random ``sparsity`` fraction of single weights."""
    rng = np.random.default_rng(seed)
    for layer in graph.layers():
        for role in roles:
            if graph.find(layer, role) is None:
                continue

            def z(w: np.ndarray) -> None:
                w[rng.random(w.shape) < sparsity] = 0.0

            graph = _edit(graph, layer, role, z)
    return graph


def zero_head(graph: Graph, layer: int, head: int, how: str = "o") -> Graph:
    """Kill one head: ``how="o"`` zeroes its O columns, ``"v"`` its V rows (bias kept)."""
    attn = graph.find(layer, "attn")
    assert attn is not None
    d = attn.attrs["head_dim"]
    sl = slice(head * d, (head + 1) * d)
    if how == "o":

        def z(w: np.ndarray) -> None:
            w[:, sl] = 0.0

        return _edit(graph, layer, "o", z)
    if how == "v":

        def zv(w: np.ndarray) -> None:
            w[sl, :] = 0.0

        return _edit(graph, layer, "v", zv)
    raise ValueError(how)


def zero_neurons(graph: Graph, layer: int, neurons: Iterable[int], how: str = "fc2") -> Graph:
    """Kill FFN neurons: ``how="fc2"`` zeroes their fc2 columns, ``"fc1"`` their fc1 rows."""
    idx = list(neurons)
    if how == "fc2":

        def z(w: np.ndarray) -> None:
            w[:, idx] = 0.0

        return _edit(graph, layer, "fc2", z)
    if how == "fc1":

        def z1(w: np.ndarray) -> None:
            w[idx, :] = 0.0

        return _edit(graph, layer, "fc1", z1)
    raise ValueError(how)


def zero_layer(graph: Graph, layer: int) -> Graph:
    """Kill all heads (via O) and all FFN neurons (via fc2) of a layer."""
    heads = graph.find(layer, "attn").attrs["heads"]  # type: ignore[union-attr]
    for hd in range(heads):
        graph = zero_head(graph, layer, hd, "o")
    ffn = weight(graph, layer, "fc2").shape[1]
    return zero_neurons(graph, layer, range(ffn), "fc2")
