"""The whole encoder as one RTL kernel (``sparsehls_accel``): plan, weight image, cycle model, simulation.

What is built (``hls_templates/rtl/accel.sv.j2`` around the layer datapath of
``encoder_layer.sv.j2`` in its loadable build):

* one encoder layer's datapath, the chained layer of :mod:`layer` (its 13
  stages one after another, one unit of each kind), whose tables (block-sparse
  weights and index, biases, requant, residual and LayerNorm parameters, the
  units' scalars) are RAMs holding **every** layer: the layers run on it one
  after another, re-targeted by a layer number (layers of different shapes are
  padded to one: :mod:`pad`, exact);
* the embedding LayerNorm; the token / position / type gather stays on the host
  (three table lookups), which sends their int32 sum;
* an AXI4-Lite control port with the Vitis ``ap_ctrl_hs`` register map and five
  64-bit arguments (:mod:`kernel_args`), and one AXI4 master (512-bit) for the
  weight image, the input and the output buffers;
* ``mode = 1`` loads the weight image into the tables (once), ``mode = 0`` runs
  one sequence: input -> embedding LayerNorm -> layers -> output.

Nothing in the deployable top is read from a file: the tables are filled from
device memory.  The cycle count of a run is predicted by :func:`accel_cycles`
from the units' exact formulas (``compiler.hw.timing`` via
:func:`layer.layer_cycles`) and checked against simulation.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from compiler.backends.rtl import layer as rtl_layer
from compiler.backends.rtl import nonlinear, verilate, xo
from compiler.backends.rtl.kernel_args import ARGS, MAXI_DATA_BITS, MAXI_PORT, REGISTERS
from compiler.backends.rtl.linear import MEM_NAMES, RTL_DIR, table_words, with_engine
from compiler.backends.rtl.pad import pad_layers
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.hw import timing
from compiler.hw.builds import Builds
from compiler.ir.graph import Graph

TEMPLATE = RTL_DIR / "accel.sv.j2"
AXI_SV = RTL_DIR / "sparsehls_axi.sv"
TOP = "sparsehls_accel"
CORE = "sparsehls_layer"
SOURCES = (*rtl_layer.SOURCES, AXI_SV)
DW = MAXI_DATA_BITS  # AXI data bits
BEAT = DW // 8  # bytes per beat
MODE_RUN, MODE_LOAD = 0, 1
EMB_UNIT = 11  # tbl_unit of the embedding LayerNorm (the layer's are layer.TBL_UNITS)
MAX_LAYERS = 255


@dataclass(frozen=True)
class Region:
    """One table of the weight image: ``lines`` words of ``bits`` bits for table ``sel`` of ``unit``."""

    unit: int
    sel: int
    bits: int
    words: tuple[int, ...]
    what: str

    @property
    def lines(self) -> int:
        return len(self.words)

    @property
    def beats(self) -> int:
        return -(-self.bits // DW)


@dataclass(frozen=True)
class AccelPlan:
    layers: tuple[rtl_layer.LayerPlan, ...]
    core: rtl_layer.Loadable
    eln: dict[str, Any]  # the embedding LayerNorm: gamma_q, beta_q, mult, shift, eps_q
    emb_name: str  # the embedding LayerNorm's input (the gather's int32 sum)
    regions: tuple[Region, ...]
    padded: dict[int, dict[str, Any]] = field(default_factory=dict)  # pad.pad_layers' summary
    graph: Graph | None = None  # the graph as built (layers padded to one shape)

    @property
    def shape(self) -> rtl_layer.LayerPlan:
        return self.layers[0]

    @property
    def eln_w(self) -> int:
        """The embedding LayerNorm's W: the layers' LayerNorm W, at most the act RAM's lanes
        (its packer takes W bytes a beat) and the 16 int32 lanes of a memory beat."""
        return eln_width(self.shape)

    @property
    def tmax(self) -> int:
        return self.shape.tmax

    @property
    def hidden(self) -> int:
        return self.shape.hidden

    @property
    def y_name(self) -> str:
        return self.layers[-1].y_name

    @property
    def mask_beats(self) -> int:
        return -(-self.tmax // BEAT)

    @property
    def in_row_beats(self) -> int:
        return -(-self.hidden // (DW // 32))

    @property
    def out_row_beats(self) -> int:
        return -(-(self.shape.x_beats * self.shape.x_lanes) // BEAT)

    @property
    def weight_beats(self) -> int:
        return sum(r.lines * r.beats for r in self.regions)

    @property
    def line_beats(self) -> int:
        return max(r.beats for r in self.regions)


def eln_width(p: rtl_layer.LayerPlan) -> int:
    w = p.ln_w
    while w > 1 and (w > p.x_lanes or w > DW // 32 or p.hidden % w):
        w //= 2
    return w


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(msg)


def _signature(p: rtl_layer.LayerPlan) -> tuple[Any, ...]:
    lin = tuple((r, q.n, q.k, q.bm, q.bn, q.out_bits, q.tt, q.pack) for r, q in p.linears.items())
    return (p.hidden, p.heads, p.head_dim, p.ffn, p.gelu_identity, lin, p.ln_w, p.gelu_w, p.add_w, p.attn_w)


def _words(text: str, lines: int) -> list[int]:
    return [int(w, 16) for w in text.split()[:lines]]


def n_layers(graph: Graph) -> int:
    return 1 + max((n.layer for n in graph.nodes if n.layer is not None and n.layer >= 0), default=-1)


def plan_accel(
    graph: Graph,
    max_tokens: int | None = None,
    lanes: int = 1,
    builds: Builds | None = None,
    widths: UnitWidths | None = None,
) -> AccelPlan:
    """Check the quantized graph against what the accelerator takes and plan it (UserError if not).

    ``builds``: the unit builds the scheduler chose (``schedule.json`` ``builds``): the engines take
    its PACK, REQ_LANES, RQ_FABRIC and token tile, the adders its FABRIC (its engine XW is not
    built: XW 1).  ``widths``: LayerNorm W and the lock-step GELU / residual-add / attention units
    per token lane (:func:`widths_for_schedule`; default one of each, W 1)."""
    _check(graph.quantized, "the accelerator needs a quantized graph (run the quantize pass first)")
    graph, padded = pad_layers(graph)
    nl = n_layers(graph)
    _check(1 <= nl <= MAX_LAYERS, f"the accelerator takes 1..{MAX_LAYERS} encoder layers, the graph has {nl}")
    try:
        if builds is None:
            plans = tuple(rtl_layer.plan_layer(graph, i, max_tokens, lanes=lanes) for i in range(nl))
        else:
            plans = tuple(
                _with_builds(
                    rtl_layer.plan_layer(graph, i, max_tokens, tt=builds.engine.token_tile, lanes=lanes),
                    builds,
                )
                for i in range(nl)
            )
    except UserError as e:
        raise UserError(f"the accelerator runs every encoder layer on one layer datapath: {e}") from None
    if widths is not None:
        plans = tuple(
            rtl_layer.with_widths(p, widths.ln, widths.gelu, widths.add, widths.attn) for p in plans
        )
    sig0 = _signature(plans[0])
    for p in plans[1:]:
        _check(
            _signature(p) == sig0,
            f"layer {p.layer} differs in shape from layer 0 (heads, FFN width or block shapes): the "
            "accelerator runs every layer on one datapath and needs one layer shape",
        )
    for a, b in zip(plans, plans[1:], strict=False):
        _check(b.x_name == a.y_name, f"layer {b.layer} does not read layer {a.layer}'s output")
    lns = [n for n in graph.nodes if n.role == "ln_emb"]
    _check(len(lns) == 1, "the accelerator needs the embedding LayerNorm (role ln_emb) in the graph")
    eln = lns[0]
    _check(eln.outputs[0] == plans[0].x_name, "the embedding LayerNorm does not feed layer 0")
    _check(
        graph.outputs == (plans[-1].y_name,) or list(graph.outputs) == [plans[-1].y_name],
        "the accelerator computes the last hidden state; this graph's output is "
        f"{', '.join(graph.outputs)} (a pooler or classifier head stays on the host: not built)",
    )
    x_lanes = plans[0].x_lanes
    _check(BEAT % x_lanes == 0, f"block width {x_lanes} must divide the {BEAT}-byte AXI beat")
    eln_p = {
        "gamma_q": graph.param(eln, "gamma_q"),
        "beta_q": graph.param(eln, "beta_q"),
        "mult": nonlinear._param_or_attr(graph, eln, "mult"),
        "shift": nonlinear._param_or_attr(graph, eln, "shift"),
        "eps_q": int(eln.attrs["eps_q"]),
    }
    _check(0 <= eln_p["eps_q"] < 2**32, "embedding LayerNorm eps_q must fit 32 bits")

    caps = {r: max(2, sum(max(1, p.linears[r].nnzb) for p in plans)) for r in rtl_layer.LINEAR_ROLES}
    regions = _regions(plans, caps, eln_p, eln_width(plans[0]))
    widest = max(r.bits for r in regions)
    core = rtl_layer.Loadable(layers=nl, caps=caps, tblw=widest, top=CORE)
    return AccelPlan(
        layers=plans,
        core=core,
        eln=eln_p,
        emb_name=eln.inputs[0],
        regions=regions,
        padded=padded,
        graph=graph,
    )


def _with_builds(p: rtl_layer.LayerPlan, builds: Builds) -> rtl_layer.LayerPlan:
    e = builds.engine
    lin = {
        r: with_engine(q, pack=e.for_block(q.bm).pack, req_lanes=e.lanes(q.bm), xw=1, rq_fabric=e.rq_fabric)
        for r, q in p.linears.items()
    }
    return dataclasses.replace(p, linears=lin, add_fabric=builds.add.fabric)


def _regions(
    plans: tuple[rtl_layer.LayerPlan, ...], caps: dict[str, int], eln: dict[str, Any], eln_w: int = 1
) -> tuple[Region, ...]:
    """Every table, in load order: the engines' (all layers of a role one after another, indptr
    cumulative), the residual adds', the LayerNorms', the scalars', the embedding LayerNorm's."""
    units = rtl_layer.TBL_UNITS
    out: list[Region] = []
    h = plans[0].hidden
    aw, lw = plans[0].add_w, plans[0].ln_w  # lane j of a table word: channel word * width + j
    for role in rtl_layer.LINEAR_ROLES:
        per_layer = []
        for p in plans:
            lp = p.linears[role]
            per_layer.append(table_words(lp, max(1, lp.nnzb)))
        total = caps[role]
        for sel, name in enumerate(MEM_NAMES):
            words: list[int] = []
            base = 0
            for p, tw in zip(plans, per_layer, strict=True):
                w = tw[name][0]
                if name == "indptr":
                    words += [base + v for v in w]
                    base += max(1, p.linears[role].nnzb)
                else:
                    words += w
            if name in ("indices", "weights"):
                words += [0] * (total - len(words))  # the build's depth (>= 2)
            bits = rtl_layer.table_bits(plans[0].linears[role], total)[name]
            out.append(Region(units[role], sel, bits, tuple(words), f"{role}.{name}"))
    for role in ("res1", "res2"):
        words = []
        for p in plans:
            a = p.adds[role]
            words += _words(nonlinear.add_mem(h, a["a"], a["b"], a["const"], lanes=aw), h // aw)
        out.append(Region(units[role], 0, rtl_layer.ADD_PARAM_BITS * aw, tuple(words), f"{role}.params"))
    for role in ("ln1", "ln2"):
        words = []
        for p in plans:
            words += _words(nonlinear.layernorm_mem(h, **p.lns[role], lanes=lw), h // lw)
        out.append(Region(units[role], 0, rtl_layer.LN_PARAM_BITS * lw, tuple(words), f"{role}.params"))
    cfg = [p.cfg[n] & 0xFFFFFFFF for p in plans for n in rtl_layer.CFG_NAMES]
    out.append(Region(units["cfg"], 0, 32, tuple(cfg), "cfg"))
    ew = {k: v for k, v in eln.items() if k != "eps_q"}
    out.append(
        Region(
            EMB_UNIT,
            0,
            rtl_layer.LN_PARAM_BITS * eln_w,
            tuple(_words(nonlinear.layernorm_mem(h, **ew, lanes=eln_w), h // eln_w)),
            "ln_emb",
        )
    )
    return tuple(out)


# --------------------------------------------------------------------------
# buffers in device memory
# --------------------------------------------------------------------------
def weight_image(plan: AccelPlan) -> bytes:
    """The ``weights`` buffer: every region's words, each in ceil(bits / 512) beats, low bits first."""
    chunks: list[bytes] = []
    for r in plan.regions:
        n = r.beats * BEAT
        chunks.extend(int(w).to_bytes(n, "little") for w in r.words)
    return b"".join(chunks)


@dataclass(frozen=True)
class BufferLayout:
    """The input and output buffers of a run call: what the testbench, the XRT hosts and
    ``layout.json`` (next to the RTL, for ``sparsehls run --backend xrt``) agree on."""

    hidden: int
    tmax: int
    mask_beats: int
    in_row_beats: int
    out_row_beats: int

    def input_buffer(self, emb: np.ndarray, mask: np.ndarray) -> bytes:
        """Mask bytes (one per token), then each token's int32 embedding sums on its own beats."""
        t = emb.shape[0]
        _check(1 <= t <= self.tmax, f"{t} tokens: the accelerator was built for 1..{self.tmax}")
        m = np.zeros(self.mask_beats * BEAT, dtype=np.uint8)
        m[:t] = (np.asarray(mask) != 0).astype(np.uint8)
        rows = np.zeros((t, self.in_row_beats * (DW // 32)), dtype="<i4")
        rows[:, : self.hidden] = np.asarray(emb, dtype=np.int64)
        return m.tobytes() + rows.tobytes()

    def read_output(self, data: bytes, tokens: int) -> np.ndarray:
        """The ``output`` buffer -> int8 [tokens, hidden] (pad bytes dropped)."""
        row = self.out_row_beats * BEAT
        a = np.frombuffer(data[: tokens * row], dtype=np.int8).reshape(tokens, row)
        return a[:, : self.hidden].astype(np.int64)


def layout(plan: AccelPlan) -> BufferLayout:
    return BufferLayout(plan.hidden, plan.tmax, plan.mask_beats, plan.in_row_beats, plan.out_row_beats)


def input_buffer(plan: AccelPlan, emb: np.ndarray, mask: np.ndarray) -> bytes:
    """The ``input`` buffer of one sequence (:meth:`BufferLayout.input_buffer`)."""
    return layout(plan).input_buffer(emb, mask)


def read_output(plan: AccelPlan, data: bytes, tokens: int) -> np.ndarray:
    """The ``output`` buffer -> int8 [tokens, hidden] (pad bytes dropped)."""
    return layout(plan).read_output(data, tokens)


def output_bytes(plan: AccelPlan, tokens: int) -> int:
    return tokens * plan.out_row_beats * BEAT


# --------------------------------------------------------------------------
# cycle model of the built design
# --------------------------------------------------------------------------
#: memory read latency (cycles from AR to the first R beat) assumed by the model; the
#: testbench's memory (cocotbext-axi AxiRam) answers in about this many cycles
MEM_LATENCY = 4
LAYER_OVERHEAD = 2  # S_LAYER_GO, and ap_done seen
RUN_OVERHEAD = 4  # start, command, and the done handshake


def accel_cycles(plan: AccelPlan, tokens: int) -> dict[str, int]:
    """Predicted cycles of one run (ap_start -> ap_done) by part: input + embedding LayerNorm,
    every layer (the chained layer's exact formula), output; full-rate memory."""
    t, h = int(tokens), plan.hidden
    eln = timing.unit_cycles("layernorm", t * h, t, h, lanes=plan.eln_w) + plan.mask_beats + MEM_LATENCY + 2
    layers = sum(layer_model_cycles(plan, t))
    out = t * plan.shape.x_beats + 4 + MEM_LATENCY
    return {"input_eln": eln, "layers": layers, "output": out, "total": eln + layers + out + RUN_OVERHEAD}


def layer_model_cycles(plan: AccelPlan, tokens: int) -> list[int]:
    """Predicted cycles of each layer of one run, layer start to layer done (the testbench's
    per-layer count), plus the sequencer's cycle between layers.  The layers chain in the layer
    datapath's RAMs: only the first loads its input, only the last streams its output out."""
    last = len(plan.layers) - 1
    return [
        rtl_layer.layer_cycles(p, int(tokens), load=i == 0, out=i == last) + LAYER_OVERHEAD
        for i, p in enumerate(plan.layers)
    ]


def load_cycles_model(plan: AccelPlan) -> int:
    return plan.weight_beats + MEM_LATENCY + 4


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
#: the m_axi_gmem port (Vitis names): (signal, direction seen from the kernel, bits)
MAXI_READ = (
    ("ARID", "o", 1), ("ARADDR", "o", 64), ("ARLEN", "o", 8), ("ARSIZE", "o", 3), ("ARBURST", "o", 2),
    ("ARLOCK", "o", 1), ("ARCACHE", "o", 4), ("ARPROT", "o", 3), ("ARQOS", "o", 4), ("ARREGION", "o", 4),
    ("ARVALID", "o", 1), ("ARREADY", "i", 1), ("RID", "i", 1), ("RRESP", "i", 2), ("RLAST", "i", 1),
    ("RDATA", "i", DW), ("RVALID", "i", 1), ("RREADY", "o", 1),
)  # fmt: skip
MAXI_WRITE = (
    ("AWID", "o", 1), ("AWADDR", "o", 64), ("AWLEN", "o", 8), ("AWSIZE", "o", 3), ("AWBURST", "o", 2),
    ("AWLOCK", "o", 1), ("AWCACHE", "o", 4), ("AWPROT", "o", 3), ("AWQOS", "o", 4), ("AWREGION", "o", 4),
    ("AWVALID", "o", 1), ("AWREADY", "i", 1), ("WDATA", "o", DW), ("WSTRB", "o", DW // 8), ("WLAST", "o", 1),
    ("WVALID", "o", 1), ("WREADY", "i", 1), ("BID", "i", 1), ("BRESP", "i", 2), ("BVALID", "i", 1),
    ("BREADY", "o", 1),
)  # fmt: skip


def _maxi_ports() -> list[dict[str, str]]:
    return [
        {"name": n, "dir": "output logic" if d == "o" else "input  wire ", "decl": f"[{b - 1:>3}:0]"}
        for n, d, b in (*MAXI_WRITE, *MAXI_READ)
    ]


def _engine_inst(module: str, name: str, signals: tuple[tuple[str, str, int], ...], stream: str) -> str:
    ports = [
        ".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)", f".cmd_valid({name}_cmd_valid)", f".cmd_ready({name}_cmd_ready)",
        f".cmd_addr({name}_cmd_addr)", f".cmd_beats({name}_cmd_beats)", f".busy({name}_busy)", f".done({name}_done)",
    ]  # fmt: skip
    ports += [f".{stream}_{s}({name}_{s})" for s in ("TDATA", "TVALID", "TREADY")]
    ports += [f".m_axi_{n}({MAXI_PORT}_{n})" for n, _, _ in signals]
    body = ",\n      ".join(ports)
    return f"  {module} #(.DW(DW), .AW(64), .MAXBURST(64)) u_{name} (\n      {body}\n  );"


def render_accel(plan: AccelPlan) -> dict[str, str]:
    """The generated files: the layer datapath (loadable build) and the accelerator top."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(RTL_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    s = plan.shape
    lb = plan.line_beats
    act_aw = max(1, (plan.tmax * s.x_beats - 1).bit_length())
    top = env.get_template(TEMPLATE.name).render(
        top=TOP,
        core=CORE,
        dw=DW,
        tmax=plan.tmax,
        tw=max(1, plan.tmax.bit_length()),
        hidden=s.hidden,
        heads=s.heads,
        head_dim=s.head_dim,
        ffn=s.ffn,
        x_lanes=s.x_lanes,
        x_beats=s.x_beats,
        layers=len(plan.layers),
        registers=REGISTERS,
        arg_index={a.name: i for i, a in enumerate(ARGS)},
        maxi_port=MAXI_PORT,
        maxi_ports=_maxi_ports(),
        mask_beats=plan.mask_beats,
        in_row_beats=plan.in_row_beats,
        out_row_beats=plan.out_row_beats,
        weight_beats=plan.weight_beats,
        regions=plan.regions,
        line_beats=lb,
        line_bits=max(1, lb.bit_length()),
        tblw=lb * DW,
        core_tblw=plan.core.tblw,
        emb_unit=EMB_UNIT,
        eln_eps_q=plan.eln["eps_q"],
        ln_bits=rtl_layer.LN_PARAM_BITS * plan.eln_w,
        eln_w=plan.eln_w,
        act_aw=act_aw,
        act_uram=rtl_layer.ram_uram(1 << act_aw),
        rd_inst=_engine_inst("sparsehls_axi_rd", "rd", MAXI_READ, "out"),
        wr_inst=_engine_inst("sparsehls_axi_wr", "wr", MAXI_WRITE, "in"),
    )
    return {f"{CORE}.sv": rtl_layer.render_layer(s, plan.core), f"{TOP}.sv": top}


def write_accel(plan: AccelPlan, folder: Path, board: str = "") -> dict[str, Path]:
    """Write the generated sources, the weight image (``weights.bin``) and the Vitis RTL-kernel
    package (``vitis/``: :mod:`xo`, its Makefile defaulting to ``board``, else the U250)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    generated = render_accel(plan)
    for name, text in generated.items():
        (folder / name).write_text(text)
        out[name.removesuffix(".sv")] = folder / name
    (folder / "weights.bin").write_bytes(weight_image(plan))
    names = {"kernel": TOP, "emb_input": plan.emb_name, "mask": plan.shape.mask_name, "output": plan.y_name}
    meta = {**names, **dataclasses.asdict(layout(plan))}
    (folder / "layout.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    out["vitis"] = xo.write_package(folder, SOURCES, generated, board or "u250")
    return out


def write_host_data(plan: AccelPlan, seqs: list[Sequence], folder: Path) -> Path:
    """``folder/host``: the sequences as the XRT host sends them (runtime/host/sparsehls_accel_host.cpp):
    ``meta.txt`` (output row bytes, runs, then each run's tokens), ``input<i>.bin`` (the input
    buffer) and ``golden<i>.bin`` (the output buffer the golden model predicts, pad bytes 0)."""
    root = Path(folder) / "host"
    root.mkdir(parents=True, exist_ok=True)
    row = plan.out_row_beats * BEAT
    meta = [f"{row} {len(seqs)}"]
    for i, s in enumerate(seqs):
        t = s.emb.shape[0]
        (root / f"input{i}.bin").write_bytes(input_buffer(plan, s.emb, s.mask))
        want = np.zeros((t, row), dtype=np.int8)
        want[:, : plan.hidden] = s.want
        (root / f"golden{i}.bin").write_bytes(want.tobytes())
        meta.append(str(t))
    (root / "meta.txt").write_text("\n".join(meta) + "\n")
    return root


def table_bytes(plan: AccelPlan, lanes: int | None = None) -> int:
    """On-chip bytes of the tables as built for ``lanes`` token lanes (default: the plan's), each
    RAM's depth times its word width: the engines' block weights once per lane pair (two lanes'
    engines read one ``sparse_wmem``), their other tables and the adds' and LayerNorms' once per
    lane, the scalars and the embedding LayerNorm's once."""
    lanes = plan.shape.lanes if lanes is None else max(1, lanes)
    engines = {rtl_layer.TBL_UNITS[r] for r in rtl_layer.LINEAR_ROLES}
    once = {rtl_layer.TBL_UNITS["cfg"], EMB_UNIT}
    weights = MEM_NAMES.index("weights")
    bits = 0
    for r in plan.regions:
        if r.unit in engines and r.sel == weights:
            copies = rtl_layer.weight_copies(lanes)
        else:
            copies = 1 if r.unit in once else lanes
        bits += r.lines * r.bits * copies
    return bits // 8


@dataclass(frozen=True)
class UnitWidths:
    """Per token lane: LayerNorm's W, int_gelu units, int_add units and attention heads at once
    (each a power of two)."""

    ln: int = 1
    gelu: int = 1
    add: int = 1
    attn: int = 1


def _pow2_floor(n: float) -> int:
    w = 1
    while w * 2 <= n:
        w *= 2
    return w


def widths_for_schedule(schedule: Mapping[str, Any], lanes: int) -> UnitWidths:
    """The schedule's element-wise units shared out over ``lanes`` token lanes: LayerNorm W from
    its builds, and per lane the largest power of two of GELU / residual-add units that keeps the
    total at or under the schedule's ``gelu_lanes`` / ``add_lanes`` (at least one each)."""
    builds = schedule.get("builds")
    ln = schedule.get("ln_width")
    if ln is None and isinstance(builds, Mapping) and isinstance(builds.get("layernorm"), Mapping):
        ln = builds["layernorm"].get("width")
    lanes = max(1, lanes)
    return UnitWidths(
        ln=_pow2_floor(max(1, int(ln or 1))),
        gelu=_pow2_floor(max(1.0, int(schedule.get("gelu_lanes") or 1) / lanes)),
        add=_pow2_floor(max(1.0, int(schedule.get("add_lanes") or 1) / lanes)),
        attn=_pow2_floor(max(1.0, int(schedule.get("attn_lanes") or 1) / lanes)),
    )


def lanes_for_schedule(schedule: Mapping[str, Any]) -> int:
    """Token lanes for a scheduled project: one lane is six engines (q, k, v, o, fc1, fc2), so the
    largest power of two with 6 x lanes <= the schedule's engines (at least 1, at most 16)."""
    engines = int(schedule.get("engines") or 6)
    lanes = 1
    while lanes * 2 * 6 <= engines and lanes < 16:
        lanes *= 2
    return lanes


def fitting_lanes(plan: AccelPlan, board: str, most: int) -> int:
    """The most token lanes (a power of two, <= ``most``, >= 1) whose tables fit (:func:`table_bytes`)."""
    from compiler.hw.boards import FIT_BUDGET, get_board

    have = get_board(board).onchip_bytes * FIT_BUDGET
    lanes = max(1, most)
    while lanes > 1 and table_bytes(plan, lanes) > have:
        lanes //= 2
    return lanes


def check_fits(plan: AccelPlan, board: str) -> None:
    """Refuse a design whose tables (:func:`table_bytes`) exceed the board's on-chip memory
    (URAM + BRAM) budget."""
    from compiler.hw.boards import FIT_BUDGET, get_board

    have = get_board(board).onchip_bytes * FIT_BUDGET
    need = table_bytes(plan)
    _check(
        need <= have,
        f"the accelerator's on-chip tables need {need / 1e6:.1f} MB ({plan.shape.lanes} token lane"
        f"{'s' if plan.shape.lanes != 1 else ''}), the {board} has {have / 1e6:.1f} MB of "
        f"URAM + BRAM within the {FIT_BUDGET:.0%} budget: weights streamed per layer are not built",
    )


def design_summary(plan: AccelPlan, tokens: int) -> dict[str, Any]:
    """What is built, in the scheduler's terms, and the model's cycles per part."""
    s = plan.shape
    q = s.linears["q"]
    parts = accel_cycles(plan, tokens)
    stages = rtl_layer.stage_cycles(s, tokens)
    return {
        "layers": len(plan.layers),
        "lanes": s.lanes,
        "engines": len(s.linears) * s.lanes,
        "engines_note": "per token lane one engine per matrix role, re-targeted over the layers (its own "
        "index, bias and requant tables; the block weights one table per lane pair, read through its two "
        "ports); the stages of a layer run one after another, except q | k | v at once and the chained "
        "o => res1 => ln1 and fc1 => gelu => fc2 => res2 => ln2",
        "attention_lanes": s.lanes * s.attn_w,
        "gelu_lanes": s.lanes * s.gelu_w,
        "add_lanes": s.lanes * s.add_w,
        "layernorm_width": s.ln_w,
        "widths_per_lane": {"layernorm_w": s.ln_w, "gelu": s.gelu_w, "add": s.add_w, "attention": s.attn_w},
        "engine_build": {
            "pack": q.pack,
            "req_lanes": q.rq_lanes,
            "xw": q.xw,
            "rq_fabric": q.rq_fabric,
            "tt": q.tt,
        },
        "table_bytes": table_bytes(plan),
        "padded_layers": {str(k): v for k, v in plan.padded.items()},
        "weight_image_bytes": len(weight_image(plan)),
        "model_cycles_by_part": parts,
        "layer0_stage_cycles": stages,
    }


# --------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------
@dataclass
class Sequence:
    emb: np.ndarray  # int32 [T, hidden]: the embedding LayerNorm's input
    mask: np.ndarray  # [T] 0/1
    want: np.ndarray  # int8 [T, hidden]: the golden last hidden state


def sequences_from_feeds(plan: AccelPlan, graph: Graph, feeds: dict[str, np.ndarray]) -> list[Sequence]:
    """One sequence per batch row, with the golden integer trace's input and output."""
    trace = interpreter.run(plan.graph or graph, feeds, mode="int", trace=True)
    emb = np.asarray(trace[plan.emb_name], dtype=np.int64)
    y = np.asarray(trace[plan.y_name], dtype=np.int64)
    mask = np.asarray(feeds[plan.shape.mask_name])
    return [Sequence(emb[b], (mask[b] != 0).astype(np.int64), y[b]) for b in range(emb.shape[0])]


def build_accel(plan: AccelPlan, build_root: Path, opt: str = "-O1") -> Path:
    return verilate.build(SOURCES, TOP, build_root, generated=render_accel(plan), opt=opt)


def run_accel(
    plan: AccelPlan, seqs: list[Sequence], case_dir: Path, build_root: Path, opt: str = "-O1"
) -> dict[str, Any]:
    """Load the weights, then run every sequence on the simulated accelerator; every output byte
    is compared with the golden.  Returns the testbench's result plus the model's cycles."""
    t0 = time.perf_counter()
    build_dir = build_accel(plan, build_root, opt)
    build_s = time.perf_counter() - t0
    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "weights": np.frombuffer(weight_image(plan), dtype=np.uint8),
        "runs": np.array(len(seqs)),
        "hidden": np.array(plan.hidden),
        "out_row": np.array(plan.out_row_beats * BEAT),
        "load_budget": np.array(4 * load_cycles_model(plan) + 10_000),
    }
    for i, s in enumerate(seqs):
        arrays[f"input{i}"] = np.frombuffer(input_buffer(plan, s.emb, s.mask), dtype=np.uint8)
        arrays[f"tokens{i}"] = np.array(s.emb.shape[0])
        arrays[f"want{i}"] = np.asarray(s.want, dtype=np.int64)
        arrays[f"budget{i}"] = np.array(3 * accel_cycles(plan, s.emb.shape[0])["total"] + 10_000)
    result, seconds = verilate.run_cocotb(
        case_dir, arrays, "compiler.backends.rtl.accel_tb", TOP, build_dir, "accelerator"
    )
    for r, s in zip(result["runs"], seqs, strict=True):
        r["model_cycles"] = accel_cycles(plan, s.emb.shape[0])["total"]
        r["layer_model_cycles"] = layer_model_cycles(plan, s.emb.shape[0])
    result["load_model_cycles"] = load_cycles_model(plan)
    result["seconds"] = round(seconds, 2)
    result["build_seconds"] = round(build_s, 2)
    return result
