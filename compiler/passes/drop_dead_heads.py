"""DropDeadHeads: remove attention heads whose output cannot reach the residual stream.

Requires: a float graph in the importer's layout (per layer linears q, k, v,
attention ``attn``, linear ``o``, add ``res1`` taking ``(o_out, h)``).

A head ``h`` (slice ``h*d : (h+1)*d`` of the q/k/v rows and o columns) is dead when

* its O-projection columns are all zero: it contributes nothing; or
* its V rows are all zero: its value vectors are the constant ``b_v[slice]``,
  and since every softmax row sums to 1 (every sequence has >= 1 real token),
  its contribution is the constant ``O[:, slice] @ b_v[slice]``, folded into
  O's bias.

Its q/k/v rows and biases and its o columns are removed and ``heads`` is
decremented (``scale`` is kept: it is an explicit attribute).  When no head is
left, the nodes q, k, v, attn and o are removed and ``res1`` becomes
``add(h)`` with param ``const`` = O's effective bias.

Not handled: heads whose Q or K rows are zero (uniform attention, output is a
mean of V over real tokens, not a constant); heads with tiny but non-zero
weights (no thresholding: this pass is exact); quantized graphs (refused).

Records in meta: ``orig_shapes`` (before the first change), ``dropped_heads``
``{layer: [original head indices]}``, ``kept_heads`` ``{layer: [original index of
each remaining head]}``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from compiler.ir.graph import Graph, frozen
from compiler.ir.stats import int_keys, with_orig_shapes
from compiler.ir.verify import require_float

log = logging.getLogger(__name__)


def _bias(g: Graph, node_name: str, n: int) -> np.ndarray:
    node = g.node(node_name)
    if "bias" in node.params:
        return g.param(node, "bias").astype(np.float64)
    return np.zeros(n)


class DropDeadHeads:
    name = "drop_dead_heads"

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        require_float(graph, self.name)
        g = graph
        changed = False
        for layer in graph.layers():
            g, c = self._layer(g, layer)
            changed |= c
        return (g.prune_params(), True) if changed else (graph, False)

    def _layer(self, g: Graph, layer: int) -> tuple[Graph, bool]:
        attn = g.find(layer, "attn")
        if attn is None:
            return g, False
        q, k, v, o = (g.find(layer, r) for r in ("q", "k", "v", "o"))
        assert q is not None and k is not None and v is not None and o is not None
        heads, d = int(attn.attrs["heads"]), int(attn.attrs["head_dim"])
        wv, wo = g.param(v, "weight"), g.param(o, "weight")
        dead_o = np.array([not wo[:, h * d : (h + 1) * d].any() for h in range(heads)])
        dead_v = np.array([not wv[h * d : (h + 1) * d].any() for h in range(heads)])
        dead = dead_o | dead_v
        if not dead.any():
            return g, False
        g = with_orig_shapes(g)

        bv = _bias(g, v.name, wv.shape[0])
        bo = _bias(g, o.name, wo.shape[0])
        for h in np.flatnonzero(dead_v & ~dead_o):
            sl = slice(h * d, (h + 1) * d)
            bo = bo + wo[:, sl].astype(np.float64) @ bv[sl]
        bo32 = bo.astype(np.float32)

        kept_before = int_keys(g.meta.get("kept_heads")).get(layer, list(range(heads)))
        keep_heads = [h for h in range(heads) if not dead[h]]
        kept_heads = {**int_keys(g.meta.get("kept_heads")), layer: [kept_before[h] for h in keep_heads]}
        dropped = int_keys(g.meta.get("dropped_heads"))
        dropped[layer] = sorted(dropped.get(layer, []) + [kept_before[h] for h in np.flatnonzero(dead)])
        g = g.with_meta(kept_heads=kept_heads, dropped_heads=dropped)
        log.info("layer %d: dropping heads %s", layer, [kept_before[h] for h in np.flatnonzero(dead)])

        if not keep_heads:
            return self._remove_attention(g, layer, bo32), True

        idx = np.concatenate([np.arange(h * d, (h + 1) * d) for h in keep_heads])
        upd: dict[str, np.ndarray] = {}
        for node in (q, k, v):
            upd[node.params["weight"]] = np.ascontiguousarray(g.param(node, "weight")[idx])
            if "bias" in node.params:
                upd[node.params["bias"]] = np.ascontiguousarray(g.param(node, "bias")[idx])
        upd[o.params["weight"]] = np.ascontiguousarray(wo[:, idx])
        if "bias" in o.params:
            upd[o.params["bias"]] = bo32
        else:
            upd[o.name + ".bias"] = bo32
            g = g.replace_node(o, o.with_params(bias=o.name + ".bias"))
        g = g.with_params(upd)
        return g.replace_node(attn, attn.with_attrs(heads=len(keep_heads))), True

    @staticmethod
    def _remove_attention(g: Graph, layer: int, const: np.ndarray) -> Graph:
        o = g.find(layer, "o")
        res1 = g.find(layer, "res1")
        assert o is not None and res1 is not None
        inputs = tuple(t for t in res1.inputs if t != o.outputs[0])
        if len(inputs) != 1:
            raise ValueError(f"layer {layer}: res1 {res1.name} does not add the o projection to the residual")
        if "const" in res1.params:
            const = (const + g.param(res1, "const")).astype(np.float32)
        key = res1.name + ".const"
        new_res1 = replace(res1, inputs=inputs, params=frozen({**res1.params, "const": key}))
        gone = {n.name for r in ("q", "k", "v", "attn", "o") if (n := g.find(layer, r)) is not None}
        nodes = [new_res1 if n.name == res1.name else n for n in g.nodes if n.name not in gone]
        return g.with_nodes(nodes).with_params({key: const})
