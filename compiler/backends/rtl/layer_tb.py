"""cocotb testbench of a generated encoder-layer top (compiler/backends/rtl/layer.py).

Shape of cocotb's matrix_multiplier example, with the pieces of ``tb_lib``: a
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
import os

import cocotb
import numpy as np

from compiler.backends.rtl import tb_lib
from compiler.backends.rtl.lanes import beats_to_rows, rows_to_beats
from compiler.backends.rtl.tb_lib import Driver, Monitor, Scoreboard


class Model:
    """The golden layer output of a call (the integer trace), in y_out's lane layout."""

    def __init__(self, hidden: int, lanes: int) -> None:
        self.hidden, self.lanes = hidden, lanes
        self.beats = -(-hidden // lanes)

    def rows_to_beats(self, x: np.ndarray) -> list[int]:
        return rows_to_beats(x, self.lanes, self.beats)

    def beats_to_rows(self, words: list[int], tokens: int) -> np.ndarray:
        if len(words) != tokens * self.beats:
            return np.zeros((len(words), 0), dtype=np.int64)  # shape mismatch: the scoreboard counts it
        return beats_to_rows(words, tokens, self.lanes, self.beats)

    def expected(self, want: np.ndarray) -> np.ndarray:
        out = np.zeros((want.shape[0], self.beats * self.lanes), dtype=np.int64)
        out[:, : self.hidden] = want  # pad lanes must come out 0
        return out


class Testbench:
    def __init__(self, dut, hidden: int, lanes: int) -> None:
        self.dut = dut
        self.x = Driver(dut, "x_in", lanes * 8)
        self.mask = Driver(dut, "mask_in", 8)
        self.monitor = Monitor(dut, "y_out", lanes * 8)
        self.model = Model(hidden, lanes)
        self.scoreboard = Scoreboard(dut._log)

    async def run(
        self, x: np.ndarray, mask: np.ndarray, want: np.ndarray, seed: int | None, budget: int, label: str
    ) -> int:
        """One ap_start..ap_done call; returns its cycle count."""
        tb_lib.set_pauses([self.x.src, self.mask.src, self.monitor.sink], seed)
        await self.x.send(self.model.rows_to_beats(x))
        await self.mask.send([int(m) for m in mask])
        t0 = await tb_lib.start(self.dut, {"n_tokens": x.shape[0]})
        cycles = await tb_lib.finish(self.dut, t0, budget)
        got = self.model.beats_to_rows(self.monitor.collect(), x.shape[0])
        self.scoreboard.compare(got, self.model.expected(want), label)
        return cycles


@cocotb.test()
async def layer_runs(dut) -> None:
    """Every call of the case, back to back, every output word compared with the golden trace."""
    case = dict(np.load(os.environ["SPARSEHLS_CASE"]))
    tb = Testbench(dut, int(case["hidden"]), int(case["x_lanes"]))
    await tb_lib.reset(dut, ("x_in", "mask_in", "y_out"), zero=("ap_start", "n_tokens"))
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
        json.dump(tb.scoreboard.result(results), f)
    assert tb.scoreboard.mismatches == 0, f"{tb.scoreboard.mismatches} output words differ from the golden"
