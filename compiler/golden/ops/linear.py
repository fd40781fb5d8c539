"""linear: y = x @ W.T + b.   W is [N, K] (torch layout), stored block-sparse.

int: x int8 (scale attrs.in_scale), weight_q int8 [N, K] (per-row scale),
bias_q int32; acc = x @ weight_q.T + bias_q exactly in int32 (the quantizer
checks K*127*128 + |bias| < 2**31); y = sat8(requant(acc, mult[n], shift[n])).
With attrs.out_bits == 32 the output stays wide: y = sat32(requant(...)), a
fixed-point value FX(attrs.out_frac) feeding GELU or a residual add directly
(the MAC array's accumulators feed those units without an int8 bottleneck).

The products are summed by BLAS in floating point, exactly (see
``intops.matmul_nt``): much faster than NumPy's integer matmul.
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    w = g.param(node, "weight")
    x = np.asarray(ins[0], dtype=np.float32)
    # 2-D GEMM: NumPy's batched matmul path is much slower for [B, S, K] inputs
    y = (x.reshape(-1, x.shape[-1]) @ np.ascontiguousarray(w.T, dtype=np.float32)).reshape(
        *x.shape[:-1], w.shape[0]
    )
    if "bias" in node.params:
        b = g.param(node, "bias")
        if b.dtype != np.float32:  # y + b would round once, in a wider type
            return (y + b).astype(np.float32)
        y += b  # float32 + float32: the same sums, without two more copies
    return y


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    x = ins[0]
    wq = g.param(node, "weight_q")
    acc = intops.matmul_nt(x.reshape(-1, x.shape[-1]), wq).reshape(*x.shape[:-1], wq.shape[0])
    acc += g.param(node, "bias_q").astype(np.int64)
    y = intops.requant_(acc, g.param(node, "mult"), g.param(node, "shift"))
    if node.attrs.get("out_bits", 8) == 32:
        return intops.sat_(y, intops.INT32_MIN, intops.INT32_MAX)
    return intops.sat_(y, intops.INT8_MIN, intops.INT8_MAX)
