"""Run the RTL linear engine under Verilator + cocotb (cocotb_tools.runner).

One Verilator build per engine shape (BM, BN, NB, KB, NNZB_CAP, TT, OB, PACK,
REQ_LANES, XW): the
weights are ROM files read by ``$readmemh`` when the simulation starts, so
every weight set, sparsity and token count of one shape reuses the build.
Each case runs in its own folder holding its ROM files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.rtl import verilate
from compiler.backends.rtl.linear import CORE_SV, PKG_SV, LinearPlan, mem_files
from compiler.hw.builds import RTL_ENGINE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineShape:
    bm: int
    bn: int
    nb: int
    kb: int
    cap: int
    tt: int
    ob: int = 8
    pack: int = RTL_ENGINE.pack  # PACK
    req_lanes: int | None = RTL_ENGINE.requant_lanes  # REQ_LANES; None = bm (the RTL default)
    xw: int = RTL_ENGINE.xw  # XW: bn-words per x_in beat
    rq_fabric: int = RTL_ENGINE.rq_fabric  # RQ_FABRIC: requant products on DSPs (0), in LUTs (1), split (2)

    @property
    def tag(self) -> str:
        tag = f"bm{self.bm}_bn{self.bn}_nb{self.nb}_kb{self.kb}_cap{self.cap}_tt{self.tt}_ob{self.ob}"
        # a label for a shape (the build folder is keyed by verilate.build); defaults stay unnamed
        if self.pack != 1:
            tag += f"_pack{self.pack}"
        if self.req_lanes is not None and self.req_lanes != self.bm:
            tag += f"_rq{self.req_lanes}"
        if self.xw != 1:
            tag += f"_xw{self.xw}"
        if self.rq_fabric != 0:
            tag += f"_rqf{self.rq_fabric}"
        return tag

    def parameters(self) -> dict[str, int]:
        params = {
            "BM": self.bm,
            "BN": self.bn,
            "NB": self.nb,
            "KB": self.kb,
            "NNZB_CAP": self.cap,
            "TT": self.tt,
            "OB": self.ob,
        }
        if self.pack != 1:
            params["PACK"] = self.pack
        if self.req_lanes is not None and self.req_lanes != self.bm:
            params["REQ_LANES"] = self.req_lanes
        if self.xw != 1:
            params["XW"] = self.xw
        if self.rq_fabric != 0:
            params["RQ_FABRIC"] = self.rq_fabric
        return params


def shape_of(plan: LinearPlan, cap: int | None = None) -> EngineShape:
    """Shape of the engine for ``plan``; cap defaults to all blocks (any sparsity fits)."""
    return EngineShape(
        plan.bm,
        plan.bn,
        plan.nb,
        plan.kb,
        max(2, cap or plan.nb * plan.kb),
        plan.tt,
        plan.out_bits,
        plan.pack,
        plan.req_lanes,
        plan.xw,
        plan.rq_fabric,
    )


def build(shape: EngineShape, build_root: Path) -> Path:
    """Verilator build of the engine for one shape (incremental: a second call is cheap)."""
    return verilate.build([PKG_SV, CORE_SV], "sparse_linear", build_root, shape.parameters())


def run_case(
    plan: LinearPlan,
    runs: list[tuple[np.ndarray, int | None]],
    case_dir: Path,
    build_root: Path,
    cap: int | None = None,
) -> dict[str, Any]:
    """Simulate ``runs`` ([(x int8 [T, K], pause seed or None)]) back to back.

    Returns {"runs": [{"tokens", "paused", "cycles"}], "mismatches", "compared",
    "passed", "seconds"}; ``passed`` is False when any output word differs.
    """
    shape = shape_of(plan, cap)
    build_dir = build(shape, build_root)

    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    for key, text in mem_files(plan, shape.cap).items():
        (case_dir / f"{key}.mem").write_text(text)
    arrays: dict[str, Any] = {
        "weight_q": plan.dense(),
        "bias_q": plan.bias[: plan.n],
        "mult": plan.mult[: plan.n],
        "shift": plan.shift[: plan.n],
        "block": np.array([plan.bm, plan.bn]),
        "tt": np.array(plan.tt),
        "out_bits": np.array(plan.out_bits),
        "pack": np.array(plan.pack),
        "req_lanes": np.array(plan.rq_lanes),
        "xw": np.array(plan.xw),
        "runs": np.array(len(runs)),
    }
    for i, (x, seed) in enumerate(runs):
        arrays[f"x{i}"] = np.asarray(x, dtype=np.int64)
        arrays[f"pause{i}"] = np.array(-1 if seed is None else seed)
    result, seconds = verilate.run_cocotb(
        case_dir, arrays, "compiler.backends.rtl.linear_tb", "sparse_linear", build_dir, plan.name
    )
    result["seconds"] = seconds
    return result
