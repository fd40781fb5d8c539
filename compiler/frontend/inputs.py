"""Sample inputs for verification and calibration: real sentences and random ids.

Every batch mixes real tokenized sentences (when the checkpoint has a
tokenizer) with random token ids, and always includes padding, so that the
attention mask path is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compiler.errors import UserError


def load_tokenizer(folder: Path | None):  # -> tokenizers.Tokenizer | None
    if folder is None:
        return None
    path = Path(folder) / "tokenizer.json"
    if not path.exists():
        return None
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # corrupt tokenizer.json
        raise UserError(f"{path} is not a readable tokenizer ({str(e).splitlines()[0][:100]})") from None


def encode(tokenizer, texts: list[str], seq_len: int) -> dict[str, np.ndarray]:
    """Tokenize to fixed length: truncate, pad with the tokenizer's pad id (0 if none)."""
    pad_id = tokenizer.token_to_id("[PAD]")
    if pad_id is None:
        pad_id = tokenizer.token_to_id("<pad>") or 0
    tok = tokenizer
    tok.no_padding()
    tok.enable_truncation(max_length=seq_len)
    encs = tok.encode_batch(texts)
    ids = np.full((len(texts), seq_len), pad_id, dtype=np.int64)
    mask = np.zeros((len(texts), seq_len), dtype=np.int64)
    types = np.zeros((len(texts), seq_len), dtype=np.int64)
    for i, e in enumerate(encs):
        n = min(len(e.ids), seq_len)
        ids[i, :n] = e.ids[:n]
        mask[i, :n] = 1
        types[i, :n] = e.type_ids[:n]
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def random_inputs(n: int, seq_len: int, vocab: int, seed: int, pad_id: int = 0) -> dict[str, np.ndarray]:
    """Random ids with a random amount of right padding (at least 1 real token)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(low=min(5, vocab - 1), high=vocab, size=(n, seq_len), dtype=np.int64)
    mask = np.ones((n, seq_len), dtype=np.int64)
    for i in range(n):
        length = seq_len if i == 0 else int(rng.integers(1, seq_len + 1))
        mask[i, length:] = 0
        ids[i, length:] = pad_id
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": np.zeros((n, seq_len), dtype=np.int64),
    }


def sample_inputs(
    tokenizer_dir: Path | None,
    vocab: int,
    seq_len: int,
    n_text: int,
    n_random: int,
    seed: int = 0,
    offset: int = 0,
) -> dict[str, np.ndarray]:
    """``n_text`` real sentences (if a tokenizer exists) plus ``n_random`` random-id rows."""
    parts = []
    tok = load_tokenizer(tokenizer_dir)
    if tok is not None and n_text > 0:
        from compiler.data import default_corpus

        corpus = default_corpus()
        texts = [corpus[(offset + i) % len(corpus)] for i in range(n_text)]
        parts.append(encode(tok, texts, seq_len))
    else:
        n_random += n_text
    if n_random > 0:
        parts.append(random_inputs(n_random, seq_len, vocab, seed))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def take(feeds: dict[str, np.ndarray], idx: slice | list[int]) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in feeds.items()}
