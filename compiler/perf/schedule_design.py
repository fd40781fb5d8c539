"""ScheduleDesign: annotate the graph with the board-aware schedule (no change to what it computes).

Requires: a quantized graph with ``meta["seq_len"]`` and block sizes (the
weights' zero blocks are what the schedule sizes).  Runs the scheduler of
:mod:`compiler.perf.schedule` for ``board`` and records its choices:

* linear nodes: ``attrs["engines"]`` (engines of the shared pool this matrix
  gets in its phase) and ``attrs["row_groups"]``; ``attrs["weights"]`` is
  ``"onchip"`` or ``"streamed"``;
* attention / gelu / layernorm / add nodes: ``attrs["lanes"]``; add nodes also
  ``attrs["impl"]``: ``"fabric"`` (multipliers in LUTs, the HLS ``add_fabric``
  kernel, RTL int_add FABRIC = 1) or ``"dsp"``;
* ``meta["schedule"]``: the summary (board, clock, fits, message, utilization).

:func:`schedule_project` runs it for the compile pipeline and writes ``schedule.json``.

Only attrs and meta change: node order, tensors and parameters are the
same objects, so the golden model's outputs are identical (tested).
Not handled: choosing the block size (fixed at prune time) or the clock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from compiler.hw.builds import Builds
from compiler.ir.graph import Graph
from compiler.outputs import write_json
from compiler.perf.schedule import Schedule, schedule
from compiler.perf.workload import from_graph

log = logging.getLogger(__name__)


class ScheduleDesign:
    name = "schedule_design"

    def __init__(
        self, board: str = "u250", clock_mhz: float | None = None, builds: Builds | None = None
    ) -> None:
        self.board = board
        self.clock_mhz = clock_mhz
        self.builds = builds
        self.last: Schedule | None = None

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        s = schedule(from_graph(graph), self.board, self.clock_mhz, self.builds)
        self.last = s
        d = s.design
        onchip = set(d.onchip_layers)
        nodes = []
        for n in graph.nodes:
            if n.op == "linear":
                al = d.alloc.get(n.layer, {})
                rows = d.rows.get(n.layer, {})
                placed = "onchip" if n.layer < 0 or n.layer in onchip else "streamed"
                n = n.with_attrs(
                    engines=int(al.get(n.role, d.engines)),
                    row_groups=int(rows.get(n.role, 1)),
                    weights=placed,
                )
            elif n.op == "attention":
                n = n.with_attrs(lanes=int(d.attn_lanes))
            elif n.op == "gelu":
                n = n.with_attrs(lanes=int(d.gelu_lanes))
            elif n.op == "layernorm":
                n = n.with_attrs(lanes=int(d.ln_lanes))
            elif n.op == "add":
                n = n.with_attrs(lanes=int(d.add_lanes), impl="fabric" if d.costs.add_fabric else "dsp")
            nodes.append(n)
        log.info("%s", s.message)
        return graph.with_nodes(nodes).with_meta(schedule=s.to_meta()), True


def schedule_project(
    graph: Graph, project: Path, board: str = "u250", clock_mhz: float | None = None
) -> tuple[Graph, dict[str, Any]]:
    """Annotate ``graph`` (ScheduleDesign), write ``project/schedule.json``, return (graph, estimate).

    One call for the compile pipeline: the returned graph computes exactly what
    ``graph`` does (only attrs/meta differ); schedule.json lists every decision
    per node (engines, row groups, lanes, on-chip/streamed weights).
    """
    p = ScheduleDesign(board, clock_mhz)
    new, _ = p(graph)
    assert p.last is not None
    per_node = {
        n.name: {k: n.attrs[k] for k in ("engines", "row_groups", "weights", "lanes") if k in n.attrs}
        for n in new.nodes
        if n.op in ("linear", "attention", "gelu", "layernorm", "add")
    }
    write_json(
        Path(project) / "schedule.json", {**p.last.to_meta(), "nodes": per_node, "estimate": p.last.estimate}
    )
    return new, p.last.estimate
