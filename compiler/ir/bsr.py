"""Block compressed sparse row (BSR) matrices with ``bm x bn`` blocks.

A dense matrix ``[N, K]`` (torch layout: one row per output) is cut into a
grid of ``ceil(N/bm) x ceil(K/bn)`` blocks.  When ``N`` or ``K`` is not a
multiple of the block, the last block row / column is zero-padded: those
blocks are *partial*, and their padded cells are always zero (masked) and never
count as weights.  A block is stored ("non-zero block") when any of its real
cells is non-zero.

Layout (the same as scipy's ``bsr_array`` and the HLS kernels):

* ``indptr[r] : indptr[r+1]`` is the range of stored blocks of block row ``r``;
* ``indices[i]`` is the block column of stored block ``i`` (ascending per row);
* ``data[i]`` is the ``bm x bn`` block (zero-padded where it overhangs).

The helpers :func:`block_mask` and :func:`nnz_blocks` count blocks without
building a BSR (passes use them in inner loops).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from compiler.errors import UserError

Block = tuple[int, int]


def check_block(block: Any) -> Block:
    """Validate a block size: two positive integers.  Raises ``ValueError``."""
    try:
        bm, bn = (int(b) for b in block)
    except (TypeError, ValueError) as e:
        raise ValueError(f"block must be a pair of positive integers (bm, bn), got {block!r}") from e
    if bm <= 0 or bn <= 0:
        raise ValueError(f"block sizes must be positive, got {bm}x{bn}")
    return bm, bn


def grid(shape: tuple[int, int], block: Block) -> tuple[int, int]:
    """Number of block rows and block columns of a matrix of ``shape``."""
    bm, bn = check_block(block)
    n, k = shape
    return -(-n // bm), -(-k // bn)


def block_mask(dense: npt.ArrayLike, block: Block) -> np.ndarray:
    """Bool ``[ceil(N/bm), ceil(K/bn)]``: which blocks hold a non-zero cell."""
    a = np.asarray(dense)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {a.shape}")
    bm, bn = check_block(block)
    nbr, nbc = grid(a.shape, (bm, bn))
    nz = np.zeros((nbr * bm, nbc * bn), dtype=bool)
    nz[: a.shape[0], : a.shape[1]] = a != 0
    return np.asarray(nz.reshape(nbr, bm, nbc, bn).any(axis=(1, 3)))


def nnz_blocks(dense: npt.ArrayLike, block: Block) -> int:
    """Number of non-zero blocks of a dense matrix."""
    return int(block_mask(dense, block).sum())


@dataclass(frozen=True)
class BSRStats:
    shape: tuple[int, int]
    block: Block
    nnz: int  # non-zero weights
    weight_sparsity: float  # fraction of zero weights (real cells only)
    nnz_blocks: int
    total_blocks: int
    block_sparsity: float  # fraction of all-zero blocks
    nnz_per_block_row_min: int
    nnz_per_block_row_max: int
    nnz_per_block_row_mean: float


@dataclass(frozen=True)
class BSR:
    """A block-sparse matrix; build it with :meth:`from_dense`."""

    shape: tuple[int, int]
    block: Block
    indptr: np.ndarray  # int64 [n_block_rows + 1]
    indices: np.ndarray  # int64 [nnz_blocks]
    data: np.ndarray  # [nnz_blocks, bm, bn], dtype of the dense matrix

    @classmethod
    def from_dense(cls, dense: npt.ArrayLike, block: Block) -> BSR:
        a = np.asarray(dense)
        if a.ndim != 2:
            raise ValueError(f"expected a 2-D matrix, got shape {a.shape}")
        bm, bn = check_block(block)
        nbr, nbc = grid(a.shape, (bm, bn))
        padded = np.zeros((nbr * bm, nbc * bn), dtype=a.dtype)
        padded[: a.shape[0], : a.shape[1]] = a
        tiles = padded.reshape(nbr, bm, nbc, bn).transpose(0, 2, 1, 3)  # [nbr, nbc, bm, bn]
        mask = (tiles != 0).any(axis=(2, 3))
        rows, cols = np.nonzero(mask)  # row-major: ascending columns within a row
        indptr = np.zeros(nbr + 1, dtype=np.int64)
        np.cumsum(mask.sum(axis=1), out=indptr[1:])
        data = np.ascontiguousarray(tiles[rows, cols])
        return cls((int(a.shape[0]), int(a.shape[1])), (bm, bn), indptr, cols.astype(np.int64), data)

    @property
    def n_block_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_block_cols(self) -> int:
        return grid(self.shape, self.block)[1]

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.n_block_rows * self.block[0], self.n_block_cols * self.block[1]

    @property
    def nnz_blocks(self) -> int:
        return len(self.indices)

    @property
    def total_blocks(self) -> int:
        return self.n_block_rows * self.n_block_cols

    def nnz_per_block_row(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_dense(self) -> np.ndarray:
        bm, bn = self.block
        nbr, nbc = self.n_block_rows, self.n_block_cols
        tiles = np.zeros((nbr, nbc, bm, bn), dtype=self.data.dtype)
        rows = np.repeat(np.arange(nbr), self.nnz_per_block_row())
        tiles[rows, self.indices] = self.data
        dense = tiles.transpose(0, 2, 1, 3).reshape(nbr * bm, nbc * bn)
        return np.ascontiguousarray(dense[: self.shape[0], : self.shape[1]])

    def stats(self) -> BSRStats:
        n, k = self.shape
        nnz = int(np.count_nonzero(self.data))  # padded cells are zero by construction
        per_row = self.nnz_per_block_row()
        return BSRStats(
            shape=self.shape,
            block=self.block,
            nnz=nnz,
            weight_sparsity=1.0 - nnz / (n * k) if n * k else 0.0,
            nnz_blocks=self.nnz_blocks,
            total_blocks=self.total_blocks,
            block_sparsity=1.0 - self.nnz_blocks / self.total_blocks if self.total_blocks else 0.0,
            nnz_per_block_row_min=int(per_row.min()) if len(per_row) else 0,
            nnz_per_block_row_max=int(per_row.max()) if len(per_row) else 0,
            nnz_per_block_row_mean=float(per_row.mean()) if len(per_row) else 0.0,
        )


def _shapes_of(graph_or_shapes: Any) -> dict[str, tuple[int, int]]:
    """Encoder linear weight shapes of a Graph, or the given name->shape map / shape list."""
    from compiler.ir.graph import Graph  # local: bsr.py is usable without the graph module

    if isinstance(graph_or_shapes, Graph):
        g = graph_or_shapes
        out = {}
        for n in g.nodes:
            if n.op == "linear" and n.layer >= 0:
                key = n.params.get("weight", n.params.get("weight_q"))
                if key is not None:
                    out[n.name] = tuple(g.params[key].shape)
        return out
    if isinstance(graph_or_shapes, Mapping):
        return {str(k): (int(v[0]), int(v[1])) for k, v in graph_or_shapes.items()}
    shapes: Iterable[Any] = graph_or_shapes
    return {f"matrix {i}": (int(s[0]), int(s[1])) for i, s in enumerate(shapes)}


def check_block_fits(graph_or_shapes: Any, block: Any) -> Block:
    """Refuse (``UserError``) a block larger than a matrix it must tile.

    Takes a Graph (its encoder linears are checked: the pooler/classifier are
    small dense heads and not block-compressed), a ``{name: (N, K)}`` map, or a
    list of shapes.  A non-positive block is a ``UserError`` too here, since
    this is the check the CLI calls on ``--block``.
    """
    try:
        bm, bn = check_block(block)
    except ValueError as e:
        raise UserError(str(e)) from e
    for name, (n, k) in _shapes_of(graph_or_shapes).items():
        if bm > n or bn > k:
            raise UserError(
                f"block {bm}x{bn} is larger than matrix {name} ({n}x{k}); choose a smaller --block"
            )
    return bm, bn
