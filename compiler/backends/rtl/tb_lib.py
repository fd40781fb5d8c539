"""The pieces every cocotb testbench of the RTL shares (engine, non-linear units, layer top).

Shape of cocotb's matrix_multiplier example: a Driver per input stream
(cocotbext-axi AXI-Stream source, random idle cycles), a Monitor on the output
stream (sink, random backpressure) and a Scoreboard; each testbench adds its
Model.  Every unit has the Vitis ``ap_ctrl_hs`` block control (ap_start,
ap_done, ap_idle, ap_ready) on ``ap_clk`` / ``ap_rst_n``: :func:`reset`,
:func:`start` and :func:`finish` drive it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import Task
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

CLK_NS = 10
TIMEOUT_CYCLES = 10_000
P_PAUSE = 0.3  # chance of an idle input cycle / a backpressure output cycle in a paused run
MOST_BEATS = 4096  # beat cycles recorded per stream and run


def pauses(rng: random.Random, p_idle: float) -> Iterator[int]:
    """Random idle cycles (source) / backpressure (sink): 1 = pause this cycle."""
    while True:
        yield int(rng.random() < p_idle)


class Driver:
    """An AXI-Stream source of ``width``-bit words on the ``prefix`` port (no tkeep: one word a beat)."""

    def __init__(self, dut: Any, prefix: str, width: int) -> None:
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, prefix), dut.ap_clk, byte_size=width)

    async def send(self, beats: list[int]) -> None:
        if beats:
            await self.src.send(AxiStreamFrame(tdata=beats))


class Monitor:
    """An AXI-Stream sink of ``width``-bit words on the ``prefix`` port."""

    def __init__(self, dut: Any, prefix: str, width: int) -> None:
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, prefix), dut.ap_clk, byte_size=width)

    def collect(self) -> list[int]:
        words: list[int] = []
        while not self.sink.empty():
            words.extend(int(w) for w in self.sink.recv_nowait().tdata)
        return words


class Scoreboard:
    def __init__(self, log: Any) -> None:
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

    def result(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """What a testbench writes to ``$SPARSEHLS_RESULT``."""
        return {"runs": runs, "mismatches": self.mismatches, "compared": self.compared}


async def reset(dut: Any, streams: Iterable[str], zero: Iterable[str] = ("ap_start",)) -> None:
    """Start the clock, hold ``zero`` ports at 0 and ap_rst_n low for 3 cycles, release it."""
    for name in streams:  # one log line per beat would dominate the run time
        logging.getLogger(f"cocotb.{dut._name}.{name}").setLevel(logging.WARNING)
    # the C (GPI) clock: the default Python clock costs two coroutine wake-ups per cycle,
    # most of the run time of a long call with the streams idle
    Clock(dut.ap_clk, CLK_NS, unit="ns", impl="gpi").start()
    for port in zero:
        getattr(dut, port).value = 0
    dut.ap_rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)


def set_pauses(ends: Iterable[AxiStreamSource | AxiStreamSink], seed: int | None) -> None:
    """Full rate (``seed`` None) or random idle / backpressure cycles, end i seeded ``seed + i``."""
    for i, end in enumerate(ends):
        if seed is None:
            end.set_pause_generator(None)
            end.pause = False  # removing a generator leaves the last pause value in place
        else:
            end.set_pause_generator(pauses(random.Random(seed + i), P_PAUSE))


async def start(dut: Any, ports: Mapping[str, int]) -> float:
    """At the next rising edge: set the scalar ``ports`` (cut to their width) and raise ap_start;
    returns that time (ns), the zero of the call's cycle count."""
    await RisingEdge(dut.ap_clk)
    for port, value in ports.items():
        getattr(dut, port).value = value & ((1 << len(getattr(dut, port))) - 1)
    dut.ap_start.value = 1
    return float(cocotb.utils.get_sim_time("ns"))


async def finish(dut: Any, t0: float, budget: int, watch: Task[None] | None = None) -> int:
    """Wait (at most ``budget`` cycles) for ap_done, check ap_ready pulses with it, drop ap_start
    and check ap_idle; returns the cycles from ``t0``."""
    await with_timeout(RisingEdge(dut.ap_done), budget * CLK_NS, "ns")
    cycles = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS)
    await ReadOnly()
    assert int(dut.ap_ready.value) == 1, "ap_ready must pulse with ap_done"
    if watch is not None and not watch.done():
        watch.cancel()
    await RisingEdge(dut.ap_clk)
    dut.ap_start.value = 0
    assert int(dut.ap_idle.value) == 1, "ap_idle must be high after the call"
    return cycles


def watch_beats(dut: Any, t0: float, most: Mapping[str, int]) -> tuple[Task[None], dict[str, list[int]]]:
    """Record the cycle (from ``t0``) of each beat of every stream in ``most`` (at most that many):
    a beat moves at the rising edge after a falling edge that sees TVALID and TREADY.  Returns the
    watching task (it ends when every stream has its count) and the cycles, filled as they come."""
    got: dict[str, list[int]] = {p: [] for p in most}

    async def watch() -> None:
        while any(len(got[p]) < n for p, n in most.items()):
            await FallingEdge(dut.ap_clk)
            cyc = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS + 0.5)
            for p, n in most.items():
                if len(got[p]) < n and int(getattr(dut, f"{p}_TVALID").value):
                    if int(getattr(dut, f"{p}_TREADY").value):
                        got[p].append(cyc)

    return cocotb.start_soon(watch()), got
