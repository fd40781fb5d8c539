"""attention: multi-head scaled dot-product self-attention on projected q, k, v.

inputs: q, k, v [B, S, heads*head_dim], attention_mask [B, S] (1 = real token).
Masked keys take no part in the softmax (HF adds the dtype's minimum, which
underflows exp to exactly 0 in float32: the same thing).

int: per head, scores = q_h @ k_h.T (int32); p = softmax_rows(scores, mask,
sm_mult, sm_shift) as uint8 / 256; acc = p @ v_h (int32);
out = sat8(requant(acc, out_mult, out_shift)).
"""

from __future__ import annotations

import numpy as np

from compiler.golden import intops
from compiler.ir.graph import Graph, Node


def _split(x: np.ndarray, heads: int, d: int) -> np.ndarray:
    b, s, _ = x.shape
    # contiguous copies: NumPy's batched matmul is far slower on strided views
    return np.ascontiguousarray(x.reshape(b, s, heads, d).transpose(0, 2, 1, 3))  # [B, h, S, d]


def _merge(x: np.ndarray) -> np.ndarray:
    b, h, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def run_float(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    q, k, v, mask = ins
    h, d = node.attrs["heads"], node.attrs["head_dim"]
    qh, kh, vh = (_split(t.astype(np.float32), h, d) for t in (q, k, v))
    scores = qh @ np.ascontiguousarray(kh.transpose(0, 1, 3, 2))
    # the same float32 operations as scale, mask to -inf, subtract max, exp,
    # normalise; in place where the result has the operand's shape
    scores *= np.float32(node.attrs["scale"])
    np.copyto(scores, np.float32(-np.inf), where=(mask == 0)[:, None, None, :])
    scores -= scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    e /= e.sum(axis=-1, keepdims=True)
    return _merge(e @ vh).astype(np.float32)


def run_int(node: Node, ins: list[np.ndarray], g: Graph) -> np.ndarray:
    q, k, v, mask = ins
    h, d = node.attrs["heads"], node.attrs["head_dim"]
    # exact integer matmuls on BLAS (see intops.matmul)
    qh, kh, vh = (_split(np.asarray(t), h, d) for t in (q, k, v))
    scores = intops.matmul(qh, np.ascontiguousarray(kh.transpose(0, 1, 3, 2)))
    valid = (mask != 0)[:, None, None, :]
    p = intops.softmax_rows(scores, valid, node.attrs["sm_mult"], node.attrs["sm_shift"])
    acc = intops.matmul(p, vh)
    out = intops.requant_(acc, node.attrs["out_mult"], node.attrs["out_shift"])
    return _merge(intops.sat_(out, intops.INT8_MIN, intops.INT8_MAX))


def probabilities_int(node: Node, q: np.ndarray, k: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 attention probabilities [B, h, S, S] (for traces and kernel tests)."""
    h, d = node.attrs["heads"], node.attrs["head_dim"]
    qh, kh = (_split(t.astype(np.float64), h, d) for t in (q, k))
    valid = (mask != 0)[:, None, None, :]
    return intops.softmax_rows(
        (qh @ np.ascontiguousarray(kh.transpose(0, 1, 3, 2))).astype(np.int64),
        valid,
        node.attrs["sm_mult"],
        node.attrs["sm_shift"],
    )
