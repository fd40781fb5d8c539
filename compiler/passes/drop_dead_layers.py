"""DropDeadLayers: record encoder layers whose attention and FFN are both gone.

Requires: a float graph on which DropDeadHeads and DropDeadNeurons have run
(they remove the sublayers; this pass only looks for layers with neither an
``attn`` nor an ``fc1`` node left).

Such a layer is PGB's "dropped layer": it costs no matrix work.  What is left
of it is NOT removed: the residual path ``res1 = h + c1 -> ln1 -> res2 = . + c2
-> ln2`` stays, because BERT is post-LN and the two LayerNorms (and the
constants folded from the removed sublayers' biases) are not the identity.
The backends run these layers as add + LayerNorm only.

Not handled: merging the leftover LayerNorms of consecutive dropped layers
(not exact in general); quantized graphs (refused).

Records in meta: ``dropped_layers`` (sorted list of layer indices).  The
graph is otherwise returned as is.
"""

from __future__ import annotations

import logging

from compiler.ir.graph import Graph
from compiler.ir.verify import require_float

log = logging.getLogger(__name__)


class DropDeadLayers:
    name = "drop_dead_layers"

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        require_float(graph, self.name)
        already = {int(x) for x in graph.meta.get("dropped_layers", [])}
        dead = {
            layer
            for layer in graph.layers()
            if graph.find(layer, "attn") is None and graph.find(layer, "fc1") is None
        }
        new = dead - already
        if not new:
            return graph, False
        log.info("dropped layers (attention and FFN gone): %s", sorted(new))
        return graph.with_meta(dropped_layers=sorted(already | dead)), True
