"""Generation-time checks of the RTL backend (pure Python: no simulator needed)."""

from __future__ import annotations

import numpy as np
import pytest
from cases import random_layer

from compiler.backends.rtl import linear
from compiler.errors import UserError


def _args(n=8, k=8):
    rng = np.random.default_rng(0)
    return dict(
        weight_q=rng.integers(-128, 128, (n, k)),
        bias_q=np.zeros(n, dtype=np.int64),
        mult=np.full(n, 2**30, dtype=np.int64),
        shift=np.full(n, 20, dtype=np.int64),
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(block=(3, 3)), "block 3x3 is not supported"),
        (dict(block=(1, 1)), "block 1x1 is not supported"),
        (dict(block=(32, 32)), "block 32x32 is not supported"),
        (dict(tt=3), "token tile 3"),
        (dict(shift=np.zeros(8, dtype=np.int64)), "shift must be in"),
        (dict(mult=np.full(8, 2**31, dtype=np.int64)), "mult must be in"),
        (dict(bias_q=np.zeros(7, dtype=np.int64)), "bias_q must have 8 entries"),
        (dict(weight_q=np.full((8, 8), 200)), "weights must be int8"),
        (dict(weight_q=np.full((8, 8), 0.5)), "weights must be int8"),
        (dict(bias_q=np.full(8, 2**31 - 100, dtype=np.int64)), "accumulator can overflow"),
    ],
)
def test_unsupported_parameters_are_user_errors(change, message):
    args = {**_args(), "block": (4, 4), "tt": 4, **change}
    with pytest.raises(UserError, match=message):
        linear.plan_linear(
            "l0_q", args.pop("weight_q"), args.pop("bias_q"), args.pop("mult"), args.pop("shift"), **args
        )


def test_bsr_structure_and_padding():
    plan = random_layer(seed=5, n=37, k=45, block=(4, 4), sparsity=0.7, empty_rows=(0, 9))
    assert plan.nb == 10 and plan.kb == 12
    assert plan.row_nnz[0] == 0 and plan.row_nnz[9] == 0
    assert 0 < plan.nnzb <= round(0.3 * 120)
    dense = np.zeros((40, 48), dtype=np.int64)
    rows = np.repeat(np.arange(plan.nb), plan.row_nnz)
    for blk, i, j in zip(plan.blocks, rows, plan.indices, strict=True):
        dense[4 * i : 4 * i + 4, 4 * j : 4 * j + 4] = blk
    assert not dense[37:].any() and not dense[:, 45:].any()
    assert np.all(plan.mult[37:] == 0) and np.all(plan.yconst[37:] == 0)


def test_generation_is_deterministic(tmp_path):
    a = random_layer(seed=2, n=20, k=24, block=(4, 8), sparsity=0.5)
    b = random_layer(seed=2, n=20, k=24, block=(4, 8), sparsity=0.5)
    linear.write_layer(a, tmp_path / "a")
    linear.write_layer(b, tmp_path / "b")
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_top_snapshot():
    plan = random_layer(seed=2, n=20, k=24, block=(4, 8), sparsity=0.5, name="l3_fc1")
    top = linear.render_top(plan)
    assert "module linear_l3_fc1 (" in top
    assert ".BM(4),\n      .BN(8),\n      .NB(5),\n      .KB(3)," in top
    assert '.WEIGHTS_MEM("l3_fc1_weights.mem")' in top
    for port in linear.PORTS:
        assert f".{port}({port})" in top


def test_node_names_become_verilog_identifiers(tmp_path):
    plan = random_layer(seed=2, n=8, k=8, block=(4, 4), sparsity=0.5, name="l0.fc1")
    top = linear.write_layer(plan, tmp_path)
    assert top.name == "linear_l0_fc1.sv"
    assert "module linear_l0_fc1 (" in top.read_text()
    assert (tmp_path / "l0_fc1_weights.mem").exists()
