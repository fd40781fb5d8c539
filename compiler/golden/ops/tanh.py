"""tanh (BERT pooler).

int: xf = requant(x8, in_mult, in_shift) in FX(F_TANH); y = itanh(xf);
out = sat8(requant(y, out_mult, out_shift)).
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    return np.tanh(ins[0]).astype(np.float32)


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    a = node.attrs
    xf = intops.requant(ins[0], a["in_mult"], a["in_shift"])
    y = intops.requant_(intops.itanh(xf), a["out_mult"], a["out_shift"])
    return intops.sat_(y, intops.INT8_MIN, intops.INT8_MAX)
