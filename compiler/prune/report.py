"""The prune report: sparsity per matrix and overall, and dead structures."""

from __future__ import annotations

from typing import Any

import torch

from compiler.prune.blocks import block_stats, grid, n_zero_blocks
from compiler.prune.targets import Target, by_layer


def sparsity_report(targets: list[Target], bm: int, bn: int, requested: float) -> dict[str, Any]:
    mats: dict[str, Any] = {}
    zeros = total = zb = nb = target_zb = 0
    for t in targets:
        st = block_stats(t.weight, bm, bn)
        st.update(layer=t.layer, kind=t.kind, target_zero_blocks=n_zero_blocks(st["blocks"], requested))
        mats[t.name] = st
        zeros += round(st["sparsity"] * t.weight.numel())
        total += t.weight.numel()
        zb += st["zero_blocks"]
        nb += st["blocks"]
        target_zb += st["target_zero_blocks"]
    return {
        "achieved_sparsity": zeros / total,
        "achieved_block_sparsity": zb / nb,
        "zero_blocks": zb,
        "blocks": nb,
        "nnz_blocks": nb - zb,
        "target_zero_blocks": target_zb,
        "prunable_weights": total,
        "matrices": mats,
    }


@torch.no_grad()
def dead_structures(targets: list[Target], heads: int) -> dict[str, Any]:
    """Heads with all Q/K/V rows and O columns zero; FFN neurons with zero in-row and out-column;
    layers whose six matrices are all zero."""
    pruned_heads: dict[str, list[int]] = {}
    pruned_neurons: dict[str, int] = {}
    pruned_layers: list[int] = []
    for layer, d in by_layer(targets).items():
        hd = d["q"].shape[0] // heads
        dead = []
        for h in range(heads):
            rows = slice(h * hd, (h + 1) * hd)
            if all(bool((d[k].weight[rows] == 0).all()) for k in ("q", "k", "v")) and bool(
                (d["o"].weight[:, rows] == 0).all()
            ):
                dead.append(h)
        if dead:
            pruned_heads[str(layer)] = dead
        neurons = ((d["ffn_in"].weight == 0).all(1) & (d["ffn_out"].weight == 0).all(0)).sum()
        if int(neurons):
            pruned_neurons[str(layer)] = int(neurons)
        if all(bool((t.weight == 0).all()) for t in d.values()):
            pruned_layers.append(layer)
    return {"pruned_heads": pruned_heads, "pruned_neurons": pruned_neurons, "pruned_layers": pruned_layers}


def check_block_fits(targets: list[Target], bm: int, bn: int) -> None:
    from compiler.errors import UserError

    for t in targets:
        rows, cols = t.shape
        if bm > rows or bn > cols:
            raise UserError(
                f"block {bm}x{bn} does not fit matrix {t.name} of shape [{rows}, {cols}] (rows x cols); use a smaller block"
            )
    grid(targets[0].shape, bm, bn)
