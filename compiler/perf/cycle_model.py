"""Analytical cycle model of the block-sparse linear engine (hls_templates/rtl/sparse_linear.sv).

The engine is three stages over token tiles of ``tt`` tokens, decoupled by
double-buffered tile memories:

    LOAD    tt*KB beats  (x_in, one beat per cycle)
    COMPUTE nnzb*max(tt, 2) cycles (one block-token per cycle; the requant of a
            row's last block is in-line; empty block rows cost nothing)
    STORE   tt*NB beats  (y_out, one beat per cycle)

Tile k may load when compute has released its X bank (tile k-2), may compute
when its X bank is full, the previous tile's issue ended and its Y bank was
drained by the store (tile k-2), and may store when its last result left the
compute pipeline.  The recurrence below is exact for the RTL when the streams
run at full rate (no idle input cycles, no output backpressure) and the BSR
walker keeps its descriptor FIFO filled (see :func:`walker_keeps_up`).

Efficiency = ideal cycles (T * nnzb: MACs / (bm*bn) MAC units) / cycles.  It
falls below 1 by (a) the first tile's load and the last tile's store, which
cannot overlap compute (about tt*(KB+NB) + 10 cycles per call), and (b) any
tile whose load or store takes longer than its compute, i.e. when
nnzb < KB or nnzb < NB (very sparse or tiny layers, narrow 1xN blocks on
wide outputs).  The same functions serve the FPGA performance model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EngineTiming:
    """Pipeline constants of sparse_linear.sv, in cycles (read off the RTL)."""

    load_start: int = 1  # first x_in beat: the cycle after ap_start is sampled
    walker_ready: int = 3  # first descriptor in the FIFO (walker + indices ROM read)
    pipe: int = 7  # last issue -> Y bank marked full (S1..S6 + flag register)
    out: int = 3  # last Y read -> ap_done (read latency, output FIFO, done register)
    min_tile: int = 2  # a tile is issued with at least 2 tokens (accumulator RAW distance)


TIMING = EngineTiming()


def tile_sizes(tokens: int, tt: int) -> list[int]:
    full, tail = divmod(int(tokens), tt)
    return [tt] * full + ([tail] if tail else [])


def linear_cycles(tokens: int, nb: int, kb: int, nnzb: int, tt: int, timing: EngineTiming = TIMING) -> int:
    """Cycles from ap_start (sampled) to ap_done for one call on ``tokens`` tokens."""
    if tokens <= 0:
        return 1
    tiles = tile_sizes(tokens, tt)
    ld_end: list[int] = []  # cycle the tile's X bank is seen full
    c_last: list[int] = []  # cycle of the tile's last issue
    st_last: list[int] = []  # cycle of the tile's last Y read
    ld_next = timing.load_start
    for k, t in enumerate(tiles):
        ld_start = ld_next if k < 2 else max(ld_next, c_last[k - 2] + 1)
        ld_end.append(ld_start + t * kb)
        ld_next = ld_end[k]
        cs = max(ld_end[k], timing.walker_ready if nnzb else 0)
        if k >= 1:
            cs = max(cs, c_last[k - 1] + 1)
        if k >= 2:
            cs = max(cs, st_last[k - 2] + 1)
        if nnzb:
            c_last.append(cs + nnzb * max(t, timing.min_tile) - 1)
            y_ready = c_last[k] + timing.pipe
        else:  # all-empty matrix: outputs are constants
            c_last.append(cs)
            y_ready = cs + 1
        ss = y_ready if k == 0 else max(y_ready, st_last[k - 1] + 1)
        st_last.append(ss + t * nb - 1)
    return st_last[-1] + timing.out


def ideal_cycles(tokens: int, nnzb: int) -> int:
    """MACs needed / MAC units: one bm x bn block applied to one token per cycle."""
    return int(tokens) * int(nnzb)


def efficiency(tokens: int, nb: int, kb: int, nnzb: int, tt: int) -> float:
    ideal = ideal_cycles(tokens, nnzb)
    return ideal / linear_cycles(tokens, nb, kb, nnzb, tt) if ideal else 0.0


def walker_keeps_up(indptr: np.ndarray, tt: int, tokens: int, fifo_depth: int = 4) -> bool:
    """True when the BSR walker can never starve the issue stage.

    The walker emits one descriptor per cycle and spends one cycle per empty
    block row; the issue stage takes one descriptor every max(tt_tile, 2)
    cycles and the FIFO holds ``fifo_depth``.  A run of empty rows longer
    than what the FIFO covers would insert bubbles the model does not count.
    """
    row_nnz = np.diff(np.asarray(indptr))
    period = max(min(tt, int(tokens) % tt or tt), TIMING.min_tile)
    longest, run = 0, 0
    last = int(np.max(np.nonzero(row_nnz)[0])) if np.any(row_nnz) else -1
    for n in row_nnz[: last + 1]:
        run = run + 1 if n == 0 else 0
        longest = max(longest, run)
    # walker leads by up to fifo_depth descriptors, consumed at one per `period` cycles
    return longest < (fifo_depth - 1) * period


def best_tile(tokens: int, nb: int, kb: int, nnzb: int, choices: tuple[int, ...] = (2, 4, 8, 16, 32)) -> int:
    """Token tile with the fewest predicted cycles (smallest on ties)."""
    return min(choices, key=lambda tt: (linear_cycles(tokens, nb, kb, nnzb, tt), tt))


# --------------------------------------------------------------------------
# Non-linear units (hls_templates/rtl/int_{gelu,add,layernorm,softmax}.sv).
# Full-rate cycles of one call, ap_start -> ap_done, one element per beat.
# Measured on the RTL and checked exactly (0 cycles error) by
# hw_tests/test_nonlinear.py and hw_tests/test_rtlsim_units.py.
# --------------------------------------------------------------------------
UNIT_LATENCY = {"gelu": 13, "add": 6}  # element-wise: elems + latency (II = 1)
# Row units: rows * (3 * width + per_row) + 1.  Three passes of `width` cycles
# (load, variance / exp pass, output pass) plus, per row, LayerNorm's divider
# (42 + 64 + 32) and square root (32) iterations, softmax's 33-cycle divider,
# pipeline drains and state changes.  Rows do not overlap (one row buffer).
UNIT_ROW_OVERHEAD = {"layernorm": 195, "softmax": 51}
# One attention head (int_attention_head.sv), S tokens: K and V load (S beats),
# then S softmax rows of S keys, each fed by the QK stage at one score per cycle
# and drained into PV at one probability per cycle: S * (3S + 52) + 3.
ATTENTION_ROW_OVERHEAD = 52


def unit_cycles(unit: str, elems: int, rows: int = 1, width: int = 0) -> int:
    """Full-rate cycles of one call of a non-linear unit (``width``: the row length of row units)."""
    if unit in UNIT_LATENCY:
        return elems + UNIT_LATENCY[unit]
    if unit in UNIT_ROW_OVERHEAD:
        return rows * (3 * width + UNIT_ROW_OVERHEAD[unit]) + 1
    if unit == "attention":  # one head; rows = width = tokens
        return rows * (3 * width + ATTENTION_ROW_OVERHEAD) + 3
    raise KeyError(f"no cycle formula for unit {unit!r}")
