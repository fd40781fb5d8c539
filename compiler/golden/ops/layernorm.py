"""layernorm over the hidden axis.

int: input int32 in FX(F_RES); intops.layernorm_rows with params gamma_q,
beta_q and attrs eps_q; output int8.  The output requantization (mult, shift)
is per channel when the quantizer stored it as params ``mult``/``shift`` [H]
(per-channel output scales tame BERT's outlier dimensions), else scalar attrs.
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    x = ins[0].astype(np.float32)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + np.float32(node.attrs["eps"]))
    return (y * g.param(node, "gamma") + g.param(node, "beta")).astype(np.float32)


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    a = node.attrs
    if "mult" in node.params:
        mult, shift = g.param(node, "mult"), g.param(node, "shift")
    else:
        mult, shift = a["mult"], a["shift"]
    return intops.layernorm_rows(
        ins[0], g.param(node, "gamma_q"), g.param(node, "beta_q"), a["eps_q"], mult, shift
    )
