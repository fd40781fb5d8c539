"""DropDeadNeurons: remove FFN neurons whose output cannot reach the residual stream.

Requires: a float graph in the importer's layout (per layer linear ``fc1``,
``gelu``, linear ``fc2``, add ``res2`` taking ``(fc2_out, ln1_out)``).

Neuron ``i`` (row ``i`` of fc1, column ``i`` of fc2) is dead when

* its fc2 column is all zero: it contributes nothing; or
* its fc1 row is all zero: its activation is the constant ``gelu(b1[i])``,
  so ``gelu(b1[i]) * W2[:, i]`` is folded into fc2's bias (the GELU of the
  graph's ``gelu`` node, erf or tanh form, is used for the fold).

The fc1 row + bias entry and the fc2 column are removed.  When no neuron is
left, fc1, gelu and fc2 are removed and ``res2`` becomes ``add(ln1_out)`` with
param ``const`` = fc2's effective bias.

Not handled: near-zero weights (no thresholding: exact); activations other
than the ``gelu`` node between fc1 and fc2; quantized graphs (refused).

Records in meta: ``orig_shapes`` (before the first change) and
``dropped_neurons`` ``{layer: count}`` (cumulative).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from compiler.golden.ops import gelu as gelu_op
from compiler.ir.graph import Graph, frozen
from compiler.ir.stats import int_keys, with_orig_shapes
from compiler.ir.verify import require_float

log = logging.getLogger(__name__)


class DropDeadNeurons:
    name = "drop_dead_neurons"

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        require_float(graph, self.name)
        g = graph
        changed = False
        for layer in graph.layers():
            g, c = self._layer(g, layer)
            changed |= c
        return (g.prune_params(), True) if changed else (graph, False)

    def _layer(self, g: Graph, layer: int) -> tuple[Graph, bool]:
        fc1, act, fc2 = (g.find(layer, r) for r in ("fc1", "gelu", "fc2"))
        if fc1 is None or act is None or fc2 is None:
            return g, False
        w1, w2 = g.param(fc1, "weight"), g.param(fc2, "weight")
        dead2 = np.asarray(~w2.any(axis=0))
        dead1 = np.asarray(~w1.any(axis=1))
        dead = dead1 | dead2
        if not dead.any():
            return g, False
        g = with_orig_shapes(g)

        b1 = g.param(fc1, "bias") if "bias" in fc1.params else np.zeros(w1.shape[0], np.float32)
        b2 = (g.param(fc2, "bias") if "bias" in fc2.params else np.zeros(w2.shape[0])).astype(np.float64)
        fold = np.flatnonzero(dead1 & ~dead2)
        if len(fold):
            # gelu of the constant pre-activation, with the graph's own GELU semantics
            a = gelu_op.run_float(act, [b1[fold][None, None, :]], g)[0, 0].astype(np.float64)
            b2 = b2 + w2[:, fold].astype(np.float64) @ a
        b2_32 = b2.astype(np.float32)

        n_dead = int(dead.sum())
        counts = int_keys(g.meta.get("dropped_neurons"))
        counts[layer] = int(counts.get(layer, 0)) + n_dead
        g = g.with_meta(dropped_neurons=counts)
        log.info("layer %d: dropping %d of %d FFN neurons (%d folded)", layer, n_dead, len(dead), len(fold))

        if dead.all():
            return self._remove_ffn(g, layer, b2_32), True

        keep = np.flatnonzero(~dead)
        upd = {
            fc1.params["weight"]: np.ascontiguousarray(w1[keep]),
            fc2.params["weight"]: np.ascontiguousarray(w2[:, keep]),
        }
        if "bias" in fc1.params:
            upd[fc1.params["bias"]] = np.ascontiguousarray(b1[keep])
        if "bias" in fc2.params:
            upd[fc2.params["bias"]] = b2_32
        else:
            upd[fc2.name + ".bias"] = b2_32
            g = g.replace_node(fc2, fc2.with_params(bias=fc2.name + ".bias"))
        return g.with_params(upd), True

    @staticmethod
    def _remove_ffn(g: Graph, layer: int, const: np.ndarray) -> Graph:
        fc2 = g.find(layer, "fc2")
        res2 = g.find(layer, "res2")
        assert fc2 is not None and res2 is not None
        inputs = tuple(t for t in res2.inputs if t != fc2.outputs[0])
        if len(inputs) != 1:
            raise ValueError(f"layer {layer}: res2 {res2.name} does not add fc2 to the residual")
        if "const" in res2.params:
            const = (const + g.param(res2, "const")).astype(np.float32)
        key = res2.name + ".const"
        new_res2 = replace(res2, inputs=inputs, params=frozen({**res2.params, "const": key}))
        gone = {n.name for r in ("fc1", "gelu", "fc2") if (n := g.find(layer, r)) is not None}
        nodes = [new_res2 if n.name == res2.name else n for n in g.nodes if n.name not in gone]
        return g.with_nodes(nodes).with_params({key: const})
