"""Host pooling: what a sentence-embedding ONNX file computes after its encoder.

A file exported with a pooling tail (sentence-transformers style: mean over the attention mask,
optionally L2-normalized) is compiled as the encoder alone; the tail runs on the host.  The
project records, for every output of the file, which of these functions turns the encoder's
last hidden state into it (``graph.meta["host_outputs"]``: output name -> pooling), and the
golden check, ``run`` and the tests apply them here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

MASK_EPS = 1e-9  # sentence-transformers: torch.clamp(mask.sum(1), min=1e-9)
L2_EPS = 1e-12  # torch.nn.functional.normalize's default eps


def _mean(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float64)
    return (y.astype(np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), MASK_EPS)


def _max(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(bool)
    return np.where(m, y.astype(np.float64), -1e9).max(axis=1)


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), L2_EPS)


_POOL = {
    "none": lambda y, m: y.astype(np.float64),
    "mean": _mean,
    "cls": lambda y, m: y[:, 0].astype(np.float64),
    "max": _max,
}

#: Every host pooling, in the order the recogniser tries them.
POOLINGS: tuple[str, ...] = tuple(
    f"{base}{suffix}" for base in ("none", "mean", "cls", "max") for suffix in ("", "+l2")
)


def host_pool(kind: str, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``kind`` (e.g. ``"mean+l2"``) of the last hidden state ``y`` [B, S, H] under ``mask`` [B, S]."""
    base, _, norm = kind.partition("+")
    out = _POOL[base](y, mask)
    return _l2(out) if norm == "l2" else out


def host_outputs(kinds: Mapping[str, str], y: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of the original file from the encoder's output ``y`` (float, [B, S, H])."""
    return {name: host_pool(kind, y, mask) for name, kind in kinds.items()}
