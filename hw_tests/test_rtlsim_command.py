"""run_rtlsim_graph on a small quantized graph: linear ops in RTL vs the golden trace."""

from __future__ import annotations

import numpy as np
import pytest
from cases import random_layer
from conftest import needs_sim

from compiler.backends.rtl.command import NOT_IN_RTL, run_rtlsim_graph
from compiler.errors import UserError
from compiler.ir.graph import Graph, Node, frozen


def _graph(quantized: bool = True) -> Graph:
    """x -> linear q (layer 0) -> linear o (layer 0): two 26x26 ops sharing one engine shape."""
    params, nodes, src = {}, [], "x"
    for i, role in enumerate(("q", "o")):
        plan = random_layer(seed=10 + i, n=26, k=26, block=(4, 4), sparsity=0.5)
        w = plan.dense()
        keys = {}
        for role_p, arr in (
            ("weight_q", w),
            ("bias_q", plan.bias[: plan.n]),
            ("mult", plan.mult[: plan.n]),
            ("shift", plan.shift[: plan.n]),
        ):
            keys[role_p] = f"l0.{role}.{role_p}"
            params[keys[role_p]] = arr
        nodes.append(
            Node(
                op="linear",
                name=f"l0_{role}",
                inputs=(src,),
                outputs=(f"t_{role}",),
                params=frozen(keys),
                attrs=frozen({"block": (4, 4)}),
                layer=0,
                role=role,
            )
        )
        src = f"t_{role}"
    return Graph(
        nodes=tuple(nodes),
        inputs=("x",),
        outputs=(src,),
        params=frozen(params),
        meta=frozen({"quantized": quantized}),
    )


@pytest.mark.sim
@needs_sim
def test_rtlsim_graph_linear_ops(tmp_path, build_root):
    feeds = {"x": np.random.default_rng(0).integers(-128, 128, size=(1, 9, 26))}
    res = run_rtlsim_graph(_graph(), feeds, layer=0, workdir=tmp_path)
    assert res["passed"] and res["mismatches"] == 0, res
    assert [o["role"] for o in res["ops"]] == ["q", "o"]
    assert res["ideal_cycles"] == sum(9 * o["nnzb"] for o in res["ops"])
    for op in res["ops"]:
        assert abs(op["cycles"] - op["model_cycles"]) <= 0.02 * op["model_cycles"]
    assert res["note"] == NOT_IN_RTL


def test_rtlsim_graph_refuses_unquantized_and_missing_layer():
    with pytest.raises(UserError, match="quantized"):
        run_rtlsim_graph(_graph(quantized=False), {"x": np.zeros((1, 2, 26))})
    with pytest.raises(UserError, match="no linear op in layer 3"):
        run_rtlsim_graph(_graph(), {"x": np.zeros((1, 2, 26))}, layer=3)
