"""The structure pipeline: one ordered list of pass objects, readable at a glance.

Each pass is an object with a ``name`` and ``__call__(graph) -> (graph, changed)``
(a pass may also return ``(graph, PassResult)``).  ``run_passes`` runs a list of
them in order, times them, and calls ``check`` (e.g. ``compiler.ir.verify.verify``)
after each one.  There is deliberately no registry of pass names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from compiler.ir.graph import Graph
from compiler.passes.drop_dead_heads import DropDeadHeads
from compiler.passes.drop_dead_layers import DropDeadLayers
from compiler.passes.drop_dead_neurons import DropDeadNeurons
from compiler.passes.permute_blocks import PermuteBlocks

log = logging.getLogger(__name__)


class Pass(Protocol):
    name: str

    def __call__(self, graph: Graph) -> tuple[Graph, Any]: ...


@dataclass(frozen=True)
class PassResult:
    name: str
    changed: bool
    seconds: float = 0.0


# Order matters: heads and neurons first (they may empty a layer), then the
# layer bookkeeping, then block permutation on the final matrix shapes.
STRUCTURE_PASSES: list[Pass] = [DropDeadHeads(), DropDeadNeurons(), DropDeadLayers(), PermuteBlocks()]


def run_passes(
    graph: Graph, passes: Sequence[Pass], check: Callable[[Graph], None] | None = None
) -> tuple[Graph, list[PassResult]]:
    """Run ``passes`` in order; ``check(graph)`` after each one (if given)."""
    results: list[PassResult] = []
    for p in passes:
        t0 = time.perf_counter()
        graph, out = p(graph)
        dt = time.perf_counter() - t0
        if isinstance(out, PassResult):
            res = PassResult(out.name, out.changed, out.seconds or dt)
        else:
            res = PassResult(p.name, bool(out), dt)
        log.info("pass %s: %s (%.3f s)", res.name, "changed" if res.changed else "no change", res.seconds)
        if check is not None:
            check(graph)
        results.append(res)
    return graph, results
