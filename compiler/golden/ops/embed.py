"""embed: word + position (+ token type) embeddings, before the embedding LayerNorm.

inputs: input_ids [B, S] (+ token_type_ids [B, S] if the model has them, and
attention_mask when attrs.position_mode == "roberta").  Positions are
``arange(S) + attrs.position_offset`` ("arange") or, for RoBERTa,
``cumsum(mask) * mask + padding_idx``.

int: each table is int8 with its own scale; r = sum of requant(table_q[idx],
mult_t, shift_t) in FX(F_RES), saturated to int32.
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def positions(node: Node, ins: list[np.ndarray]) -> np.ndarray:
    ids = ins[0]
    b, s = ids.shape
    if node.attrs.get("position_mode", "arange") == "roberta":
        mask = (ids != node.attrs["padding_idx"]).astype(np.int64)
        return np.cumsum(mask, axis=1) * mask + node.attrs["padding_idx"]
    return np.broadcast_to(np.arange(s, dtype=np.int64) + node.attrs.get("position_offset", 0), (b, s))


def _type_ids(node: Node, ins: list[np.ndarray]) -> np.ndarray:
    if len(ins) > 1:
        return ins[1]
    return np.zeros_like(ins[0])


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    ids = ins[0]
    y = g.param(node, "word")[ids] + g.param(node, "pos")[positions(node, ins)]
    if "type" in node.params:
        y = y + g.param(node, "type")[_type_ids(node, ins)]
    return y.astype(np.float32)


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    a = node.attrs
    ids = ins[0]
    r = intops.requant(g.param(node, "word_q")[ids], a["word_mult"], a["word_shift"])
    r = r + intops.requant(g.param(node, "pos_q")[positions(node, ins)], a["pos_mult"], a["pos_shift"])
    if "type" in node.params:
        r = r + intops.requant(g.param(node, "type_q")[_type_ids(node, ins)], a["type_mult"], a["type_shift"])
    return intops.sat32(r)
