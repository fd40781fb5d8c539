"""``run_rtlsim``: simulate a compiled project's encoder ops in RTL against the golden traces.

What is in RTL today: the block-sparse linear engine (q, k, v, o, fc1, fc2 and
any other ``linear`` node) and the units of ``compiler.backends.rtl.nonlinear``:
attention (one head: QK^T, softmax, PV; every sequence and head is a run),
GELU, residual add and LayerNorm.  Embed, tanh (pooler) and the other ops are
NOT in RTL; every op is simulated on
exactly the input the golden model's integer trace gives it (ops are not
chained in RTL) and must reproduce the golden output word for word.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.rtl import nonlinear, rtlsim
from compiler.backends.rtl.linear import LinearPlan, plan_linear
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.ir.graph import Graph, Node
from compiler.perf import cycle_model

log = logging.getLogger(__name__)

NOT_IN_RTL = (
    "in RTL: linear, attention (QK^T, softmax, PV per head), gelu, add and layernorm, each simulated on its "
    "golden input (ops not chained); not in RTL: embed, tanh and any other op (golden trace only)"
)
DEFAULT_BLOCK = (4, 4)


def run_rtlsim(project: Path, layer: int | None = None) -> dict[str, Any]:
    """Simulate the RTL ops of encoder ``layer`` (all layers if None) of a compiled project.

    Returns {"passed", "mismatches", "cycles", "ideal_cycles", "seconds", "ops",
    "rtl_ops", "golden_only", "note"}: ``rtl_ops`` names the simulated nodes,
    ``golden_only`` the nodes of the layer that have no RTL (see NOT_IN_RTL).
    """
    from compiler.ir.io import load_graph

    project = Path(project)
    graph = load_graph(project / "ir" if (project / "ir" / "graph.json").exists() else project)
    return run_rtlsim_graph(graph, layer=layer, workdir=project / "rtlsim")


def default_feeds(graph: Graph, seq: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs for a BERT-like graph: random token ids, full attention mask.

    ``seq`` defaults to the compiled sequence length (graph.meta["seq_len"]).
    """
    rng = np.random.default_rng(seed)
    seq = int(seq or graph.meta.get("seq_len", 16))
    vocab = 100
    for node in graph.nodes:
        if node.op == "embed" and "word_q" in node.params:
            vocab = graph.param(node, "word_q").shape[0]
    feeds: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if "mask" in name:
            feeds[name] = np.ones((1, seq), dtype=np.int64)
        elif "type" in name:
            feeds[name] = np.zeros((1, seq), dtype=np.int64)
        else:
            feeds[name] = rng.integers(0, vocab, size=(1, seq))
    return feeds


def _block_of(node: Node, graph: Graph) -> tuple[int, int]:
    block = node.attrs.get("block", graph.meta.get("block"))
    if block is None:
        log.info("%s: no block size recorded, using %s", node.name, DEFAULT_BLOCK)
        return DEFAULT_BLOCK
    return int(block[0]), int(block[1])


def plan_from_node(graph: Graph, node: Node, tt: int = 4) -> LinearPlan:
    """The engine plan of a quantized ``linear`` node (block from attrs/meta, default 4x4)."""
    return plan_linear(
        node.name,
        graph.param(node, "weight_q"),
        graph.param(node, "bias_q"),
        graph.param(node, "mult"),
        graph.param(node, "shift"),
        _block_of(node, graph),
        tt=tt,
        out_bits=int(node.attrs.get("out_bits", 8)),
    )


def run_rtlsim_graph(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | None = None,
    layer: int | None = None,
    workdir: Path | None = None,
    tt: int = 4,
    kinds: Collection[str] | None = None,
    build_root: Path | None = None,
) -> dict[str, Any]:
    """Like :func:`run_rtlsim` on an in-memory quantized graph.

    ``kinds``: simulate only these ops (e.g. {"gelu", "attention"}); default all with RTL.
    ``build_root``: where the Verilator builds live (default ``workdir/build``).
    """
    if not graph.quantized:
        raise UserError("RTL simulation needs a quantized graph (run the quantize pass first)")
    in_layer = [n for n in graph.nodes if layer is None or n.layer == layer]
    ops = [
        n
        for n in in_layer
        if (n.op == "linear" or n.op in nonlinear.OP_UNITS) and (kinds is None or n.op in kinds)
    ]
    if not ops:
        where = "the graph" if layer is None else f"layer {layer}"
        raise UserError(f"no linear op in {where} to simulate (nor gelu, add, layernorm or attention)")
    rtlsim.setup_verilator()
    trace = interpreter.run(graph, feeds or default_feeds(graph), mode="int", trace=True)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sparsehls-rtlsim-"))
    builds = Path(build_root) if build_root is not None else root / "build"
    t0 = time.perf_counter()
    results = []
    for node in ops:
        results.append(
            _sim_linear(graph, node, trace, root, builds, tt)
            if node.op == "linear"
            else _sim_unit(graph, node, trace, root, builds)
        )
        log.info("rtlsim %s: %s", node.name, results[-1])
    return {
        "passed": all(r["passed"] for r in results),
        "mismatches": sum(r["mismatches"] for r in results),
        "cycles": sum(r["cycles"] for r in results),
        "ideal_cycles": sum(r["ideal_cycles"] for r in results),
        "seconds": round(time.perf_counter() - t0, 2),
        "ops": results,
        "rtl_ops": [n.name for n in ops],
        "golden_only": [n.name for n in in_layer if n not in ops],
        "note": NOT_IN_RTL,
    }


def _sim_linear(
    graph: Graph, node: Node, trace: dict[str, np.ndarray], root: Path, builds: Path, tt: int
) -> dict[str, Any]:
    x = trace[node.inputs[0]]
    x2 = x.reshape(-1, x.shape[-1])
    plan = plan_from_node(graph, node, tt=tt)
    res = rtlsim.run_case(plan, [(x2, None)], root / "cases" / node.name, builds)
    want = trace[node.outputs[0]].reshape(-1, plan.n)
    shape = rtlsim.shape_of(plan)
    return {
        "op": node.name,
        "kind": "linear",
        "layer": node.layer,
        "role": node.role,
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": int(want.size),
        "cycles": res["runs"][0]["cycles"],
        "model_cycles": cycle_model.linear_cycles(len(x2), shape.nb, shape.kb, plan.nnzb, plan.tt),
        "ideal_cycles": plan.ideal_cycles(len(x2)),
        "block": [plan.bm, plan.bn],
        "nnzb": plan.nnzb,
    }


def _sim_unit(
    graph: Graph, node: Node, trace: dict[str, np.ndarray], root: Path, builds: Path
) -> dict[str, Any]:
    """A gelu / add / layernorm / attention node on its golden inputs (attention: every sequence and head)."""
    nc = nonlinear.node_case(graph, node, trace)
    res = nonlinear.run_unit(
        nc.unit, nc.case, nc.runs, root / "cases" / node.name, builds, nc.mems, nc.parameters
    )
    return {
        "op": node.name,
        "kind": nc.unit,
        "layer": node.layer,
        "role": node.role,
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": int(res["compared"]),
        "cycles": sum(r["cycles"] for r in res["runs"]),
        "model_cycles": len(nc.runs) * nonlinear.unit_cycles(nc.unit, nc.elems, nc.rows, nc.width),
        # one element per cycle (attention: one score and one probability per cycle, S*S per head)
        "ideal_cycles": len(nc.runs) * (nc.rows * nc.width if nc.unit == "attention" else nc.elems),
    }
