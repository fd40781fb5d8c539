"""Small random-weight checkpoints of real transformers model classes, saved as safetensors."""

from __future__ import annotations

from pathlib import Path


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
