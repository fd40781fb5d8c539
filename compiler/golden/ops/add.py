"""add: residual sum of one or two activations plus an optional constant.

The constant (param ``const`` [H]) appears when a pass removed a sublayer
whose output was a constant (a dropped attention block or FFN).

int: inputs int8 with scales; r = requant(a, a_mult, a_shift)
[+ requant(b, b_mult, b_shift)] [+ const_q] in FX(F_RES), saturated to int32.
A multiplier/shift given as params (``a_mult`` ... [H]) is per channel; inputs
may be int8 or already FX int32 (then the multiplier is the identity 2**30, 30).
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    y = ins[0].astype(np.float32)
    for t in ins[1:]:
        y = y + t
    if "const" in node.params:
        y = y + g.param(node, "const")
    return y.astype(np.float32)


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    r = intops.requant(ins[0], *_ms(node, g, "a"))
    if len(ins) > 1:
        r = r + intops.requant(ins[1], *_ms(node, g, "b"))
    if "const_q" in node.params:
        r = r + g.param(node, "const_q").astype(np.int64)
    return intops.sat_(r, intops.INT32_MIN, intops.INT32_MAX)


def _ms(node: Node, g: Graph, tag: str) -> tuple[np.ndarray | int, np.ndarray | int]:
    if f"{tag}_mult" in node.params:
        return g.param(node, f"{tag}_mult"), g.param(node, f"{tag}_shift")
    return node.attrs[f"{tag}_mult"], node.attrs[f"{tag}_shift"]
