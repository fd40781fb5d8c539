"""take_first: the first token's vector, [B, S, H] -> [B, H] (pooler input)."""

from __future__ import annotations

import numpy as np

from compiler.ir.graph import Graph, Node


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    return np.ascontiguousarray(ins[0][:, 0, :])


run_int = run_float
