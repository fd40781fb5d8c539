"""Block compressed sparse rows (BSR) of a dense int8 weight.

A block is kept when any of its elements is nonzero, so the dense matrix
rebuilt from the BSR equals the input exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BSR:
    n: int
    k: int
    bm: int
    bn: int
    indptr: np.ndarray  # int32 [N/bm + 1]
    indices: np.ndarray  # int32 [nnzb] block-column index
    blocks: np.ndarray  # int8 [nnzb, bm, bn]

    @property
    def nnzb(self) -> int:
        return int(self.indices.shape[0])

    def to_dense(self) -> np.ndarray:
        w = np.zeros((self.n, self.k), dtype=np.int8)
        for rb in range(self.n // self.bm):
            for b in range(int(self.indptr[rb]), int(self.indptr[rb + 1])):
                c = int(self.indices[b])
                w[rb * self.bm : (rb + 1) * self.bm, c * self.bn : (c + 1) * self.bn] = self.blocks[b]
        return w


def to_bsr(w: np.ndarray, bm: int, bn: int) -> BSR:
    n, k = w.shape
    if n % bm or k % bn:
        raise ValueError(f"weight {n}x{k} is not a whole number of {bm}x{bn} blocks")
    t = np.asarray(w, dtype=np.int8).reshape(n // bm, bm, k // bn, bn).transpose(0, 2, 1, 3)
    keep = np.any(t != 0, axis=(2, 3))  # [NRB, KB]
    rows, cols = np.nonzero(keep)  # row-major order: sorted by row block, then column
    indptr = np.zeros(n // bm + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n // bm), out=indptr[1:])
    return BSR(n, k, bm, bn, indptr, cols.astype(np.int32), np.ascontiguousarray(t[rows, cols]))
