"""Shared fixtures: small random-weight checkpoints (real transformers models,
saved as safetensors) and the embedded MiniLM, compiled once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


def make_checkpoint(
    folder: Path, family: str = "bert", classifier: bool = False, seed: int = 0, **dims: int
) -> Path:
    """Save a random-weight model of a transformers config class to ``folder``."""
    import torch
    import transformers

    torch.manual_seed(seed)
    d = dict(layers=2, hidden=48, heads=4, ffn=96, vocab=120, max_pos=64)
    d.update(dims)
    if family == "bert":
        cfg = transformers.BertConfig(
            vocab_size=d["vocab"],
            hidden_size=d["hidden"],
            num_hidden_layers=d["layers"],
            num_attention_heads=d["heads"],
            intermediate_size=d["ffn"],
            max_position_embeddings=d["max_pos"],
            num_labels=3,
        )
        cls = transformers.BertForSequenceClassification if classifier else transformers.BertModel
    elif family == "distilbert":
        cfg = transformers.DistilBertConfig(
            vocab_size=d["vocab"],
            dim=d["hidden"],
            n_layers=d["layers"],
            n_heads=d["heads"],
            hidden_dim=d["ffn"],
            max_position_embeddings=d["max_pos"],
            num_labels=3,
        )
        cls = transformers.DistilBertForSequenceClassification if classifier else transformers.DistilBertModel
    elif family == "roberta":
        cfg = transformers.RobertaConfig(
            vocab_size=d["vocab"],
            hidden_size=d["hidden"],
            num_hidden_layers=d["layers"],
            num_attention_heads=d["heads"],
            intermediate_size=d["ffn"],
            max_position_embeddings=d["max_pos"] + 2,
            num_labels=3,
        )
        cls = transformers.RobertaForSequenceClassification if classifier else transformers.RobertaModel
    else:
        raise ValueError(family)
    model = cls(cfg).eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-bert")


@pytest.fixture(scope="session")
def minilm_dense_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sparsehls compile minilm` (seq 128, 16x16, csim on): compiled once per session."""
    from compiler.cli import main

    out = tmp_path_factory.mktemp("minilm") / "dense"
    assert main(["compile", "minilm", "-o", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="session")
def minilm_pruned_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """magnitude 80% 4x4 prune of MiniLM, then compile with 4x4 blocks."""
    from compiler.cli import main

    base = tmp_path_factory.mktemp("minilm-pruned")
    ckpt = base / "ckpt"
    assert (
        main(
            [
                "prune",
                "minilm",
                "-o",
                str(ckpt),
                "--method",
                "magnitude",
                "--sparsity",
                "0.8",
                "--block",
                "4x4",
            ]
        )
        == 0
    )
    out = base / "project"
    assert main(["compile", str(ckpt), "-o", str(out), "--block", "4x4", "-q"]) == 0
    return out
