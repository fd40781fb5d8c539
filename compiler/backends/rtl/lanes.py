"""Lanes in words: how the RTL's ROM lines and stream beats carry several values.

Lane 0 is the lowest ``bits`` of a word; a value is stored in two's
complement.  Used by the ROM files (``linear.mem_files``), the stream beats
of the engine and the layer top, and the cocotb testbenches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pack_lanes(values: np.ndarray | Sequence[int], bits: int) -> int:
    """Values (any shape, row-major) -> one word, value i in lane i."""
    word = 0
    for lane, v in enumerate(np.asarray(values, dtype=np.int64).reshape(-1).tolist()):
        word |= (int(v) & ((1 << bits) - 1)) << (lane * bits)
    return word


def unpack_lanes(word: int, lanes: int, bits: int, signed: bool = True) -> list[int]:
    """One word -> its ``lanes`` values (lane 0 first)."""
    mask = (1 << bits) - 1
    vals = [(word >> (bits * lane)) & mask for lane in range(lanes)]
    return [v - (1 << bits) if signed and v >> (bits - 1) else v for v in vals]


def rows_to_beats(x: np.ndarray, lanes: int, beats: int, bits: int = 8) -> list[int]:
    """Rows [T, K] -> ``beats`` words of ``lanes`` lanes per row (row-major; lanes past K are 0)."""
    x = np.asarray(x, dtype=np.int64)
    xp = np.zeros((x.shape[0], lanes * beats), dtype=np.int64)
    xp[:, : x.shape[1]] = x
    return [
        pack_lanes(xp[t, j * lanes : (j + 1) * lanes], bits) for t in range(len(xp)) for j in range(beats)
    ]


def beats_to_rows(
    words: Sequence[int], tokens: int, lanes: int, beats: int, bits: int = 8, signed: bool = True
) -> np.ndarray:
    """``beats`` words per row -> rows [tokens, beats * lanes] (pad lanes included); words past
    ``tokens`` rows are ignored and missing ones read as 0: callers that check the count do so."""
    out = np.zeros((tokens, beats * lanes), dtype=np.int64)
    for i, w in enumerate(words[: tokens * beats]):
        t, j = divmod(i, beats)
        out[t, j * lanes : (j + 1) * lanes] = unpack_lanes(int(w), lanes, bits, signed)
    return out
