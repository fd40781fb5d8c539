"""Plan, write and simulate one whole encoder layer in RTL (``encoder_layer_L<n>.sv``).

Python plans (which node feeds which unit, activation RAM shapes, stream
adapters, ROM contents, checks); ``hls_templates/rtl/encoder_layer.sv.j2``
prints a top that instantiates the unchanged unit modules (``sparse_linear``,
``int_attention_head``, ``int_add``, ``int_layernorm``, ``int_gelu``) and the
glue of ``encoder_layer_lib.sv``, so that ONE ap_start -> ap_done runs the
layer on n_tokens tokens of one sequence:

    LOAD x_in, mask_in -> q | k | v -> attention (head by head) -> o => res1
    => ln1 -> fc1 => gelu => fc2 => res2 => ln2 -> out (y_out)

(``|``: at once; ``=>``: chained row by row in one stage, :data:`CHAINS`).

With ``lanes`` > 1 (the accelerator's build) every stage runs on each token
lane's tokens at once (lane i holds the tokens t % lanes == i).

A sequencer runs the stages one after another (q, k and v, which read the same
input, together: one stage, the input RAM with a read port each); activations live in on-chip
RAMs between them.  Each stage is: start the stage's RAM readers / writers
(``go``), wait ``PRIME`` cycles until the readers present their first beat,
start the unit, wait for its ap_done.  So the layer's full-rate cycle count
is the sum over stages of the units' own exact formulas (``compiler.hw.timing``; q | k | v:
the longest; a chain: :func:`chain_cycles`) plus a few fixed cycles per stage: :func:`layer_cycles`.

Everything the RTL cannot take is refused here with :class:`UserError`
(before any tool runs).  Numerics: the golden ops, bit for bit (every unit is
bit-exact on its own; the glue only moves and sign-extends lanes).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from compiler.backends.rtl import nonlinear, verilate
from compiler.backends.rtl.lanes import beats_to_rows, rows_to_beats
from compiler.backends.rtl.linear import MEM_NAMES, RTL_DIR, LinearPlan, mem_files, plan_from_node, table_bits
from compiler.errors import UserError
from compiler.golden.intops import IDENTITY as GELU_IDENTITY
from compiler.hw import timing
from compiler.hw.builds import RTL_ENGINE
from compiler.ir.graph import Graph, Node

log = logging.getLogger(__name__)

TEMPLATE = RTL_DIR / "encoder_layer.sv.j2"
LIB_SV = RTL_DIR / "encoder_layer_lib.sv"
#: every source a layer top needs besides itself (order: dependencies first)
SOURCES = tuple(
    RTL_DIR / s
    for s in (
        "sparsehls_pkg.sv",
        "int_divu.sv",
        "int_isqrt.sv",
        "int_softmax.sv",
        "int_attention_head.sv",
        "int_add.sv",
        "int_layernorm.sv",
        "int_gelu.sv",
        "sparse_linear.sv",
        "encoder_layer_lib.sv",
    )
)
#: the ops of one encoder layer, by role, in dataflow order
LAYER_OPS = {
    "q": "linear",
    "k": "linear",
    "v": "linear",
    "attn": "attention",
    "o": "linear",
    "res1": "add",
    "ln1": "layernorm",
    "fc1": "linear",
    "gelu": "gelu",
    "fc2": "linear",
    "res2": "add",
    "ln2": "layernorm",
}
LINEAR_ROLES = ("q", "k", "v", "o", "fc1", "fc2")
STAGES = ("load", "qkv", "attn", "o_ln1", "ffn", "out")
#: the units of a stage (started together, the stage done when every one is): q, k and v read the
#: same input into three RAMs, so they run at once (the input RAM has a read port each)
#: the chains of a stage, in order: each unit reads its predecessor's output row by row behind it
#: (its RAM reader follows the rows the predecessor's writer has finished)
CHAINS = {"o_ln1": ("o", "res1", "ln1"), "ffn": ("fc1", "gelu", "fc2", "res2", "ln2")}
STAGE_UNITS = {"qkv": ("q", "k", "v"), **CHAINS}


def stage_of(unit: str) -> str:
    """The sequencer stage a unit (role) runs in."""
    return next((st for st, units in STAGE_UNITS.items() if unit in units), unit)


#: cycles from a stage's adapter ``go`` to the unit's ap_start (the readers' first beat is then valid)
PRIME = 2
#: the units' scalar ports, read from ``L<n>_cfg.mem`` (32-bit words)
CFG_NAMES = (
    "gelu.in_mult",
    "gelu.in_shift",
    "gelu.out_mult",
    "gelu.out_shift",
    "gelu.out_offset",
    "gelu.out_zero",
    "attn.sm_mult",
    "attn.sm_shift",
    "attn.out_mult",
    "attn.out_shift",
    "ln1.eps_q",
    "ln2.eps_q",
)
MAX_TOKENS = 4096
MAX_LANES = 64
#: unit numbers of the table write port (``tbl_unit``) of a loadable layer top
TBL_UNITS = {
    "q": 0,
    "k": 1,
    "v": 2,
    "o": 3,
    "fc1": 4,
    "fc2": 5,
    "res1": 6,
    "res2": 7,
    "ln1": 8,
    "ln2": 9,
    "cfg": 10,
}
ADD_PARAM_BITS = 140  # int_add's parameter word
LN_PARAM_BITS = 134  # int_layernorm's parameter word (W = 1)


@dataclass(frozen=True)
class Ram:
    """An activation RAM: words of ``wl`` lanes of ``lb`` bits, ``rw`` words per token."""

    name: str
    what: str
    wl: int
    lb: int
    rw: int
    aw: int
    readers: tuple[str, ...]
    writers: tuple[str, ...]
    #: the readers on each read port: readers of one stage run at once, each on its own port
    read_ports: tuple[tuple[str, ...], ...] = ()

    @property
    def nr(self) -> int:
        return max(1, len(self.read_ports))

    @property
    def uram(self) -> bool:
        """Built in UltraRAM (el_ram URAM = 1): deeper than a RAMB36 column is useful."""
        return ram_uram(1 << self.aw)


@dataclass(frozen=True)
class Port:
    """A RAM reader (RAM -> unit) or writer (unit -> RAM) of ``lanes`` lanes of ``bits`` bits."""

    name: str
    kind: str  # "rd" | "wr"
    ram: str
    stage: str
    what: str
    lanes: int
    bits: int
    n_beats: int  # beats per token
    per_head: bool = False  # lane offset = head * head_dim (attention), else 0
    # filled from the RAM
    rport: int = 0  # the RAM read port of a reader
    after: str = ""  # a chained reader: the writer (same stage) whose rows it follows
    wl: int = 0
    lb: int = 0
    rw: int = 0
    aw: int = 0


@dataclass(frozen=True)
class LayerPlan:
    layer: int
    tmax: int
    hidden: int
    heads: int
    head_dim: int
    ffn: int
    linears: dict[str, LinearPlan]
    adds: dict[str, dict[str, Any]]  # role -> {"a": (mult, shift), "b": (mult, shift), "const": ...}
    lns: dict[str, dict[str, Any]]  # role -> gamma_q, beta_q, mult, shift, eps_q
    cfg: dict[str, int]
    rams: tuple[Ram, ...]
    ports: tuple[Port, ...]
    x_name: str  # the layer input tensor
    mask_name: str
    y_name: str  # the ln2 output tensor
    node_names: dict[str, str] = field(default_factory=dict)  # role -> node name
    lanes: int = 1  # token lanes: lane i holds tokens t % lanes == i and has its own units
    add_fabric: bool = False  # int_add FABRIC = 1: the requant multipliers in LUTs (same cycles)
    ln_w: int = 1  # int_layernorm W: elements per beat of ln1 / ln2
    gelu_w: int = 1  # int_gelu units per token lane, in lock-step on one beat of gelu_w elements
    add_w: int = 1  # int_add units per residual add and token lane, in lock-step (loadable builds)
    attn_w: int = 1  # attention heads per token lane computed at once (lock-step int_attention_head units)

    @property
    def lane_tokens(self) -> int:
        """Tokens of the busiest lane's RAMs (lane 0)."""
        return -(-self.tmax // self.lanes)

    @property
    def gelu_identity(self) -> bool:
        """int_gelu is built with IN_IDENTITY = 1 (no input requant, 4 DSPs fewer) when the
        quantizer made GELU's input requant the identity (fc1's int32 output is already FX(F_GELU))."""
        return (self.cfg["gelu.in_mult"], self.cfg["gelu.in_shift"]) == GELU_IDENTITY

    @property
    def top(self) -> str:
        return f"encoder_layer_L{self.layer}"

    @property
    def prefix(self) -> str:
        return f"L{self.layer}_"

    @property
    def x_lanes(self) -> int:
        """int8 lanes per x_in / y_out beat: the q linear's input block width."""
        return self.linears["q"].bn

    @property
    def x_beats(self) -> int:
        return -(-self.hidden // self.x_lanes)

    @property
    def smax(self) -> int:
        """The attention head's SMAX (nonlinear.py's convention: >= 128, a power of two)."""
        return max(nonlinear.UNITS["attention"].parameters["SMAX"], 1 << (self.tmax - 1).bit_length())


# --------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------
def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(msg)


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _layer_nodes(graph: Graph, layer: int) -> dict[str, Node]:
    nodes = [n for n in graph.nodes if n.layer == layer]
    _check(bool(nodes), f"layer {layer}: no such encoder layer (have {graph.layers()})")
    by_role: dict[str, Node] = {}
    for n in nodes:
        _check(
            n.role in LAYER_OPS and n.role not in by_role,
            f"layer {layer}: node {n.name} (op {n.op}, role {n.role}) does not fit the RTL encoder layer "
            f"({', '.join(LAYER_OPS)})",
        )
        by_role[n.role] = n
    missing = [r for r in LAYER_OPS if r not in by_role]
    _check(not missing, f"layer {layer}: the RTL encoder layer needs ops {', '.join(missing)} (missing)")
    for role, op in LAYER_OPS.items():
        _check(by_role[role].op == op, f"layer {layer}: {role} is a {by_role[role].op}, expected {op}")
    return by_role


def _check_dataflow(nd: dict[str, Node], layer: int, graph: Graph) -> None:
    out = {r: n.outputs[0] for r, n in nd.items()}
    x = nd["q"].inputs[0]
    want: dict[str, tuple[str, ...]] = {
        "k": (x,),
        "v": (x,),
        "o": (out["attn"],),
        "ln1": (out["res1"],),
        "fc1": (out["ln1"],),
        "gelu": (out["fc1"],),
        "fc2": (out["gelu"],),
        "ln2": (out["res2"],),
    }
    for role, ins in want.items():
        _check(
            tuple(nd[role].inputs) == ins, f"layer {layer}: {role} reads {nd[role].inputs}, expected {ins}"
        )
    att = nd["attn"].inputs
    _check(
        tuple(att[:3]) == (out["q"], out["k"], out["v"]) and len(att) == 4 and att[3] in graph.inputs,
        f"layer {layer}: attention must read (q, k, v, a graph-input mask), reads {att}",
    )
    for role, pair in (("res1", {out["o"], x}), ("res2", {out["fc2"], out["ln1"]})):
        ins = nd[role].inputs
        _check(
            len(ins) == 2 and set(ins) == pair, f"layer {layer}: {role} must add {sorted(pair)}, adds {ins}"
        )


def _ms(graph: Graph, node: Node, tag: str) -> tuple[Any, Any]:
    if f"{tag}_mult" in node.params:
        return graph.param(node, f"{tag}_mult"), graph.param(node, f"{tag}_shift")
    return node.attrs[f"{tag}_mult"], node.attrs[f"{tag}_shift"]


def _scalar(name: str, v: Any, lo: int, hi: int) -> int:
    iv = int(v)
    _check(lo <= iv <= hi, f"{name} = {iv} does not fit the RTL unit's port ({lo}..{hi})")
    return iv


def plan_layer(
    graph: Graph,
    layer: int,
    max_tokens: int | None = None,
    tt: int = RTL_ENGINE.token_tile,
    lanes: int = 1,
) -> LayerPlan:
    """Check encoder ``layer`` of a quantized graph against what the RTL layer takes and plan it.

    ``max_tokens``: the most tokens per call (buffer depth; default the compiled
    sequence length, ``graph.meta["seq_len"]``).
    """
    _check(graph.quantized, "the RTL encoder layer needs a quantized graph (run the quantize pass first)")
    nd = _layer_nodes(graph, layer)
    _check_dataflow(nd, layer, graph)
    tmax = int(max_tokens or graph.meta.get("seq_len", 0))
    _check(1 <= tmax <= MAX_TOKENS, f"layer {layer}: tokens per call must be 1..{MAX_TOKENS}, got {tmax}")
    _check(
        _pow2(lanes) and 1 <= lanes <= MAX_LANES,
        f"token lanes must be a power of two in 1..{MAX_LANES}, got {lanes}",
    )

    lin = {r: plan_from_node(graph, nd[r], tt=tt) for r in LINEAR_ROLES}
    att = nd["attn"].attrs
    heads, d = int(att["heads"]), int(att["head_dim"])
    hidden, hq, ffn = lin["o"].n, heads * d, lin["fc1"].n
    _check(_pow2(d), f"layer {layer}: head_dim {d} must be a power of two for the RTL attention datapath")
    for r in ("q", "k", "v"):
        _check(lin[r].out_bits == 8, f"layer {layer}: {r} must have int8 outputs (attention input)")
        _check(lin[r].n == hq, f"layer {layer}: {r} has {lin[r].n} outputs, attention wants {heads}x{d}")
        _check(lin[r].k == hidden, f"layer {layer}: {r} reads {lin[r].k} features, the layer has {hidden}")
    _check(lin["o"].k == hq, f"layer {layer}: o reads {lin['o'].k} features, attention gives {hq}")
    _check(
        lin["fc1"].k == hidden and lin["fc2"].n == hidden, f"layer {layer}: FFN shapes do not match hidden"
    )
    _check(lin["fc2"].k == ffn, f"layer {layer}: fc2 reads {lin['fc2'].k} features, fc1 gives {ffn}")
    _check(
        hidden <= nonlinear.HMAX, f"layer {layer}: hidden {hidden} exceeds the units' HMAX {nonlinear.HMAX}"
    )
    _check(max(hidden, ffn, hq) < 2**15, f"layer {layer}: feature counts must be < 32768")
    _check(tmax <= nonlinear.LMAX, f"layer {layer}: {tmax} tokens exceed the softmax's LMAX {nonlinear.LMAX}")

    adds = {}
    for role in ("res1", "res2"):
        node = nd[role]
        a_ms, b_ms = _ms(graph, node, "a"), _ms(graph, node, "b")
        const = graph.param(node, "const_q") if "const_q" in node.params else None
        nonlinear.add_mem(hidden, a_ms, b_ms, const)  # checks the multipliers
        adds[role] = {"a": a_ms, "b": b_ms, "const": const, "inputs": tuple(node.inputs)}
    lns = {}
    for role in ("ln1", "ln2"):
        node = nd[role]
        mult, shift = (
            nonlinear._param_or_attr(graph, node, "mult"),
            nonlinear._param_or_attr(graph, node, "shift"),
        )
        lns[role] = {
            "gamma_q": graph.param(node, "gamma_q"),
            "beta_q": graph.param(node, "beta_q"),
            "mult": mult,
            "shift": shift,
        }
        nonlinear.layernorm_mem(hidden, **lns[role])  # checks the multipliers
    g = nd["gelu"].attrs
    cfg = {
        "gelu.in_mult": _scalar("gelu in_mult", g["in_mult"], 0, 2**31 - 1),
        "gelu.in_shift": _scalar("gelu in_shift", g["in_shift"], 1, 62),
        "gelu.out_mult": _scalar("gelu out_mult", g["out_mult"], 0, 2**31 - 1),
        "gelu.out_shift": _scalar("gelu out_shift", g["out_shift"], 1, 62),
        "gelu.out_offset": _scalar("gelu out_offset", g.get("out_offset", 0), -(2**31), 2**31 - 1),
        "gelu.out_zero": _scalar("gelu out_zero", g.get("out_zero", 0), -(2**31), 2**31 - 1),
        "attn.sm_mult": _scalar("attention sm_mult", att["sm_mult"], 0, 2**32 - 1),
        "attn.sm_shift": _scalar("attention sm_shift", att["sm_shift"], 1, 62),
        "attn.out_mult": _scalar("attention out_mult", att["out_mult"], 0, 2**31 - 1),
        "attn.out_shift": _scalar("attention out_shift", att["out_shift"], 1, 62),
        "ln1.eps_q": _scalar("ln1 eps_q", nd["ln1"].attrs["eps_q"], 0, 2**32 - 1),
        "ln2.eps_q": _scalar("ln2 eps_q", nd["ln2"].attrs["eps_q"], 0, 2**32 - 1),
    }
    x = nd["q"].inputs[0]
    rams, ports = _plan_rams(_plan_ports(nd, lin, hidden, ffn, d, x), hq, -(-tmax // lanes))
    return LayerPlan(
        layer=layer,
        tmax=tmax,
        hidden=hidden,
        heads=heads,
        head_dim=d,
        ffn=ffn,
        linears=lin,
        adds=adds,
        lns=lns,
        cfg=cfg,
        rams=rams,
        ports=ports,
        x_name=x,
        mask_name=nd["attn"].inputs[3],
        y_name=nd["ln2"].outputs[0],
        node_names={r: n.name for r, n in nd.items()},
        lanes=lanes,
    )


#: the most elements per beat of the element-wise units (GELU, residual add) and LayerNorm's W
MAX_UNIT_WIDTH = 16


def _fit_width(want: int, n: int) -> int:
    """The largest power of two <= ``want`` (and <= MAX_UNIT_WIDTH) that divides ``n`` and leaves
    at least two beats of ``n`` (LayerNorm's row buffer needs two)."""
    w = 1
    while w * 2 <= min(want, MAX_UNIT_WIDTH) and n % (w * 2) == 0 and n // (w * 2) >= 2:
        w *= 2
    return w


def with_widths(
    plan: LayerPlan, ln_w: int = 1, gelu_w: int = 1, add_w: int = 1, attn_w: int = 1
) -> LayerPlan:
    """``plan`` with wider units: LayerNorm W = ``ln_w``, ``gelu_w`` int_gelu units, ``add_w``
    int_add units and ``attn_w`` attention heads at once per token lane (each the largest power
    of two up to the wish that divides the row or the heads; the RAM readers and writers carry
    as many elements a beat)."""
    lnw, gw, aw = _fit_width(ln_w, plan.hidden), _fit_width(gelu_w, plan.ffn), _fit_width(add_w, plan.hidden)
    hw = 1
    while hw * 2 <= min(attn_w, MAX_UNIT_WIDTH) and plan.heads % (hw * 2) == 0:
        hw *= 2
    widths = {"rd_res1_a": aw, "rd_res1_b": aw, "wr_res1": aw, "rd_res2_a": aw, "rd_res2_b": aw}
    widths.update(wr_res2=aw, rd_ln1=lnw, wr_ln1=lnw, rd_ln2=lnw, wr_ln2=lnw, rd_gelu=gw, wr_gelu=gw)
    d = plan.head_dim
    widths.update(rd_attn_k=hw * d, rd_attn_v=hw * d, rd_attn_q=hw * d, wr_attn=hw * d)
    ports = []
    for p in plan.ports:
        if p.name in widths:
            n = p.n_beats * p.lanes
            beats = 1 if p.per_head else n // widths[p.name]  # attention: one beat of the heads a token
            p = dataclasses.replace(p, lanes=widths[p.name], n_beats=beats)
        ports.append(p)
    rams, done = _plan_rams(ports, plan.heads * plan.head_dim, plan.lane_tokens)
    return dataclasses.replace(plan, rams=rams, ports=done, ln_w=lnw, gelu_w=gw, add_w=aw, attn_w=hw)


def _plan_ports(
    nd: dict[str, Node],
    lin: dict[str, LinearPlan],
    hidden: int,
    ffn: int,
    d: int,
    x: str,
    widths: tuple[int, int, int] = (1, 1, 1),
) -> list[Port]:
    """Every RAM reader / writer of the layer (which RAM holds which tensor)."""
    where = {  # tensor -> RAM
        x: "x_ram",
        nd["q"].outputs[0]: "q_ram",
        nd["k"].outputs[0]: "k_ram",
        nd["v"].outputs[0]: "v_ram",
        nd["attn"].outputs[0]: "a_ram",
        nd["o"].outputs[0]: "p_ram",
        nd["res1"].outputs[0]: "r_ram",
        nd["ln1"].outputs[0]: "l_ram",
        nd["fc1"].outputs[0]: "f_ram",
        nd["gelu"].outputs[0]: "g_ram",
        nd["fc2"].outputs[0]: "p_ram",
        nd["res2"].outputs[0]: "r_ram",
    }
    lnw, gw, aw = widths
    lb = {"x_ram": 8, "q_ram": 8, "k_ram": 8, "v_ram": 8, "a_ram": 8, "l_ram": 8, "g_ram": 8, "r_ram": 32}
    lb["p_ram"] = 32
    lb["f_ram"] = lin["fc1"].out_bits
    ports = [Port("wr_x", "wr", "x_ram", "load", "x_in", lin["q"].bn, 8, -(-hidden // lin["q"].bn))]
    for r in LINEAR_ROLES:
        p = lin[r]
        src, dst = where[nd[r].inputs[0]], where[nd[r].outputs[0]]
        ports.append(Port(f"rd_{r}", "rd", src, stage_of(r), f"{r}.x_in", p.bn, 8, p.kb))
        ports.append(Port(f"wr_{r}", "wr", dst, stage_of(r), f"{r}.y_out", p.bm, p.out_bits, p.nb))
    for t in ("k", "v", "q"):
        ports.append(Port(f"rd_attn_{t}", "rd", f"{t}_ram", "attn", f"attn.{t}_in", d, 8, 1, per_head=True))
    ports.append(Port("wr_attn", "wr", "a_ram", "attn", "attn.o_out", d, 8, 1, per_head=True))
    for role in ("res1", "res2"):
        a, b = nd[role].inputs
        st = stage_of(role)
        ports.append(Port(f"rd_{role}_a", "rd", where[a], st, f"{role}.a_in", aw, 32, hidden // aw))
        ports.append(Port(f"rd_{role}_b", "rd", where[b], st, f"{role}.b_in", aw, 32, hidden // aw))
        ports.append(Port(f"wr_{role}", "wr", "r_ram", st, f"{role}.r_out", aw, 32, hidden // aw))
    ports.append(Port("rd_ln1", "rd", "r_ram", stage_of("ln1"), "ln1.x_in", lnw, 32, hidden // lnw))
    ports.append(Port("wr_ln1", "wr", "l_ram", stage_of("ln1"), "ln1.y_out", lnw, 8, hidden // lnw))
    ports.append(Port("rd_gelu", "rd", "f_ram", stage_of("gelu"), "gelu.x_in", gw, 32, ffn // gw))
    ports.append(Port("wr_gelu", "wr", "g_ram", stage_of("gelu"), "gelu.y_out", gw, 8, ffn // gw))
    ports.append(Port("rd_ln2", "rd", "r_ram", stage_of("ln2"), "ln2.x_in", lnw, 32, hidden // lnw))
    # the layer output: ln2 into the x RAM (free after res1), then out to y_out in token order
    ports.append(Port("wr_ln2", "wr", "x_ram", stage_of("ln2"), "ln2.y_out", lnw, 8, hidden // lnw))
    ports.append(Port("rd_out", "rd", "x_ram", "out", "y_out", lin["q"].bn, 8, -(-hidden // lin["q"].bn)))
    return [dataclasses.replace(p, lb=lb[p.ram], after=_chained_after(p, ports)) for p in ports]


def _chained_after(p: Port, ports: list[Port]) -> str:
    """The writer a chained reader follows: its unit's predecessor in a chain, on the RAM that
    predecessor writes ("" for every other port)."""
    unit = p.what.split(".")[0]
    for chain in CHAINS.values():
        if p.kind == "rd" and unit in chain[1:]:
            w = next(q for q in ports if q.name == f"wr_{chain[chain.index(unit) - 1]}")
            return w.name if w.ram == p.ram else ""
    return ""


RAM_WHAT = {
    "x_ram": "layer input (int8), kept for q, k, v and res1; then the ln2 output (the layer output)",
    "q_ram": "q (int8)",
    "k_ram": "k (int8)",
    "v_ram": "v (int8)",
    "a_ram": "attention output (int8), head by head",
    "p_ram": "o, then fc2 (int32): the residual adds' chained input",
    "r_ram": "res1, then res2 (int32)",
    "l_ram": "ln1 output (int8), kept for fc1 and res2",
    "f_ram": "fc1 output",
    "g_ram": "gelu output (int8)",
}


def _plan_rams(ports: list[Port], hq: int, tmax: int) -> tuple[tuple[Ram, ...], tuple[Port, ...]]:
    """One RAM per activation: word = the widest port's lanes, rows padded to whole words."""
    rams = []
    done: list[Port] = []
    for name in RAM_WHAT:
        mine = [p for p in ports if p.ram == name]
        lbs = {p.lb for p in mine}
        assert len(lbs) == 1, (name, lbs)
        wl = max(p.lanes for p in mine)
        for p in mine:
            _check(
                _pow2(p.lanes) and wl % p.lanes == 0,
                f"{p.what}: {p.lanes} lanes per beat do not divide the {name} word of {wl} lanes "
                "(blocks and head_dim must be powers of two)",
            )
            _check(p.bits <= 32 and (p.kind == "rd" or p.bits <= p.lb), f"{p.what}: lane width mismatch")
        span = max(hq if p.per_head else p.n_beats * p.lanes for p in mine)
        rw = -(-span // wl)
        aw = max(1, (tmax * rw - 1).bit_length())
        rport: dict[str, int] = {}  # the i-th reader of a stage on read port i
        per_stage: Counter[str] = Counter()
        for p in mine:
            if p.kind == "rd":
                rport[p.name] = per_stage[p.stage]
                per_stage[p.stage] += 1
        read_ports = tuple(
            tuple(n for n, i in rport.items() if i == k) for k in range(max(rport.values(), default=0) + 1)
        )
        rams.append(
            Ram(
                name,
                RAM_WHAT[name],
                wl,
                lbs.pop(),
                rw,
                aw,
                tuple(p.name for p in mine if p.kind == "rd"),
                tuple(p.name for p in mine if p.kind == "wr"),
                read_ports,
            )
        )
        done += [dataclasses.replace(p, wl=wl, rw=rw, aw=aw, rport=rport.get(p.name, 0)) for p in mine]
    order = {p.name: i for i, p in enumerate(ports)}
    return tuple(rams), tuple(sorted(done, key=lambda p: order[p.name]))


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(RTL_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["add_suffix"] = lambda s, suffix: f"{s}{suffix}"
    return env


@dataclass(frozen=True)
class Loadable:
    """A layer top whose tables are RAMs written through its ``tbl_*`` port, holding ``layers``
    layers of one shape (the accelerator's build): the engines' block-table depths ``caps``
    (role -> every layer's blocks), the width of ``tbl_wdata``, and the module name."""

    layers: int
    caps: dict[str, int]
    tblw: int
    top: str


#: token lanes whose engines of one role read one block-weight table (``sparse_wmem``): the two
#: ports of its block RAM / UltraRAM, so a loadable build holds the weights once per lane pair
WEIGHT_SHARE = 2
#: a loadable block-weight table deeper than this many lines is marked UltraRAM.  At a given
#: width a RAMB36 holds 512 lines (72 bits wide), a URAM288 4,096: past 1,024 lines the block-RAM
#: share of the board it takes (3+ rows of RAMB36, of 2,688 on a U250) exceeds the URAM share
#: (1 row of 1,280), and every supported card (U200, U250, U280, U55C) has URAM.
URAM_MIN_LINES = 1025


def weight_copies(lanes: int) -> int:
    """Block-weight tables of each linear role held by a loadable build of ``lanes`` token lanes."""
    return -(-max(1, lanes) // WEIGHT_SHARE)


def weight_uram(cap: int) -> bool:
    """Whether a loadable block-weight table of ``cap`` lines is built in UltraRAM."""
    return cap >= URAM_MIN_LINES


def ram_uram(depth: int) -> bool:
    """Whether an activation RAM (el_ram) of ``depth`` words is built in UltraRAM: the same
    rule as the weight tables (a URAM288 is 4,096 x 72; a RAMB36 at most 1,024 x 36 wide)."""
    return depth >= URAM_MIN_LINES


def tbl_widths(plan: LayerPlan, caps: dict[str, int]) -> dict[int, int]:
    """Bits of the widest table word of every unit of the table port (tbl_unit -> bits)."""
    out = {TBL_UNITS[r]: max(table_bits(p, caps[r]).values()) for r, p in plan.linears.items()}
    out.update({TBL_UNITS[r]: ADD_PARAM_BITS * plan.add_w for r in ("res1", "res2")})
    out.update({TBL_UNITS[r]: LN_PARAM_BITS * plan.ln_w for r in ("ln1", "ln2")})
    out[TBL_UNITS["cfg"]] = 32
    return out


def render_layer(plan: LayerPlan, loadable: Loadable | None = None) -> str:
    """The generated top ``encoder_layer_L<n>`` (deterministic text); with ``loadable``, the
    accelerator's layer datapath (RAM tables for ``loadable.layers`` layers, no ROM files)."""
    _check(
        loadable is not None or plan.add_w == 1,
        "lock-step int_add units (add_w > 1) need the loadable build (their tables come over tbl_*)",
    )
    stages = [
        {
            "name": s,
            "done": None if s in ("load", "out") else f"{s}_all_done",
            "units": STAGE_UNITS.get(s, (s,)),
        }
        for s in STAGES
    ]
    lanes = plan.lanes
    caps = loadable.caps if loadable else {r: rom_capacity(p) for r, p in plan.linears.items()}
    linears = [
        {
            "role": r,
            "n": p.n,
            "k": p.k,
            "bm": p.bm,
            "bn": p.bn,
            "nb": p.nb,
            "kb": p.kb,
            "nnzb": p.nnzb,
            "cap": caps[r],
            "tt": p.tt,
            "ob": p.out_bits,
            "pack": p.pack,
            "rq_lanes": p.rq_lanes,
            "rq_fabric": p.rq_fabric,
            "ww": table_bits(p, caps[r])["weights"],
            "aw": max(1, (caps[r] - 1).bit_length()),
            "uram": int(loadable is not None and weight_uram(caps[r])),
        }
        for r, p in plan.linears.items()
    ]
    layers = loadable.layers if loadable else 1
    return (
        _env()
        .get_template(TEMPLATE.name)
        .render(
            layer=plan.layer,
            top=loadable.top if loadable else plan.top,
            prefix=plan.prefix,
            hidden=plan.hidden,
            heads=plan.heads,
            head_dim=plan.head_dim,
            ffn=plan.ffn,
            tmax=plan.tmax,
            tw=max(1, plan.tmax.bit_length()),
            smax=plan.smax,
            x_lanes=plan.x_lanes,
            x_beats=plan.x_beats,
            prime=PRIME,
            stages=stages,
            linears=linears,
            rams=plan.rams,
            readers=[p for p in plan.ports if p.kind == "rd"],
            writers=[p for p in plan.ports if p.kind == "wr"],
            mem_names=MEM_NAMES,
            cfg_names=CFG_NAMES,
            cfg_index={n: i for i, n in enumerate(CFG_NAMES)},
            gelu_identity=plan.gelu_identity,
            loadable=loadable is not None,
            layers=layers,
            tblw=loadable.tblw if loadable else 1,
            tbl_unit=TBL_UNITS,
            tbl_width=tbl_widths(plan, caps),
            cfg_unit=TBL_UNITS["cfg"],
            cfg_aw=max(1, (layers * len(CFG_NAMES) - 1).bit_length()),
            add_fabric=plan.add_fabric,
            ln_w=plan.ln_w,
            gelu_w=plan.gelu_w,
            add_w=plan.add_w,
            attn_w=plan.attn_w,
            add_param_bits=ADD_PARAM_BITS,
            lanes=lanes,
            wshare=WEIGHT_SHARE,
            wcopies=weight_copies(lanes),
            sfx=[f"_l{i}" for i in range(lanes)],
            lane_bits=max(0, (lanes - 1).bit_length()),
            lane_bits_w=max(1, (lanes - 1).bit_length()),
        )
    )


def rom_capacity(plan: LinearPlan) -> int:
    """Block ROM depth: every block of the matrix, so one build serves any sparsity of a shape."""
    return max(2, plan.nb * plan.kb)


def layer_mem_files(plan: LayerPlan) -> dict[str, str]:
    """Every ROM file of the layer top: file name -> contents."""
    files: dict[str, str] = {}
    for role, p in plan.linears.items():
        for key, text in mem_files(p, rom_capacity(p)).items():
            files[f"{plan.prefix}{role}_{key}.mem"] = text
    for role, a in plan.adds.items():
        files[f"{plan.prefix}{role}_add_params.mem"] = nonlinear.add_mem(
            plan.hidden, a["a"], a["b"], a["const"]
        )
    for role, ln in plan.lns.items():
        files[f"{plan.prefix}{role}_ln_params.mem"] = nonlinear.layernorm_mem(
            plan.hidden, **ln, lanes=plan.ln_w
        )
    files[f"{plan.prefix}cfg.mem"] = "".join(f"{plan.cfg[n] & 0xFFFFFFFF:08x}\n" for n in CFG_NAMES)
    return files


def write_layer(plan: LayerPlan, folder: Path) -> Path:
    """Write ``encoder_layer_L<n>.sv`` and its ROM files into ``folder``; return the top's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in layer_mem_files(plan).items():
        (folder / name).write_text(text)
    path = folder / f"{plan.top}.sv"
    path.write_text(render_layer(plan))
    return path


# --------------------------------------------------------------------------
# cycle model
# --------------------------------------------------------------------------
#: fixed cycles of the sequencer around the units: a unit stage takes
#: PRIME (adapters go -> unit ap_start) + the unit's own cycles + 1 (ap_done seen)
STAGE_OVERHEAD = PRIME + 1
LOAD_OVERHEAD = 3  # go cycle, the sequencer seeing the writers idle, ap_start sampled
OUT_OVERHEAD = 4  # go, the readers' first beat valid 3 cycles later, the sequencer seeing the last beat


def stage_cycles(plan: LayerPlan, tokens: int) -> dict[str, int]:
    """Full-rate cycles of every stage (unit cycles from compiler.hw.timing + sequencer overhead).

    With token lanes every stage takes as long as its busiest lane (lane 0: ceil(T / lanes)
    tokens), attention streams all T keys to every lane, and the layer output leaves in token
    order once every lane's ln2 is done (x_beats beats a token)."""
    t = int(tokens)
    n = plan.lanes
    tl = -(-t // n)
    out = {"load": t * max(plan.x_beats, 1) + LOAD_OVERHEAD}
    for r, p in plan.linears.items():  # units of one stage run at once: the stage takes the longest
        if any(r in c for c in CHAINS.values()):
            continue
        st = stage_of(r)
        out[st] = max(out.get(st, 0), _linear_rows(p, tl)[1] + STAGE_OVERHEAD)
    for st, chain in CHAINS.items():
        out[st] = chain_cycles(plan, tl, chain) + STAGE_OVERHEAD
    att = timing.attention_cycles(t, plan.head_dim, queries=tl)
    out["attn"] = plan.heads // plan.attn_w * (att + STAGE_OVERHEAD)
    out["out"] = t * max(plan.x_beats, 1) + OUT_OVERHEAD
    return {s: out[s] for s in STAGES}


#: chained rows (cycles): a producer's last Y read of a row -> the row counted in its RAM writer
#: (the y_out beat, the write), and a row counted -> the chained reader's first beat valid
CHAIN_Y_TO_ROW = 3
CHAIN_ROW_TO_BEAT = 2


def _linear_rows(p: LinearPlan, tl: int, arrive: list[int] | None = None) -> tuple[list[int], int]:
    """:func:`timing.linear_rows` of a planned engine on ``tl`` tokens."""
    rnz = p.row_nnz if p.rq_cycles > 1 else None
    return timing.linear_rows(tl, p.nb, p.kb, p.nnzb, p.tt, rq_cycles=p.rq_cycles, row_nnz=rnz, arrive=arrive)


def chain_cycles(plan: LayerPlan, tl: int, units: tuple[str, ...]) -> int:
    """Units chained row by row in one stage (each reader follows its producer's finished rows):
    cycles from the units' start to the last unit's ap_done, at the busiest lane's ``tl`` tokens.
    A linear runs the engine's tile schedule with each token's input arriving when its row is
    written (:func:`timing.linear_rows`); GELU and the residual add take one beat a cycle, a row
    of ffn / gelu_w or hidden / add_w beats, and count a row written their latency - 1 cycles
    after its last beat (their ap_done likewise after the last)."""
    if tl <= 0:
        return 1
    arrive: list[int] | None = None
    done = 0
    for u in units:
        if u in plan.linears:
            ys, done = _linear_rows(plan.linears[u], tl, arrive)
            written = [y + CHAIN_Y_TO_ROW for y in ys]
        elif LAYER_OPS[u] == "layernorm":
            assert arrive is not None and u == units[-1], "a chained LayerNorm ends its chain"
            return timing.layernorm_chained(arrive, plan.hidden, plan.ln_w)
        else:
            kind = LAYER_OPS[u]
            beats = plan.ffn // plan.gelu_w if kind == "gelu" else plan.hidden // plan.add_w
            lat = timing.UNIT_LATENCY[kind]
            assert arrive is not None, "a chain starts with a linear"
            written, end = [], 0
            for a in arrive:
                end = max(end, a) + beats
                written.append(end - 1 + lat)
            done = written[-1]
        arrive = [w + CHAIN_ROW_TO_BEAT for w in written]
    return done


def layer_cycles(plan: LayerPlan, tokens: int, load: bool = True, out: bool = True) -> int:
    """Predicted cycles ap_start -> ap_done of one call on ``tokens`` tokens, full-rate streams.
    ``load`` / ``out`` False: a chained call (the accelerator's ``skip_load`` / ``skip_out``) that
    leaves out the LOAD / OUT stage."""
    if tokens <= 0:
        return 1
    st = stage_cycles(plan, tokens)
    return sum(c for s, c in st.items() if (s != "load" or load) and (s != "out" or out))


def ideal_cycles(plan: LayerPlan, tokens: int) -> int:
    """The linears' MACs / MAC units plus one element (score, probability) per cycle for the other units."""
    t = int(tokens)
    lin = sum(p.ideal_cycles(t) for p in plan.linears.values())
    return lin + plan.heads * 2 * t * t + 4 * t * plan.hidden + t * plan.ffn


# --------------------------------------------------------------------------
# streams
# --------------------------------------------------------------------------
def pack_rows(plan: LayerPlan, x: np.ndarray) -> list[int]:
    """int8 rows [T, hidden] -> x_in / y_out beats (x_lanes lanes, pad lanes 0)."""
    return rows_to_beats(x, plan.x_lanes, plan.x_beats)


def unpack_rows(plan: LayerPlan, words: list[int], tokens: int) -> np.ndarray:
    """y_out beats -> int8 [T, x_beats * x_lanes] (pad lanes included)."""
    return beats_to_rows(words, tokens, plan.x_lanes, plan.x_beats)


# --------------------------------------------------------------------------
# simulation (Verilator + cocotb)
# --------------------------------------------------------------------------
def build_layer(plan: LayerPlan, build_root: Path, opt: str = "-O1") -> Path:
    """Verilator build of the layer top (one per distinct top text: weights are ROM files, not in it)."""
    return verilate.build(
        SOURCES, plan.top, build_root, generated={f"{plan.top}.sv": render_layer(plan)}, opt=opt
    )


@dataclass
class LayerRun:
    """One call of the layer top: its input rows, mask, the golden output, and its pause seed."""

    x: np.ndarray  # int8 [T, hidden]
    mask: np.ndarray  # [T] 0/1
    want: np.ndarray  # int8 [T, hidden] (golden ln2 output)
    pause: int | None = None  # None: full rate; else random idle / backpressure seed


def runs_from_trace(
    plan: LayerPlan, feeds: dict[str, np.ndarray], trace: dict[str, np.ndarray]
) -> list[LayerRun]:
    """One full-rate run per sequence of the batch, from the golden integer trace."""
    x = np.asarray(trace[plan.x_name], dtype=np.int64)
    y = np.asarray(trace[plan.y_name], dtype=np.int64)
    mask = np.asarray(feeds[plan.mask_name])
    _check(x.ndim == 3 and x.shape[1] <= plan.tmax, f"layer input {x.shape} does not fit {plan.tmax} tokens")
    return [LayerRun(x[b], (mask[b] != 0).astype(np.int64), y[b]) for b in range(x.shape[0])]


def run_layer(
    plan: LayerPlan, runs: list[LayerRun], case_dir: Path, build_root: Path, opt: str = "-O1"
) -> dict[str, Any]:
    """Simulate ``runs`` back to back on the layer top; every output word is compared with ``want``.

    Returns {"runs": [{"tokens", "paused", "cycles", "model_cycles"}], "mismatches",
    "compared", "passed", "seconds", "build_seconds"}.
    """
    t0 = time.perf_counter()
    build_dir = build_layer(plan, build_root, opt)
    build_s = time.perf_counter() - t0

    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    for name, text in layer_mem_files(plan).items():
        (case_dir / name).write_text(text)
    arrays: dict[str, Any] = {
        "runs": np.array(len(runs)),
        "hidden": np.array(plan.hidden),
        "x_lanes": np.array(plan.x_lanes),
    }
    for i, r in enumerate(runs):
        arrays[f"x{i}"] = np.asarray(r.x, dtype=np.int64)
        arrays[f"mask{i}"] = np.asarray(r.mask, dtype=np.int64)
        arrays[f"want{i}"] = np.asarray(r.want, dtype=np.int64)
        arrays[f"pause{i}"] = np.array(-1 if r.pause is None else r.pause)
        arrays[f"budget{i}"] = np.array(3 * layer_cycles(plan, len(r.x)) + 10_000)
    result, seconds = verilate.run_cocotb(
        case_dir, arrays, "compiler.backends.rtl.layer_tb", plan.top, build_dir, f"layer {plan.layer}"
    )
    for r, run in zip(result["runs"], runs, strict=True):
        r["model_cycles"] = layer_cycles(plan, len(run.x))
    result["seconds"] = round(seconds, 2)
    result["build_seconds"] = round(build_s, 2)
    return result
