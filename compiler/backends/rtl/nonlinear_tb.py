"""cocotb testbench of the non-linear RTL units (int_gelu, int_add, int_layernorm, int_softmax).

Same shape as ``linear_tb``, with the pieces of ``tb_lib``: Drivers (cocotbext-axi
AXI-Stream sources, random idle cycles), a Monitor (sink, random
backpressure), the Model (the golden ``run_int`` of the op, or
``intops.softmax_rows``) and the Scoreboard that compares every output element.
The case comes from ``$SPARSEHLS_CASE`` (written by ``nonlinear.run_unit``),
the measured cycles go to ``$SPARSEHLS_RESULT``.  A W-lane LayerNorm build
(``nonlinear.UNITS`` parameter ``W``) gets its rows padded to whole beats: the
pad lanes of the input carry random words, those of the output must be 0, and
every output word is compared (the lane count is read off the DUT's port width).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from compiler.backends.rtl import tb_lib
from compiler.backends.rtl.lanes import rows_to_beats, unpack_lanes
from compiler.backends.rtl.tb_lib import MOST_BEATS, TIMEOUT_CYCLES, Driver, Monitor, Scoreboard
from compiler.golden import intops
from compiler.golden.ops import add as golden_add
from compiler.golden.ops import attention as golden_attention
from compiler.golden.ops import gelu as golden_gelu
from compiler.golden.ops import layernorm as golden_layernorm
from compiler.ir.graph import Graph, Node, frozen


def _words(x: np.ndarray, bits: int) -> list[int]:
    return [int(v) & ((1 << bits) - 1) for v in np.asarray(x, dtype=np.int64).ravel()]


def _graph(op: str, params: dict[str, np.ndarray], attrs: dict[str, Any], n_in: int) -> tuple[Node, Graph]:
    ins = tuple(f"x{i}" for i in range(n_in))
    node = Node(
        op=op,
        name="dut",
        inputs=ins,
        outputs=("y",),
        params=frozen({k: k for k in params}),
        attrs=frozen(attrs),
    )
    return node, Graph(nodes=(node,), inputs=ins, outputs=("y",), params=frozen(params))


def _ms(case: dict[str, np.ndarray], tag: str, params: dict, attrs: dict, h: int) -> None:
    m, s = case[f"{tag}_mult"], case[f"{tag}_shift"]
    if m.ndim:
        params[f"{tag}_mult"], params[f"{tag}_shift"] = m[:h], s[:h]
    else:
        attrs[f"{tag}_mult"], attrs[f"{tag}_shift"] = int(m), int(s)


# ---------------------------------------------------------------- per unit
def gelu_ports(case, run) -> dict[str, int]:
    keys = ("in_mult", "in_shift", "out_mult", "out_shift", "out_offset", "out_zero")
    ports = {k: int(case[k]) for k in keys}
    ports["n_elems"] = run["x"].size
    return ports


def gelu_model(case, run) -> np.ndarray:
    attrs = {
        k: int(case[k]) for k in ("in_mult", "in_shift", "out_mult", "out_shift", "out_offset", "out_zero")
    }
    node, g = _graph("gelu", {}, attrs, 1)
    return golden_gelu.run_int(node, [run["x"]], g)


def add_ports(case, run) -> dict[str, int]:
    return {"n_elems": run["a"].size, "n_ch": run["a"].shape[1], "use_b": int(case["use_b"])}


def add_model(case, run) -> np.ndarray:
    params: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    h = run["a"].shape[1]
    _ms(case, "a", params, attrs, h)
    ins = [run["a"]]
    if int(case["use_b"]):
        _ms(case, "b", params, attrs, h)
        ins.append(run["b"])
    if "const_q" in case:
        params["const_q"] = case["const_q"][:h]
    node, g = _graph("add", params, attrs, len(ins))
    return golden_add.run_int(node, ins, g)


def _row_beats(rows: np.ndarray, lanes: int, fill: np.ndarray | None = None) -> np.ndarray:
    """Rows padded to whole beats of ``lanes`` elements (pad lanes from ``fill``, else 0)."""
    rows = np.asarray(rows, dtype=np.int64)
    n, h = rows.shape
    width = -(-h // lanes) * lanes
    out = np.zeros((n, width), dtype=np.int64) if fill is None else fill[:n, :width].copy()
    out[:, :h] = rows
    return out


def layernorm_beats(case, run) -> dict[str, list[int]]:
    """W lanes per beat, lane 0 low; a row's pad lanes carry random words (the unit must ignore them)."""
    lanes = int(case["lanes"])
    r = np.asarray(run["r"])
    junk = np.random.default_rng(r.shape[1]).integers(-(2**31), 2**31, size=(r.shape[0], r.shape[1] + lanes))
    words = _words(_row_beats(r, lanes, junk), 32)
    return {
        "x_in": [
            sum(w << (32 * i) for i, w in enumerate(words[j : j + lanes]))
            for j in range(0, len(words), lanes)
        ]
    }


def layernorm_ports(case, run) -> dict[str, int]:
    return {"n_rows": run["r"].shape[0], "h": run["r"].shape[1], "eps_q": int(case["eps_q"])}


def layernorm_model(case, run) -> np.ndarray:
    h = run["r"].shape[1]
    params = {k: case[k][:h] for k in ("gamma_q", "beta_q")}
    attrs: dict[str, Any] = {"eps_q": int(case["eps_q"])}
    if case["mult"].ndim:
        params["mult"], params["shift"] = case["mult"][:h], case["shift"][:h]
    else:
        attrs["mult"], attrs["shift"] = int(case["mult"]), int(case["shift"])
    node, g = _graph("layernorm", params, attrs, 1)
    return golden_layernorm.run_int(node, [run["r"]], g)


def softmax_ports(case, run) -> dict[str, int]:
    return {
        "n_rows": run["s"].shape[0],
        "row_len": run["s"].shape[1],
        "sm_mult": int(case["mult"]),
        "sm_shift": int(case["shift"]),
    }


def softmax_beats(case, run) -> dict[str, list[int]]:
    return {
        "x_in": [w | (int(v) << 32) for w, v in zip(_words(run["s"], 32), run["valid"].ravel(), strict=True)]
    }


def softmax_model(case, run) -> np.ndarray:
    return intops.softmax_rows(run["s"], run["valid"].astype(bool), int(case["mult"]), int(case["shift"]))


def attention_ports(case, run) -> dict[str, int]:
    keys = ("sm_mult", "sm_shift", "out_mult", "out_shift")
    return {"seq_len": run["k"].shape[0], "n_q": run["q"].shape[0], **{k: int(case[k]) for k in keys}}


def attention_beats(case, run) -> dict[str, list[int]]:
    d = run["q"].shape[1]
    k = [
        w | (int(m != 0) << (8 * d)) for w, m in zip(rows_to_beats(run["k"], d, 1), run["mask"], strict=True)
    ]
    return {"k_in": k, "v_in": rows_to_beats(run["v"], d, 1), "q_in": rows_to_beats(run["q"], d, 1)}


def attention_model(case, run) -> np.ndarray:
    d = run["q"].shape[1]
    attrs = {
        "heads": 1,
        "head_dim": d,
        **{k: int(case[k]) for k in ("sm_mult", "sm_shift", "out_mult", "out_shift")},
    }
    node, g = _graph("attention", {}, attrs, 4)
    return golden_attention.run_int(
        node, [run["q"][None], run["k"][None], run["v"][None], run["mask"][None]], g
    )


@dataclass(frozen=True)
class Spec:
    sources: tuple[str, ...]  # stream prefixes (TDATA widths are read off the DUT)
    sink: tuple[str, int, bool]  # (prefix, bits per lane, signed); lanes = TDATA width / bits
    ports: Callable[[Any, Any], dict[str, int]]
    model: Callable[[Any, Any], np.ndarray]
    beats: Callable[[Any, Any], dict[str, list[int]]]
    row_beats: bool = False  # rows start on a new beat; the sink's pad lanes are 0


SPECS: dict[str, Spec] = {
    "gelu": Spec(
        ("x_in",), ("y_out", 8, True), gelu_ports, gelu_model, lambda c, r: {"x_in": _words(r["x"], 32)}
    ),
    "add": Spec(
        ("a_in", "b_in"),
        ("r_out", 32, True),
        add_ports,
        add_model,
        lambda c, r: {"a_in": _words(r["a"], 32), "b_in": _words(r["b"], 32) if int(c["use_b"]) else []},
    ),
    "layernorm": Spec(
        ("x_in",),
        ("y_out", 8, True),
        layernorm_ports,
        layernorm_model,
        layernorm_beats,
        row_beats=True,
    ),
    "attention": Spec(
        ("k_in", "v_in", "q_in"), ("o_out", 8, True), attention_ports, attention_model, attention_beats
    ),
    "softmax": Spec(("x_in",), ("y_out", 8, False), softmax_ports, softmax_model, softmax_beats),
}
RUN_KEYS = {
    "gelu": "x",
    "add": "a",
    "layernorm": "r",
    "softmax": "s",
    "attention": "q",
}  # the run's main input


class Testbench:
    def __init__(self, dut, case: dict[str, np.ndarray]) -> None:
        self.dut = dut
        self.case = case
        self.unit = str(case["unit"])
        self.spec = SPECS[self.unit]
        self.drivers = {p: Driver(dut, p, len(getattr(dut, f"{p}_TDATA"))) for p in self.spec.sources}
        prefix, bits, _ = self.spec.sink
        self.width = len(getattr(dut, f"{prefix}_TDATA"))
        self.monitor = Monitor(dut, prefix, self.width)
        self.scoreboard = Scoreboard(dut._log)
        self.beats: dict[str, list[int]] = {}  # the last run's beat cycles (handshakes)

    async def send_later(self, prefix: str, beats: list[int], cycles: int) -> None:
        for _ in range(cycles):
            await RisingEdge(self.dut.ap_clk)
        await self.drivers[prefix].send(beats)

    async def run(self, run: dict[str, np.ndarray], pause_seed: int | None, label: str) -> int:
        dut = self.dut
        tb_lib.set_pauses([*(d.src for d in self.drivers.values()), self.monitor.sink], pause_seed)
        _, bits, signed = self.spec.sink
        lanes = self.width // bits
        case = {**self.case, **run, "lanes": lanes}  # a run's scalars override the case's
        in_beats = self.spec.beats(case, run)
        # "delay_<prefix>": that stream's beats are offered only this many cycles after ap_start
        delays = {p: int(run[f"delay_{p}"]) for p in in_beats if f"delay_{p}" in run}
        for prefix, beats in in_beats.items():
            if prefix not in delays:
                await self.drivers[prefix].send(beats)
        # the golden's own output when the caller has it (run_rtlsim: the trace), else the Model
        want = np.asarray(run["want"] if "want" in run else self.spec.model(case, run)).ravel()
        if self.spec.row_beats:  # every output word, pad lanes (0) included
            main = np.asarray(run[RUN_KEYS[self.unit]])
            want = _row_beats(want.reshape(main.shape), lanes).ravel()
        t0 = await tb_lib.start(dut, self.spec.ports(case, run))
        most = {p: len(in_beats.get(p, ())) for p in self.spec.sources} | {
            self.spec.sink[0]: want.size // lanes
        }
        watch, self.beats = tb_lib.watch_beats(dut, t0, most)
        for prefix, cyc in delays.items():
            cocotb.start_soon(self.send_later(prefix, in_beats[prefix], cyc))
        cycles = await tb_lib.finish(dut, t0, TIMEOUT_CYCLES + 20 * want.size, watch)
        got = np.array(
            [v for w in self.monitor.collect() for v in unpack_lanes(w, lanes, bits, signed)], dtype=np.int64
        )
        self.scoreboard.compare(got.reshape(1, -1), want.reshape(1, -1), label)
        for d in self.drivers.values():
            assert d.src.empty(), f"{label}: the unit left input beats unread"
        return cycles


@cocotb.test()
async def unit_runs(dut) -> None:
    """Every run of the case, back to back, compared element by element with the golden."""
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    unit = str(case["unit"])
    tb = Testbench(dut, case)
    await tb_lib.reset(dut, (*tb.spec.sources, tb.spec.sink[0]))
    results = []
    for r in range(int(case["runs"])):
        run = {k.split(".", 1)[1]: v for k, v in case.items() if k.startswith(f"run{r}.")}
        seed = int(run["pause"])
        cycles = await tb.run(run, None if seed < 0 else seed, f"run{r}")
        first = run[RUN_KEYS[unit]]
        beats = {p: b[:MOST_BEATS] for p, b in tb.beats.items()}
        results.append(
            {
                "elems": int(first.size),
                "rows": int(first.shape[0]) if first.ndim > 1 else 1,
                "paused": seed >= 0,
                "cycles": cycles,
                "beats": beats,  # cycle of each stream beat (from ap_start; the first 4096)
            }
        )
    with open(os.environ["SPARSEHLS_RESULT"], "w") as f:
        json.dump(tb.scoreboard.result(results), f)
    assert tb.scoreboard.mismatches == 0, f"{tb.scoreboard.mismatches} output elements differ from the golden"
