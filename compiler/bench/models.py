"""Benchmark models made offline: a BERT-base shaped random-weight checkpoint, pruned.

No hub access here (TOOLCHAIN.md), so the "BERT-base shape" model is a
``BertConfig()`` (12 layers, hidden 768, 12 heads, FFN 3072) with seeded random
weights, saved as a normal HF checkpoint and pruned with ``run_prune``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SHAPES: dict[str, dict[str, Any]] = {
    "bert-base": {
        "num_hidden_layers": 12,
        "hidden_size": 768,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "minilm-shape": {
        "num_hidden_layers": 6,
        "hidden_size": 384,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
    },
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128},
}


def make_random_bert(folder: Path, shape: str = "bert-base", seed: int = 0, max_pos: int = 512) -> Path:
    """Write a random-weight BertModel checkpoint of a named shape to ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    from compiler.checkpoint import embedded_model_dir, save_hf_model

    torch.manual_seed(seed)
    cfg = BertConfig(**SHAPES[shape], max_position_embeddings=max_pos)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    tok: Path | None
    try:
        tok = embedded_model_dir("minilm")  # a BERT uncased vocab of the same size (30522)
    except Exception:  # pragma: no cover - the embedded model ships with the package
        tok = None
    save_hf_model(model, Path(folder), tokenizer_from=tok)
    return Path(folder)


def make_pruned_bert(
    folder: Path, shape: str = "bert-base", sparsity: float = 0.9, block: str = "16x16", seed: int = 0
) -> dict[str, Any]:
    """Random-weight checkpoint of ``shape`` -> magnitude block pruning -> ``folder``; returns the prune report."""
    import tempfile

    from compiler.prune.command import run_prune

    with tempfile.TemporaryDirectory(prefix="sparsehls-dense-") as tmp:
        dense = make_random_bert(Path(tmp) / "dense", shape, seed)
        return run_prune(str(dense), Path(folder), "magnitude", sparsity, block, seed=seed, force=True)
