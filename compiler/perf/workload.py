"""What the FPGA has to compute for one sequence: the workload of a compiled model.

Built from a quantized IR graph (:func:`from_graph`) or from a model shape and
a block sparsity (:func:`from_shape`, for sweeps without compiling).  Only the
numbers the cycle model needs are kept: per linear N, K, block and kept blocks
(nnzb); per layer heads and head size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from compiler.ir.bsr import block_mask
from compiler.ir.graph import Graph
from compiler.ir.stats import linear_weight, node_block

PHASE_A = ("q", "k", "v")  # read the layer input; attention needs all of K and V first


@dataclass(frozen=True)
class LinearWork:
    name: str
    layer: int
    role: str
    n: int
    k: int
    bm: int
    bn: int
    nnzb: int
    tokens_one: bool = False  # after take_first (pooler / classifier): one token

    @property
    def nb(self) -> int:
        return -(-self.n // self.bm)

    @property
    def kb(self) -> int:
        return -(-self.k // self.bn)

    def macs(self, tokens: int) -> int:
        """MACs the block-sparse engine performs (every kept block is computed in full)."""
        return (1 if self.tokens_one else tokens) * self.nnzb * self.bm * self.bn

    def weight_bytes(self) -> int:
        """BSR image: int8 blocks + int32 indices + int32 indptr + per-row bias/mult (int32) and shift."""
        return self.nnzb * self.bm * self.bn + 4 * self.nnzb + 4 * (self.nb + 1) + 9 * self.n


@dataclass(frozen=True)
class LayerWork:
    index: int
    linears: tuple[LinearWork, ...]
    heads: int  # kept heads (0: attention removed)
    head_dim: int
    hidden: int
    ffn: int  # kept FFN width (0: FFN removed)

    def linear(self, role: str) -> LinearWork | None:
        return next((m for m in self.linears if m.role == role), None)

    def attention_macs(self, tokens: int) -> int:
        return 2 * self.heads * tokens * tokens * self.head_dim  # QK^T and PV

    @functools.cached_property
    def shape(self) -> tuple[object, ...]:
        """Everything the cycle model reads of this layer but its index: layers with equal shapes
        time alike (the scheduler caches on it)."""
        lin = tuple((m.role, m.n, m.k, m.bm, m.bn, m.nnzb, m.tokens_one) for m in self.linears)
        return (lin, self.heads, self.head_dim, self.hidden, self.ffn)

    @functools.cached_property
    def weight_bytes(self) -> int:
        return sum(m.weight_bytes() for m in self.linears)


@dataclass(frozen=True)
class Workload:
    name: str
    seq: int
    hidden: int
    block: tuple[int, int]
    layers: tuple[LayerWork, ...]
    tail: tuple[LinearWork, ...] = ()  # linears outside the encoder (pooler, classifier)
    embed_ln: bool = True  # a LayerNorm after the embedding sum (BERT, RoBERTa, MiniLM)

    def linears(self) -> list[LinearWork]:
        return [m for ly in self.layers for m in ly.linears] + list(self.tail)

    def macs(self) -> int:
        lin = sum(m.macs(self.seq) for m in self.linears())
        return lin + sum(ly.attention_macs(self.seq) for ly in self.layers)

    def dense_macs(self) -> int:
        return sum((1 if m.tokens_one else self.seq) * m.n * m.k for m in self.linears()) + sum(
            ly.attention_macs(self.seq) for ly in self.layers
        )

    def weight_bytes(self) -> int:
        return sum(m.weight_bytes() for m in self.linears())

    @functools.cached_property
    def max_blocks(self) -> tuple[int, int]:
        """The largest KB and NB of any matrix (the engines' tile buffers hold them)."""
        lin = self.linears()
        return max((m.kb for m in lin), default=1), max((m.nb for m in lin), default=1)

    def block_sparsity(self) -> float:
        tot = sum(m.nb * m.kb for m in self.linears() if m.layer >= 0)
        kept = sum(m.nnzb for m in self.linears() if m.layer >= 0)
        return 1.0 - kept / tot if tot else 0.0


def from_graph(graph: Graph, name: str = "", seq: int | None = None) -> Workload:
    """Workload of a (quantized or float) IR graph at its own seq_len (or ``seq``)."""
    seq = int(seq or graph.meta.get("seq_len", 128))
    hidden = int(graph.meta.get("hidden", 0))
    after_first = False
    lin: dict[int, list[LinearWork]] = {}
    tail: list[LinearWork] = []
    attn: dict[int, tuple[int, int]] = {}
    for node in graph.nodes:
        if node.op == "take_first":
            after_first = True
        if node.op == "attention":
            heads = int(node.attrs["heads"])
            hd = int(node.attrs.get("head_dim", 0) or 0)
            attn[node.layer] = (heads, hd)
        if node.op != "linear":
            continue
        w = linear_weight(graph, node)
        bm, bn = node_block(graph, node)
        m = LinearWork(
            node.name,
            node.layer,
            node.role,
            int(w.shape[0]),
            int(w.shape[1]),
            bm,
            bn,
            int(block_mask(w, (bm, bn)).sum()),
            after_first,
        )
        (lin.setdefault(node.layer, []) if node.layer >= 0 else tail).append(m)
    layers = []
    for li in sorted(set(lin) | set(attn)):
        ms = tuple(lin.get(li, []))
        heads, hd = attn.get(li, (0, 0))
        q = next((m for m in ms if m.role == "q"), None)
        if heads and not hd and q is not None:
            hd = q.n // heads
        fc1 = next((m for m in ms if m.role == "fc1"), None)
        layers.append(LayerWork(li, ms, heads, hd, hidden, fc1.n if fc1 else 0))
    block = tuple(int(b) for b in graph.meta.get("block", (16, 16)))
    return Workload(
        name or str(graph.meta.get("model_type", "model")),
        seq,
        hidden,
        (block[0], block[1]),
        tuple(layers),
        tuple(tail),
        any(n.role == "ln_emb" for n in graph.nodes),
    )


def from_shape(
    layers: int,
    hidden: int,
    heads: int,
    ffn: int,
    seq: int,
    block: tuple[int, int],
    block_sparsity: float,
    name: str = "",
) -> Workload:
    """A uniform workload: every encoder matrix keeps round((1 - sparsity) * blocks) blocks."""
    bm, bn = block
    dens = 1.0 - float(block_sparsity)

    def mat(li: int, role: str, n: int, k: int) -> LinearWork:
        nbk = (-(-n // bm)) * (-(-k // bn))
        return LinearWork(f"l{li}.{role}", li, role, n, k, bm, bn, int(np.round(dens * nbk)))

    lys = []
    for li in range(layers):
        ms = tuple(mat(li, r, hidden, hidden) for r in ("q", "k", "v", "o")) + (
            mat(li, "fc1", ffn, hidden),
            mat(li, "fc2", hidden, ffn),
        )
        lys.append(LayerWork(li, ms, heads, hidden // heads, hidden, ffn))
    return Workload(name or f"L{layers}-H{hidden}", seq, hidden, (bm, bn), tuple(lys))
