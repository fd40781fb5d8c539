"""Plan the HLS design of a quantized graph: every number the templates print.

Python plans, Jinja renders.  :func:`plan_design` walks the graph once and
decides, per op: the kernel and its template configuration (sizes, block,
multipliers, offsets into the packed weight image), the C types of its
tensors, and which on-chip buffer holds each tensor.  Buffers are reused once
a tensor is dead (a greedy liveness allocation per C type), and each buffer
is partitioned cyclically by the widest parallel access any of its tensors
needs (linear: block width BN on the input, BM on the output; attention:
head_dim), so the unrolled MAC arrays read all their operands in one cycle.

The schedule (``ScheduleDesign``'s node attrs; 1 where a graph has none)
becomes per-op constants: ``ENGINES``, ``ROW_GROUPS`` and ``TOKEN_GROUPS`` of
a linear (R row groups x TG token engines, each a BM x BN MAC array),
``LANES`` of attention / GELU / tanh / LayerNorm; the buffers those lanes read
in parallel are partitioned for them (see :class:`Parallelism`).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from compiler.backends.hls.pack import WeightImage
from compiler.errors import UserError
from compiler.hw.boards import Board
from compiler.ir.bsr import BSR
from compiler.ir.graph import Graph, Node

log = logging.getLogger(__name__)

TOP = "sparsehls_top"
MAX_BATCH_DEPTH = 8  # m_axi depth hint for co-simulation only
I8, I32 = "int8_t", "int32_t"
WEIGHT_PORT = "w"  # the one weight argument: weights.bin as 512-bit beats
BEAT_CTYPE = "ap_uint<512>"
BEAT_BYTES = 64
MAX_BURST_BEATS = 64  # max_read_burst_length of the weight port (4 KiB, the AXI burst limit)
READ_OUTSTANDING = 16  # num_read_outstanding of the weight port (Vitis HLS default)
_BYTES = {I8: 1, I32: 4}


def c_ident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return s if not s[:1].isdigit() else "t_" + s


@dataclass(frozen=True)
class Const:
    name: str
    value: int

    @property
    def decl(self) -> str:
        if -(2**31) <= self.value < 2**31:
            return f"static const int {self.name} = {self.value};"
        return f"static const long long {self.name} = {self.value}LL;"


@dataclass
class Buffer:
    name: str
    ctype: str
    size: int = 0  # elements
    partition: int = 1

    @property
    def nbytes(self) -> int:
        return self.size * _BYTES[self.ctype]


@dataclass(frozen=True)
class TensorPlan:
    name: str
    ctype: str
    rows: str  # "seq" or "one"
    cols: int
    buffer: str

    def count(self, seq: str) -> str:
        """C expression for the element count of one batch item."""
        return f"{seq} * {self.cols}" if self.rows == "seq" else str(self.cols)


@dataclass(frozen=True)
class Port:
    name: str  # C identifier
    tensor: str  # graph tensor
    ctype: str
    direction: str  # "in" or "out"
    rows: str
    cols: int
    bundle: str
    bank: str


@dataclass(frozen=True)
class Parallelism:
    """What an op instantiates from the schedule (``scheduled`` is the node's attrs, for reports)."""

    units: int = 1  # MAC arrays (linear: ROW_GROUPS * TOKEN_GROUPS) or lanes
    scheduled: int = 1  # engines / lanes the schedule asked for (1 without a schedule)
    weights: str = ""  # linear: the schedule's "onchip" / "streamed" ("" without a schedule)

    @property
    def note(self) -> str:
        """One comment line for the config header."""
        kind = "engines" if self.weights else "lanes"
        s = f"schedule: {self.scheduled} {kind}, {self.units} instantiated"
        if self.weights:
            s += f"; weights {self.weights} (burst-read through the 512-bit port w on every call)"
        return s


@dataclass(frozen=True)
class OpPlan:
    index: int
    name: str
    op: str
    layer: int
    role: str
    cfg: str  # config struct name
    header: str  # config header file
    consts: tuple[Const, ...]
    types: tuple[tuple[str, str], ...]
    call: str  # the C++ statement
    output: TensorPlan
    ii: str  # expected initiation interval, for docs/report
    nnzb: int = 0
    par: Parallelism = field(default_factory=Parallelism)
    note: str = ""  # a comment line for the config header (the schedule's choices)
    image: WeightSpan = field(default_factory=lambda: WeightSpan(0, 0, False))
    row_blocks: tuple[int, ...] = ()  # linear: kept blocks per block row (the BSR row pointers' steps)

    @property
    def const(self) -> dict[str, int]:
        """The config constants by name."""
        return {c.name: c.value for c in self.consts}


@dataclass(frozen=True)
class WeightSpan:
    """An op's run of sections in weights.bin, and whether the top copies it on chip first.

    ``onchip``: the top burst-reads beats ``[beat0, beat0 + beats)`` into ``wb8``/``wb32``
    before the kernel runs (linear, add, LayerNorm); embed reads its tables itself.
    """

    offset: int  # bytes, 64-aligned
    nbytes: int
    onchip: bool

    @property
    def beat0(self) -> int:
        return self.offset // BEAT_BYTES

    @property
    def beats(self) -> int:
        return -(-self.nbytes // BEAT_BYTES)


@dataclass
class DesignPlan:
    top: str
    board: Board
    max_seq: int
    ops: list[OpPlan]
    buffers: list[Buffer]
    inputs: list[Port]
    outputs: list[Port]
    image: WeightImage
    headers: list[str] = field(default_factory=list)

    @property
    def wbuf_beats(self) -> int:
        """Beats of the on-chip weight image buffer: the largest image any op copies on chip."""
        return max([op.image.beats for op in self.ops if op.image.onchip] + [1])

    @property
    def onchip_bytes(self) -> int:
        wbuf = 2 * BEAT_BYTES * self.wbuf_beats  # wb8 and wb32 hold the same bytes
        return sum(b.nbytes for b in self.buffers) + sum(4 * self.max_seq for _ in self.inputs) + wbuf

    def interface(self) -> dict[str, Any]:
        """The top function's argument list, in order (read by run_csim and runtime/)."""
        args: list[dict[str, Any]] = []
        for p in self.inputs + self.outputs:
            args.append(
                {
                    "name": p.name,
                    "tensor": p.tensor,
                    "kind": "m_axi",
                    "dir": p.direction,
                    "ctype": p.ctype,
                    "rows": p.rows,
                    "cols": p.cols,
                    "bundle": p.bundle,
                    "bank": p.bank,
                }
            )
        args.append(
            {
                "name": WEIGHT_PORT,
                "kind": "m_axi",
                "dir": "in",
                "ctype": BEAT_CTYPE,
                "bundle": "gmem_w",
                "bank": self.board.bank(0),
                "tensor": "weights.bin",
            }
        )
        args += [
            {"name": "n_batch", "kind": "scalar", "ctype": "int"},
            {"name": "n_seq", "kind": "scalar", "ctype": "int"},
        ]
        return {"top": self.top, "max_seq": self.max_seq, "args": args}


# ---------------------------------------------------------------------------------------------
def _ctype_of(node: Node, in_types: list[str]) -> str:
    if node.op in ("embed", "add"):
        return I32
    if node.op == "linear":
        return I32 if node.attrs.get("out_bits", 8) == 32 else I8
    if node.op == "take_first":
        return in_types[0]
    return I8


_ACCEPTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "linear": ((I8,),),
    "attention": ((I8,), (I8,), (I8,), (I32,)),
    "gelu": ((I8, I32),),
    "tanh": ((I8, I32),),
    "add": ((I8, I32), (I8, I32)),
    "layernorm": ((I32,),),
    "take_first": ((I8, I32),),
    "embed": ((I32,), (I32,), (I32,)),
}


def _sched(node: Node, key: str) -> int:
    """A positive schedule attribute of ``node`` (``engines``, ``row_groups``, ``lanes``); 1 when absent."""
    v = node.attrs.get(key, 1)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1:
        raise UserError(f"node {node.name}: schedule attribute {key}={v!r} must be a positive integer")
    return int(v)


def _ms(node: Node, g: Graph, tag: str = "") -> tuple[np.ndarray | None, int, int]:
    """(per-channel arrays stacked [2, H] or None, scalar mult, scalar shift)."""
    mk, sk = f"{tag}mult", f"{tag}shift"
    if mk in node.params:
        return np.stack([np.asarray(g.param(node, mk)).ravel(), np.asarray(g.param(node, sk)).ravel()]), 0, 1
    return None, int(node.attrs[mk]), int(node.attrs[sk])


class _Planner:
    def __init__(self, graph: Graph, board: Board) -> None:
        self.g = graph
        self.board = board
        self.image = WeightImage()
        self.tensors: dict[str, TensorPlan] = {}
        self.buffers: list[Buffer] = []
        self.free: dict[str, list[Buffer]] = {I8: [], I32: []}
        self._base: int | None = None  # offset of the current op's first section
        self.max_seq = int(graph.meta.get("seq_len", 0) or 0)
        if self.max_seq <= 0:
            raise UserError("graph has no seq_len in its metadata: cannot size the on-chip buffers")

    # ---- buffers ------------------------------------------------------------------------------
    def _alloc(self, name: str, ctype: str, rows: str, cols: int, part: int) -> TensorPlan:
        pool = self.free[ctype]
        buf = pool.pop(0) if pool else None
        if buf is None:
            buf = Buffer(
                f"buf_{'i8' if ctype == I8 else 'i32'}_{sum(b.ctype == ctype for b in self.buffers)}", ctype
            )
            self.buffers.append(buf)
        buf.size = max(buf.size, (self.max_seq if rows == "seq" else 1) * cols)
        buf.partition = math.lcm(buf.partition, part)
        t = TensorPlan(name, ctype, rows, cols, buf.name)
        self.tensors[name] = t
        return t

    def _need_partition(self, tensor: str, factor: int) -> None:
        t = self.tensors.get(tensor)
        if t is None or t.buffer.startswith("in_"):
            return
        buf = next(b for b in self.buffers if b.name == t.buffer)
        buf.partition = math.lcm(buf.partition, factor)

    def _release(self, tensor: str) -> None:
        t = self.tensors[tensor]
        if t.buffer.startswith("in_"):
            return
        buf = next(b for b in self.buffers if b.name == t.buffer)
        if buf not in self.free[t.ctype]:
            self.free[t.ctype].append(buf)

    # ---- the walk -----------------------------------------------------------------------------
    def run(self) -> DesignPlan:
        g = self.g
        if not g.quantized:
            raise UserError("the HLS backend needs a quantized graph (run the quantize pass first)")
        for name in g.inputs:
            self.tensors[name] = TensorPlan(name, I32, "seq", 1, f"in_{c_ident(name)}")
        last_use: dict[str, int] = {}
        for i, n in enumerate(g.nodes):
            for t in n.inputs:
                last_use[t] = i
        outputs = set(g.outputs)
        ops: list[OpPlan] = []
        for i, node in enumerate(g.nodes):
            if node.op not in _ACCEPTS:
                raise UserError(f"the HLS backend does not support op {node.op!r} (node {node.name})")
            in_types = [self.tensors[t].ctype for t in node.inputs]
            for k, (t, ct) in enumerate(zip(node.inputs, in_types, strict=True)):
                if k < len(_ACCEPTS[node.op]) and ct not in _ACCEPTS[node.op][k]:
                    raise UserError(f"node {node.name}: {node.op} input {t} of type {ct} is not supported")
            first, self._base = len(self.image.sections), None
            op = getattr(self, f"_op_{node.op}")(i, node, in_types)
            ops.append(replace(op, image=self._span(first, onchip=node.op != "embed")))
            for t in dict.fromkeys(node.inputs):
                if last_use.get(t) == i and t not in outputs:
                    self._release(t)
            out = node.outputs[0]
            if out not in last_use and out not in outputs:
                self._release(out)
        in_ports = [
            Port(c_ident(t), t, I32, "in", "seq", 1, "gmem_io", self.board.bank(1 % self.board.channels))
            for t in g.inputs
        ]
        out_ports = []
        for t in g.outputs:
            tp = self.tensors[t]
            out_ports.append(
                Port(
                    c_ident(t),
                    t,
                    tp.ctype,
                    "out",
                    tp.rows,
                    tp.cols,
                    "gmem_io",
                    self.board.bank(1 % self.board.channels),
                )
            )
        headers = sorted({op.header for op in ops}, key=lambda h: (len(h), h))
        return DesignPlan(
            TOP, self.board, self.max_seq, ops, self.buffers, in_ports, out_ports, self.image, headers
        )

    # ---- helpers for op plans -----------------------------------------------------------------
    def _op(
        self,
        i: int,
        node: Node,
        kernel: str,
        args: list[str],
        consts: dict[str, int],
        out: TensorPlan,
        ii: str,
        types: dict[str, str] | None = None,
        nnzb: int = 0,
        par: Parallelism | None = None,
    ) -> OpPlan:
        cfg = f"cfg_{i}_{c_ident(node.name)}"
        header = f"config_layer{node.layer}.h" if node.layer >= 0 else "config_model.h"
        call = f"sparsehls::{kernel}<{cfg}>({', '.join(args)});" if kernel else args[0]
        return OpPlan(
            i,
            node.name,
            node.op,
            node.layer,
            node.role,
            cfg,
            header,
            tuple(Const(k, int(v)) for k, v in consts.items()),
            tuple((types or {}).items()),
            call,
            out,
            ii,
            nnzb,
            par or Parallelism(),
            par.note if par else "",
        )

    def _rows(self, t: str) -> tuple[str, str]:
        tp = self.tensors[t]
        return tp.rows, ("n_seq" if tp.rows == "seq" else "1")

    def _buf(self, t: str) -> str:
        return self.tensors[t].buffer

    def _sec(self, node: Node, role: str, array: np.ndarray, dtype: str) -> int:
        """Add a section; its byte offset relative to the op's image (the on-chip copy's address)."""
        off = self.image.add(f"{node.name}.{role}", array, dtype).offset
        if self._base is None:
            self._base = off
        return off - self._base

    def _span(self, first: int, onchip: bool) -> WeightSpan:
        secs = self.image.sections[first:]
        if not secs:
            return WeightSpan(0, 0, False)
        return WeightSpan(secs[0].offset, secs[-1].offset + secs[-1].nbytes - secs[0].offset, onchip)

    # ---- one method per op --------------------------------------------------------------------
    def _op_linear(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        g = self.g
        w = np.asarray(g.param(node, "weight_q"))
        n, k = w.shape
        bm, bn = (int(v) for v in node.attrs.get("block", g.meta.get("block", (1, 1))))
        if n % bm or k % bn:
            bm2, bn2 = math.gcd(bm, n), math.gcd(bn, k)
            log.info(
                "linear %s: %dx%d is not a whole number of %dx%d blocks; using %dx%d",
                node.name,
                n,
                k,
                bm,
                bn,
                bm2,
                bn2,
            )
            bm, bn = bm2, bn2
        x = node.inputs[0]
        if self.tensors[x].cols != k:
            raise UserError(
                f"linear {node.name}: weight has K={k} but input {x} has {self.tensors[x].cols} columns"
            )
        bsr = BSR.from_dense(np.asarray(w, dtype=np.int8), (bm, bn))  # bm, bn divide N, K here
        rows, rexpr = self._rows(x)
        bits = 32 if node.attrs.get("out_bits", 8) == 32 else 8
        mult = np.broadcast_to(np.asarray(g.param(node, "mult")), (n,))
        shift = np.broadcast_to(np.asarray(g.param(node, "shift")), (n,))
        c = dict(
            N=n,
            K=k,
            BM=bm,
            BN=bn,
            OUT_BITS=bits,
            MAX_ROWS=self.max_seq if rows == "seq" else 1,
            NNZB=bsr.nnz_blocks,
        )
        c["IDX_INDPTR"] = self._sec(node, "indptr", bsr.indptr, "int32") // 4
        c["IDX_INDICES"] = self._sec(node, "indices", bsr.indices, "int32") // 4
        c["OFF_BLOCKS"] = self._sec(node, "blocks", bsr.data, "int8")
        c["IDX_BIAS"] = self._sec(node, "bias", np.asarray(g.param(node, "bias_q")), "int32") // 4
        c["IDX_MULT"] = self._sec(node, "mult", mult, "int32") // 4
        c["IDX_SHIFT"] = self._sec(node, "shift", shift, "int32") // 4
        # The scheduler's engines form row groups (split the block rows) times token groups
        # (split the tokens), as compiler/perf/model.kernel_cycles counts them; engines that
        # neither split can use (beyond rows x tokens) are not instantiated.
        engines = _sched(node, "engines")
        rg = min(_sched(node, "row_groups"), n // bm, engines)
        tg = min(max(1, engines // rg), c["MAX_ROWS"])
        c.update(ENGINES=engines, ROW_GROUPS=rg, TOKEN_GROUPS=tg)
        self._need_partition(x, bn)
        out = self._alloc(node.outputs[0], I32 if bits == 32 else I8, rows, n, bm * rg)
        args = [self._buf(x), out.buffer, rexpr, "wb8", "wb32"]
        par = Parallelism(rg * tg, engines, str(node.attrs.get("weights", "unscheduled")))
        op = self._op(
            i,
            node,
            "bsr_linear",
            args,
            c,
            out,
            f"1 per {tg} tokens per block",
            {"out_t": out.ctype},
            bsr.nnz_blocks,
            par,
        )
        return replace(op, row_blocks=tuple(int(v) for v in np.diff(bsr.indptr)))

    def _op_attention(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        a = node.attrs
        heads, hd = int(a["heads"]), int(a["head_dim"])
        q, k, v, mask = node.inputs
        if self.tensors[mask].buffer[:3] != "in_":
            raise UserError(f"attention {node.name}: the mask must be a graph input")
        for t in (q, k, v):
            if self.tensors[t].cols != heads * hd:
                raise UserError(
                    f"attention {node.name}: {t} has {self.tensors[t].cols} columns, expected {heads * hd}"
                )
            self._need_partition(t, hd)
        rows, rexpr = self._rows(q)
        c = dict(
            HEADS=heads,
            HD=hd,
            MAX_ROWS=self.max_seq,
            SM_MULT=a["sm_mult"],
            SM_SHIFT=a["sm_shift"],
            OUT_MULT=a["out_mult"],
            OUT_SHIFT=a["out_shift"],
        )
        lanes = _sched(node, "lanes")
        c["LANES"] = min(lanes, self.max_seq)  # lanes take query rows of a head
        out = self._alloc(node.outputs[0], I8, rows, heads * hd, hd)
        args = [self._buf(q), self._buf(k), self._buf(v), self._buf(mask), out.buffer, rexpr]
        par = Parallelism(c["LANES"], lanes)
        return self._op(
            i, node, "attention", args, c, out, f"1 per key (QK and AV) for {c['LANES']} query rows", par=par
        )

    def _unary(self, i: int, node: Node, in_types: list[str], kernel: str) -> OpPlan:
        a = node.attrs
        x = node.inputs[0]
        rows, rexpr = self._rows(x)
        cols = self.tensors[x].cols
        c = dict(
            COLS=cols,
            MAX_ROWS=self.max_seq if rows == "seq" else 1,
            IN_MULT=a["in_mult"],
            IN_SHIFT=a["in_shift"],
            OUT_MULT=a["out_mult"],
            OUT_SHIFT=a["out_shift"],
        )
        c.update(OUT_OFFSET=int(a.get("out_offset", 0)), OUT_ZERO=int(a.get("out_zero", 0)))  # gelu only
        lanes = _sched(node, "lanes")
        c["LANES"] = min(lanes, c["MAX_ROWS"] * cols)  # consecutive elements per cycle
        self._need_partition(x, c["LANES"])
        out = self._alloc(node.outputs[0], I8, rows, cols, c["LANES"])
        return self._op(
            i,
            node,
            kernel,
            [self._buf(x), out.buffer, rexpr],
            c,
            out,
            f"{c['LANES']} elements per cycle",
            {"in_t": in_types[0]},
            par=Parallelism(c["LANES"], lanes),
        )

    def _op_gelu(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        return self._unary(i, node, in_types, "gelu")

    def _op_tanh(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        return self._unary(i, node, in_types, "tanh_op")

    def _op_add(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        g = self.g
        a = node.inputs[0]
        rows, rexpr = self._rows(a)
        cols = self.tensors[a].cols
        has_b = len(node.inputs) > 1
        c: dict[str, int] = dict(COLS=cols, MAX_ROWS=self.max_seq if rows == "seq" else 1, HAS_B=int(has_b))
        c.update(HAS_CONST=int("const_q" in node.params), IDX_CONST=0)
        if "const_q" in node.params:
            c["IDX_CONST"] = (
                self._sec(node, "const_q", np.asarray(g.param(node, "const_q")).ravel(), "int32") // 4
            )
        for tag in ("a", "b"):
            T = tag.upper()
            c.update(
                {f"{T}_PER_CH": 0, f"{T}_MULT": 0, f"{T}_SHIFT": 1, f"IDX_{T}_MULT": 0, f"IDX_{T}_SHIFT": 0}
            )
            if tag == "b" and not has_b:
                continue
            arrs, m, s = _ms(node, g, f"{tag}_")
            if arrs is None:
                c[f"{T}_MULT"], c[f"{T}_SHIFT"] = m, s
            else:
                c[f"{T}_PER_CH"] = 1
                c[f"IDX_{T}_MULT"] = (
                    self._sec(node, f"{tag}_mult", np.broadcast_to(arrs[0], (cols,)), "int32") // 4
                )
                c[f"IDX_{T}_SHIFT"] = (
                    self._sec(node, f"{tag}_shift", np.broadcast_to(arrs[1], (cols,)), "int32") // 4
                )
        out = self._alloc(node.outputs[0], I32, rows, cols, 1)
        b = self._buf(node.inputs[1]) if has_b else self._buf(a)
        types = {"a_t": in_types[0], "b_t": in_types[1] if has_b else in_types[0]}
        # the schedule's adders in LUTs (ScheduleDesign impl="fabric"): the fabric-bound kernel
        kernel = "add_fabric" if node.attrs.get("impl") == "fabric" else "add"
        return self._op(
            i, node, kernel, [self._buf(a), b, out.buffer, rexpr, "wb32"], c, out, "1 per element", types
        )

    def _op_layernorm(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        g = self.g
        x = node.inputs[0]
        rows, rexpr = self._rows(x)
        h = self.tensors[x].cols
        beta = np.asarray(g.param(node, "beta_q"), dtype=np.int64).ravel()
        c: dict[str, int] = dict(
            H=h, MAX_ROWS=self.max_seq if rows == "seq" else 1, EPS_Q=node.attrs["eps_q"]
        )
        c["IDX_GAMMA"] = (
            self._sec(node, "gamma_q", np.asarray(g.param(node, "gamma_q")).ravel(), "int32") // 4
        )
        c["IDX_BETA"] = self._sec(node, "beta_q", beta.astype("<i8").view("<i4"), "int32") // 4
        arrs, m, s = _ms(node, g)
        c.update(PER_CH=0, MULT=m, SHIFT=s, IDX_MULT=0, IDX_SHIFT=0)
        if arrs is not None:
            c["PER_CH"] = 1
            c["IDX_MULT"] = self._sec(node, "mult", np.broadcast_to(arrs[0], (h,)), "int32") // 4
            c["IDX_SHIFT"] = self._sec(node, "shift", np.broadcast_to(arrs[1], (h,)), "int32") // 4
        lanes = _sched(node, "lanes")
        c["LANES"] = min(lanes, c["MAX_ROWS"])  # lanes take rows in turn
        out = self._alloc(node.outputs[0], I8, rows, h, 1)
        return self._op(
            i,
            node,
            "layernorm",
            [self._buf(x), out.buffer, rexpr, "wb32"],
            c,
            out,
            f"1 per element, 3 passes per row, {c['LANES']} rows at a time",
            par=Parallelism(c["LANES"], lanes),
        )

    def _op_embed(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        g, a = self.g, node.attrs
        word = np.asarray(g.param(node, "word_q"))
        pos = np.asarray(g.param(node, "pos_q"))
        has_type = "type" in node.params
        typ = np.asarray(g.param(node, "type_q")) if has_type else np.zeros((1, word.shape[1]), np.int8)
        h = word.shape[1]
        c: dict[str, int] = dict(
            H=h, MAX_ROWS=self.max_seq, VOCAB=word.shape[0], NPOS=pos.shape[0], NTYPE=typ.shape[0]
        )
        c.update(
            ROBERTA=int(a.get("position_mode", "arange") == "roberta"),
            PADDING_IDX=int(a.get("padding_idx", 0)),
            POSITION_OFFSET=int(a.get("position_offset", 0)),
            HAS_TYPE=int(has_type),
        )
        # absolute offsets: the kernel gathers rows straight from the weight port
        c["OFF_WORD"] = self.image.add(f"{node.name}.word_q", word, "int8").offset
        c["OFF_POS"] = self.image.add(f"{node.name}.pos_q", pos, "int8").offset
        c["OFF_TYPE"] = self.image.add(f"{node.name}.type_q", typ, "int8").offset if has_type else 0
        for role in ("word", "pos", "type"):
            c[f"{role.upper()}_MULT"] = int(a.get(f"{role}_mult", 0))
            c[f"{role.upper()}_SHIFT"] = int(a.get(f"{role}_shift", 1))
        ids = self._buf(node.inputs[0])
        types = self._buf(node.inputs[1]) if len(node.inputs) > 1 else ids  # golden: ins[1] are the type ids
        out = self._alloc(node.outputs[0], I32, "seq", h, 1)
        return self._op(
            i, node, "embed", [ids, types, out.buffer, "n_seq", WEIGHT_PORT], c, out, "1 per element"
        )

    def _op_take_first(self, i: int, node: Node, in_types: list[str]) -> OpPlan:
        x = self.tensors[node.inputs[0]]
        out = self._alloc(node.outputs[0], x.ctype, "one", x.cols, 1)
        call = f"sparsehls::take_first<{x.ctype}, {self.max_seq}, {x.cols}>({x.buffer}, {out.buffer});"
        return self._op(i, node, "", [call], {"COLS": x.cols}, out, "1 per element")


def plan_design(graph: Graph, board: Board) -> DesignPlan:
    return _Planner(graph, board).run()
