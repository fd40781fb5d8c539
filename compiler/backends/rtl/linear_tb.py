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
import logging
import os
import random
from collections.abc import Iterator

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from compiler.backends.rtl import linear as rtl_linear
from compiler.golden.ops import linear as golden_linear
from compiler.ir.graph import Graph, Node, frozen

CLK_NS = 10
TIMEOUT_CYCLES = 10_000


def pauses(rng: random.Random, p_idle: float) -> Iterator[int]:
    """Random idle cycles (source) / backpressure (sink): 1 = pause this cycle."""
    while True:
        yield int(rng.random() < p_idle)


class Driver:
    def __init__(self, dut, width: int) -> None:
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "x_in"), dut.ap_clk, byte_size=width)

    async def send(self, beats: list[int]) -> None:
        if beats:
            await self.src.send(AxiStreamFrame(tdata=beats))


class Monitor:
    def __init__(self, dut, width: int) -> None:
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "y_out"), dut.ap_clk, byte_size=width)

    def collect(self) -> list[int]:
        words: list[int] = []
        while not self.sink.empty():
            words.extend(int(w) for w in self.sink.recv_nowait().tdata)
        return words


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


class Scoreboard:
    def __init__(self, log) -> None:
        self.log = log
        self.mismatches = 0
        self.compared = 0

    def compare(self, got: np.ndarray, want: np.ndarray, label: str) -> None:
        if got.shape != want.shape:
            self.log.error("%s: got %s words, want %s", label, got.shape, want.shape)
            self.mismatches += max(1, want.size)
            return
        bad = np.argwhere(got != want)
        self.compared += want.size
        self.mismatches += len(bad)
        for t, n in bad[:10]:
            self.log.error("%s: y[%d][%d] = %d, golden %d", label, t, n, got[t, n], want[t, n])


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
        self.driver = Driver(dut, self.plan.xw * bn * 8)  # one beat: xw words of bn int8
        self.monitor = Monitor(dut, bm * self.plan.out_bits)
        self.model = Model(case, self.plan.out_bits)
        self.scoreboard = Scoreboard(dut._log)

    async def reset(self) -> None:
        for name in ("x_in", "y_out"):  # one line per beat would dominate the run time
            logging.getLogger(f"cocotb.{self.dut._name}.{name}").setLevel(logging.WARNING)
        Clock(self.dut.ap_clk, CLK_NS, unit="ns").start()
        self.dut.ap_start.value = 0
        self.dut.n_tokens.value = 0
        self.dut.ap_rst_n.value = 0
        for _ in range(3):
            await RisingEdge(self.dut.ap_clk)
        self.dut.ap_rst_n.value = 1
        await RisingEdge(self.dut.ap_clk)

    def set_pauses(self, seed: int | None) -> None:
        if seed is None:
            self.driver.src.set_pause_generator(None)
            self.monitor.sink.set_pause_generator(None)
            # removing a generator leaves the last pause value in place
            self.driver.src.pause = False
            self.monitor.sink.pause = False
        else:
            self.driver.src.set_pause_generator(pauses(random.Random(seed), 0.3))
            self.monitor.sink.set_pause_generator(pauses(random.Random(seed + 1), 0.3))

    async def handshakes(self, t0: float, most: int = 4096) -> None:
        """The cycle (from ap_start) of each x_in / y_out beat (the first ``most``): a beat moves at
        the rising edge after a falling edge that sees TVALID and TREADY."""
        while True:
            await FallingEdge(self.dut.ap_clk)
            cyc = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS + 0.5)
            for p, got in self.beats.items():
                if len(got) < most and int(getattr(self.dut, f"{p}_TVALID").value):
                    if int(getattr(self.dut, f"{p}_TREADY").value):
                        got.append(cyc)

    async def run(self, x: np.ndarray, pause_seed: int | None, label: str) -> int:
        """One ap_start..ap_done invocation; returns its cycle count."""
        dut = self.dut
        self.set_pauses(pause_seed)
        await self.driver.send(rtl_linear.pack_input(self.plan, x))
        await RisingEdge(dut.ap_clk)
        dut.n_tokens.value = x.shape[0]
        dut.ap_start.value = 1
        t0 = cocotb.utils.get_sim_time("ns")
        budget = TIMEOUT_CYCLES + 20 * (
            self.plan.ideal_cycles(len(x)) + len(x) * (self.plan.x_beats + self.plan.nb * self.plan.rq_cycles)
        )
        self.beats: dict[str, list[int]] = {"x_in": [], "y_out": []}
        watch = cocotb.start_soon(self.handshakes(t0))
        await with_timeout(RisingEdge(dut.ap_done), budget * CLK_NS, "ns")
        cycles = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS)
        await ReadOnly()
        assert int(dut.ap_ready.value) == 1, "ap_ready must pulse with ap_done"
        watch.cancel()
        await RisingEdge(dut.ap_clk)
        dut.ap_start.value = 0
        got = rtl_linear.unpack_output(self.plan, self.monitor.collect(), x.shape[0])
        self.scoreboard.compare(got, self.model(x, self.plan.nb * self.plan.bm), label)
        assert int(dut.ap_idle.value) == 1
        return cycles


@cocotb.test()
async def linear_runs(dut) -> None:
    """Every run of the case, back to back, compared word by word with the golden."""
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    tb = Testbench(dut, case)
    await tb.reset()
    results = []
    for r in range(int(case["runs"])):
        x = case[f"x{r}"]
        seed = int(case[f"pause{r}"])
        cycles = await tb.run(x, None if seed < 0 else seed, f"run{r}")
        results.append({"tokens": int(x.shape[0]), "paused": seed >= 0, "cycles": cycles, "beats": tb.beats})
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump(
            {"runs": results, "mismatches": tb.scoreboard.mismatches, "compared": tb.scoreboard.compared}, f
        )
    assert tb.scoreboard.mismatches == 0, f"{tb.scoreboard.mismatches} output words differ from the golden"
