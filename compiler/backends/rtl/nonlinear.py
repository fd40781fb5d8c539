"""The integer non-linear units in RTL (GELU, residual add, LayerNorm, softmax, attention head).

``hls_templates/rtl/int_{gelu,add,layernorm,softmax,attention_head}.sv`` are
each bit-exact with the golden ``run_int`` of their op (``compiler/golden/ops``;
the softmax unit with ``intops.softmax_rows``).  GELU, add, LayerNorm and
softmax stream one element per AXI-Stream beat (LayerNorm: W elements, the
build parameter ``W``, default 1), the attention head one token of head_dim lanes; scalars are ports sampled at ``ap_start``; per-channel
tables (add, LayerNorm) are ROMs read by ``$readmemh`` from the simulation
folder.  So one Verilator build per unit serves every case (HMAX / LMAX bound
the channels / keys; the attention head is built per head_dim).

A case is an .npz (written by :func:`run_unit`, read by
``compiler.backends.rtl.nonlinear_tb``): the unit's parameters and one input
set per run, each with its pause seed (-1 = full rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.rtl import verilate
from compiler.backends.rtl.linear import RTL_DIR
from compiler.errors import UserError
from compiler.golden.intops import IDENTITY
from compiler.hw import timing

HMAX = 1024  # most channels of the add / LayerNorm builds (BERT-base: 768)
LMAX = 512  # most keys of the softmax build


@dataclass(frozen=True)
class Unit:
    top: str
    sources: tuple[str, ...]
    parameters: dict[str, int] = field(default_factory=dict)

    def paths(self) -> list[Path]:
        return [RTL_DIR / s for s in self.sources]


UNITS: dict[str, Unit] = {
    # IN_IDENTITY 1: the input is already FX(F_GELU) (in_mult/in_shift = IDENTITY), no input requant
    "gelu": Unit("int_gelu", ("sparsehls_pkg.sv", "int_gelu.sv"), {"IN_IDENTITY": 0}),
    "add": Unit("int_add", ("sparsehls_pkg.sv", "int_add.sv"), {"HMAX": HMAX}),
    # W: elements per beat (a power of two dividing HMAX; a build per W)
    "layernorm": Unit(
        "int_layernorm",
        ("sparsehls_pkg.sv", "int_divu.sv", "int_isqrt.sv", "int_layernorm.sv"),
        {"HMAX": HMAX, "W": 1},
    ),
    "softmax": Unit("int_softmax", ("sparsehls_pkg.sv", "int_divu.sv", "int_softmax.sv"), {"LMAX": LMAX}),
    # one attention head: QK^T, int_softmax, PV; D = head_dim (a build per head_dim)
    "attention": Unit(
        "int_attention_head",
        ("sparsehls_pkg.sv", "int_divu.sv", "int_softmax.sv", "int_attention_head.sv"),
        {"D": 8, "SMAX": 128},
    ),
}


def build_unit(unit: str, build_root: Path, parameters: dict[str, int] | None = None) -> Path:
    """One Verilator build per unit and parameter set (incremental; xdist workers share it)."""
    spec = UNITS[unit]
    return verilate.build(spec.paths(), spec.top, build_root, {**spec.parameters, **(parameters or {})})


# --------------------------------------------------------------------------
# ROM files
# --------------------------------------------------------------------------
def _fields_mem(fields: list[tuple[np.ndarray, int]], depth: int, lanes: int = 1) -> str:
    """One hex line per ``lanes`` channels (lane l of line j = channel j*lanes + l, low bits first);
    a channel's fields (values [H], bits) packed low bits first; channels >= H are 0."""
    h = len(fields[0][0])
    bits = sum(b for _, b in fields)
    words = []
    for c in range(depth):
        word, pos = 0, 0
        for vals, b in fields:
            v = int(vals[c]) if c < h else 0
            word |= (v & ((1 << b) - 1)) << pos
            pos += b
        words.append(word)
    lines = []
    for j in range(depth // lanes):
        line = sum(w << (bits * lane) for lane, w in enumerate(words[j * lanes : (j + 1) * lanes]))
        lines.append(f"{line:0{-(-bits * lanes // 4)}x}")
    return "\n".join(lines) + "\n"


def _per_channel(v: Any, h: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(v, dtype=np.int64), (h,))


def add_mem(h: int, a_ms: tuple[Any, Any], b_ms: tuple[Any, Any] | None, const_q: Any, lanes: int = 1) -> str:
    """``add_params.mem``: {const_q[64], b_shift[6], b_mult[32], a_shift[6], a_mult[32]} per channel,
    ``lanes`` channels a line (lane l of line j: channel j * lanes + l, as the lock-step adders take them)."""
    _check_ms(*a_ms, "add a")
    b_m, b_s = b_ms if b_ms is not None else (0, 1)
    _check_ms(b_m, b_s, "add b")
    c = _per_channel(0 if const_q is None else const_q, h)
    return _fields_mem(
        [
            (_per_channel(a_ms[0], h), 32),
            (_per_channel(a_ms[1], h), 6),
            (_per_channel(b_m, h), 32),
            (_per_channel(b_s, h), 6),
            (c, 64),
        ],
        HMAX,
        lanes,
    )


def layernorm_mem(h: int, gamma_q: Any, beta_q: Any, mult: Any, shift: Any, lanes: int = 1) -> str:
    """``ln_params.mem``: {beta_q[64], shift[6], mult[32], gamma_q[32]} per channel, ``lanes`` channels a line."""
    _check_ms(mult, shift, "layernorm")
    check_lanes(lanes)
    return _fields_mem(
        [
            (_per_channel(gamma_q, h), 32),
            (_per_channel(mult, h), 32),
            (_per_channel(shift, h), 6),
            (_per_channel(beta_q, h), 64),
        ],
        HMAX,
        lanes,
    )


def check_lanes(lanes: int) -> None:
    """LayerNorm's W: a power of two that divides HMAX (and leaves at least two beats of buffer)."""
    if lanes < 1 or lanes & (lanes - 1) or HMAX % lanes or HMAX // lanes < 2:
        raise UserError(f"LayerNorm width {lanes}: must be a power of two dividing {HMAX} (HMAX / 2 at most)")


def _check_ms(mult: Any, shift: Any, what: str) -> None:
    m, s = np.asarray(mult), np.asarray(shift)
    if np.any(m < 0) or np.any(m >= 2**31) or np.any(s < 1) or np.any(s > 62):
        raise UserError(f"{what}: requant multiplier must be in [0, 2^31) and shift in [1, 62]")


# --------------------------------------------------------------------------
# running a case
# --------------------------------------------------------------------------
def run_unit(
    unit: str,
    case: dict[str, Any],
    runs: list[dict[str, np.ndarray]],
    case_dir: Path,
    build_root: Path,
    mems: dict[str, str] | None = None,
    parameters: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Simulate ``runs`` of ``unit`` back to back (``parameters``: build parameter overrides); every output element is compared with the golden.

    ``case``: the unit's parameters (see ``nonlinear_tb.SPECS``); each run: its input
    arrays, ``pause`` (seed, or -1 for full rate) and optionally scalars that
    override the case's for that run (e.g. GELU's multipliers); ``want``, when
    given, is the expected output (a golden trace) instead of the testbench's Model.  Returns {"runs": [{"elems",
    "rows", "paused", "cycles"}], "mismatches", "compared", "passed", "seconds"}.
    """
    if unit not in UNITS:
        raise UserError(f"no RTL unit {unit!r} (have {', '.join(UNITS)})")
    if unit == "gelu" and (parameters or {}).get("IN_IDENTITY", 0):
        _check_gelu_identity(case, runs)
    build_dir = build_unit(unit, build_root, parameters)

    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (mems or {}).items():
        (case_dir / name).write_text(text)
    arrays: dict[str, Any] = {"unit": np.array(unit), "runs": np.array(len(runs))}
    for k, v in case.items():
        arrays[k] = np.asarray(v)
    for i, run in enumerate(runs):
        for k, v in run.items():
            arrays[f"run{i}.{k}"] = np.asarray(v)
    result, seconds = verilate.run_cocotb(
        case_dir, arrays, "compiler.backends.rtl.nonlinear_tb", UNITS[unit].top, build_dir, unit
    )
    result["seconds"] = seconds
    return result


def gelu_in_identity(in_mult: Any, in_shift: Any) -> bool:
    """Whether GELU's input requant is IDENTITY (xf = x): the unit is then built with IN_IDENTITY = 1."""
    return (int(in_mult), int(in_shift)) == IDENTITY


def _check_gelu_identity(case: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    """An IN_IDENTITY build ignores in_mult/in_shift: every run must have IDENTITY's."""
    for run in runs:
        ms = ({**case, **run}.get("in_mult"), {**case, **run}.get("in_shift"))
        if None in ms or not gelu_in_identity(*ms):
            raise UserError(f"gelu IN_IDENTITY build: in_mult/in_shift {ms} are not IDENTITY {IDENTITY}")


def unit_cycles(unit: str, elems: int, rows: int = 1, width: int = 0, lanes: int = 1) -> int:
    """Full-rate cycles of one call (ap_start -> ap_done): ``compiler.hw.timing.unit_cycles``."""
    return timing.unit_cycles(unit, elems, rows, width, lanes)


# --------------------------------------------------------------------------
# cases from a quantized graph node and its golden trace (run_rtlsim)
# --------------------------------------------------------------------------
#: graph op -> RTL unit ("attention": int_attention_head, one run per sequence and head)
OP_UNITS = {"gelu": "gelu", "add": "add", "layernorm": "layernorm", "attention": "attention"}


@dataclass
class NodeCase:
    unit: str
    case: dict[str, Any]
    runs: list[dict[str, Any]]  # full-rate runs (attention: one per sequence and head)
    mems: dict[str, str]
    elems: int  # per run
    rows: int
    width: int
    parameters: dict[str, int] = field(
        default_factory=dict
    )  # build parameters (attention: D, SMAX; layernorm: W; gelu: IN_IDENTITY)
    lanes: int = 1  # elements per beat (layernorm W): unit_cycles(unit, elems, rows, width, lanes)


def _param_or_attr(graph: Any, node: Any, key: str) -> Any:
    return graph.param(node, key) if key in node.params else node.attrs[key]


def node_case(graph: Any, node: Any, trace: dict[str, np.ndarray], ln_lanes: int = 1) -> NodeCase:
    """The unit, its parameters, the golden inputs and the golden outputs (trace) of ``node``.

    ``ln_lanes``: elements per beat of the LayerNorm unit (its build parameter W).
    """
    if node.op not in OP_UNITS:
        raise UserError(f"{node.name}: op {node.op!r} has no RTL unit")
    ins = [np.asarray(trace[t], dtype=np.int64) for t in node.inputs]
    a = node.attrs
    out = np.asarray(trace[node.outputs[0]], dtype=np.int64).ravel()
    case: dict[str, Any]
    run: dict[str, Any]
    if node.op == "gelu":
        case = {
            k: int(a.get(k, 0))
            for k in ("in_mult", "in_shift", "out_mult", "out_shift", "out_offset", "out_zero")
        }
        x = ins[0].ravel()
        run = {"x": x, "pause": -1, "want": out}
        # fc1's int32 output is already FX(F_GELU): the build without the input requant
        gparams = {"IN_IDENTITY": 1} if gelu_in_identity(case["in_mult"], case["in_shift"]) else {}
        return NodeCase("gelu", case, [run], {}, x.size, 1, x.size, gparams)
    if node.op == "add":
        h = ins[0].shape[-1]
        _check_width(node.name, h, HMAX, "channels")
        case = {"use_b": int(len(ins) > 1)}
        ms = {}
        for tag in ("a", "b")[: len(ins)]:
            m, s = _param_or_attr(graph, node, f"{tag}_mult"), _param_or_attr(graph, node, f"{tag}_shift")
            case[f"{tag}_mult"], case[f"{tag}_shift"] = np.asarray(m, np.int64), np.asarray(s, np.int64)
            ms[tag] = (m, s)
        const = None
        if "const_q" in node.params:
            const = case["const_q"] = np.asarray(graph.param(node, "const_q"), np.int64)
        run = {"a": ins[0].reshape(-1, h), "pause": -1, "want": out}
        if len(ins) > 1:
            run["b"] = ins[1].reshape(-1, h)
        mems = {"add_params.mem": add_mem(h, ms["a"], ms.get("b"), const)}
        return NodeCase("add", case, [run], mems, run["a"].size, run["a"].shape[0], h)
    if node.op == "layernorm":
        h = ins[0].shape[-1]
        _check_width(node.name, h, HMAX, "channels")
        mult, shift = _param_or_attr(graph, node, "mult"), _param_or_attr(graph, node, "shift")
        case = {
            "eps_q": int(a["eps_q"]),
            "gamma_q": np.asarray(graph.param(node, "gamma_q"), np.int64),
            "beta_q": np.asarray(graph.param(node, "beta_q"), np.int64),
            "mult": np.asarray(mult, np.int64),
            "shift": np.asarray(shift, np.int64),
        }
        if not 0 <= case["eps_q"] < 2**32:
            raise UserError(f"{node.name}: eps_q {case['eps_q']} does not fit the unit's 32-bit port")
        r = ins[0].reshape(-1, h)
        mems = {"ln_params.mem": layernorm_mem(h, case["gamma_q"], case["beta_q"], mult, shift, ln_lanes)}
        run = {"r": r, "pause": -1, "want": out}
        params = {"W": ln_lanes} if ln_lanes != 1 else {}
        return NodeCase("layernorm", case, [run], mems, r.size, r.shape[0], h, params, ln_lanes)
    # attention: one int_attention_head run per (sequence, head) on the golden q, k, v
    q, k, v, mask = ins
    heads, d = int(a["heads"]), int(a["head_dim"])
    b, s, _ = q.shape
    _check_width(node.name, s, LMAX, "tokens")
    out3 = out.reshape(b, s, heads, d)
    runs = []
    for bi in range(b):
        for hi in range(heads):
            cols = slice(hi * d, (hi + 1) * d)
            runs.append(
                {
                    "q": q[bi, :, cols],
                    "k": k[bi, :, cols],
                    "v": v[bi, :, cols],
                    "mask": (mask[bi] != 0).astype(np.int64),
                    "pause": -1,
                    "want": out3[bi, :, hi, :],
                }
            )
    case = {key: int(a[key]) for key in ("sm_mult", "sm_shift", "out_mult", "out_shift")}
    smax = max(UNITS["attention"].parameters["SMAX"], 1 << (s - 1).bit_length())
    return NodeCase("attention", case, runs, {}, s * d, s, s, {"D": d, "SMAX": smax})


def _check_width(name: str, n: int, most: int, what: str) -> None:
    if n > most:
        raise UserError(f"{name}: {n} {what} exceed the RTL unit's {most} (HMAX/LMAX in nonlinear.py)")
