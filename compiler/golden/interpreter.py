"""The golden model: a NumPy interpreter of the IR.

``run(graph, feeds, mode="float"|"int")`` executes the nodes in order and
returns the graph outputs; ``trace=True`` also returns every intermediate
tensor (the per-op traces that C and RTL simulation are compared against).
Integer mode needs a quantized graph (see compiler/passes/quantize.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from compiler.golden import intops
from compiler.golden.ops import OP_MODULES
from compiler.ir.graph import Graph


def run(
    graph: Graph,
    feeds: Mapping[str, np.ndarray],
    mode: str = "float",
    trace: bool = False,
) -> dict[str, np.ndarray]:
    if mode not in ("float", "int"):
        raise ValueError(f"mode must be 'float' or 'int', not {mode!r}")
    if mode == "int" and not graph.quantized:
        raise ValueError("integer mode needs a quantized graph")
    # Many small GEMMs (per-head attention): a multi-threaded BLAS spends more
    # time synchronising than computing, badly so on a loaded 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"), intops.weight_cache():
        if mode == "int":
            return _run_in_slices(graph, feeds, trace)
        return _run(graph, feeds, mode, trace)


# Integer mode is exact and every op treats each sequence of the batch on its
# own, so running a few sequences at a time gives the same bits while the
# int64 temporaries stay small (in cache, and reused by malloc instead of being
# mapped and faulted in afresh for every op).  Float mode keeps the whole batch:
# a float GEMM's rounding may depend on its shape.
INT_SLICE = 2


def _run_in_slices(graph: Graph, feeds: Mapping[str, np.ndarray], trace: bool) -> dict[str, np.ndarray]:
    arrays = {k: np.asarray(feeds[k]) for k in graph.inputs if k in feeds}
    sizes = {a.shape[0] if a.ndim else -1 for a in arrays.values()}
    if len(arrays) < len(graph.inputs) or len(sizes) != 1 or min(sizes) <= INT_SLICE:
        return _run(graph, feeds, "int", trace)
    n = sizes.pop()
    parts = [
        _run(graph, {k: a[i : i + INT_SLICE] for k, a in arrays.items()}, "int", trace)
        for i in range(0, n, INT_SLICE)
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run_to(graph: Graph, feeds: Mapping[str, np.ndarray], tensor: str, mode: str = "int") -> np.ndarray:
    """The value of one tensor, running the graph's nodes in order only until it is produced
    (e.g. the embedding sum a host gathers for an accelerator that computes the rest).
    KeyError if no node produces it and it is no input."""
    if tensor in graph.inputs:
        return np.asarray(feeds[tensor]).astype(np.int64)
    if graph.producer(tensor) is None:
        raise KeyError(f"no node produces {tensor}")
    if mode == "int" and not graph.quantized:
        raise ValueError("integer mode needs a quantized graph")
    with threadpool_limits(limits=1, user_api="blas"), intops.weight_cache():
        return _run(graph, feeds, mode, False, stop_at=tensor)[tensor]


def _run(
    graph: Graph, feeds: Mapping[str, np.ndarray], mode: str, trace: bool, stop_at: str | None = None
) -> dict[str, np.ndarray]:
    env: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if name not in feeds:
            raise KeyError(f"missing input {name}")
        env[name] = np.asarray(feeds[name]).astype(np.int64)
    for node in graph.nodes:
        mod = OP_MODULES[node.op]
        fn = mod.run_int if mode == "int" else mod.run_float
        ins = [env[t] for t in node.inputs]
        env[node.outputs[0]] = fn(node, ins, graph)
        if node.outputs[0] == stop_at:
            return env
    if trace:
        return env
    return {name: env[name] for name in graph.outputs}


def dequantize(graph: Graph, name: str, value: np.ndarray) -> np.ndarray:
    """Real value of an integer-mode tensor, from the scale the quantizer recorded."""
    scales = graph.meta.get("tensor_scales", {})
    if name not in scales:
        raise KeyError(f"no scale recorded for tensor {name}")
    return value.astype(np.float64) * float(scales[name])
