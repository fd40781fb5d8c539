"""Plan and emit one block-sparse linear layer for ``hls_templates/rtl/sparse_linear.sv``.

Python plans (BSR conversion, padding, constant rows, checks), a Jinja
template prints a thin per-layer top that instantiates the engine with its
parameters and ROM files.  Every parameter the RTL cannot take is refused
here with :class:`compiler.errors.UserError`, before any tool runs.

Numerics: ``compiler/golden/ops/linear.py`` ``run_int``; the constant output
of an empty block row is computed with the same ``intops`` functions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from compiler.backends.rtl.lanes import beats_to_rows, pack_lanes, rows_to_beats
from compiler.errors import UserError
from compiler.golden import intops
from compiler.hw import timing
from compiler.hw.builds import RTL_ENGINE
from compiler.ir.graph import Graph, Node

log = logging.getLogger(__name__)

#: Block shapes (bm, bn) the engine is built and tested for.  bm x bn MACs per cycle.
SUPPORTED_BLOCKS = frozenset(
    (bm, bn) for bm in (1, 2, 4, 8, 16, 32) for bn in (1, 2, 4, 8, 16, 32) if 4 <= bm * bn <= 256
)
SUPPORTED_TILES = (2, 4, 8, 16, 32, 64)
SUPPORTED_PACK = (1, 2)  # int8 MACs per multiplier (2: WP486 packing, needs bm even)
SUPPORTED_XW = timing.XW_CHOICES  # bn-words per x_in beat (engine parameter XW)
DEFAULT_BLOCK = (4, 4)  # block of a linear node whose graph records none
MAX_TOKENS = 65535  # the engine's token counter is 16 bits
RTL_DIR = Path(__file__).resolve().parents[3] / "hls_templates" / "rtl"
CORE_SV = RTL_DIR / "sparse_linear.sv"
PKG_SV = RTL_DIR / "sparsehls_pkg.sv"  # shared by every unit: first in every source list

PORTS = (
    "ap_clk",
    "ap_rst_n",
    "ap_start",
    "ap_done",
    "ap_idle",
    "ap_ready",
    "n_tokens",
    "x_in_TDATA",
    "x_in_TVALID",
    "x_in_TREADY",
    "y_out_TDATA",
    "y_out_TVALID",
    "y_out_TREADY",
)
MEM_NAMES = ("indptr", "indices", "weights", "bias", "mult", "shift", "yconst")


@dataclass(frozen=True)
class LinearPlan:
    """A linear layer in the engine's block-sparse form (rows padded to bm, cols to bn)."""

    name: str
    bm: int
    bn: int
    n: int  # real output features
    k: int  # real input features
    tt: int  # token tile
    indptr: np.ndarray  # [nb + 1]
    indices: np.ndarray  # [nnzb] block column of each nonzero block
    blocks: np.ndarray  # [nnzb, bm, bn] int8
    bias: np.ndarray  # [nb * bm] int32 (padding rows 0)
    mult: np.ndarray  # [nb * bm] 0 <= mult < 2**31
    shift: np.ndarray  # [nb * bm] 1..62
    yconst: np.ndarray  # [nb * bm] output of rows with no block (bias only)
    out_bits: int = 8  # 8: sat8 output; 32: sat32 (linear attrs out_bits, wide output)
    pack: int = RTL_ENGINE.pack  # int8 MACs per multiplier (engine parameter PACK)
    req_lanes: int | None = (
        RTL_ENGINE.requant_lanes
    )  # shared requant lanes (REQ_LANES); None = bm, one per output lane
    xw: int = RTL_ENGINE.xw  # bn-words per x_in beat (engine parameter XW): 1, 2 or 4
    rq_fabric: int = (
        RTL_ENGINE.rq_fabric
    )  # requant products (RQ_FABRIC): 0 on DSPs, 1 in LUTs, 2 split (2 DSPs + LUT adds)

    def __post_init__(self) -> None:
        _check_xw(self.name, self.xw)
        _check_rq_fabric(self.name, self.rq_fabric)

    @property
    def rq_lanes(self) -> int:
        """Requant pipelines of the engine (REQ_LANES)."""
        return self.bm if self.req_lanes is None else self.req_lanes

    @property
    def rq_cycles(self) -> int:
        """Cycles per row-token in the requant stage: bm / REQ_LANES."""
        return self.bm // self.rq_lanes

    @property
    def nb(self) -> int:
        return len(self.indptr) - 1

    @property
    def kb(self) -> int:
        return -(-self.k // self.bn)

    @property
    def x_beats(self) -> int:
        """x_in beats per token: ceil(kb / xw) (the last one padded when xw does not divide kb)."""
        return timing.x_beats(self.kb, self.xw)

    @property
    def nnzb(self) -> int:
        return int(self.indptr[-1])

    @property
    def row_nnz(self) -> np.ndarray:
        return np.diff(self.indptr)

    def dense(self) -> np.ndarray:
        """The int8 weight [n, k] back from the blocks (for the golden model)."""
        w = np.zeros((self.nb * self.bm, self.kb * self.bn), dtype=np.int64)
        rows = np.repeat(np.arange(self.nb), self.row_nnz)
        for blk, i, j in zip(self.blocks, rows, self.indices, strict=True):
            w[i * self.bm : (i + 1) * self.bm, j * self.bn : (j + 1) * self.bn] = blk
        return w[: self.n, : self.k]

    def ideal_cycles(self, tokens: int) -> int:
        """MACs the layer needs divided by the bm*bn MAC units: one block-token per cycle."""
        return int(tokens) * self.nnzb


def ident(name: str) -> str:
    """A Verilog identifier / file stem from an IR node name (``l0.fc1`` -> ``l0_fc1``)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s[:1].isalpha() else f"n_{s}"


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UserError(msg)


#: sparse_linear.sv RQ_FABRIC builds of the requant products: DSPs, LUTs, split
SUPPORTED_RQ_FABRIC = (0, 1, 2)


def _int_in(value: object, choices: tuple[int, ...]) -> bool:
    """``value`` is an int (not a bool) among ``choices``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    return ok and int(value) in choices  # type: ignore[call-overload]


def _check_rq_fabric(name: str, rq_fabric: object) -> None:
    _check(
        _int_in(rq_fabric, SUPPORTED_RQ_FABRIC),
        f"{name}: rq_fabric must be 0 (DSPs), 1 (LUTs) or 2 (split), got {rq_fabric!r}",
    )


def _check_xw(name: str, xw: object) -> None:
    _check(
        _int_in(xw, SUPPORTED_XW), f"{name}: xw must be 1, 2 or 4 words of bn int8 per x_in beat, got {xw!r}"
    )


def plan_linear(
    name: str,
    weight_q: np.ndarray,
    bias_q: np.ndarray,
    mult: np.ndarray,
    shift: np.ndarray,
    block: tuple[int, int],
    tt: int = RTL_ENGINE.token_tile,
    out_bits: int = 8,
    pack: int = RTL_ENGINE.pack,
    req_lanes: int | None = RTL_ENGINE.requant_lanes,
    xw: int = RTL_ENGINE.xw,
    rq_fabric: int = RTL_ENGINE.rq_fabric,
) -> LinearPlan:
    """Check the layer against what the engine supports and convert it to BSR.

    A block is stored iff it has a nonzero weight (a block that quantized to
    all zeros is skipped too: the result is the same bit for bit).  ``pack``
    = 2 packs two int8 MACs per multiplier (bm must be even: 1xN blocks are
    refused); ``req_lanes`` shares that many requant pipelines among the bm
    output lanes (a power of two; values >= bm mean one per lane, the default);
    ``xw`` (1, 2 or 4) is the number of bn-words one x_in beat carries; ``rq_fabric`` where
    the requant products are built (0 DSPs, 1 LUTs, 2 split; the same numbers every way).
    """
    bm, bn = int(block[0]), int(block[1])
    _check(
        (bm, bn) in SUPPORTED_BLOCKS,
        f"{name}: block {bm}x{bn} is not supported by the RTL linear engine "
        f"(bm, bn powers of two <= 32 with 4 <= bm*bn <= 256)",
    )
    _check(out_bits in (8, 32), f"{name}: out_bits must be 8 or 32, got {out_bits}")
    _check(tt in SUPPORTED_TILES, f"{name}: token tile {tt} must be one of {SUPPORTED_TILES}")
    _check_xw(name, xw)
    _check_rq_fabric(name, rq_fabric)
    _check(pack in SUPPORTED_PACK, f"{name}: pack must be 1 or 2 int8 MACs per multiplier, got {pack}")
    _check(
        pack == 1 or bm % 2 == 0,
        f"{name}: pack=2 pairs adjacent block rows, so it needs an even block height; "
        f"block {bm}x{bn} has bm={bm} (use pack=1)",
    )
    rq: int | None = None
    if req_lanes is not None:
        _check(
            isinstance(req_lanes, (int, np.integer)) and req_lanes >= 1 and req_lanes & (req_lanes - 1) == 0,
            f"{name}: req_lanes must be a power of two >= 1, got {req_lanes}",
        )
        rq = int(req_lanes) if req_lanes < bm else None
    w = np.asarray(weight_q)
    _check(
        w.ndim == 2 and w.size > 0, f"{name}: weight must be a non-empty [N, K] matrix, got shape {w.shape}"
    )
    n, k = w.shape
    _check(
        w.dtype.kind in "iu" and int(w.min()) >= -128 and int(w.max()) <= 127, f"{name}: weights must be int8"
    )
    b = np.asarray(bias_q).reshape(-1)
    m = np.asarray(mult).reshape(-1)
    s = np.asarray(shift).reshape(-1)
    for arr, what in ((b, "bias_q"), (m, "mult"), (s, "shift")):
        _check(arr.shape == (n,), f"{name}: {what} must have {n} entries, got {arr.shape[0]}")
        _check(arr.dtype.kind in "iu", f"{name}: {what} must be integer, got {arr.dtype}")
    _check(bool(np.all((b >= intops.INT32_MIN) & (b <= intops.INT32_MAX))), f"{name}: bias_q must fit int32")
    _check(bool(np.all((m >= 0) & (m < 2**31))), f"{name}: mult must be in [0, 2**31)")
    _check(bool(np.all((s >= 1) & (s <= 62))), f"{name}: shift must be in [1, 62]")
    worst = int(np.max(np.abs(w.astype(np.int64)).sum(axis=1) * 128 + np.abs(b.astype(np.int64))))
    _check(worst < 2**31, f"{name}: the int32 accumulator can overflow (worst case {worst})")

    nb, kb = -(-n // bm), -(-k // bn)
    wp = np.zeros((nb * bm, kb * bn), dtype=np.int8)
    wp[:n, :k] = w
    blk = wp.reshape(nb, bm, kb, bn).transpose(0, 2, 1, 3)  # [nb, kb, bm, bn]
    nz = np.any(blk != 0, axis=(2, 3))
    indptr = np.concatenate([[0], np.cumsum(nz.sum(axis=1))]).astype(np.int64)
    rows, cols = np.nonzero(nz)  # row-major order = BSR order
    blocks = blk[rows, cols].astype(np.int8)

    def pad(a: np.ndarray) -> np.ndarray:
        out = np.zeros(nb * bm, dtype=np.int64)
        out[:n] = a
        return out

    bias_p, mult_p, shift_p = pad(b), pad(m), pad(s)
    shift_p[n:] = 1
    sat = intops.sat8 if out_bits == 8 else intops.sat32
    yconst = sat(intops.requant(bias_p, mult_p, shift_p)).astype(np.int64)
    plan = LinearPlan(
        name=name,
        bm=bm,
        bn=bn,
        n=n,
        k=k,
        tt=tt,
        indptr=indptr,
        indices=cols.astype(np.int64),
        blocks=blocks,
        bias=bias_p,
        mult=mult_p,
        shift=shift_p,
        yconst=yconst,
        out_bits=out_bits,
        pack=int(pack),
        req_lanes=rq,
        xw=int(xw),
        rq_fabric=int(rq_fabric),
    )
    log.debug("%s: %dx%d blocks, %d/%d nonzero", name, bm, bn, plan.nnzb, nb * kb)
    return plan


def with_engine(
    plan: LinearPlan,
    pack: int = RTL_ENGINE.pack,
    req_lanes: int | None = RTL_ENGINE.requant_lanes,
    xw: int = RTL_ENGINE.xw,
    rq_fabric: int = RTL_ENGINE.rq_fabric,
) -> LinearPlan:
    """The same layer planned for an engine with other PACK / REQ_LANES / XW / RQ_FABRIC (checked like
    :func:`plan_linear`)."""
    n = plan.n
    return plan_linear(
        plan.name,
        plan.dense(),
        plan.bias[:n],
        plan.mult[:n],
        plan.shift[:n],
        (plan.bm, plan.bn),
        plan.tt,
        out_bits=plan.out_bits,
        pack=pack,
        req_lanes=req_lanes,
        xw=xw,
        rq_fabric=rq_fabric,
    )


def block_of(node: Node, graph: Graph) -> tuple[int, int]:
    block = node.attrs.get("block", graph.meta.get("block"))
    if block is None:
        log.info("%s: no block size recorded, using %s", node.name, DEFAULT_BLOCK)
        return DEFAULT_BLOCK
    return int(block[0]), int(block[1])


def plan_from_node(graph: Graph, node: Node, tt: int = RTL_ENGINE.token_tile) -> LinearPlan:
    """The engine plan of a quantized ``linear`` node (block from attrs/meta, default 4x4)."""
    return plan_linear(
        node.name,
        graph.param(node, "weight_q"),
        graph.param(node, "bias_q"),
        graph.param(node, "mult"),
        graph.param(node, "shift"),
        block_of(node, graph),
        tt=tt,
        out_bits=int(node.attrs.get("out_bits", 8)),
    )


# ------------------------------------------------------------------ ROM files
def _mem_text(words: list[int], bits: int) -> str:
    digits = max(1, -(-bits // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def packed_pairs(block: np.ndarray) -> np.ndarray:
    """PACK = 2 ROM lanes of one bm x bn block: [bm/2, bn] 17-bit fields {hi9, lo8}.

    lo8 = w[2q+1][c], hi9 = w[2q][c] - (w[2q+1][c] < 0): then {hi9, sext18(lo8)}
    is the 27-bit multiplier operand (w[2q][c] << 18) + w[2q+1][c], so the
    engine needs no pre-adder.  hi9 is in [-129, 127].
    """
    w = np.asarray(block, dtype=np.int64)
    hi, lo = w[0::2], w[1::2]
    return ((hi - (lo < 0)) & 0x1FF) << 8 | (lo & 0xFF)


def nnzb_capacity(plan: LinearPlan) -> int:
    """Depth of the block ROMs: the block count, at least 2 (legal index widths)."""
    return max(2, plan.nnzb)


def table_words(plan: LinearPlan, nnzb_cap: int | None = None) -> dict[str, tuple[list[int], int]]:
    """The engine's tables, name -> (words, bits per word): lane 0 in the low bits, block tables
    padded to ``nnzb_cap`` entries, row tables to max(NB, 2) rows."""
    cap = nnzb_capacity(plan) if nnzb_cap is None else nnzb_cap
    _check(cap >= max(1, plan.nnzb), f"{plan.name}: ROM capacity {cap} < {plan.nnzb} blocks")
    bm, nb = plan.bm, plan.nb
    nbp = max(nb, 2)

    def per_row(a: np.ndarray, width: int) -> list[int]:
        words = [pack_lanes(a[i * bm : (i + 1) * bm], width) for i in range(nb)]
        return words + [0] * (nbp - nb)

    empty = plan.row_nnz == 0
    ob = plan.out_bits
    yc = [
        pack_lanes(plan.yconst[i * bm : (i + 1) * bm], ob) | (int(empty[i]) << (ob * bm)) for i in range(nb)
    ]
    idx = plan.indices.tolist() + [0] * (cap - plan.nnzb)
    wts = [pack_lanes(blk, 8) if plan.pack == 1 else pack_lanes(packed_pairs(blk), 17) for blk in plan.blocks]
    wts += [0] * (cap - plan.nnzb)
    widths = table_bits(plan, cap)
    return {
        "indptr": ([int(v) for v in plan.indptr], widths["indptr"]),
        "indices": ([int(v) for v in idx], widths["indices"]),
        "weights": (wts, widths["weights"]),
        "bias": (per_row(plan.bias, 32), widths["bias"]),
        "mult": (per_row(plan.mult, 31), widths["mult"]),
        "shift": (per_row(plan.shift, 6), widths["shift"]),
        "yconst": (yc + [0] * (nbp - nb), widths["yconst"]),
    }


def table_bits(plan: LinearPlan, nnzb_cap: int) -> dict[str, int]:
    """Bits per word of each table of an engine whose block tables hold ``nnzb_cap`` entries."""
    bm, bn = plan.bm, plan.bn
    return {
        "indptr": (nnzb_cap + 1).bit_length(),
        "indices": max(1, (plan.kb - 1).bit_length()),
        "weights": bm * bn * 8 if plan.pack == 1 else bm // 2 * bn * 17,
        "bias": bm * 32,
        "mult": bm * 31,
        "shift": bm * 6,
        "yconst": bm * plan.out_bits + 1,
    }


def mem_files(plan: LinearPlan, nnzb_cap: int | None = None) -> dict[str, str]:
    """Contents of the ROM files ($readmemh, one word per line, lane 0 in the low bits)."""
    cap = nnzb_capacity(plan) if nnzb_cap is None else nnzb_cap
    _check(cap >= max(2, plan.nnzb), f"{plan.name}: ROM capacity {cap} < {plan.nnzb} blocks")
    return {key: _mem_text(words, bits) for key, (words, bits) in table_words(plan, cap).items()}


def write_mems(plan: LinearPlan, folder: Path, nnzb_cap: int | None = None) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, text in mem_files(plan, nnzb_cap).items():
        path = folder / f"{ident(plan.name)}_{key}.mem"
        path.write_text(text)
        paths[key] = path
    return paths


# ------------------------------------------------------------------ top level
_TOP = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
    """\
// Generated by sparsehls (compiler/backends/rtl/linear.py): linear layer {{ name }}.
// y[{{ n }}] = sat8(requant(x[{{ k }}] @ W.T + b)), W {{ n }}x{{ k }} in {{ bm }}x{{ bn }} blocks,
// {{ nnzb }} of {{ nb * kb }} blocks nonzero.  ROM files are read relative to the
// simulator's / synthesis tool's working folder.
`default_nettype none

module {{ top }} (
    input  wire          ap_clk,
    input  wire          ap_rst_n,
    input  wire          ap_start,
    output wire          ap_done,
    output wire          ap_idle,
    output wire          ap_ready,
    input  wire [31:0]   n_tokens,
    input  wire [{{ xw * bn * 8 - 1 }}:0] x_in_TDATA,
    input  wire          x_in_TVALID,
    output wire          x_in_TREADY,
    output wire [{{ bm * ob - 1 }}:0] y_out_TDATA,
    output wire          y_out_TVALID,
    input  wire          y_out_TREADY
);
  /* verilator lint_off PINCONNECTEMPTY */
  sparse_linear #(
      .BM({{ bm }}),
      .BN({{ bn }}),
      .NB({{ nb }}),
      .KB({{ kb }}),
      .NNZB_CAP({{ cap }}),
      .TT({{ tt }}),
      .OB({{ ob }}),
{%- if pack != 1 %}
      .PACK({{ pack }}),
{%- endif %}
{%- if rq_lanes != bm %}
      .REQ_LANES({{ rq_lanes }}),
{%- endif %}
{%- if xw != 1 %}
      .XW({{ xw }}),
{%- endif %}
{%- if rq_fabric != 0 %}
      .RQ_FABRIC({{ rq_fabric }}),
{%- endif %}
{%- for key in mems %}
      .{{ key | upper }}_MEM("{{ prefix }}{{ key }}.mem"){{ "," if not loop.last }}
{%- endfor %}
  ) u_engine (
{%- for port in ports %}
      .{{ port }}({{ port }}),
{%- endfor %}
      .layer(8'd0), .tbl_we(1'b0), .tbl_sel(3'd0), .tbl_addr(32'd0), .tbl_wdata('0),  // ROM build: one layer, no table port
      .w_re(), .w_addr(), .w_q('0)  // its own weight table (WEXT = 0)
  );
  /* verilator lint_on PINCONNECTEMPTY */
endmodule

`default_nettype wire
"""
)


def render_top(plan: LinearPlan, top: str | None = None, nnzb_cap: int | None = None) -> str:
    cap = nnzb_capacity(plan) if nnzb_cap is None else nnzb_cap
    return _TOP.render(
        name=plan.name,
        top=top or f"linear_{ident(plan.name)}",
        n=plan.n,
        k=plan.k,
        bm=plan.bm,
        bn=plan.bn,
        nb=plan.nb,
        kb=plan.kb,
        nnzb=plan.nnzb,
        cap=cap,
        tt=plan.tt,
        ob=plan.out_bits,
        pack=plan.pack,
        rq_lanes=plan.rq_lanes,
        xw=plan.xw,
        rq_fabric=plan.rq_fabric,
        mems=MEM_NAMES,
        prefix=f"{ident(plan.name)}_",
        ports=PORTS,
    )


def write_layer(plan: LinearPlan, folder: Path, nnzb_cap: int | None = None) -> Path:
    """Write ``linear_<name>.sv`` and its ROM files into ``folder``; return the top's path."""
    folder = Path(folder)
    write_mems(plan, folder, nnzb_cap)
    path = folder / f"linear_{ident(plan.name)}.sv"
    path.write_text(render_top(plan, nnzb_cap=nnzb_cap))
    return path


# ------------------------------------------------------------------ streams
def pack_input(plan: LinearPlan, x: np.ndarray) -> list[int]:
    """int8 activations [T, K] -> x_in beats (token-major, ``plan.x_beats`` beats per token).

    A beat carries xw consecutive bn-words of one token (word b*xw + w in lane
    group w, lane 0 lowest); columns past K and the padded words of a token's
    last beat (xw not dividing kb) are zeros.
    """
    return rows_to_beats(x, plan.xw * plan.bn, plan.x_beats)


def unpack_output(plan: LinearPlan, beats: list[int], tokens: int) -> np.ndarray:
    """y_out beats -> int8 / int32 [T, nb*bm] (padding columns included)."""
    return beats_to_rows(beats, tokens, plan.bm, plan.nb, plan.out_bits)
