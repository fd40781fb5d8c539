"""FPGA performance model: cycles per kernel, per layer and per sequence for a scheduled design.

The modelled design (what :mod:`compiler.perf.schedule` sizes) is
**layer-sequential with a shared engine pool**: one encoder layer's worth of
hardware runs the layers one after another.

* ``P`` linear engines (the RTL ``sparse_linear`` engine, BM x BN MACs each).
  In each phase the pool is split among that phase's matrices; a matrix with
  ``e`` engines splits its tokens over them (each engine runs
  ``ceil(T / e)`` tokens, the engines read the same weight block at the same
  time, so weights are never replicated).  Kernel cycles are
  :func:`compiler.hw.timing.linear_cycles` of that token count: the
  model that matches the RTL cycle for cycle (bench/results/rtl_linear.json).
* Phase A: q, k, v in parallel (attention needs all of K and V).
  Phase B: attention -> o -> add+LayerNorm -> fc1 -> GELU -> fc2 ->
  add+LayerNorm as a token-streaming dataflow pipeline: its time is the
  slowest stage plus the first-tile latency of every other stage.
* Attention lanes: copies of the RTL head ``int_attention_head.sv`` (a QK unit and
  a PV unit of head_dim MACs, one key per cycle, around a row-pipelined softmax:
  one query row per :func:`attention_period` cycles); GELU and
  LayerNorm: copies of the RTL units (``compiler/backends/rtl/nonlinear.py``,
  cycle formulas measured on the RTL) splitting elements / rows.
* Weights on-chip (URAM/BRAM) where they fit, otherwise streamed per layer
  from DDR/HBM with double buffering: such a layer takes max(compute,
  bytes / bandwidth).

Everything here is an **estimate** at the stated clock (no Vivado run).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

from compiler.hw import timing
from compiler.hw.boards import FIT_BUDGET, URAM_BYTES, Board
from compiler.hw.costs import Cost, UnitCosts, brams
from compiler.hw.timing import x_beats
from compiler.perf.workload import PHASE_A, LayerWork, LinearWork, Workload

EMBED_LANES = 64  # int8 rows gathered from DDR: 64 bytes per cycle (512-bit port)
DDR_LATENCY = 200  # cycles, first word of a gather


def kernel_cycles(
    m: LinearWork,
    tokens: int,
    engines: int = 1,
    tt: int = 4,
    rows: int = 1,
    rq_cycles: int = 1,
    xw: int = 1,
) -> int:
    """Cycles of one linear kernel on ``engines`` RTL engines (exact for engines = rows = 1).

    The engines form ``rows`` groups that split the block rows (each group sees
    every token, ceil(nnzb / rows) blocks, assuming rows balanced by kept
    blocks) times ``engines // rows`` groups that split the tokens (engines
    beyond ``rows * (engines // rows)`` idle).  ``xw``: X words per input beat
    (the engine's XW; a token loads in ceil(kb / xw) beats).
    """
    t = 1 if m.tokens_one else tokens
    r = max(1, min(rows, m.nb, engines))
    per = -(-t // max(1, engines // r))
    return _linear_cycles(per, -(-m.nb // r), m.kb, -(-m.nnzb // r), tt, rq_cycles, xw)


@functools.lru_cache(maxsize=1 << 16)
def _linear_cycles(tokens: int, nb: int, kb: int, nnzb: int, tt: int, rq_cycles: int, xw: int = 1) -> int:
    """Cached :func:`timing.linear_cycles` (same-shaped matrices of different layers share it)."""
    return timing.linear_cycles(tokens, nb, kb, nnzb, tt, rq_cycles=rq_cycles, xw=xw)


def rq_cycles(costs: UnitCosts, bm: int) -> int:
    """Cycles per requant job of an engine with ``costs.requant_lanes`` shared lanes (BM / REQ_LANES; 1 as default)."""
    lanes = bm if costs.requant_lanes is None else max(1, min(bm, costs.requant_lanes))
    return -(-bm // lanes)


def first_tile_cycles(m: LinearWork, tt: int = 4, rows: int = 1, rq_cycles: int = 1, xw: int = 1) -> int:
    """Latency until a downstream stage sees this kernel's first output tile: the RTL engine's first
    x beat to its first tile's last y beat (``timing.linear_first_tile``, exact against the RTL
    in hw_tests/test_linear.py), on one row group of ``rows`` (kept blocks spread evenly)."""
    r = max(1, min(rows, m.nb))
    return _first_tile(-(-m.nb // r), m.kb, -(-m.nnzb // r), tt, rq_cycles, xw)


@functools.lru_cache(maxsize=1 << 14)
def _first_tile(nb: int, kb: int, nnzb: int, tt: int, rq_cycles: int, xw: int = 1) -> int:
    return timing.linear_first_tile(nb, kb, nnzb, tt, rq_cycles=rq_cycles, xw=xw)


def _rtl_unit(unit: str, elems: int, rows: int = 1, width: int = 0, lanes: int = 1) -> int:
    """Full-rate cycles of one call of an RTL non-linear unit (the formulas checked exactly against the RTL)."""
    return int(timing.unit_cycles(unit, elems, rows, width, lanes))


def attention_requant_cycles(head_dim: int) -> int:
    """int_attention_head's shared output requant: D / OUT_LANES issues per row (the hold register)."""
    return -(-head_dim // timing.ATTENTION_OUT_LANES)


def attention_fill(tokens: int, head_dim: int = 64) -> int:
    """First query row out of a lane, from its q beat to its o_out beat (int_attention_head.sv: QK
    streams into the softmax, the softmax into PV; measured exactly on the RTL by
    hw_tests/test_nonlinear.py)."""
    return timing.attention_first_row(tokens, head_dim)


def attention_pv_start(tokens: int, head_dim: int = 64) -> int:
    """Cycles from a lane's first q beat until its first row's PV pass takes V's first row (V may
    stream in behind K: the RTL takes q once K is in; measured by hw_tests/test_nonlinear.py)."""
    return timing.attention_pv_start(tokens, head_dim)


@functools.lru_cache(maxsize=1 << 12)
def attention_groups(heads: int, tokens: int, lanes: int) -> tuple[int, int]:
    """How ``lanes`` attention lanes share the heads: (g, rows of the busiest lane).

    A lane keeps the K and V of the heads it serves, so the heads are cut into groups of g
    (g divides heads); each group has lanes // (heads / g) lanes that hold the group's g heads
    and deal its g x tokens rows out in token order (token t of every head in the group
    before token t + 1), so all lanes move through the tokens together.  Picks the g with the
    fewest rows per lane (the smaller g on ties: less K/V memory).
    """
    best: tuple[int, int] | None = None
    for g in range(1, heads + 1):
        per_group = lanes // (heads // g) if heads % g == 0 else 0
        if per_group < 1:
            continue
        rows = -(-(g * tokens) // per_group)
        if best is None or rows < best[1]:
            best = (g, rows)
    return best if best is not None else (heads, heads * tokens)


def heads_per_lane(heads: int, tokens: int, lanes: int) -> int:
    """Heads whose K and V one attention lane holds (:func:`attention_groups`)."""
    return attention_groups(heads, tokens, lanes)[0] if heads else 1


def attention_cost(lane: Cost, heads: int, tokens: int, head_dim: int, lanes: int) -> Cost:
    """``lanes`` attention lanes costing ``lane`` each, plus the K and V (int8, tokens x head_dim
    each) of the g - 1 more heads each lane holds (g = :func:`heads_per_lane`)."""
    g = heads_per_lane(heads, tokens, lanes)
    return lane * lanes + Cost(bram=lanes * brams(2 * (g - 1) * tokens * head_dim, 2 * head_dim))


def attention_period(tokens: int, head_dim: int) -> int:
    """Cycles per query row of a lane in steady state: the RTL head's QK (a key pair in two cycles,
    2 to take the next q), its softmax's divider or its hold register (exact against the RTL)."""
    return timing.attention_row_period(tokens, head_dim)


def attention_cycles(ly: LayerWork, tokens: int, lanes: int) -> int:
    """Lanes of the RTL head (QK, row-pipelined softmax, PV), one (head, query row) at a time."""
    if not ly.heads:
        return 0
    period = attention_period(tokens, ly.head_dim)
    rows = attention_groups(ly.heads, tokens, lanes)[1]
    return rows * period + attention_fill(tokens, ly.head_dim) - period


def gelu_cycles(ly: LayerWork, tokens: int, units: int) -> int:
    """RTL GELU units (one element per cycle each) splitting the elements."""
    return _rtl_unit("gelu", -(-(tokens * ly.ffn) // max(1, units))) if ly.ffn else 0


def gelu_fill(ly: LayerWork, units: int, tokens: int = 1) -> int:
    """Latency until the GELU stage has passed ``tokens`` tokens' rows: their elements spread over
    the units, from the first element in to the last out (measured on the RTL)."""
    return timing.first_unit_cycles("gelu", -(-(tokens * ly.ffn) // max(1, units))) if ly.ffn else 0


def add_cycles(hidden: int, tokens: int, units: int) -> int:
    """RTL residual adders (int_add.sv, one element per cycle each) splitting the elements."""
    return _rtl_unit("add", -(-(tokens * hidden) // max(1, units)))


def add_fill(hidden: int, units: int) -> int:
    """Latency until the add stage has passed one token's row, spread over its units (first element
    in to last out, measured on the RTL)."""
    return timing.first_unit_cycles("add", -(-hidden // max(1, units)))


def layernorm_cycles(hidden: int, tokens: int, units: int, width: int = 1) -> int:
    """RTL LayerNorm units (int_layernorm.sv with W = ``width`` elements per beat) splitting the rows."""
    return _rtl_unit("layernorm", 0, -(-tokens // max(1, units)), hidden, width)


def layernorm_fill(hidden: int, width: int = 1, rows: int = 1) -> int:
    """Latency of a LayerNorm unit's first row when it runs ``rows`` rows (int_layernorm.sv overlaps rows)."""
    return timing.layernorm_first_row(hidden, width, rows)


@dataclass
class Design:
    board: Board
    clock_mhz: float
    engines: int  # pool size P
    alloc: dict[int, dict[str, int]]  # layer -> role -> engines (phase-wise share of the pool)
    attn_lanes: int
    gelu_lanes: int
    ln_lanes: int  # per LayerNorm stage (ln1 and ln2 each have this many units)
    onchip_layers: tuple[int, ...]  # layers whose weights stay on chip; others are streamed
    costs: UnitCosts  # the unit builds (costs.builds) and what each unit costs
    rows: dict[int, dict[str, int]] = field(default_factory=dict)  # layer -> role -> row groups
    notes: list[str] = field(default_factory=list)
    # layers whose q projection runs in phase B on fc2's engines (phase A is then k, v only)
    late_q: frozenset[int] = frozenset()
    add_lanes: int = 1  # int_add units per residual add stage (two stages: before ln1 and ln2)
    # whose engines a late q borrows (idle until their first input): ("fc2",) or ("fc1", "fc2")
    late_q_on: tuple[str, ...] = ("fc2",)

    @property
    def tt(self) -> int:
        """Tokens per engine tile (the engine build's TT)."""
        return self.costs.builds.engine.token_tile


@dataclass
class LayerTiming:
    layer: int
    phase_a: int
    phase_b: int
    bottleneck: str
    memory: int  # cycles to stream this layer's weights (0: on chip)
    kernels: dict[str, int]
    # cycles of this layer's phase A hidden: run before the previous layer's phase B ended, or (v)
    # on the o / fc1 engines at phase B's start
    overlap: int = 0
    ln2_fill: int = 0  # this layer's last-LayerNorm drain after its engines are done
    # (engines, cycles before phase B's end from which they are idle): the phase-B linears' engines
    # once their last token has left, and pool engines phase B does not use
    tail: tuple[tuple[int, int], ...] = ()
    period: float = 0.0  # cycles per token of phase B's slowest stage (tokens leave ln2 at this pace)
    v_room: int = 0  # engine-cycles at phase B's start where o / fc1 engines may still compute v

    @property
    def cycles(self) -> int:
        return max(self.phase_a + self.phase_b - self.overlap, self.memory)


def q_can_run_late(ly: LayerWork) -> bool:
    """A layer can run q in phase B only if it has a q and an fc2 whose engines q borrows."""
    return ly.linear("q") is not None and ly.linear("fc2") is not None


def phase_a_roles(ly: LayerWork, late_layers: frozenset[int]) -> tuple[str, ...]:
    """The matrices of this layer's phase A: k and v when q runs late (``late_layers``), else q, k, v."""
    return ("k", "v") if ly.index in late_layers and q_can_run_late(ly) else PHASE_A


def late_q(ly: LayerWork, d: Design) -> bool:
    """Does this layer run q in phase B (on fc2's engines, idle until fc2's first input)?"""
    return "q" not in phase_a_roles(ly, d.late_q)


#: phase B's stages in stream order (q only in layers that run it late)
CHAIN = ("q", "attention", "o", "add1", "ln1", "fc1", "gelu", "fc2", "add2", "ln2")


@dataclass(frozen=True)
class Stage:
    """One phase-B stage: all its tokens, and its first unit of work (what its successor needs first).

    ``fill``: cycles from taking the first input to giving the first unit's last output, inputs
    at the stage's full rate; ``take`` / ``give``: the cycles of ``fill`` spent taking that
    unit's input / giving its output.  Stages are joined by streams: a stage takes its first
    input while its predecessor gives it, so min(give, take) of each adjacent pair overlaps.
    """

    cycles: int
    fill: int
    take: int
    give: int


def _row_period(unit: str, hidden: int, width: int) -> int:
    """Steady-state cycles per row of an RTL row unit (difference of two full-rate calls)."""
    return _rtl_unit(unit, 0, 4, hidden, width) - _rtl_unit(unit, 0, 3, hidden, width)


def phase_b_stages(wl: Workload, d: Design, ly: LayerWork, kern: dict[str, int]) -> dict[str, Stage]:
    """The phase-B stages of a layer, in :data:`CHAIN` order, with the cycles ``kern`` of its linears."""
    rows = d.rows.get(ly.index, {})
    st: dict[str, Stage] = {}
    tile = d.tt  # a linear's first tile needs this many tokens from its predecessor

    def linear(m: LinearWork) -> Stage:
        r = max(1, min(rows.get(m.role, 1), m.nb))
        ft = first_tile_cycles(m, d.tt, r, rq_cycles(d.costs, m.bm), d.costs.xw)
        return Stage(kern[m.role], ft, d.tt * x_beats(m.kb, d.costs.xw), d.tt * -(-m.nb // r))

    q = ly.linear("q")
    if late_q(ly, d) and q is not None:
        st["q"] = linear(q)
    if ly.heads:
        # o's first tile needs `tile` tokens of every head: rows a lane takes before they are all out
        per = attention_period(wl.seq, ly.head_dim)
        g = heads_per_lane(ly.heads, wl.seq, d.attn_lanes)
        waves = -(-(tile * g) // max(1, d.attn_lanes // (ly.heads // g)))
        fill = attention_fill(wl.seq, ly.head_dim) + (waves - 1) * per
        st["attention"] = Stage(attention_cycles(ly, wl.seq, d.attn_lanes), fill, 1, 1)
    w = d.costs.ln_width
    ln_rows = -(-wl.seq // max(1, d.ln_lanes))
    ln_beats = -(-ly.hidden // w)
    ln_first = layernorm_fill(ly.hidden, w, ln_rows)
    ln_per = _row_period("layernorm", ly.hidden, w)
    add_row = -(-ly.hidden // max(1, d.add_lanes))
    add = Stage(
        add_cycles(ly.hidden, wl.seq, d.add_lanes), add_fill(ly.hidden, d.add_lanes), add_row, add_row
    )
    ln_cycles = layernorm_cycles(ly.hidden, wl.seq, d.ln_lanes, w)
    for m in ly.linears:
        if m.role == "o":
            st["o"] = linear(m)
    st["add1"] = add
    # ln1 feeds fc1's first tile (`tile` rows); ln2 feeds the next layer one row at a time
    waves = -(-tile // max(1, d.ln_lanes))
    st["ln1"] = Stage(ln_cycles, ln_first + (waves - 1) * ln_per, ln_beats + 1, ln_beats)
    fc1 = ly.linear("fc1")
    if fc1 is not None:
        st["fc1"] = linear(fc1)
    if ly.ffn:
        g = -(-(tile * ly.ffn) // max(1, d.gelu_lanes))  # fc2's first tile: `tile` tokens
        st["gelu"] = Stage(gelu_cycles(ly, wl.seq, d.gelu_lanes), gelu_fill(ly, d.gelu_lanes, tile), g, g)
    fc2 = ly.linear("fc2")
    if fc2 is not None:
        st["fc2"] = linear(fc2)
    st["add2"] = add
    st["ln2"] = Stage(ln_cycles, ln_first, ln_beats + 1, ln_beats)
    return {k: st[k] for k in CHAIN if k in st}


def chain_starts(stages: dict[str, Stage]) -> dict[str, int]:
    """Cycle (from phase B's start) at which each stage takes its first input."""
    out: dict[str, int] = {}
    t, prev = 0, None
    for name, s in stages.items():
        if prev is not None:
            t += prev.fill - min(prev.give, s.take)
        out[name] = t
        prev = s
    return out


#: layer_timing's results by everything they depend on but the layer index (bounded: cleared when full)
_TIMINGS: dict[tuple[object, ...], LayerTiming] = {}


def layer_timing(wl: Workload, d: Design, ly: LayerWork) -> LayerTiming:
    """Phase A, phase B and their stages of layer ``ly`` in design ``d`` (a fresh object: callers set
    ``overlap``).  Cached on the layer's shape and the design's choices for it, so the layers of a
    uniform model and the many designs of a schedule search that differ elsewhere are timed once."""
    key = (
        ly.shape,
        wl.seq,
        tuple(sorted(d.alloc.get(ly.index, {}).items())),
        tuple(sorted(d.rows.get(ly.index, {}).items())),
        (d.tt, d.costs.requant_lanes, d.costs.xw, d.costs.ln_width),
        (d.attn_lanes, d.gelu_lanes, d.ln_lanes, d.add_lanes, d.engines),
        (ly.index in d.late_q, d.late_q_on, ly.index in d.onchip_layers, bytes_per_cycle(d)),
    )
    t = _TIMINGS.get(key)
    if t is None:
        if len(_TIMINGS) >= 1 << 16:
            _TIMINGS.clear()
        t = _TIMINGS[key] = _layer_timing(wl, d, ly)
    t = copy.copy(t)
    t.layer, t.kernels = ly.index, dict(t.kernels)
    return t


def _layer_timing(wl: Workload, d: Design, ly: LayerWork) -> LayerTiming:
    alloc = d.alloc.get(ly.index, {})
    rows = d.rows.get(ly.index, {})
    kern = {
        m.role: kernel_cycles(
            m, wl.seq, alloc.get(m.role, 1), d.tt, rows.get(m.role, 1), rq_cycles(d.costs, m.bm), d.costs.xw
        )
        for m in ly.linears
    }
    a = max((kern[r] for r in phase_a_roles(ly, d.late_q) if r in kern), default=0)
    stages = phase_b_stages(wl, d, ly, kern)
    for name, s in stages.items():
        kern.setdefault(name, s.cycles)
    top = max(stages, key=lambda s: stages[s].cycles)
    # slowest stage + the fill of every other stage, less what adjacent stages overlap
    seq = list(stages.values())
    overlap = sum(min(u.give, v.take) for u, v in zip(seq, seq[1:], strict=False))
    b = stages[top].cycles + sum(s.fill for n, s in stages.items() if n != top) - overlap
    starts = chain_starts(stages)
    # the engines a late q borrows must be done with it when their own kernel starts
    borrowed = [r for r in d.late_q_on if r in stages] if late_q(ly, d) and "q" in stages else []
    if borrowed:
        b += max(0, stages["q"].cycles - min(starts[r] for r in borrowed))
    mem = 0
    if ly.index not in d.onchip_layers:
        nbytes = sum(m.weight_bytes() for m in ly.linears)
        mem = int(nbytes / bytes_per_cycle(d))
    # a stage's last token leaves it this long before phase B ends: the latency of the rest of the chain
    names = list(stages)
    after = {n: 0 for n in names}
    for i in range(len(names) - 2, -1, -1):
        nxt, cur = stages[names[i + 1]], stages[names[i]]
        after[names[i]] = after[names[i + 1]] + nxt.fill - min(cur.give, nxt.take)
    alloc_b = {r: alloc.get(r, 1) for r in ("o", "fc1", "fc2") if r in stages}
    tail = [(e, after[r]) for r, e in alloc_b.items()]  # a late q shares these engines
    unused = d.engines - sum(alloc_b.values())
    if unused > 0:
        tail.append((unused, b))
    # v behind k: attention's first row needs V only when its PV pass starts; until then (and until
    # their own first input) the o and fc1 engines can finish v, after a late q they run
    v_room = 0
    if "attention" in starts and "v" in phase_a_roles(ly, d.late_q):
        need_v = starts["attention"] + attention_pv_start(wl.seq, ly.head_dim)
        busy = {r: stages["q"].cycles for r in borrowed}
        v_room = sum(
            alloc.get(r, 1) * max(0, min(need_v, starts[r]) - busy.get(r, 0))
            for r in ("o", "fc1")
            if r in starts
        )
    return LayerTiming(
        ly.index,
        a,
        b,
        top,
        mem,
        kern,
        ln2_fill=stages["ln2"].fill,
        tail=tuple(tail),
        period=stages[top].cycles / max(1, wl.seq),
        v_room=v_room,
    )


OVERLAP_STEP = 8  # cycles per step of the phase-A overlap integration


def phase_a_overlap(wl: Workload, d: Design, ly: LayerWork, t: LayerTiming, prev: LayerTiming | None) -> int:
    """Cycles of this layer's phase A (k, v[, q]) that do not delay its phase B.

    Before: engines join phase A as the previous layer frees them (``prev.tail``: a phase-B
    linear's engines once its last token has left, the pool's unused engines from the start);
    they work on the tokens the previous layer's last LayerNorm has already given out (one per
    ``prev.period`` cycles, the last one at the very end).  After: v's share of what is left
    may finish on the o / fc1 engines in ``t.v_room`` (before attention's first PV pass needs
    V).  Phase A's engine-cycles are treated as divisible (a fluid model, stepped every
    ``OVERLAP_STEP`` cycles); the rest runs on phase A's engines between the layers, at
    least the last token tile's latency.
    """
    if t.phase_a <= 0:
        return 0
    alloc, rows = d.alloc.get(ly.index, {}), d.rows.get(ly.index, {})
    roles = [m for m in ly.linears if m.role in phase_a_roles(ly, d.late_q)]
    if not roles:
        return 0
    engines = sum(alloc.get(m.role, 1) for m in roles)
    work = sum(alloc.get(m.role, 1) * t.kernels[m.role] for m in roles)  # engine-cycles
    last_tile = max(
        first_tile_cycles(
            m,
            d.tt,
            max(1, min(rows.get(m.role, 1), m.nb, alloc.get(m.role, 1))),
            rq_cycles(d.costs, m.bm),
            d.costs.xw,
        )
        for m in roles
    )
    done = _overlap_done(prev.tail, prev.period, work, max(1, wl.seq)) if prev is not None else 0.0
    v_work = sum(alloc.get(m.role, 1) * t.kernels[m.role] for m in roles if m.role == "v")
    late_v = min(float(t.v_room), (work - done) * v_work / work)
    # what is hidden comes off the slowest matrix's time (phase A's engines do not take over another
    # matrix's share: k and v may differ by a few cycles per their splits)
    left = max(last_tile, t.phase_a - int((done + late_v) // engines))
    return max(0, t.phase_a - left)


@functools.lru_cache(maxsize=4096)
def _overlap_done(tail: tuple[tuple[int, int], ...], period: float, work: int, n: int) -> float:
    """Engine-cycles of phase A done before the previous layer ends (:func:`phase_a_overlap`'s fluid
    steps; a pure function of its arguments, cached: a schedule search meets the same layers often)."""
    done = 0.0
    if not tail:
        return done
    per = max(period, 1e-9)
    edges = sorted(tail, key=lambda ef: -ef[1])  # engines free from f cycles before the end on
    free, i = 0, 0
    for x in range(max(f for _, f in tail), 0, -OVERLAP_STEP):  # x: cycles before the previous layer's end
        while i < len(edges) and edges[i][1] >= x:
            free += edges[i][0]
            i += 1
        ready = work * max(0.0, n - x / per) / n  # rows out when the step starts
        done = min(done + free * min(OVERLAP_STEP, x), ready)
    return done


def bytes_per_cycle(d: Design) -> float:
    return d.board.bandwidth_gbs * 1e9 / (d.clock_mhz * 1e6)


def embed_timing(wl: Workload, d: Design) -> LayerTiming:
    """The embedding stage as a ``LayerTiming`` (layer -1) that layer 0's phase A streams behind.

    Word, position and token-type rows are gathered from DDR (``EMBED_LANES`` bytes per cycle
    from each table, one AXI port each, after ``DDR_LATENCY``) and summed; with an embedding
    LayerNorm (``wl.embed_ln``) the rows then pass through the ``2 * ln_lanes`` LayerNorm units
    of ln1 and ln2, idle until layer 0's phase B, at their full rate.  Rows leave one per
    ``period`` cycles, the last at the stage's end; every pool engine is free for layer 0's
    phase A from the start (``tail``).
    """
    row = -(-wl.hidden // EMBED_LANES)
    cycles, period = DDR_LATENCY + wl.seq * row, float(row)
    if wl.embed_ln and wl.seq > 0:
        units = max(1, 2 * d.ln_lanes)
        ln = layernorm_cycles(wl.hidden, wl.seq, units, d.costs.ln_width)
        cycles = max(cycles, DDR_LATENCY + row + ln)  # a unit's first row waits for the gather
        period = max(period, _row_period("layernorm", wl.hidden, d.costs.ln_width) / units)
    return LayerTiming(-1, 0, cycles, "embed", 0, {}, tail=((d.engines, cycles),), period=period)


def total_cycles(wl: Workload, d: Design) -> tuple[int, list[LayerTiming], int]:
    """Cycles of one sequence: the embedding stage, the layers (each layer's phase A partly hidden
    behind what came before it, see :func:`phase_a_overlap`), the linears after the encoder;
    also the layer timings and the cycles outside the layers."""
    emb = embed_timing(wl, d)
    layers: list[LayerTiming] = []
    for ly in wl.layers:
        t = layer_timing(wl, d, ly)
        t.overlap = phase_a_overlap(wl, d, ly, t, layers[-1] if layers else emb)
        layers.append(t)
    embed = emb.phase_b
    tail = sum(
        kernel_cycles(m, wl.seq, d.engines, d.tt, rq_cycles=rq_cycles(d.costs, m.bm), xw=d.costs.xw)
        for m in wl.tail
    )
    return embed + sum(t.cycles for t in layers) + tail, layers, embed + tail


def resources(wl: Workload, d: Design) -> Cost:
    bm, bn = wl.block
    max_kb, max_nb = wl.max_blocks
    hd = max((ly.head_dim for ly in wl.layers), default=64)
    c = d.costs
    total = c.fixed() + d.engines * c.engine(bm, bn, max_kb, max_nb, d.tt)
    lane = c.attention_lane(hd, wl.seq)
    heads = dict.fromkeys(ly.heads for ly in wl.layers if ly.heads)  # the cost depends on heads only
    total = total + max(
        (attention_cost(lane, h, wl.seq, hd, d.attn_lanes) for h in heads),
        key=lambda a: a.bram,
        default=lane * d.attn_lanes,
    )
    total = total + d.gelu_lanes * c.gelu_lane()
    total = total + 2 * d.ln_lanes * c.layernorm_lane()  # ln1 and ln2 run at the same time
    total = total + 2 * d.add_lanes * c.add_lane()
    # activations: K, V, Q (int8) and two int32 residual rows buffers of T x hidden
    act = wl.seq * wl.hidden * (3 + 8)
    total = total + Cost(bram=brams(act, 64))
    return total + weight_storage(wl, d)


def weight_storage(wl: Workload, d: Design) -> Cost:
    """On-chip layers' weights in URAM (then BRAM); streamed layers need a double buffer of the largest one."""
    onchip = sum(ly.weight_bytes for ly in wl.layers if ly.index in d.onchip_layers)
    onchip += sum(m.weight_bytes() for m in wl.tail)
    streamed = [ly.weight_bytes for ly in wl.layers if ly.index not in d.onchip_layers]
    if streamed:
        onchip += 2 * max(streamed)
    uram_cap = FIT_BUDGET * d.board.total("uram") * URAM_BYTES
    in_uram = min(onchip, uram_cap)
    return Cost(uram=-(-in_uram // URAM_BYTES), bram=brams(onchip - in_uram))


def utilization(cost: Cost, board: Board) -> dict[str, float]:
    tot = board.totals()
    return {r: getattr(cost, r) / tot[r] for r in tot}


def physical_limit(wl: Workload, board: Board, clock_mhz: float) -> dict[str, Any]:
    """The board's limit for this model: peak int8 MACs (2 per DSP48E2) and peak memory bandwidth.

    Compute: the block-sparse MACs (kept blocks computed in full, plus attention)
    over every DSP at 2 int8 MACs per cycle.  Memory: if the weights fit the
    whole on-chip RAM (BRAM + URAM), only the sequence's input ids and output
    activations cross the memory bus; otherwise the weights are read once per
    sequence.
    """
    macs = wl.macs()
    compute_s = macs / board.peak_macs_per_s(clock_mhz)
    io = wl.seq * 4 * 3 + wl.seq * wl.hidden * 4
    wbytes = wl.weight_bytes()
    moved = io + (wbytes if wbytes > board.onchip_bytes else 0)
    memory_s = moved / (board.bandwidth_gbs * 1e9)
    return {
        "macs": int(macs),
        "dense_macs": int(wl.dense_macs()),
        "peak_gmacs": board.peak_macs_per_s(clock_mhz) / 1e9,
        "compute_ms": compute_s * 1e3,
        "memory_ms": memory_s * 1e3,
        "bytes_per_seq": int(moved),
        "limit_ms": max(compute_s, memory_s) * 1e3,
        "bound": "compute" if compute_s >= memory_s else "memory",
        "assumes": "2 int8 MACs per DSP48E2 per cycle (WP486 packing), every DSP busy; peak off-chip bandwidth",
    }


def gap_to_limit(wl: Workload, d: Design, cycles: int, dsp_used: float) -> dict[str, float]:
    """Where latency / compute limit comes from, as factors whose product is that ratio.

    latency / compute_limit = (board DSPs / DSPs used) x (DSPs used / MAC DSPs)
    x (2 x MAC DSPs / MAC units) x (1 / MAC utilization), where MAC DSPs hold the
    engines' BM x BN (``mac_per_dsp`` a DSP) and the attention lanes' 2 x head_dim
    MAC units (two a DSP in the RTL head), and MAC utilization = useful MACs /
    (MAC units x cycles).
    """
    bm, bn = wl.block
    hd = max((ly.head_dim for ly in wl.layers), default=64)
    eng_macs, attn_macs = d.engines * bm * bn, d.attn_lanes * 2 * hd
    mac_units = eng_macs + attn_macs
    mac_dsp = eng_macs / d.costs.mac_per_dsp + attn_macs / d.costs.attention_mac_per_dsp(hd, wl.seq)
    total = d.board.total("dsp")
    return {
        "dsp_left_unused": total / dsp_used if dsp_used else float("inf"),
        "dsp_not_macs": dsp_used / mac_dsp if mac_dsp else float("inf"),
        "packing": 2 * mac_dsp / mac_units if mac_units else float("inf"),
        "mac_idle": mac_units * cycles / wl.macs() if wl.macs() else float("inf"),
    }


def estimate(wl: Workload, d: Design) -> dict[str, Any]:
    """The ``estimate`` section of report.json / bench.json (all numbers are estimates)."""
    cycles, layers, other = total_cycles(wl, d)
    res = resources(wl, d)
    util = utilization(res, d.board)
    lat_ms = cycles / (d.clock_mhz * 1e3)
    lim = physical_limit(wl, d.board, d.clock_mhz)
    streamed = [ly.index for ly in wl.layers if ly.index not in d.onchip_layers]
    wbytes_streamed = sum(
        sum(m.weight_bytes() for m in ly.linears) for ly in wl.layers if ly.index in streamed
    )
    moved = (
        lim["bytes_per_seq"]
        - (wl.weight_bytes() if wl.weight_bytes() > d.board.onchip_bytes else 0)
        + wbytes_streamed
    )
    mem_ms = moved / (d.board.bandwidth_gbs * 1e9) * 1e3
    return {
        "is_estimate": True,
        "board": d.board.name,
        "clock_mhz": d.clock_mhz,
        "mac_per_dsp": d.costs.mac_per_dsp,
        "cycles": int(cycles),
        "latency_ms": lat_ms,
        "throughput_seq_s": 1e3 / lat_ms if lat_ms else 0.0,
        "limit_ms": lim["limit_ms"],
        "latency_over_limit": lat_ms / lim["limit_ms"] if lim["limit_ms"] else float("inf"),
        "limit": lim,
        "gap_to_compute_limit": {k: round(v, 4) for k, v in gap_to_limit(wl, d, cycles, res.dsp).items()},
        "memory_ms": mem_ms,
        "memory_bound": mem_ms >= lat_ms * 0.999,
        "weights_streamed_layers": streamed,
        "weight_bytes": int(wl.weight_bytes()),
        "achieved_gmacs": wl.macs() / (lat_ms * 1e-3) / 1e9 if lat_ms else 0.0,
        **res.as_dict(),
        "utilization": {k: round(v, 4) for k, v in util.items()},
        "fits": all(v <= FIT_BUDGET for v in util.values()),
        "engines": d.engines,
        "attn_lanes": d.attn_lanes,
        "gelu_lanes": d.gelu_lanes,
        "ln_lanes": d.ln_lanes,
        "ln_width": d.costs.ln_width,
        "add_lanes": d.add_lanes,
        "block": list(wl.block),
        "seq_len": wl.seq,
        "cost_source": d.costs.source,
        "layers": [
            {
                "layer": t.layer,
                "cycles": t.cycles,
                "phase_a": t.phase_a,
                "phase_b": t.phase_b,
                "overlap": t.overlap,
                "late_q": late_q(ly, d),
                "bottleneck": t.bottleneck,
                "memory": t.memory,
                "kernels": t.kernels,
            }
            for t, ly in zip(layers, wl.layers, strict=True)
        ],
        "other_cycles": int(other),
        "notes": list(d.notes),
    }
