"""Analytical cycle model of the block-sparse linear engine (hls_templates/rtl/sparse_linear.sv).

The engine is three stages over token tiles of ``tt`` tokens, decoupled by
double-buffered tile memories:

    LOAD    tt*ceil(KB/XW) beats  (x_in, one beat of XW bn-words per cycle; XW = 1, 2, 4)
    COMPUTE nnzb*max(tt, 2) cycles (one block-token per cycle; the requant of a
            row's last block is in-line; empty block rows cost nothing)
    STORE   tt*NB beats  (y_out, one beat per cycle)

Tile k may load when compute has released its X bank (tile k-2), may compute
when its X bank is full, the previous tile's issue ended and its Y bank was
drained by the store (tile k-2), and may store when its last result left the
compute pipeline.  The recurrence below is exact for the RTL when the streams
run at full rate (no idle input cycles, no output backpressure) and the BSR
walker keeps its descriptor FIFO filled (see :func:`walker_keeps_up`).  The
first tile's compute also waits for the walker's first descriptor: walker_ready
cycles plus one per leading empty block row (counted when ``row_nnz`` is
given); a short first load (small tt * ceil(KB/XW)) shows it.

Shared requant (``REQ_LANES < BM``, ``rq_cycles = BM / REQ_LANES``): every
token of a row's last block is a *job* (its BM accumulator results) that
enters a 2*TT-deep FIFO ``rq_avail`` cycles after its issue; one serializer
takes ``rq_cycles`` cycles per job; a job's issue waits while 2*TT jobs are
issued and not yet taken (credits).  :class:`_RequantQueue` replays this job
by job (vectorized when no issue stalls) and stays exact; it needs the
kept blocks of every block row (``row_nnz``).  It costs cycles only where
rows have fewer kept blocks than ``rq_cycles`` (the issue stalls) and at the
end of a tile (the last row's jobs drain at one per ``rq_cycles``).

Efficiency = ideal cycles (T * nnzb: MACs / (bm*bn) MAC units) / cycles.  It
falls below 1 by (a) the first tile's load and the last tile's store, which
cannot overlap compute (about tt*(KBX+NB) + 10 cycles per call, KBX =
ceil(KB/XW) x_in beats per token), and (b) any tile whose load or store takes
longer than its compute, i.e. when nnzb < KBX or nnzb < NB (very sparse or
tiny layers, narrow 1xN blocks on wide outputs).  The same functions serve the
FPGA performance model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EngineTiming:
    """Pipeline constants of sparse_linear.sv, in cycles (read off the RTL)."""

    load_start: int = 1  # first x_in beat: the cycle after ap_start is sampled
    walker_ready: int = 3  # first descriptor in the FIFO (walker + indices ROM read)
    pipe: int = 7  # last issue -> Y bank marked full (S1..S6 + flag register)
    out: int = 3  # last Y read -> ap_done (read latency, output FIFO, done register)
    y_beat: int = 2  # a Y read -> its y_out beat (read latency, output FIFO)
    min_tile: int = 2  # a tile is issued with at least 2 tokens (accumulator RAW distance)
    rq_avail: int = 4  # REQ_LANES < BM: last-block issue -> job seen by the requant serializer
    rq_out: int = 4  # REQ_LANES < BM: a job's last chunk taken -> its Y bank marked full (tile's last job)
    rq_depth: int = 2  # REQ_LANES < BM: job FIFO depth (credits) in token tiles: 2*TT


TIMING = EngineTiming()


XW_CHOICES = (1, 2, 4)  # bn-words per x_in beat the engine is built for (sparse_linear.sv XW)


def x_beats(kb: int, xw: int = 1) -> int:
    """x_in beats per token of an engine with XW words per beat: ceil(kb / xw)."""
    if xw not in XW_CHOICES:
        raise ValueError(f"xw (bn-words per x_in beat) must be 1, 2 or 4, got {xw}")
    return -(-int(kb) // xw)


def tile_sizes(tokens: int, tt: int) -> list[int]:
    full, tail = divmod(int(tokens), tt)
    return [tt] * full + ([tail] if tail else [])


def spread_rows(nb: int, nnzb: int) -> np.ndarray:
    """Kept blocks per block row when only the total is known: as even as possible (an estimate)."""
    base, extra = divmod(int(nnzb), max(1, int(nb)))
    return np.array([base + (i < extra) for i in range(int(nb))], dtype=np.int64)


class _RequantQueue:
    """Issue stalls and requant drain of the shared requant lanes (``REQ_LANES < BM``), job by job.

    Job g (a last-block token, in issue order) is issued at i_g, seen by the
    serializer at a_g = i_g + rq_avail, taken at s_g = max(a_g, s_{g-1} + d)
    for d = rq_cycles cycles; credits: i_g >= s_{g-depth} + d.  Non-job issues
    never wait, a stall delays every later issue of the tile.
    """

    def __init__(
        self, row_nnz: np.ndarray, d: int, depth: int, timing: EngineTiming, replay: bool = False
    ) -> None:
        nz = row_nnz[row_nnz > 0]
        self.last_block = np.cumsum(nz) - 1  # block index (issue order) of each kept row's last block
        self.d, self.depth, self.timing = d, depth, timing
        self.replay = replay  # always replay job by job (tests compare it with the vectorized path)
        self.hist = np.zeros(0, dtype=np.int64)  # s of the last `depth` jobs
        self.stalled = False  # some issue waited for a credit

    def tile(self, cs: int, tp: int) -> tuple[int, int]:
        """Tile whose first issue is at ``cs``, ``tp`` issues per block -> (last issue, Y bank full)."""
        d, q, avail = self.d, self.depth, self.timing.rq_avail
        nat = cs + (self.last_block[:, None] * tp + np.arange(tp)[None, :]).ravel()  # jobs, no stall
        n, h = len(nat), len(self.hist)
        prev = int(self.hist[-1]) if h else None
        idx = np.arange(n)
        # no stall: s_g = g*d + max(cummax(a_m - m*d), s_prev + d)
        s = idx * d + np.maximum.accumulate(nat + avail - idx * d)
        if prev is not None:
            s = np.maximum(s, prev + (idx + 1) * d)
        full = np.concatenate([self.hist, s])
        ref = idx - q + h  # credit: the job `depth` before g
        ok = ref < 0
        ok[~ok] = nat[~ok] >= full[ref[~ok]] + d
        if ok.all() and not self.replay:
            issue = nat
        else:  # some issue waits for a credit: replay job by job
            sl = [int(v) for v in self.hist]
            issue = nat.copy()
            delay = 0
            for g in range(n):
                i = int(nat[g]) + delay
                if g - q + h >= 0:
                    i = max(i, sl[g - q + h] + d)
                delay = i - int(nat[g])
                issue[g] = i
                sl.append(i + avail if not sl else max(i + avail, sl[-1] + d))
            s = np.array(sl[h:], dtype=np.int64)
            full = np.concatenate([self.hist, s])
            self.stalled |= bool(np.any(issue != nat))
        self.hist = full[-q:]
        return int(issue[-1]), int(s[-1]) + d - 1 + self.timing.rq_out


def linear_cycles(
    tokens: int,
    nb: int,
    kb: int,
    nnzb: int,
    tt: int,
    timing: EngineTiming = TIMING,
    *,
    rq_cycles: int = 1,
    row_nnz: Sequence[int] | np.ndarray | None = None,
    xw: int = 1,
) -> int:
    """Cycles from ap_start (sampled) to ap_done for one call on ``tokens`` tokens.

    ``rq_cycles`` = BM / REQ_LANES (1: one requant lane per output lane, as
    the default RTL); above 1 the result is exact given ``row_nnz`` (kept
    blocks per block row, e.g. ``plan.row_nnz``) and an estimate without it
    (:func:`spread_rows`).  ``xw``: the engine's XW, bn-words per x_in beat
    (a token loads in ceil(kb / xw) beats).  PACK does not change the cycles.
    """
    if tokens <= 0:
        return 1
    return _tile_ends(tokens, nb, kb, nnzb, tt, timing, rq_cycles, row_nnz, xw)[-1] + timing.out


def linear_first_tile(
    nb: int,
    kb: int,
    nnzb: int,
    tt: int,
    timing: EngineTiming = TIMING,
    *,
    rq_cycles: int = 1,
    row_nnz: Sequence[int] | np.ndarray | None = None,
    xw: int = 1,
) -> int:
    """Cycles from a call's first x_in beat to the last y_out beat of its first token tile, both
    counted (full rate; a downstream stage's first input, compiler.perf.model's fill of a linear stage).
    The first tile does not depend on the tiles after it."""
    last_read = _tile_ends(tt, nb, kb, nnzb, tt, timing, rq_cycles, row_nnz, xw)[0]
    return last_read + timing.y_beat - timing.load_start + 1


def _tile_ends(
    tokens: int,
    nb: int,
    kb: int,
    nnzb: int,
    tt: int,
    timing: EngineTiming,
    rq_cycles: int,
    row_nnz: Sequence[int] | np.ndarray | None,
    xw: int = 1,
    arrive: Sequence[int] | None = None,
    row_ends: list[int] | None = None,
) -> list[int]:
    """Cycle (from ap_start) of each token tile's last Y read.

    ``arrive``: per token, the first cycle its first x_in beat can be taken (a producer chained
    row by row; default: every beat at once, full rate); ``row_ends``: filled with each token's
    last Y read."""
    kbx = x_beats(kb, xw)
    rq: _RequantQueue | None = None
    walker = timing.walker_ready  # first descriptor in the FIFO
    if nnzb and (row_nnz is not None or rq_cycles > 1):
        rows = spread_rows(nb, nnzb) if row_nnz is None else np.asarray(row_nnz, dtype=np.int64)
        if len(rows) != nb or int(rows.sum()) != nnzb:
            raise ValueError(f"row_nnz must have nb={nb} entries summing to nnzb={nnzb}")
        if row_nnz is not None:  # the walker spends a cycle on each leading empty block row
            walker += int(np.argmax(rows > 0))
        if rq_cycles > 1:
            rq = _RequantQueue(rows, int(rq_cycles), timing.rq_depth * tt, timing)
    tiles = tile_sizes(tokens, tt)
    ld_end: list[int] = []  # cycle the tile's X bank is seen full
    c_last: list[int] = []  # cycle of the tile's last issue
    st_last: list[int] = []  # cycle of the tile's last Y read
    ld_next = timing.load_start
    first = 0
    for k, t in enumerate(tiles):
        ld_start = ld_next if k < 2 else max(ld_next, c_last[k - 2] + 1)
        if arrive is None:
            ld_end.append(ld_start + t * kbx)
        else:
            cur = ld_start
            for j in range(first, first + t):
                cur = max(cur, int(arrive[j])) + kbx
            ld_end.append(cur)
        ld_next = ld_end[k]
        cs = max(ld_end[k], walker if nnzb else 0)
        if k >= 1:
            cs = max(cs, c_last[k - 1] + 1)
        if k >= 2:
            cs = max(cs, st_last[k - 2] + 1)
        if rq is not None:
            last, y_ready = rq.tile(cs, max(t, timing.min_tile))
            c_last.append(last)
        elif nnzb:
            c_last.append(cs + nnzb * max(t, timing.min_tile) - 1)
            y_ready = c_last[k] + timing.pipe
        else:  # all-empty matrix: outputs are constants
            c_last.append(cs)
            y_ready = cs + 1
        ss = y_ready if k == 0 else max(y_ready, st_last[k - 1] + 1)
        st_last.append(ss + t * nb - 1)
        if row_ends is not None:
            row_ends += [ss + (j + 1) * nb - 1 for j in range(t)]
        first += t
    return st_last


def linear_rows(
    tokens: int,
    nb: int,
    kb: int,
    nnzb: int,
    tt: int,
    timing: EngineTiming = TIMING,
    *,
    rq_cycles: int = 1,
    row_nnz: Sequence[int] | np.ndarray | None = None,
    xw: int = 1,
    arrive: Sequence[int] | None = None,
) -> tuple[list[int], int]:
    """(each token's last Y read, ap_done) in cycles from ap_start, the input of token j arriving
    from cycle ``arrive[j]`` on (None: full rate), as :func:`linear_cycles`."""
    if tokens <= 0:
        return [], 1
    rows: list[int] = []
    ends = _tile_ends(tokens, nb, kb, nnzb, tt, timing, rq_cycles, row_nnz, xw, arrive, rows)
    return rows, ends[-1] + timing.out


def ideal_cycles(tokens: int, nnzb: int) -> int:
    """MACs needed / MAC units: one bm x bn block applied to one token per cycle."""
    return int(tokens) * int(nnzb)


def efficiency(tokens: int, nb: int, kb: int, nnzb: int, tt: int, *, xw: int = 1) -> float:
    ideal = ideal_cycles(tokens, nnzb)
    return ideal / linear_cycles(tokens, nb, kb, nnzb, tt, xw=xw) if ideal else 0.0


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


def best_tile(
    tokens: int, nb: int, kb: int, nnzb: int, choices: tuple[int, ...] = (2, 4, 8, 16, 32), *, xw: int = 1
) -> int:
    """Token tile with the fewest predicted cycles (smallest on ties)."""
    return min(choices, key=lambda tt: (linear_cycles(tokens, nb, kb, nnzb, tt, xw=xw), tt))


# --------------------------------------------------------------------------
# Non-linear units (hls_templates/rtl/int_{gelu,add,layernorm,softmax}.sv).
# Full-rate cycles of one call, ap_start -> ap_done, one element per beat
# (LayerNorm: `lanes` = W elements per beat).
# Measured on the RTL and checked exactly (0 cycles error) by
# hw_tests/test_nonlinear.py and hw_tests/test_rtlsim_units.py.
# --------------------------------------------------------------------------
UNIT_LATENCY = {"gelu": 13, "add": 6}  # element-wise: elems + latency (II = 1)
# int_softmax.sv overlaps rows over NBUF = 4 row buffers in four stages (rows in
# order): LOAD (one key per cycle while fewer than NBUF rows are in the unit),
# EXP pass (one key per cycle, rows back to back), the 2^32 / sum divider (one
# row every SOFTMAX_DIV_PERIOD cycles) and OUT pass (one key per cycle, a row's
# last beat frees its buffer).  A row alone takes 3 * keys + SOFTMAX_ROW_OVERHEAD
# cycles from its first beat in to its last beat out.
SOFTMAX_NBUF = 4
SOFTMAX_DIV_PERIOD = 36  # divider start (busy) .. the next start: 33 iterations + handshakes
SOFTMAX_OUT_DELAY = 51  # last EXP issue of a row -> its first output beat (EXP pipe, divider, OUT pipe)
SOFTMAX_ROW_OVERHEAD = SOFTMAX_OUT_DELAY - 1  # a row alone: load W + exp W + delay + out W - 1


def softmax_cycles(rows: int, keys: int) -> int:
    """Full-rate cycles of one int_softmax call (``rows`` rows of ``keys``): the four stages as an
    event model, every time a beat cycle counted from ap_start."""
    if rows <= 0:
        return 1
    load_end: list[int] = []
    exp_end: list[int] = []
    div: list[int] = []
    out_end: list[int] = []
    for r in range(rows):
        ls = 2 if r == 0 else load_end[-1] + 1  # first beat: the cycle after ap_start is sampled
        if r >= SOFTMAX_NBUF:
            ls = max(ls, out_end[r - SOFTMAX_NBUF] + 1)  # its buffer is free once that row is out
        load_end.append(ls + keys - 1)
        es = load_end[r] + 1 if r == 0 else max(load_end[r] + 1, exp_end[-1] + 1)
        exp_end.append(es + keys - 1)
        div.append(exp_end[r] if r == 0 else max(exp_end[r], div[-1] + SOFTMAX_DIV_PERIOD))
        os_ = div[r] + SOFTMAX_OUT_DELAY if r == 0 else max(div[r] + SOFTMAX_OUT_DELAY, out_end[-1] + 1)
        out_end.append(os_ + keys - 1)
    return out_end[-1]


# LayerNorm (int_layernorm.sv, W = `lanes` elements per beat, B = ceil(width / W)
# beats per row, log2(W) adder-tree levels) overlaps rows three deep in lock-step
# phases over two row buffers.  In phase k it loads row k (B + 1 cycles; B + 2
# while it writes behind the output pass of row k - 2 in the same buffer),
# computes row k - 1's statistics (LN_STATS + log2(W) cycles: the sums leave the
# trees, mean division 32, sum(d*d) 1, variance division 32, isqrt 32, 2^31/std
# 32, state changes) and writes row k - 2 (B + 1); a phase lasts as long as its
# longest active stage.  The last phase (output only) ends the call LN_TAIL + B
# cycles after it starts (9-stage output pipeline, ap_done).
LN_STATS = 137
LN_TAIL = 10
LANE_UNITS = ("layernorm",)  # units with a W-lane build


def _ln_beats_stats(width: int, lanes: int) -> tuple[int, int]:
    """int_layernorm: beats per row and cycles of one row's statistics phase."""
    return -(-width // lanes), LN_STATS + lanes.bit_length() - 1


def layernorm_unit_cycles(rows: int, width: int, lanes: int = 1) -> int:
    """Full-rate cycles of one int_layernorm call: ``rows`` rows of ``width``, W = ``lanes``.

    Steady state: one row per max(beats + 2, statistics) cycles."""
    if rows <= 0:
        return 1
    beats, stats = _ln_beats_stats(width, lanes)
    ends = (beats + 1) + (beats + LN_TAIL)  # phase 0 (load only), last phase (output only)
    if rows == 1:
        return ends + stats
    # phase 1: load + stats; phases 2..rows-1: all three; phase rows: stats + output
    return ends + 2 * max(beats + 1, stats) + (rows - 2) * max(beats + 2, stats)


def layernorm_first_row(width: int, lanes: int = 1, rows: int = 1) -> int:
    """Latency of the first row of a ``rows``-row int_layernorm call (full rate), from its first x
    beat to its last y beat, both counted: a one-row call (unit_cycles) less its ap_start cycle,
    with phase 1 as long as the second row's load makes it."""
    beats, stats = _ln_beats_stats(width, lanes)
    return beats + (max(beats + 1, stats) if rows > 1 else stats) + beats + LN_TAIL


def layernorm_chained(arrive: list[int], width: int, lanes: int) -> int:
    """int_layernorm's ap_done on rows whose first beat can be taken at ``arrive`` (its beats one a
    cycle after), in the chain's time (the unit's first phase starts at 0; at full rate this is
    :func:`layernorm_unit_cycles` - 1).  The lock-step phases above: phase k loads row k, computes row k - 1's statistics
    and writes row k - 2, and ends the cycle after its last active stage: the load takes the row's
    B beats from max(its arrival, the phase start + 1 while the output pass of row k - 2 reads
    ahead of it in the same buffer), the statistics take a fixed time, the output B + 1."""
    beats, stats = _ln_beats_stats(width, lanes)
    rows = len(arrive)
    start = 0
    for k in range(rows + 1):
        reading_ahead = int(k >= 2)  # OUT of row k - 2 active
        length = beats + 1 if reading_ahead else 0
        if k < rows:
            length = max(length, max(arrive[k] - start, reading_ahead) + beats + 1)
        if k >= 1:
            length = max(length, stats)
        start += length
    return start + beats + LN_TAIL - 1  # the last phase writes row rows - 1 only


# One attention head (int_attention_head.sv), S tokens, head_dim D: K and V load
# (S beats; q is taken once K is in, so at S + 2), then S query rows.  QK makes a
# key pair in two cycles on D/2 packed DSPs and streams scores into the softmax,
# whose output pass streams probabilities into PV; a row's accumulators move to a
# hold register that the shared output requant (OUT_LANES lanes per cycle)
# empties in NB = D / OUT_LANES cycles.  The first row's o_out beat leaves
# attention_first_row cycles after its q beat; then one row every
# attention_row_period cycles: the slowest of QK (2 * ceil(S / 2) cycles plus 2
# to take the next q), the softmax's divider and the hold register (NB + 1).
ATTENTION_QK_LATENCY = 6
ATTENTION_REQUANT_LATENCY = 3
ATTENTION_OUT_LANES = 1  # the builds' OUT_LANES (nonlinear.py, layer.py, rtl_synth_units.py)
ATTENTION_Q_GAP = 2  # a row's last key pair -> the next row's q beat taken and its first pair


# The first query row of a call (full rate, K and V in): from the cycle its q beat is taken to
# the cycle its o_out beat is given, both counted.  QK feeds the softmax's load pass as it
# computes (one score per cycle), the softmax's output pass feeds PV (one probability per
# cycle): the row's latency is the softmax row alone plus the packed-QK fill in front (6
# cycles, +2 for the first key pair) and, behind it, the NB requant issues and 3 requant stages.
ATTENTION_FIRST_ROW_EXTRA = ATTENTION_QK_LATENCY + 2 + ATTENTION_REQUANT_LATENCY
# V behind K: q is taken once K is in; probability j waits for V row j.  When V's first row
# comes late, the first o_out beat leaves S + NB + 4 cycles after it (PV over S rows, requant).
ATTENTION_PV_TAIL = ATTENTION_REQUANT_LATENCY + 2


def _out_lanes_check(head_dim: int, out_lanes: int) -> int:
    if out_lanes < 1 or head_dim % out_lanes:
        raise ValueError(f"attention OUT_LANES {out_lanes} does not divide head_dim {head_dim}")
    return head_dim // out_lanes


def attention_first_row(tokens: int, head_dim: int, out_lanes: int = ATTENTION_OUT_LANES) -> int:
    """Cycles from a call's first q beat to its first o_out beat, both included (full rate)."""
    softmax_row = 3 * tokens + SOFTMAX_ROW_OVERHEAD
    return softmax_row + _out_lanes_check(head_dim, out_lanes) + ATTENTION_FIRST_ROW_EXTRA


def attention_row_period(tokens: int, head_dim: int, out_lanes: int = ATTENTION_OUT_LANES) -> int:
    """Steady-state cycles per query row of one head: QK, the softmax's divider or the hold register."""
    qk = 2 * -(-tokens // 2) + ATTENTION_Q_GAP
    return max(qk, SOFTMAX_DIV_PERIOD, _out_lanes_check(head_dim, out_lanes) + 1)


def attention_pv_start(tokens: int, head_dim: int, out_lanes: int = ATTENTION_OUT_LANES) -> int:
    """Cycles from a call's first q beat until its first row's PV pass takes V row 0: V's first
    beat may come this late without delaying the first o_out beat (V streamed in behind K)."""
    return (
        attention_first_row(tokens, head_dim, out_lanes) - tokens - head_dim // out_lanes - ATTENTION_PV_TAIL
    )


def attention_cycles(
    tokens: int, head_dim: int, out_lanes: int = ATTENTION_OUT_LANES, queries: int | None = None
) -> int:
    """Full-rate cycles of one int_attention_head call (one sequence and head): ``tokens`` keys and
    ``queries`` query rows (default: all tokens; fewer on a token lane of the layer datapath)."""
    q = tokens if queries is None else queries
    if q <= 0 or tokens <= 0:
        return 1
    first_q = tokens + 2  # K's S beats from cycle 2, then q
    last_row = (q - 1) * attention_row_period(tokens, head_dim, out_lanes)
    return first_q - 1 + attention_first_row(tokens, head_dim, out_lanes) + last_row


# Element-wise units: cycles from the first input beat to the n-th output beat, both counted
# (their call's ap_start and ap_done cycles are not in it).
STREAM_LATENCY = {u: n - 1 for u, n in UNIT_LATENCY.items()}


def first_unit_cycles(unit: str, elems: int, rows: int = 1, width: int = 0, lanes: int = 1) -> int:
    """A full-rate call's first unit of output, from its first input beat to the unit's last output
    beat, both counted: all ``elems`` elements of an element-wise unit, the first row of a row unit
    (for attention the first query row, from its q beat).  This is what compiler.perf.model's streamed
    stages wait on (their fills); hw_tests/test_nonlinear.py measures it on the RTL."""
    if unit in STREAM_LATENCY:
        return elems + STREAM_LATENCY[unit]
    if unit == "layernorm":
        return layernorm_first_row(width, lanes, rows)
    if unit == "attention":
        return attention_first_row(rows, elems // max(1, rows))
    raise KeyError(f"no first-unit formula for unit {unit!r}")


def unit_cycles(unit: str, elems: int, rows: int = 1, width: int = 0, lanes: int = 1) -> int:
    """Full-rate cycles of one call of a non-linear unit.

    ``width``: the row length of row units; ``lanes``: elements per beat
    (LayerNorm's W, a power of two; the other units take 1).
    """
    if lanes < 1 or lanes & (lanes - 1) or (lanes > 1 and unit not in LANE_UNITS):
        raise ValueError(f"unit {unit!r} has no {lanes}-lane build")
    if unit in UNIT_LATENCY:
        return elems + UNIT_LATENCY[unit]
    if unit == "layernorm":
        return layernorm_unit_cycles(rows, width, lanes)
    if unit == "softmax":
        return softmax_cycles(rows, width)
    if unit == "attention":  # one head; rows = width = tokens, elems = tokens * head_dim
        return attention_cycles(rows, elems // max(1, rows))
    raise KeyError(f"no cycle formula for unit {unit!r}")
