"""cocotb testbench of the AXI shell pieces (``hls_templates/rtl/sparsehls_axi.sv``).

The DUT is the test top :data:`TB_TOP` (:func:`tb_top_sv`): one ``sparsehls_axil_ctrl``
(NARGS = 3), one ``sparsehls_axi_rd`` and one ``sparsehls_axi_wr`` (DW = 512, MAXBURST = 64)
sharing the ``m_axi_gmem_*`` port, a ``sparsehls_unpack`` (512 -> 128) and a ``sparsehls_pack``
(128 -> 512).  ``$SPARSEHLS_CASE`` names the scenario:

* ``ctrl``: cocotbext-axi ``AxiLiteMaster`` against the control registers, a fake kernel
  (ap_ctrl_hs, driven from here) that checks ap_start stays up until its ap_ready;
* ``read`` / ``write``: ``AxiRam`` with random pauses on every channel, random TREADY
  backpressure / TVALID idle cycles on the stream, commands near 4 KB boundaries;
* ``perf``: 512-beat read and write at full rate against ``AxiRam``;
* ``latency``: a 512-beat read at full rate against :func:`slow_ram` (a read slave with
  ``case["latency"]`` cycles from AR to data);
* ``width``: the width converters under random idle / backpressure.

Every AR / AW handshake is recorded (address, ARLEN/AWLEN); a burst that crosses 4 KB or is
longer than MAXBURST counts as a mismatch.  ``$SPARSEHLS_RESULT`` gets ``mismatches``,
``compared`` and the scenario's measurements.
"""

from __future__ import annotations

import collections
import json
import os
import random
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from compiler.backends.rtl import tb_lib
from compiler.backends.rtl.tb_lib import Driver, Monitor

TB_TOP = "sparsehls_axi_tb_top"
DW = 512
BYTES = DW // 8
AW = 64
MAXBURST = 64
NARGS = 3
NARROW = 128  # the width converters' narrow side

_AR = [
    ("o", 1, "ARID"),
    ("o", AW, "ARADDR"),
    ("o", 8, "ARLEN"),
    ("o", 3, "ARSIZE"),
    ("o", 2, "ARBURST"),
    ("o", 0, "ARLOCK"),
    ("o", 4, "ARCACHE"),
    ("o", 3, "ARPROT"),
    ("o", 4, "ARQOS"),
    ("o", 4, "ARREGION"),
    ("o", 0, "ARVALID"),
    ("i", 0, "ARREADY"),
    ("i", 1, "RID"),
    ("i", DW, "RDATA"),
    ("i", 2, "RRESP"),
    ("i", 0, "RLAST"),
    ("i", 0, "RVALID"),
    ("o", 0, "RREADY"),
]
_AWB = [(d, w, "AW" + n[2:]) for d, w, n in _AR[:12]] + [
    ("o", DW, "WDATA"),
    ("o", BYTES, "WSTRB"),
    ("o", 0, "WLAST"),
    ("o", 0, "WVALID"),
    ("i", 0, "WREADY"),
    ("i", 1, "BID"),
    ("i", 2, "BRESP"),
    ("i", 0, "BVALID"),
    ("o", 0, "BREADY"),
]
_CMD = [
    ("i", 0, "cmd_valid"),
    ("o", 0, "cmd_ready"),
    ("i", AW, "cmd_addr"),
    ("i", 32, "cmd_beats"),
    ("o", 0, "busy"),
    ("o", 0, "done"),
]
_CTRL = [
    ("i", 12, "s_axi_control_AWADDR"),
    ("i", 0, "s_axi_control_AWVALID"),
    ("o", 0, "s_axi_control_AWREADY"),
    ("i", 32, "s_axi_control_WDATA"),
    ("i", 4, "s_axi_control_WSTRB"),
    ("i", 0, "s_axi_control_WVALID"),
    ("o", 0, "s_axi_control_WREADY"),
    ("o", 2, "s_axi_control_BRESP"),
    ("o", 0, "s_axi_control_BVALID"),
    ("i", 0, "s_axi_control_BREADY"),
    ("i", 12, "s_axi_control_ARADDR"),
    ("i", 0, "s_axi_control_ARVALID"),
    ("o", 0, "s_axi_control_ARREADY"),
    ("o", 32, "s_axi_control_RDATA"),
    ("o", 2, "s_axi_control_RRESP"),
    ("o", 0, "s_axi_control_RVALID"),
    ("i", 0, "s_axi_control_RREADY"),
    ("o", 0, "interrupt"),
    ("o", 0, "ap_start"),
    ("i", 0, "ap_done"),
    ("i", 0, "ap_idle"),
    ("i", 0, "ap_ready"),
    ("o", NARGS * 64, "args"),
]


def _stream(prefix: str, direction: str, width: int) -> list[tuple[str, int, str]]:
    back = "i" if direction == "o" else "o"
    return [
        (direction, width, f"{prefix}_TDATA"),
        (direction, 0, f"{prefix}_TVALID"),
        (back, 0, f"{prefix}_TREADY"),
    ]


def tb_top_sv() -> str:
    """The test top: every module of sparsehls_axi.sv, each port on a top port of its own
    (the masters' m_axi_* on m_axi_gmem_*, the others prefixed rd_, wr_, up_, pk_)."""
    insts: list[tuple[str, str, str, list[tuple[str, int, str]], str]] = [
        # (module, parameters, instance, ports, top-port prefix)
        ("sparsehls_axil_ctrl", f".NARGS({NARGS})", "u_ctrl", _CTRL, ""),
        ("sparsehls_axi_rd", f".DW({DW}), .AW({AW}), .MAXBURST({MAXBURST})", "u_rd", _CMD, "rd_"),
        ("sparsehls_axi_wr", f".DW({DW}), .AW({AW}), .MAXBURST({MAXBURST})", "u_wr", _CMD, "wr_"),
        (
            "sparsehls_unpack",
            f".IW({DW}), .OW({NARROW})",
            "u_up",
            _stream("in", "i", DW) + _stream("out", "o", NARROW),
            "up_",
        ),
        (
            "sparsehls_pack",
            f".IW({NARROW}), .OW({DW})",
            "u_pk",
            _stream("in", "i", NARROW) + _stream("out", "o", DW),
            "pk_",
        ),
    ]
    extra = {
        "u_rd": _stream("out", "o", DW) + [(d, w, "m_axi_" + n) for d, w, n in _AR],
        "u_wr": _stream("in", "i", DW) + [(d, w, "m_axi_" + n) for d, w, n in _AWB],
    }
    ports = ["input wire ap_clk", "input wire ap_rst_n"]
    body = []
    for module, params, inst, plist, prefix in insts:
        conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
        for d, w, name in plist + extra.get(inst, []):
            top = name.replace("m_axi_", "m_axi_gmem_") if name.startswith("m_axi_") else prefix + name
            rng = f"[{w - 1}:0] " if w else ""
            ports.append(f"{'input wire' if d == 'i' else 'output wire'} {rng}{top}")
            conns.append(f".{name}({top})")
        body.append(f"  {module} #({params}) {inst} (\n    " + ",\n    ".join(conns) + "\n  );")
    return (
        "`default_nettype none\n"
        f"module {TB_TOP} (\n    " + ",\n    ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n"
    )


# ------------------------------------------------------------------------------------ helpers
def _now() -> float:
    return float(cocotb.utils.get_sim_time("ns"))


def _cycles(t0: float) -> int:
    return round((_now() - t0) / tb_lib.CLK_NS)


class Checker:
    """Counts mismatches (logged) and compared items."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.mismatches = 0
        self.compared = 0

    def eq(self, got: Any, want: Any, what: str) -> None:
        self.compared += 1
        if got != want:
            self.mismatches += 1
            if self.mismatches <= 20:
                self.log.error("%s: got %s, want %s", what, got, want)


def watch_bursts(dut: Any, ch: str, bursts: list[tuple[int, int]]) -> None:
    """Record (address, LEN) of every ``ch`` (AR or AW) handshake of m_axi_gmem."""
    valid, ready = getattr(dut, f"m_axi_gmem_{ch}VALID"), getattr(dut, f"m_axi_gmem_{ch}READY")
    addr, alen = getattr(dut, f"m_axi_gmem_{ch}ADDR"), getattr(dut, f"m_axi_gmem_{ch}LEN")

    async def watch() -> None:
        while True:
            await FallingEdge(dut.ap_clk)
            if int(valid.value) and int(ready.value):
                bursts.append((int(addr.value), int(alen.value)))

    cocotb.start_soon(watch())


def check_bursts(chk: Checker, bursts: list[tuple[int, int]], ch: str) -> None:
    for a, n in bursts:
        chk.eq(a % 4096 + (n + 1) * BYTES <= 4096, True, f"{ch} 0x{a:x} len {n} crosses 4 KB")
        chk.eq(n <= MAXBURST - 1, True, f"{ch} 0x{a:x} len {n} > MAXBURST-1")
        chk.eq(a % BYTES, 0, f"{ch} 0x{a:x} unaligned")


async def command(dut: Any, p: str, addr: int, beats: int) -> float:
    """Offer a command on the ``p`` (rd / wr) master until it is taken; returns the time of the
    handshake's rising edge."""
    await FallingEdge(dut.ap_clk)
    getattr(dut, f"{p}_cmd_addr").value = addr
    getattr(dut, f"{p}_cmd_beats").value = beats
    getattr(dut, f"{p}_cmd_valid").value = 1
    while not int(getattr(dut, f"{p}_cmd_ready").value):
        await FallingEdge(dut.ap_clk)
    await RisingEdge(dut.ap_clk)
    t0 = _now()
    getattr(dut, f"{p}_cmd_valid").value = 0
    return t0


async def wait_done(dut: Any, p: str, budget: int) -> int:
    """Cycles until the ``p`` master's done pulse (seen at a falling edge); checks busy drops with it."""
    done, busy = getattr(dut, f"{p}_done"), getattr(dut, f"{p}_busy")
    for n in range(budget):
        await FallingEdge(dut.ap_clk)
        if int(done.value):
            assert not int(busy.value), f"{p}: busy with done"
            await FallingEdge(dut.ap_clk)
            assert not int(done.value), f"{p}: done must be a one-cycle pulse"
            return n  # done was set at the rising edge n cycles after the command's
    raise AssertionError(f"{p}: no done within {budget} cycles")


def _word(mem: bytes | bytearray, addr: int) -> int:
    return int.from_bytes(mem[addr : addr + BYTES], "little")


def _ram(dut: Any, size: int) -> AxiRam:
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n, False, size=size)
    ram.read_if.log.setLevel("WARNING")
    ram.write_if.log.setLevel("WARNING")
    return ram


def _ram_pauses(ram: AxiRam, seed: int | None) -> None:
    chans = [
        ram.read_if.ar_channel,
        ram.read_if.r_channel,
        ram.write_if.aw_channel,
        ram.write_if.w_channel,
        ram.write_if.b_channel,
    ]
    for i, ch in enumerate(chans):
        if seed is None:
            ch.set_pause_generator(None)
            ch.pause = False
        else:
            ch.set_pause_generator(tb_lib.pauses(random.Random(seed + i), tb_lib.P_PAUSE))


#: every input of the test top but the clock and reset: 0 during reset (a model that drives one
#: drives it from then on)
_ZERO = (
    *(f"{p}_cmd_{s}" for p in ("rd", "wr") for s in ("valid", "addr", "beats")),
    *("ap_done", "ap_ready", "ap_idle"),
    *("rd_out_TREADY", "wr_in_TVALID", "up_in_TVALID", "up_out_TREADY", "pk_in_TVALID", "pk_out_TREADY"),
    *(f"s_axi_control_{s}" for s in ("AWVALID", "WVALID", "BREADY", "ARVALID", "RREADY")),
    *(f"m_axi_gmem_{s}" for s in ("ARREADY", "RVALID", "AWREADY", "WREADY", "BVALID")),
)


# ------------------------------------------------------------------------------------ scenarios
async def read_scenario(dut: Any, chk: Checker, res: dict[str, Any]) -> None:
    ram = _ram(dut, 2**17)
    mon = Monitor(dut, "rd_out", DW)
    await tb_lib.reset(dut, ("rd_out",), _ZERO)
    mem = np.random.default_rng(7).integers(0, 256, 2**17, dtype=np.uint8).tobytes()
    ram.write(0, mem)
    bursts: list[tuple[int, int]] = []
    watch_bursts(dut, "AR", bursts)
    cmds = [
        (3 * 4096 - 5 * BYTES, 300),  # starts 5 beats before a 4 KB boundary, crosses 4 more
        (0x8000 - BYTES, 1),
        (0x9000 + 7 * BYTES, 130),
        (0x2000, 0),  # no beats: done only
        (0xA000, 64),  # exactly one page-aligned full burst
        (0xC000 - 63 * BYTES, 200),
    ]
    for i, (addr, beats) in enumerate(cmds):
        _ram_pauses(ram, 100 + 10 * i)
        tb_lib.set_pauses([mon.sink], 200 + i)
        await command(dut, "rd", addr, beats)
        await wait_done(dut, "rd", 60 * beats + 200)
        words = mon.collect()
        chk.eq(len(words), beats, f"read {i}: beats")
        for b, w in enumerate(words[:beats]):
            chk.eq(w, _word(mem, addr + b * BYTES), f"read {i} beat {b}")
    check_bursts(chk, bursts, "AR")
    res["bursts"] = bursts


async def write_scenario(dut: Any, chk: Checker, res: dict[str, Any]) -> None:
    ram = _ram(dut, 2**17)
    drv = Driver(dut, "wr_in", DW)
    await tb_lib.reset(dut, ("wr_in",), _ZERO)
    mem = bytearray(np.random.default_rng(8).integers(0, 256, 2**17, dtype=np.uint8).tobytes())
    ram.write(0, bytes(mem))
    bursts: list[tuple[int, int]] = []
    watch_bursts(dut, "AW", bursts)
    cmds = [(2 * 4096 - 3 * BYTES, 150), (0x5000 + 10 * BYTES, 70), (0x7000 - BYTES, 1), (0x8000, 0)]
    cmds += [(0x9000, 128), (0xC000 - 63 * BYTES, 130)]
    rng = random.Random(9)
    data = [[rng.getrandbits(DW) for _ in range(n)] for _, n in cmds]
    await drv.send([w for ws in data for w in ws])  # one stream: each command takes its own beats
    for i, ((addr, beats), words) in enumerate(zip(cmds, data, strict=True)):
        _ram_pauses(ram, 300 + 10 * i)
        tb_lib.set_pauses([drv.src], 400 + i)
        await command(dut, "wr", addr, beats)
        await wait_done(dut, "wr", 60 * beats + 200)
        for b, w in enumerate(words):
            mem[addr + b * BYTES : addr + (b + 1) * BYTES] = w.to_bytes(BYTES, "little")
        got = ram.read(0, len(mem))
        for b in range(-2, beats + 2):  # the command's beats and two on each side (unchanged)
            a = addr + b * BYTES
            chk.eq(_word(got, a), _word(mem, a), f"write {i} beat {b}")
        chk.eq(got == bytes(mem), True, f"write {i}: the rest of memory")
    chk.eq(drv.src.empty(), True, "the write master left input beats")
    check_bursts(chk, bursts, "AW")
    res["bursts"] = bursts


async def slow_ram(dut: Any, mem: bytes, latency: int) -> None:
    """A read-only AXI slave on m_axi_gmem: ARREADY always high, the beats of a burst are offered
    from ``latency`` cycles after its AR on, one a cycle (RVALID held until RREADY)."""
    dut.m_axi_gmem_ARREADY.value = 1
    dut.m_axi_gmem_RVALID.value = 0
    dut.m_axi_gmem_RID.value = 0
    dut.m_axi_gmem_RRESP.value = 0
    beats: collections.deque[tuple[int, int, int]] = collections.deque()  # (ready cycle, addr, last)
    cyc = 0
    while True:
        await FallingEdge(dut.ap_clk)
        cyc += 1
        head = beats[0] if beats and beats[0][0] <= cyc else None
        dut.m_axi_gmem_RVALID.value = int(head is not None)
        if head is not None:
            dut.m_axi_gmem_RDATA.value = _word(mem, head[1])
            dut.m_axi_gmem_RLAST.value = head[2]
            if int(dut.m_axi_gmem_RREADY.value):  # taken at the next rising edge
                beats.popleft()
        if int(dut.m_axi_gmem_ARVALID.value):
            a, n = int(dut.m_axi_gmem_ARADDR.value), int(dut.m_axi_gmem_ARLEN.value) + 1
            beats.extend((cyc + latency, a + k * BYTES, int(k == n - 1)) for k in range(n))


async def timed_read(dut: Any, chk: Checker, mon: Monitor, mem: bytes, n: int) -> dict[str, int]:
    """Read ``n`` beats from 0x4000 at full rate (no TREADY backpressure); the cycles from the
    command to the first / last beat (their handshake edges) and to done."""
    t0 = await command(dut, "rd", 0x4000, n)
    watch, beats = tb_lib.watch_beats(dut, t0, {"rd_out": n})
    done = await wait_done(dut, "rd", 20 * n)
    watch.cancel()
    words = mon.collect()
    chk.eq(words == [_word(mem, 0x4000 + b * BYTES) for b in range(n)], True, "timed read: data")
    cyc = beats["rd_out"]
    dut._log.info("read: %d beats, first beat at cycle %d, last at %d, done %d", n, cyc[0], cyc[-1], done)
    return {"first": cyc[0], "last": cyc[-1], "done": done, "beats": n}


async def perf_scenario(dut: Any, chk: Checker, res: dict[str, Any]) -> None:
    """512 beats at full rate, read and write, against AxiRam (no pauses)."""
    n = 512
    ram = _ram(dut, 2**17)
    mon, drv = Monitor(dut, "rd_out", DW), Driver(dut, "wr_in", DW)
    await tb_lib.reset(dut, ("rd_out", "wr_in"), _ZERO)
    mem = np.random.default_rng(10).integers(0, 256, 2**17, dtype=np.uint8).tobytes()
    ram.write(0, mem)
    _ram_pauses(ram, None)
    tb_lib.set_pauses([mon.sink, drv.src], None)
    res["read_axiram"] = await timed_read(dut, chk, mon, mem, n)
    rng = random.Random(11)
    data = [rng.getrandbits(DW) for _ in range(n)]
    await drv.send(data)
    t0 = await command(dut, "wr", 0x10000, n)
    watch, beats = tb_lib.watch_beats(dut, t0, {"wr_in": n})
    done = await wait_done(dut, "wr", 20 * n)
    watch.cancel()
    got = ram.read(0x10000, n * BYTES)
    chk.eq([_word(got, b * BYTES) for b in range(n)] == data, True, "write: data")
    res["write_axiram"] = {"first": beats["wr_in"][0], "last": beats["wr_in"][-1], "done": done, "beats": n}
    dut._log.info("write: %d beats, done at cycle %d", n, done + 1)


async def latency_scenario(dut: Any, chk: Checker, res: dict[str, Any], latency: int) -> None:
    """512 beats at full rate against slow_ram (``latency`` cycles from AR to its data)."""
    mon = Monitor(dut, "rd_out", DW)
    await tb_lib.reset(dut, ("rd_out",), _ZERO)
    mem = np.random.default_rng(14).integers(0, 256, 2**17, dtype=np.uint8).tobytes()
    cocotb.start_soon(slow_ram(dut, mem, latency))
    tb_lib.set_pauses([mon.sink], None)
    bursts: list[tuple[int, int]] = []
    watch_bursts(dut, "AR", bursts)
    res["read_latency"] = {**await timed_read(dut, chk, mon, mem, 512), "latency": latency}
    check_bursts(chk, bursts, "AR")


async def ctrl_scenario(dut: Any, chk: Checker, res: dict[str, Any]) -> None:
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n, False)
    axil.write_if.log.setLevel("WARNING")
    axil.read_if.log.setLevel("WARNING")
    await tb_lib.reset(dut, (), _ZERO)
    dut.ap_idle.value = 1
    kernel = {"starts": 0, "violations": 0, "run": 30}

    async def fake_kernel() -> None:
        """ap_ctrl_hs like sparsehls_ap_ctrl: a call starts on ap_start while idle, runs
        kernel["run"] cycles, then ap_done and ap_ready pulse together for one cycle; ap_start
        must stay high all the while (checked at every falling edge)."""
        state, left = "idle", 0
        while True:
            await FallingEdge(dut.ap_clk)
            start = int(dut.ap_start.value)
            if state == "idle" and start:
                kernel["starts"] += 1
                state, left = "run", kernel["run"]
                dut.ap_idle.value = 0
            elif state == "run":
                if not start:
                    kernel["violations"] += 1
                left -= 1
                if left == 0:
                    state = "done"
                    dut.ap_done.value = 1
                    dut.ap_ready.value = 1
            elif state == "done":
                state = "idle"
                dut.ap_done.value = 0
                dut.ap_ready.value = 0
                dut.ap_idle.value = 1

    async def ctrl_reg() -> int:
        return int(await axil.read_dword(0x00))

    cocotb.start_soon(fake_kernel())
    await RisingEdge(dut.ap_clk)
    await RisingEdge(dut.ap_clk)
    chk.eq(await ctrl_reg(), 0x4, "control after reset (idle)")
    for a in (0x04, 0x08, 0x0C):
        chk.eq(int(await axil.read_dword(a)), 0, f"reg 0x{a:02x} after reset")

    # argument registers: words, byte strobes, the flat args port
    rng = random.Random(12)
    vals = [rng.getrandbits(64) for _ in range(NARGS)]
    for i, v in enumerate(vals):
        await axil.write_dword(0x10 + 8 * i, v & 0xFFFFFFFF)
        await axil.write_dword(0x14 + 8 * i, v >> 32)
    await axil.write(0x15, b"\xab")  # one byte of arg 0's high word (WSTRB = 0010)
    vals[0] = (vals[0] & ~(0xFF << 40)) | (0xAB << 40)
    for i, v in enumerate(vals):
        got = int(await axil.read_dword(0x10 + 8 * i)) | int(await axil.read_dword(0x14 + 8 * i)) << 32
        chk.eq(got, v, f"arg {i} read back")
    flat = int(dut.args.value)
    for i, v in enumerate(vals):
        chk.eq((flat >> (64 * i)) & (2**64 - 1), v, f"args port, arg {i}")
    chk.eq(int(await axil.read_dword(0x10 + 8 * NARGS)), 0, "past the last argument")

    # one call: ap_start reads 1 until ap_ready, ap_done / ap_ready clear on read
    await axil.write_dword(0x00, 1)
    chk.eq(await ctrl_reg() & 0xF, 0x1, "control while running (start, not idle)")
    while kernel["starts"] == 0 or int(dut.ap_idle.value) == 0:
        await RisingEdge(dut.ap_clk)
    for _ in range(3):
        await RisingEdge(dut.ap_clk)
    chk.eq(int(dut.ap_start.value), 0, "ap_start after ap_ready")
    chk.eq(await ctrl_reg() & 0xF, 0xE, "control after the call (done, idle, ready)")
    chk.eq(await ctrl_reg() & 0xF, 0x4, "control read again (done, ready cleared on read)")
    chk.eq(kernel["starts"], 1, "one start per ap_start write")
    chk.eq(int(dut.interrupt.value), 0, "no interrupt with GIE = IER = 0")
    chk.eq(int(await axil.read_dword(0x0C)), 0, "ISR stays 0 with IER = 0")

    # interrupts: IER done only, then ISR toggle on write
    await axil.write_dword(0x04, 1)
    await axil.write_dword(0x08, 1)
    chk.eq(int(await axil.read_dword(0x08)), 1, "IER")
    await axil.write_dword(0x00, 1)
    while int(dut.interrupt.value) == 0:
        await RisingEdge(dut.ap_clk)
    chk.eq(int(await axil.read_dword(0x0C)), 1, "ISR after a call with IER = done")
    await axil.write_dword(0x0C, 1)  # toggle: clears
    chk.eq(int(await axil.read_dword(0x0C)), 0, "ISR after the toggle")
    chk.eq(int(dut.interrupt.value), 0, "interrupt after clearing ISR")
    await axil.write_dword(0x0C, 2)  # toggle sets bit 1
    chk.eq(int(await axil.read_dword(0x0C)), 2, "ISR bit 1 toggled on")
    chk.eq(int(dut.interrupt.value), 1, "interrupt follows ISR")
    await axil.write_dword(0x04, 0)
    chk.eq(int(dut.interrupt.value), 0, "GIE = 0 masks the interrupt")
    await axil.write_dword(0x0C, 2)
    await axil.write_dword(0x08, 3)
    await axil.write_dword(0x00, 1)
    for _ in range(20):  # until the call is over
        if int(await axil.read_dword(0x0C)) == 3:
            break
    chk.eq(int(await axil.read_dword(0x0C)), 3, "ISR with IER = done | ready")
    await axil.write_dword(0x0C, 3)
    chk.eq(int(await axil.read_dword(0x0C)), 0, "ISR cleared by toggling both")
    await ctrl_reg()  # clear done / ready

    # auto_restart: the kernel runs again and again until the host writes 0
    before = kernel["starts"]
    await axil.write_dword(0x00, 0x81)
    chk.eq((await ctrl_reg()) >> 7 & 1, 1, "auto_restart reads back")
    for _ in range(3 * (kernel["run"] + 2)):
        await RisingEdge(dut.ap_clk)
    chk.eq(kernel["starts"] - before >= 3, True, f"auto_restart: {kernel['starts'] - before} starts")
    await axil.write_dword(0x00, 0)
    for _ in range(2 * (kernel["run"] + 2)):
        await RisingEdge(dut.ap_clk)
    stopped = kernel["starts"]
    for _ in range(2 * (kernel["run"] + 2)):
        await RisingEdge(dut.ap_clk)
    chk.eq(kernel["starts"], stopped, "auto_restart off: no more starts")
    chk.eq(int(dut.ap_start.value), 0, "ap_start low after auto_restart off")
    chk.eq(kernel["violations"], 0, "ap_start dropped before ap_ready")
    res["starts"] = kernel["starts"]


async def width_scenario(dut: Any, chk: Checker, res: dict[str, Any]) -> None:
    up_in, up_out = Driver(dut, "up_in", DW), Monitor(dut, "up_out", NARROW)
    pk_in, pk_out = Driver(dut, "pk_in", NARROW), Monitor(dut, "pk_out", DW)
    await tb_lib.reset(dut, ("up_in", "up_out", "pk_in", "pk_out"), ())
    k = DW // NARROW
    rng = random.Random(13)
    for r, seed in enumerate((None, 20)):
        tb_lib.set_pauses([up_in.src, up_out.sink, pk_in.src, pk_out.sink], seed)
        wide = [rng.getrandbits(DW) for _ in range(40)]
        narrow = [rng.getrandbits(NARROW) for _ in range(40 * k)]
        await up_in.send(wide)
        await pk_in.send(narrow)
        t0 = _now()
        want_up = [(w >> (NARROW * j)) & (2**NARROW - 1) for w in wide for j in range(k)]
        want_pk = [sum(narrow[i * k + j] << (NARROW * j) for j in range(k)) for i in range(40)]
        got_up: list[int] = []
        got_pk: list[int] = []
        for _ in range(2000):
            await RisingEdge(dut.ap_clk)
            got_up += up_out.collect()
            got_pk += pk_out.collect()
            if len(got_up) >= len(want_up) and len(got_pk) >= len(want_pk):
                break
        chk.eq(got_up, want_up, f"unpack run {r}")
        chk.eq(got_pk, want_pk, f"pack run {r}")
        res[f"run{r}"] = {"cycles": _cycles(t0), "narrow_beats": len(want_up)}


@cocotb.test()
async def axi_shell(dut: Any) -> None:
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    scenario = str(case["scenario"])
    chk = Checker(dut._log)
    res: dict[str, Any] = {"scenario": scenario}
    if scenario == "ctrl":
        await ctrl_scenario(dut, chk, res)
    elif scenario == "read":
        await read_scenario(dut, chk, res)
    elif scenario == "write":
        await write_scenario(dut, chk, res)
    elif scenario == "perf":
        await perf_scenario(dut, chk, res)
    elif scenario == "latency":
        await latency_scenario(dut, chk, res, int(case["latency"]))
    elif scenario == "width":
        await width_scenario(dut, chk, res)
    else:
        raise ValueError(f"no scenario {scenario!r}")
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump({**res, "mismatches": chk.mismatches, "compared": chk.compared}, f)
    assert chk.mismatches == 0, f"{chk.mismatches} checks failed"
