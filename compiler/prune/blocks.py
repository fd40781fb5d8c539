"""Block grids over ``[out, in]`` matrices: bm rows x bn columns per block.

Dimensions that the block does not divide get partial blocks on the last block
row / column (the matrix is zero-padded).  A partial block counts as one block.
"""

from __future__ import annotations

from typing import Any

import torch


def grid(shape: tuple[int, int], bm: int, bn: int) -> tuple[int, int]:
    return -(-shape[0] // bm), -(-shape[1] // bn)


def block_sum(x: torch.Tensor, bm: int, bn: int) -> torch.Tensor:
    """Sum of ``x`` over each block -> ``[R, C]`` (zero padding)."""
    r, c = grid(tuple(x.shape), bm, bn)  # type: ignore[arg-type]
    pad = torch.zeros(r * bm, c * bn, dtype=x.dtype, device=x.device)
    pad[: x.shape[0], : x.shape[1]] = x
    return pad.view(r, bm, c, bn).sum(dim=(1, 3))


def block_sizes(shape: tuple[int, int], bm: int, bn: int) -> torch.Tensor:
    return block_sum(torch.ones(shape), bm, bn)


def block_energy(w: torch.Tensor, bm: int, bn: int) -> torch.Tensor:
    """Mean squared weight per block (= squared L2 norm / size; equals L2 ranking for full blocks)."""
    w = w.detach().float()
    return block_sum(w * w, bm, bn) / block_sizes(tuple(w.shape), bm, bn)  # type: ignore[arg-type]


def expand(block_keep: torch.Tensor, bm: int, bn: int, shape: tuple[int, int]) -> torch.Tensor:
    """Block mask ``[R, C]`` -> element mask ``shape``."""
    full = block_keep.repeat_interleave(bm, 0).repeat_interleave(bn, 1)
    return full[: shape[0], : shape[1]].contiguous()


def n_zero_blocks(n_blocks: int, sparsity: float) -> int:
    """The project's definition of "exact": round(sparsity * blocks) zero blocks."""
    return int(round(sparsity * n_blocks))


def zero_lowest(scores: torch.Tensor, n_zero: int) -> torch.Tensor:
    """Keep mask ``[R, C]`` with exactly ``n_zero`` lowest-scoring blocks dropped (ties: lower index first)."""
    flat = scores.flatten().double()
    order = torch.sort(flat, stable=True).indices
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[order[:n_zero]] = False
    return keep.view(scores.shape)


def zero_lowest_per_row(scores: torch.Tensor, n_zero_per_row: int) -> torch.Tensor:
    """Keep mask with exactly ``n_zero_per_row`` dropped blocks in every block row."""
    order = torch.sort(scores.double(), dim=1, stable=True).indices
    keep = torch.ones_like(scores, dtype=torch.bool)
    rows = torch.arange(scores.shape[0]).unsqueeze(1).expand(-1, n_zero_per_row)
    keep[rows, order[:, :n_zero_per_row]] = False
    return keep


def block_stats(w: torch.Tensor, bm: int, bn: int) -> dict[str, Any]:
    """Sparsity of a (pruned) weight, counting exact zeros."""
    zero = (w.detach() == 0).float()
    sizes = block_sizes(tuple(w.shape), bm, bn)  # type: ignore[arg-type]
    zero_blocks = int((block_sum(zero, bm, bn) == sizes).sum())
    n_blocks = int(sizes.numel())
    return {
        "shape": list(w.shape),
        "sparsity": float(zero.mean()),
        "blocks": n_blocks,
        "zero_blocks": zero_blocks,
        "nnz_blocks": n_blocks - zero_blocks,
        "block_sparsity": zero_blocks / n_blocks,
    }
