"""cocotb testbench of hls_templates/rtl/sparse_linear.sv.

It lives in the package (not hw_tests/) because ``run_rtlsim`` uses it on a
compiled project too; hw_tests/test_linear.py starts it from pytest.

Shape of cocotb's matrix_multiplier example: a Driver (AXI-Stream source on
x_in), a Monitor (AXI-Stream sink on y_out), the Model (the golden
``compiler.golden.ops.linear.run_int``) and a Scoreboard that compares every
output word, wired by :class:`Testbench`.

The case comes from ``$SPARSEHLS_CASE`` (an .npz written by the pytest side:
weight_q, bias_q, mult, shift, block, tt, out_bits, pack, req_lanes, xw and
one activation matrix per run with its pause flag); the measured cycles go to
``$SPARSEHLS_RESULT`` (JSON).
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from compiler.backends.rtl import linear as rtl_linear
from compiler.backends.rtl import tb_lib
from compiler.backends.rtl.tb_lib import MOST_BEATS, TIMEOUT_CYCLES, Driver, Monitor, Scoreboard
from compiler.golden.ops import linear as golden_linear
from compiler.ir.graph import Graph, Node, frozen


class Model:
    """The golden integer model, padded to the engine's block grid."""

    def __init__(self, case: dict[str, np.ndarray], out_bits: int) -> None:
        self.params = {k: case[k] for k in ("weight_q", "bias_q", "mult", "shift")}
        self.node = Node(
            op="linear",
            name="dut",
            inputs=("x",),
            outputs=("y",),
            params=frozen({k: k for k in self.params}),
            attrs=frozen({"out_bits": out_bits}),
        )
        self.graph = Graph(nodes=(self.node,), inputs=("x",), outputs=("y",), params=frozen(self.params))

    def __call__(self, x: np.ndarray, n_pad: int) -> np.ndarray:
        y = golden_linear.run_int(self.node, [x[None]], self.graph)[0]
        out = np.zeros((x.shape[0], n_pad), dtype=np.int64)
        out[:, : y.shape[1]] = y  # padding rows: bias 0, mult 0 -> 0
        return out


class Testbench:
    def __init__(self, dut, case: dict[str, np.ndarray]) -> None:
        self.dut = dut
        bm, bn = (int(v) for v in case["block"])
        self.plan = rtl_linear.plan_linear(
            "dut",
            case["weight_q"],
            case["bias_q"],
            case["mult"],
            case["shift"],
            (bm, bn),
            int(case["tt"]),
            out_bits=int(case.get("out_bits", 8)),
            pack=int(case.get("pack", 1)),
            req_lanes=int(case.get("req_lanes", bm)),
            xw=int(case.get("xw", 1)),
        )
        self.driver = Driver(dut, "x_in", self.plan.xw * bn * 8)  # one beat: xw words of bn int8
        self.monitor = Monitor(dut, "y_out", bm * self.plan.out_bits)
        self.beats: dict[str, list[int]] = {}  # the last run's beat cycles
        self.model = Model(case, self.plan.out_bits)
        self.scoreboard = Scoreboard(dut._log)

    async def run(self, x: np.ndarray, pause_seed: int | None, label: str) -> int:
        """One ap_start..ap_done invocation; returns its cycle count."""
        plan = self.plan
        tb_lib.set_pauses([self.driver.src, self.monitor.sink], pause_seed)
        await self.driver.send(rtl_linear.pack_input(plan, x))
        t0 = await tb_lib.start(self.dut, {"n_tokens": x.shape[0]})
        budget = TIMEOUT_CYCLES + 20 * (
            plan.ideal_cycles(len(x)) + len(x) * (plan.x_beats + plan.nb * plan.rq_cycles)
        )
        watch, self.beats = tb_lib.watch_beats(self.dut, t0, {"x_in": MOST_BEATS, "y_out": MOST_BEATS})
        cycles = await tb_lib.finish(self.dut, t0, budget, watch)
        words = self.monitor.collect()
        got = rtl_linear.unpack_output(plan, words, x.shape[0])
        if len(words) != x.shape[0] * plan.nb:  # the scoreboard counts a shape mismatch
            got = np.zeros((len(words), 0), dtype=np.int64)
        self.scoreboard.compare(got, self.model(x, plan.nb * plan.bm), label)
        return cycles


@cocotb.test()
async def linear_runs(dut) -> None:
    """Every run of the case, back to back, compared word by word with the golden."""
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    tb = Testbench(dut, case)
    await tb_lib.reset(dut, ("x_in", "y_out"), zero=("ap_start", "n_tokens"))
    results = []
    for r in range(int(case["runs"])):
        x = case[f"x{r}"]
        seed = int(case[f"pause{r}"])
        cycles = await tb.run(x, None if seed < 0 else seed, f"run{r}")
        results.append({"tokens": int(x.shape[0]), "paused": seed >= 0, "cycles": cycles, "beats": tb.beats})
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump(tb.scoreboard.result(results), f)
    assert tb.scoreboard.mismatches == 0, f"{tb.scoreboard.mismatches} output words differ from the golden"
