"""cocotb testbench of a generated encoder-layer top (compiler/backends/rtl/layer.py).

Shape of cocotb's matrix_multiplier example, reusing linear_tb's pieces: a
Driver per input stream (x_in: the layer input rows; mask_in: one beat per
token), a Monitor on y_out, the Model (the golden integer trace's ln2 output
for the call, computed by the pytest / run_rtlsim side) and the Scoreboard,
which compares every output word, pad lanes included (they must be 0).

The case comes from ``$SPARSEHLS_CASE`` (.npz: per run x, mask, want, pause
seed, cycle budget); the measured cycles ap_start -> ap_done go to
``$SPARSEHLS_RESULT`` (JSON).
"""

from __future__ import annotations

import json
import logging
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSource

from compiler.backends.rtl.linear_tb import CLK_NS, Monitor, Scoreboard, pauses


def _pack(vals: np.ndarray, bits: int) -> int:
    word = 0
    for lane, v in enumerate(np.asarray(vals, dtype=np.int64).tolist()):
        word |= (int(v) & ((1 << bits) - 1)) << (lane * bits)
    return word


class Driver:
    """An AXI-Stream source of words ``width`` bits wide on the ``prefix`` port."""

    def __init__(self, dut, prefix: str, width: int) -> None:
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, prefix), dut.ap_clk, byte_size=width)

    async def send(self, beats: list[int]) -> None:
        if beats:
            await self.src.send(AxiStreamFrame(tdata=beats))


class Model:
    """The golden layer output of a call (the integer trace), in y_out's lane layout."""

    def __init__(self, hidden: int, lanes: int) -> None:
        self.hidden, self.lanes = hidden, lanes
        self.beats = -(-hidden // lanes)

    def rows_to_beats(self, x: np.ndarray) -> list[int]:
        xp = np.zeros((x.shape[0], self.beats * self.lanes), dtype=np.int64)
        xp[:, : self.hidden] = x
        return [
            _pack(xp[t, j * self.lanes : (j + 1) * self.lanes], 8)
            for t in range(len(xp))
            for j in range(self.beats)
        ]

    def beats_to_rows(self, words: list[int], tokens: int) -> np.ndarray:
        out = np.zeros((tokens, self.beats * self.lanes), dtype=np.int64)
        if len(words) != tokens * self.beats:
            return np.zeros((len(words), 0), dtype=np.int64)  # shape mismatch: the scoreboard counts it
        for i, w in enumerate(words):
            t, j = divmod(i, self.beats)
            for ln in range(self.lanes):
                v = (w >> (8 * ln)) & 0xFF
                out[t, j * self.lanes + ln] = v - 256 if v >= 128 else v
        return out

    def expected(self, want: np.ndarray) -> np.ndarray:
        out = np.zeros((want.shape[0], self.beats * self.lanes), dtype=np.int64)
        out[:, : self.hidden] = want  # pad lanes must come out 0
        return out


class Testbench:
    def __init__(self, dut, hidden: int, lanes: int) -> None:
        self.dut = dut
        self.x = Driver(dut, "x_in", lanes * 8)
        self.mask = Driver(dut, "mask_in", 8)
        self.monitor = Monitor(dut, lanes * 8)
        self.model = Model(hidden, lanes)
        self.scoreboard = Scoreboard(dut._log)

    async def reset(self) -> None:
        for name in ("x_in", "mask_in", "y_out"):
            logging.getLogger(f"cocotb.{self.dut._name}.{name}").setLevel(logging.WARNING)
        # the C (GPI) clock: the default Python clock costs two coroutine wake-ups per cycle,
        # most of the run time of a layer (about a million cycles with the streams idle)
        Clock(self.dut.ap_clk, CLK_NS, unit="ns", impl="gpi").start()
        self.dut.ap_start.value = 0
        self.dut.n_tokens.value = 0
        self.dut.ap_rst_n.value = 0
        for _ in range(3):
            await RisingEdge(self.dut.ap_clk)
        self.dut.ap_rst_n.value = 1
        await RisingEdge(self.dut.ap_clk)

    def set_pauses(self, seed: int | None) -> None:
        streams = [self.x.src, self.mask.src, self.monitor.sink]
        for i, s in enumerate(streams):
            if seed is None:
                s.set_pause_generator(None)
                s.pause = False  # removing a generator leaves the last pause value in place
            else:
                s.set_pause_generator(pauses(random.Random(seed + i), 0.3))

    async def run(
        self, x: np.ndarray, mask: np.ndarray, want: np.ndarray, seed: int | None, budget: int, label: str
    ) -> int:
        """One ap_start..ap_done call; returns its cycle count."""
        dut = self.dut
        self.set_pauses(seed)
        await self.x.send(self.model.rows_to_beats(x))
        await self.mask.send([int(m) for m in mask])
        await RisingEdge(dut.ap_clk)
        dut.n_tokens.value = x.shape[0]
        dut.ap_start.value = 1
        t0 = cocotb.utils.get_sim_time("ns")
        await with_timeout(RisingEdge(dut.ap_done), budget * CLK_NS, "ns")
        cycles = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS)
        await ReadOnly()
        assert int(dut.ap_ready.value) == 1, "ap_ready must pulse with ap_done"
        await RisingEdge(dut.ap_clk)
        dut.ap_start.value = 0
        got = self.model.beats_to_rows(self.monitor.collect(), x.shape[0])
        self.scoreboard.compare(got, self.model.expected(want), label)
        assert int(dut.ap_idle.value) == 1
        return cycles


@cocotb.test()
async def layer_runs(dut) -> None:
    """Every call of the case, back to back, every output word compared with the golden trace."""
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    tb = Testbench(dut, int(case["hidden"]), int(case["x_lanes"]))
    await tb.reset()
    results = []
    for r in range(int(case["runs"])):
        x, seed = case[f"x{r}"], int(case[f"pause{r}"])
        cycles = await tb.run(
            x,
            case[f"mask{r}"],
            case[f"want{r}"],
            None if seed < 0 else seed,
            int(case[f"budget{r}"]),
            f"run{r}",
        )
        results.append({"tokens": int(x.shape[0]), "paused": seed >= 0, "cycles": cycles})
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump(
            {"runs": results, "mismatches": tb.scoreboard.mismatches, "compared": tb.scoreboard.compared}, f
        )
    assert tb.scoreboard.mismatches == 0, f"{tb.scoreboard.mismatches} output words differ from the golden"
