"""Find the six prunable encoder linears of every layer, for BERT, RoBERTa and DistilBERT.

Prunable: query, key, value, attention output dense, FFN intermediate (in) and FFN
output dense.  Never embeddings, LayerNorm, pooler or classifier.  Matrices are in
torch layout ``[out_features, in_features]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compiler.errors import UserError

KINDS = ("q", "k", "v", "o", "ffn_in", "ffn_out")

_PATTERNS = [
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.self\.query$"), "q"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.self\.key$"), "k"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.self\.value$"), "v"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.output\.dense$"), "o"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.intermediate\.dense$"), "ffn_in"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.output\.dense$"), "ffn_out"),
    # DistilBERT
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.q_lin$"), "q"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.k_lin$"), "k"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.v_lin$"), "v"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.attention\.out_lin$"), "o"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.ffn\.lin1$"), "ffn_in"),
    (re.compile(r"(?:^|\.)layer\.(\d+)\.ffn\.lin2$"), "ffn_out"),
]


@dataclass
class Target:
    """One prunable matrix: ``name`` is the module path, ``weight`` its parameter."""

    name: str
    layer: int
    kind: str
    module: Any  # torch.nn.Linear

    @property
    def weight(self) -> Any:
        return self.module.weight

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.module.weight.shape)  # type: ignore[return-value]


def find_targets(model: Any) -> list[Target]:
    """All prunable linears, ordered by (layer, kind); every layer must have all six."""
    import torch

    found: list[Target] = []
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        for pat, kind in _PATTERNS:
            m = pat.search(name)
            if m:
                found.append(Target(name, int(m.group(1)), kind, mod))
                break
    if not found:
        raise UserError(
            f"{type(model).__name__}: no encoder linear layers found to prune (supported: BERT, RoBERTa, DistilBERT)"
        )
    layers = sorted({t.layer for t in found})
    for layer in layers:
        kinds = sorted(t.kind for t in found if t.layer == layer)
        if kinds != sorted(KINDS):
            raise UserError(
                f"{type(model).__name__}: layer {layer} has linears {kinds}, expected the six of a BERT encoder layer"
            )
    found.sort(key=lambda t: (t.layer, KINDS.index(t.kind)))
    return found


def num_heads(model: Any) -> int:
    cfg = model.config
    return int(getattr(cfg, "num_attention_heads", None) or cfg.n_heads)


def by_layer(targets: list[Target]) -> dict[int, dict[str, Target]]:
    out: dict[int, dict[str, Target]] = {}
    for t in targets:
        out.setdefault(t.layer, {})[t.kind] = t
    return out
