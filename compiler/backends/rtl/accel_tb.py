"""cocotb testbench of the whole accelerator (``sparsehls_accel``, compiler/backends/rtl/accel.py).

It drives the kernel the way the XRT host does: buffers in device memory
(cocotbext-axi ``AxiRam`` on the ``m_axi_gmem`` master), arguments and
``ap_start`` through the AXI4-Lite control port (``AxiLiteMaster`` on
``s_axi_control``), completion by the ``interrupt`` line (GIE + IER done).
First one load call (mode 1: the weight image into the tables), then one run
call per sequence (mode 0); every output byte is compared with the golden
integer model's last hidden state.

The case comes from ``$SPARSEHLS_CASE`` (.npz), the result goes to
``$SPARSEHLS_RESULT`` (JSON): per run the tokens and the cycles from the
``ap_start`` write to the interrupt, the load's cycles, mismatches.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from compiler.backends.rtl.kernel_args import CONTROL_PORT, CTRL, GIE, IER, ISR, MAXI_PORT, REGISTERS
from compiler.backends.rtl.tb_lib import CLK_NS, Scoreboard

PAGE = 4096


def _align(n: int) -> int:
    return -(-n // PAGE) * PAGE


class Host:
    """What the XRT host does, on the control port and the device memory."""

    def __init__(self, dut: Any, regs: dict[str, int], size: int) -> None:
        self.dut = dut
        self.regs = regs
        self.ctrl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, CONTROL_PORT), dut.ap_clk, dut.ap_rst_n, False)
        self.mem = AxiRam(AxiBus.from_prefix(dut, MAXI_PORT), dut.ap_clk, dut.ap_rst_n, False, size=size)
        for name in (CONTROL_PORT, MAXI_PORT):
            logging.getLogger(f"cocotb.{dut._name}.{name}").setLevel(logging.WARNING)

    async def set_arg(self, name: str, value: int) -> None:
        off = self.regs[name]
        await self.ctrl.write_dword(off, value & 0xFFFFFFFF)
        await self.ctrl.write_dword(off + 4, (value >> 32) & 0xFFFFFFFF)

    async def call(self, budget: int, **args: int) -> int:
        """Set the arguments, start, wait for the interrupt; returns the cycles (start write -> interrupt)."""
        for name, value in args.items():
            await self.set_arg(name, value)
        await self.ctrl.write_dword(GIE, 1)
        await self.ctrl.write_dword(IER, 1)
        await self.ctrl.write_dword(CTRL, 1)
        t0 = cocotb.utils.get_sim_time("ns")
        await with_timeout(RisingEdge(self.dut.interrupt), budget * CLK_NS, "ns")
        cycles = round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS)
        status = await self.ctrl.read_dword(CTRL)
        assert status & 0x2, f"interrupt without ap_done (control = {status:#x})"
        await self.ctrl.write_dword(ISR, 1)  # toggle-on-write: clears the done interrupt
        assert (await self.ctrl.read_dword(CTRL)) & 0x4, "ap_idle must be high after the call"
        return cycles


async def layer_spans(dut: Any, spans: list[int]) -> None:
    """Append each layer's share of the run's cycles to ``spans``: the cycles from the layer
    datapath's ap_start (l_start) to its ap_done (l_done), plus the top's S_LAYER_GO cycle before
    it (:data:`accel.LAYER_OVERHEAD` counts both that cycle and the cycle the done is seen in, so
    the spans add up to the run's layer part).  Edge triggers, no per-cycle callback."""
    while True:
        await RisingEdge(dut.l_start)
        t0 = cocotb.utils.get_sim_time("ns")
        await RisingEdge(dut.l_done)
        spans.append(round((cocotb.utils.get_sim_time("ns") - t0) / CLK_NS) + 1)


@cocotb.test()
async def accel_runs(dut: Any) -> None:
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    regs = REGISTERS  # kernel_args: the same table the RTL decodes and kernel.xml lists
    runs = int(case["runs"])
    weights = case["weights"].tobytes()
    in_size = max(len(case[f"input{i}"]) for i in range(runs))
    out_row = int(case["out_row"])
    out_size = max(int(case[f"tokens{i}"]) for i in range(runs)) * out_row
    w_addr, in_addr = 0, _align(len(weights))
    out_addr = in_addr + _align(in_size)
    host = Host(dut, regs, out_addr + _align(out_size))

    Clock(dut.ap_clk, CLK_NS, unit="ns", impl="gpi").start()
    dut.ap_rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)

    host.mem.write(w_addr, weights)
    load = await host.call(int(case["load_budget"]), weights=w_addr, mode=1)
    board = Scoreboard(dut._log)
    hidden = int(case["hidden"])
    results = []
    for i in range(runs):
        tokens = int(case[f"tokens{i}"])
        host.mem.write(in_addr, case[f"input{i}"].tobytes())
        host.mem.write(out_addr, bytes(tokens * out_row))
        spans: list[int] = []
        layers = cocotb.start_soon(layer_spans(dut, spans))
        cycles = await host.call(
            int(case[f"budget{i}"]), input=in_addr, output=out_addr, n_tokens=tokens, mode=0
        )
        layers.cancel()
        raw = host.mem.read(out_addr, tokens * out_row)
        got = np.frombuffer(raw, dtype=np.int8).reshape(tokens, out_row).astype(np.int64)
        want = np.zeros((tokens, out_row), dtype=np.int64)
        want[:, :hidden] = case[f"want{i}"]  # pad bytes must come out 0
        board.compare(got, want, f"sequence {i}")
        results.append({"tokens": tokens, "cycles": cycles, "layer_cycles": spans})
    out = board.result(results)
    out["load_cycles"] = load
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump(out, f)
    assert board.mismatches == 0, f"{board.mismatches} output bytes differ from the golden"
