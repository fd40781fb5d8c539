"""Calibration text: the --data file or the shipped corpus, tokenized into fixed batches."""

from __future__ import annotations

import csv
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.data import default_corpus, split_corpus
from compiler.errors import UserError

if TYPE_CHECKING:
    import torch

# torch is imported where tokens are made, so that the CLI checks --data / --max-len without it
log = logging.getLogger(__name__)

MAX_LEN = 64


@dataclass
class TextSet:
    texts: list[str]
    labels: list[int] | None
    source: str


def load_data_file(path: str | Path) -> TextSet:
    """Read a TSV / CSV / JSONL file with a ``text`` column and an optional integer ``label``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"data file {p} not found")
    suffix = p.suffix.lower()
    data = p.read_bytes()
    if not data.strip():
        raise UserError(f"data file {p} is empty")
    if b"\x00" in data[:65536]:
        raise UserError(f"data file {p} is binary, not text (use .tsv, .csv or .jsonl)")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"data file {p} is not UTF-8 text") from None
    rows: list[dict[str, Any]] = []
    if suffix in (".tsv", ".csv"):
        reader = csv.DictReader(raw.splitlines(), delimiter="\t" if suffix == ".tsv" else ",")
        cols = reader.fieldnames or []
        if "text" not in cols:
            raise UserError(
                f"data file {p} needs a 'text' column named in its header row "
                f"(its first row is {cols[:4]}; optional 'label')"
            )
        rows = list(reader)
    elif suffix in (".jsonl", ".json"):
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(
                    f"data file {p} line {n} is not JSON (JSONL wants one object per line)"
                ) from None
            if not isinstance(obj, dict) or "text" not in obj:
                raise UserError(f"data file {p} line {n} has no 'text' field (optional 'label')")
            rows.append(obj)
    else:
        raise UserError(f"data file {p}: unknown format '{suffix}' (use .tsv, .csv or .jsonl)")
    texts = [str(r.get("text") or "").strip() for r in rows]
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        raise UserError(f"data file {p} has no rows with text")
    labels: list[int] | None = None
    if any(r.get("label") not in (None, "") for r in rows):
        labels = []
        for i in keep:
            v = rows[i].get("label")
            try:
                labels.append(int(str(v).strip()))
            except ValueError:
                raise UserError(
                    f"data file {p}: label {v!r} of row {i + 1} is not an integer class id"
                ) from None
    return TextSet([texts[i] for i in keep], labels, str(p))


VADER = "vader"
HELD_MAX = 512  # held-out sentences for fidelity at most (pairwise cosines: n^2 / 2 pairs)


def load_data(spec: str | None) -> TextSet:
    """``None``: the shipped corpus; ``vader``: the VADER distillation split; else a data file."""
    if spec is None:
        return default_set()
    if spec == VADER:
        from compiler.data import vader

        return TextSet([s.text for s in vader.load(split="distill")], None, VADER)
    return load_data_file(spec)


def split(ts: TextSet) -> tuple[TextSet, TextSet]:
    """(calibration, held-out).  The shipped corpus keeps its paraphrase pairs together.

    Other data: every 5th row is held out, the first :data:`HELD_MAX` of them; all other
    rows are calibration (distillation) text.
    """
    if ts.source == "default_corpus":
        calib, held = split_corpus(ts.texts)
        return TextSet(calib, None, ts.source), TextSet(held, None, ts.source)
    n = len(ts.texts)
    if n < 5:  # too few to hold out: measure fidelity on the shipped held-out sentences
        return ts, TextSet(split_corpus(default_corpus())[1], None, "default_corpus")
    held_idx = set(list(range(4, n, 5))[:HELD_MAX])  # every 5th row, at most HELD_MAX
    sel = lambda idx: [ts.texts[i] for i in idx]  # noqa: E731
    cal = [i for i in range(n) if i not in held_idx]
    hel = sorted(held_idx)
    lab = ts.labels
    return (
        TextSet(sel(cal), [lab[i] for i in cal] if lab else None, ts.source),
        TextSet(sel(hel), [lab[i] for i in hel] if lab else None, ts.source),
    )


def default_set() -> TextSet:
    return TextSet(default_corpus(), None, "default_corpus")


def max_positions(cfg: dict[str, Any]) -> int | None:
    """Usable positions of the model (RoBERTa's position ids start after its padding id:
    ``model_dims`` keeps that offset); None if the config does not say."""
    from compiler.checkpoint import model_dims

    try:
        return int(model_dims(cfg)["max_pos"])
    except (KeyError, TypeError, ValueError):
        return None


def calibration_length(cfg: dict[str, Any], max_len: int | None = None) -> int:
    """Tokens per calibration sentence: ``max_len`` (default :data:`MAX_LEN`), or fewer on a model
    with fewer usable positions.  An explicit ``max_len`` above them is a user error."""
    pos = max_positions(cfg)
    if max_len is not None:
        if max_len < 1:
            raise UserError(f"--max-len {max_len} must be >= 1")
        if pos is not None and max_len > pos:
            raise UserError(f"--max-len {max_len} is above the model's {pos} position embeddings")
        return max_len
    return max(1, min(MAX_LEN, pos)) if pos is not None else MAX_LEN


Tokenize = Callable[[list[str]], "dict[str, torch.Tensor]"]


def make_tokenizer(folder: Path, vocab_size: int, max_len: int = MAX_LEN) -> Tokenize:
    """The checkpoint's own tokenizer; a deterministic word-hash tokenizer if it ships none.

    Sentences are cut to ``max_len`` tokens (see :func:`calibration_length`).

    Random-weight test checkpoints carry no tokenizer files; hashing words into the
    vocabulary gives them stable, text-dependent inputs.
    """
    import torch

    if (Path(folder) / "tokenizer.json").exists() or (Path(folder) / "vocab.txt").exists():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

        def hf(texts: list[str]) -> dict[str, torch.Tensor]:
            enc = tok(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

        return hf
    log.info("%s has no tokenizer files: using a word-hash tokenizer", folder)

    def hashed(texts: list[str]) -> dict[str, torch.Tensor]:
        seqs = [
            [1]
            + [3 + zlib.crc32(w.lower().encode()) % max(vocab_size - 3, 1) for w in t.split()][
                : max(max_len - 2, 0)
            ]
            + [2]
            for t in texts
        ]
        n = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), n, dtype=torch.long)
        mask = torch.zeros(len(seqs), n, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    return hashed


def make_batches(tokenize: Tokenize, ts: TextSet, batch_size: int) -> list[dict[str, torch.Tensor]]:
    import torch

    out = []
    for i in range(0, len(ts.texts), batch_size):
        b = tokenize(ts.texts[i : i + batch_size])
        if ts.labels is not None:
            b["labels"] = torch.tensor(ts.labels[i : i + batch_size], dtype=torch.long)
        out.append(b)
    return out
