"""Board-aware scheduler: size the engine pool and the lanes so the design is balanced and fits.

For a workload and a board it chooses (see :mod:`compiler.perf.model` for the
design these numbers describe):

* the pool size ``P`` of RTL linear engines and, per layer and phase, how many
  of them each matrix gets (proportional to its kept blocks, so the kernels of
  a phase finish together);
* attention / GELU / LayerNorm lanes: the fewest that keep each of those stages
  at or below the slowest linear of phase B (a balanced pipeline);
* which layers keep their weights on chip (URAM, then BRAM) and which are
  streamed from DDR/HBM;

so that every resource (DSP, LUT, FF, BRAM36, URAM) stays at or below
``budget`` (80 %) of the board, with the lowest predicted latency.  When even
the smallest design does not fit, :class:`Schedule` says so and what it needs.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from compiler.hw.boards import FIT_BUDGET, Board, get_board
from compiler.hw.builds import DEFAULT_BUILDS, LN_WIDTHS, Builds
from compiler.hw.costs import Cost, UnitCosts, design_costs
from compiler.perf.model import (
    CHAIN,
    Design,
    add_cycles,
    attention_cost,
    attention_cycles,
    estimate,
    first_tile_cycles,
    gelu_cycles,
    kernel_cycles,
    layer_timing,
    layernorm_cycles,
    phase_a_roles,
    q_can_run_late,
    resources,
    rq_cycles,
    total_cycles,
    utilization,
)
from compiler.perf.workload import PHASE_A, LayerWork, LinearWork, Workload

log = logging.getLogger(__name__)

#: (where a late q runs, attention lanes priced?) pairs the scheduler tries for every pool size
LAYOUTS: tuple[tuple[tuple[str, ...], bool], ...] = tuple(
    (late, priced) for priced in (False, True) for late in ((), ("fc2",), ("fc1", "fc2"))
)


@dataclass
class Schedule:
    design: Design
    estimate: dict[str, Any]
    fits: bool
    message: str

    def to_meta(self) -> dict[str, Any]:
        """JSON-ready summary stored in ``graph.meta["schedule"]`` and report.json."""
        d = self.design
        return {
            "board": d.board.name,
            "clock_mhz": d.clock_mhz,
            "fits": self.fits,
            "message": self.message,
            "engines": d.engines,
            "attn_lanes": d.attn_lanes,
            "gelu_lanes": d.gelu_lanes,
            "ln_lanes": d.ln_lanes,
            "ln_width": d.costs.ln_width,
            "add_lanes": d.add_lanes,
            "late_q_layers": sorted(d.late_q),
            "late_q_engines_of": list(d.late_q_on) if d.late_q else [],
            "token_tile": d.tt,
            "mac_per_dsp": d.costs.mac_per_dsp,
            # every unit's build (compiler.hw.builds.Builds): what the generators build
            "builds": d.costs.builds.to_meta(),
            "alloc": {str(k): v for k, v in sorted(d.alloc.items())},
            "row_groups": {str(k): v for k, v in sorted(d.rows.items())},
            "weights": {
                "onchip_layers": list(d.onchip_layers),
                "streamed_layers": self.estimate["weights_streamed_layers"],
            },
            "utilization": self.estimate["utilization"],
            "budget": FIT_BUDGET,
        }


def row_choices(engines: int, nb: int) -> list[int]:
    """Row-group counts worth trying on ``engines`` engines: r = engines // g for each token-group count g
    (any other r leaves more engines idle for the same split), at most ``nb``."""
    return sorted({min(nb, engines // g) for g in range(1, engines + 1)})


#: A matrix's shape as the cycle model sees it: (NB, KB, kept blocks, one token only)
Shape = tuple[int, int, int, bool]


def _shape(m: LinearWork) -> Shape:
    return (m.nb, m.kb, m.nnzb, m.tokens_one)


def _work(shape: Shape) -> LinearWork:
    """A LinearWork of this shape (block 1x1: NB = N, KB = K)."""
    nb, kb, nnzb, one = shape
    return LinearWork("", 0, "", nb, kb, 1, 1, nnzb, one)


#: (shape, tokens, tt, rq, xw) -> fewest cycles on at most 1, 2, ... engines (extended on demand)
_CURVES: dict[tuple[Shape, int, int, int, int], list[int]] = {}


def _curve(m: LinearWork, tokens: int, engines: int, tt: int, rq: int, xw: int) -> list[int]:
    """Fewest kernel cycles of ``m`` on at most 1, 2, ..., ``engines`` engines, over the row-group
    splits (non-increasing; cached per matrix shape: a schedule search asks for the same shapes
    over and over, and layers of one model often share them)."""
    key = (_shape(m), tokens, tt, rq, xw)
    c = _CURVES.setdefault(key, [])
    if len(c) < engines:
        w = _work(key[0])
        for e in range(len(c) + 1, engines + 1):
            best = min(kernel_cycles(w, tokens, e, tt, r, rq, xw) for r in row_choices(e, w.nb))
            c.append(best if not c else min(best, c[-1]))
    return c


def _best_cycles(m: LinearWork, tokens: int, engines: int, tt: int, rq: int = 1, xw: int = 1) -> int:
    """Fewest kernel cycles of ``m`` on at most ``engines`` engines, over the row-group splits
    (``rq``: cycles per requant job of the engine, :func:`model.rq_cycles`; ``xw``: its X words
    per input beat)."""
    return _curve(m, tokens, engines, tt, rq, xw)[engines - 1]


def _need(
    m: LinearWork, tokens: int, tt: int, target: int, most: int, rq: int = 1, xw: int = 1
) -> int | None:
    """Fewest engines (<= ``most``) that run ``m`` in at most ``target`` cycles, else None."""
    c = _curve(m, tokens, most, tt, rq, xw)
    i = bisect.bisect_left(c, -target, 0, most, key=operator.neg)  # c is non-increasing
    return i + 1 if i < most else None


def split_engines(
    p: int, ly: LayerWork, roles: list[str], tokens: int, tt: int, rq: int = 1, xw: int = 1
) -> dict[str, int]:
    """Share ``p`` engines among ``roles`` of a layer so that the slowest of them is as fast as it can be.

    Bisects a common cycle target: each matrix gets the fewest engines (over its row-group
    splits) that meet it; the smallest target whose engines add up to at most ``p`` wins, and
    engines left over go to the slowest matrices.
    """
    ms = tuple((m.role, _shape(m)) for m in ly.linears if m.role in roles)
    return dict(_split_engines(p, ms, tokens, tt, rq, xw))


@functools.lru_cache(maxsize=1 << 14)
def _split_engines(
    p: int, ms: tuple[tuple[str, Shape], ...], tokens: int, tt: int, rq: int, xw: int
) -> tuple[tuple[str, int], ...]:
    """:func:`split_engines` of matrices given as (role, shape), cached (same-shaped layers share it)."""
    if not ms:
        return ()
    if len(ms) > p:  # fewer engines than matrices: one each (the phase then needs more engines)
        return tuple((r, 1) for r, _ in ms)
    work = {r: _work(s) for r, s in ms}
    most = p - len(ms) + 1
    lo = max(_best_cycles(w, tokens, most, tt, rq, xw) for w in work.values())
    hi = max(_best_cycles(w, tokens, 1, tt, rq, xw) for w in work.values())
    while lo < hi:
        mid = (lo + hi) // 2
        need = [_need(w, tokens, tt, mid, most, rq, xw) for w in work.values()]
        if all(n is not None for n in need) and sum(n for n in need if n is not None) <= p:
            hi = mid
        else:
            lo = mid + 1
    alloc = {r: _need(w, tokens, tt, lo, most, rq, xw) or most for r, w in work.items()}
    for _ in range(p - sum(alloc.values())):
        r = max(alloc, key=lambda r: _best_cycles(work[r], tokens, alloc[r], tt, rq, xw))
        alloc[r] += 1
    return tuple(alloc.items())


def choose_rows(
    m: LinearWork,
    tokens: int,
    engines: int,
    tt: int,
    streaming: bool,
    rq: int = 1,
    pace: int = 0,
    xw: int = 1,
) -> int:
    """Row groups for a kernel's engines.  In phase A: fewest cycles.  Streaming in phase B: the
    smallest first-tile latency among the splits no slower than ``pace`` (the phase's slowest
    linear) or than this kernel's own fastest split, fewest cycles on ties."""
    return _choose_rows(_shape(m), tokens, engines, tt, streaming, rq, pace if streaming else 0, xw)


@functools.lru_cache(maxsize=1 << 16)
def _choose_rows(
    shape: Shape, tokens: int, engines: int, tt: int, streaming: bool, rq: int, pace: int, xw: int
) -> int:
    m = _work(shape)
    cyc = {r: kernel_cycles(m, tokens, engines, tt, r, rq, xw) for r in row_choices(engines, m.nb)}
    if not streaming:
        return min(cyc, key=lambda r: (cyc[r], r))
    bound = max(pace, min(cyc.values()))
    return min(
        (r for r in cyc if cyc[r] <= bound),
        key=lambda r: (first_tile_cycles(m, tt, r, rq, xw), cyc[r], r),
    )


def _fewest(fn: Callable[[int], int], target: int, hi: int) -> int:
    """Smallest lanes in [1, hi] with fn(lanes) <= target (fn non-increasing), else hi."""
    lo = 1
    if fn(hi) > target:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if fn(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _ln_cycles(hidden: int, seq: int, width: int, units: int) -> int:
    return layernorm_cycles(hidden, seq, units, width)


@functools.lru_cache(maxsize=1 << 14)
def _layer_lanes(
    ly: LayerWork,
    seq: int,
    target: int,
    ln_width: int,
    attn_price: tuple[float, float, float, float] | None = None,
) -> tuple[int, int, int, int]:
    """Fewest attention / GELU / LayerNorm / add lanes of one layer with every stage <= ``target`` cycles.

    ``attn_price`` = (a lane's DSP, its BRAM, the board's DSP, its BRAM): with it, the attention
    lanes are the cheapest count (DSP + BRAM shares of the board) that meets the target, of the
    fewest up to heads more: a lane more can let every lane hold fewer heads' K and V
    (:func:`attention_cost`).
    """
    a = _fewest(partial(attention_cycles, ly, seq), target, ly.heads * seq) if ly.heads else 1
    if ly.heads and attn_price is not None:
        lane_dsp, lane_bram, dsp, bram = attn_price

        def price(n: int) -> float:
            c = attention_cost(Cost(dsp=lane_dsp, bram=lane_bram), ly.heads, seq, ly.head_dim, n)
            return c.dsp / dsp + c.bram / bram

        fast = [n for n in range(a, a + ly.heads + 1) if attention_cycles(ly, seq, n) <= target]
        a = min(fast, key=lambda n: (price(n), n), default=a)
    g = _fewest(partial(gelu_cycles, ly, seq), target, ly.ffn) if ly.ffn else 1
    ln = _fewest(partial(_ln_cycles, ly.hidden, seq, ln_width), target, seq)
    ad = _fewest(partial(add_cycles, ly.hidden, seq), target, ly.hidden)
    return a, g, ln, ad


def _attn_price(wl: Workload, board: Board, costs: UnitCosts) -> tuple[float, float, float, float]:
    """(an attention lane's DSP, its BRAM, the board's DSP, its BRAM) for :func:`_layer_lanes`."""
    hd = max((ly.head_dim for ly in wl.layers), default=64)
    lane = costs.attention_lane(hd, wl.seq)
    return (lane.dsp, lane.bram, float(board.total("dsp")), float(board.total("bram")))


#: A layer as the lanes see it (:func:`_layer_lanes` with index 0 and no linears) and its phase-B pace
Pace = tuple[LayerWork, int]


def _paces(
    wl: Workload,
    alloc: dict[int, dict[str, int]],
    rows: dict[int, dict[str, int]],
    tt: int,
    late: frozenset[int] = frozenset(),
    rq: int = 1,
    xw: int = 1,
) -> tuple[Pace, ...]:
    """Each layer's phase-B slowest linear (the cycles its lanes must keep up with), once per
    distinct (layer without its linears, pace)."""
    out: dict[tuple[int, int, int, int, int], Pace] = {}
    for ly in wl.layers:
        al, rw = alloc.get(ly.index, {}), rows.get(ly.index, {})
        early = phase_a_roles(ly, late)
        target = max(
            (
                kernel_cycles(m, wl.seq, al.get(m.role, 1), tt, rw.get(m.role, 1), rq, xw)
                for m in ly.linears
                if m.role not in early
            ),
            default=0,
        )
        key = (ly.heads, ly.head_dim, ly.hidden, ly.ffn, target)
        if key not in out:
            out[key] = (replace(ly, index=0, linears=()), target)
    return tuple(out.values())


def _lanes(
    wl: Workload,
    paces: tuple[Pace, ...],
    ln_width: int = 1,
    floor: int = 0,
    attn_price: tuple[float, float, float, float] | None = None,
) -> tuple[int, int, int, int]:
    """Fewest attention / GELU / LayerNorm / add lanes whose stages are no slower than phase B's
    slowest linear (``paces``, :func:`_paces`) or than ``floor`` cycles, if that is longer;
    attention lanes priced by ``attn_price`` (:func:`_layer_lanes`)."""
    a = g = ln = ad = 1
    for ly, target in paces:
        la, lg, lln, lad = _layer_lanes(ly, wl.seq, max(target, floor), ln_width, attn_price)
        a, g, ln, ad = max(a, la), max(g, lg), max(ln, lln), max(ad, lad)
    return a, g, ln, ad


def _design(
    wl: Workload,
    board: Board,
    clock: float,
    costs: UnitCosts,
    p: int,
    onchip: tuple[int, ...],
    late_q: tuple[str, ...] = (),
    priced: bool = False,
) -> Design:
    """The design for a pool of ``p`` engines.  ``late_q``: q runs in phase B on the engines of
    these phase-B matrices (("fc2",) or ("fc1", "fc2"), in the layers that have q and fc2), phase
    A is k and v on the whole pool; () keeps q in phase A.  ``priced``: attention lanes by price
    (:func:`_layer_lanes`), else the fewest."""
    rq = rq_cycles(costs, wl.block[0])  # the engines' shared-requant stalls (cached by matrix shape)
    xw, tt = costs.xw, costs.builds.engine.token_tile
    alloc: dict[int, dict[str, int]] = {}
    late = frozenset(ly.index for ly in wl.layers if late_q and q_can_run_late(ly))
    late_on = late_q or ("fc2",)
    for ly in wl.layers:
        roles_b = [m.role for m in ly.linears if m.role not in PHASE_A]
        alloc[ly.index] = {
            **split_engines(p, ly, list(phase_a_roles(ly, late)), wl.seq, tt, rq, xw),
            **split_engines(p, ly, roles_b, wl.seq, tt, rq, xw),
        }
        if ly.index in late:  # q borrows these engines
            alloc[ly.index]["q"] = sum(alloc[ly.index].get(r, 0) for r in late_on)
    rows: dict[int, dict[str, int]] = {}
    for ly in wl.layers:
        al, early = alloc[ly.index], phase_a_roles(ly, late)
        pace = max(
            (
                _best_cycles(m, wl.seq, al.get(m.role, 1), tt, rq, xw)
                for m in ly.linears
                if m.role not in early
            ),
            default=0,
        )
        rows[ly.index] = {
            # late q borrows phase-B engines and must be done before their kernels start: its own cycles count
            m.role: choose_rows(
                m, wl.seq, al.get(m.role, 1), tt, m.role not in early, rq, 0 if m.role == "q" else pace, xw
            )
            for m in ly.linears
        }
    a, g, ln, ad = _lanes(
        wl,
        _paces(wl, alloc, rows, tt, late, rq, xw),
        costs.ln_width,
        attn_price=_attn_price(wl, board, costs) if priced else None,
    )
    return Design(
        board,
        clock,
        p,
        alloc,
        a,
        g,
        ln,
        onchip,
        costs,
        rows=rows,
        late_q=late,
        add_lanes=ad,
        late_q_on=late_on,
    )


def _rows_to_pace(wl: Workload, d: Design) -> Design:
    """Re-pick the streaming kernels' row groups against the layer's real pace (its slowest phase-B
    stage, lanes included): a kernel may then take a split with a shorter first tile."""
    rq = rq_cycles(d.costs, wl.block[0])
    rows = {k: dict(v) for k, v in d.rows.items()}
    for ly in wl.layers:
        t = layer_timing(wl, d, ly)
        pace = max(t.kernels[s] for s in CHAIN if s in t.kernels and s != "q")
        al, early = d.alloc.get(ly.index, {}), phase_a_roles(ly, d.late_q)
        for m in ly.linears:
            if m.role not in early and m.role != "q":
                rows[ly.index][m.role] = choose_rows(
                    m, wl.seq, al.get(m.role, 1), d.tt, True, rq, pace, d.costs.xw
                )
    return replace(d, rows=rows)


def _fits(wl: Workload, d: Design, budget: float) -> bool:
    return all(v <= budget for v in utilization(resources(wl, d), d.board).values())


def _fitting(wl: Workload, d: Design, budget: float) -> Design | None:
    """``d`` if it fits; else ``d`` with fewer lanes: every non-linear stage sized to a common
    cycle target above the linears' (the smallest target that fits, by bisection), so the
    lanes, not the engines, set the pace.  None if one lane of each kind does not fit.
    """
    if _fits(wl, d, budget):
        return d
    ones = replace(d, attn_lanes=1, gelu_lanes=1, ln_lanes=1, add_lanes=1)
    if not _fits(wl, ones, budget):
        return None
    lo, hi = 0, max((layer_timing(wl, ones, ly).phase_b for ly in wl.layers), default=0) + 1
    best = ones
    paces = _paces(wl, d.alloc, d.rows, d.tt, d.late_q, rq_cycles(d.costs, wl.block[0]), d.costs.xw)
    price = _attn_price(wl, d.board, d.costs)
    while lo < hi:
        mid = (lo + hi) // 2
        a, g, ln, ad = _lanes(wl, paces, d.costs.ln_width, floor=mid, attn_price=price)
        c = replace(d, attn_lanes=a, gelu_lanes=g, ln_lanes=ln, add_lanes=ad)
        if _fits(wl, c, budget):
            best, hi = c, mid
        else:
            lo = mid + 1
    return best


def _candidates(pmax: int) -> list[int]:
    out, p = [], 3
    while p <= pmax:
        out.append(p)
        p = p + 1 if p < 96 else int(p * 1.05) + 1
    return out or [3]


def _placement(wl: Workload, board: Board, clock: float, costs: UnitCosts, budget: float) -> tuple[int, ...]:
    """As many layers on chip as the RAM budget allows with the smallest pool (the rest streamed)."""
    idx = [ly.index for ly in wl.layers]
    for k in range(len(idx), -1, -1):
        d = _design(wl, board, clock, costs, 3, tuple(idx[:k]))
        d = replace(
            d, attn_lanes=1, gelu_lanes=1, ln_lanes=1, add_lanes=1
        )  # the lanes' RAM is the designs' own
        util = utilization(resources(wl, d), board)
        if util["bram"] <= budget and util["uram"] <= budget:
            return tuple(idx[:k])
    return ()


def schedule(
    wl: Workload,
    board: str | Board,
    clock_mhz: float | None = None,
    builds: Builds | None = None,
    budget: float = FIT_BUDGET,
    costs: UnitCosts | None = None,
) -> Schedule:
    """Pick the fastest design for ``wl`` whose resources stay <= ``budget`` of ``board``.

    ``costs`` fixes the unit builds; else ``builds`` (the default ones unless given) with the
    LayerNorm width picked among the built ones (``LN_WIDTHS``).  It tries every layout of
    ``LAYOUTS`` (where q runs, priced attention lanes) for every pool size.
    """
    b = get_board(board) if isinstance(board, str) else board
    clock = float(clock_mhz or b.clock_mhz)
    base = builds or DEFAULT_BUILDS
    choices = (
        [costs] if costs is not None else [design_costs(wl.block, base.with_ln_width(w)) for w in LN_WIDTHS]
    )
    bm, bn = wl.block
    best: tuple[int, Design] | None = None
    for c in choices:
        onchip = _placement(wl, b, clock, c, budget)
        eng_dsp = c.engine(bm, bn, 1, 1, c.builds.engine.token_tile).dsp
        pmax = max(3, int(budget * b.total("dsp") / max(eng_dsp, 1e-9)))
        pmax = min(pmax, 3 * max(1, math.ceil(wl.seq / 2)))
        fewest: dict[tuple[tuple[str, ...], int], int] = {}  # (late, p) -> attention lanes unpriced
        for late, priced in LAYOUTS:
            for p in _candidates(pmax):
                d0 = _design(wl, b, clock, c, p, onchip, late, priced)
                if not priced:
                    fewest[(late, p)] = d0.attn_lanes
                elif fewest.get((late, p)) == d0.attn_lanes:
                    continue  # pricing chose the same lanes: the very design already tried
                d = _fitting(wl, d0, budget)
                if d is None:
                    continue
                d = _rows_to_pace(wl, d)
                cyc = total_cycles(wl, d)[0]
                if best is None or cyc < best[0]:
                    best = (cyc, d)
    if best is not None:
        d = best[1]
        est = estimate(wl, d)
        streamed = est["weights_streamed_layers"]
        msg = (
            f"fits {b.name} within {budget:.0%}: {d.engines} engines of {bm}x{bn} MACs, {d.attn_lanes} attention lanes, "
            f"{d.gelu_lanes} GELU lanes, 2x{d.ln_lanes} LayerNorm lanes (W={d.costs.ln_width}), "
            f"2x{d.add_lanes} residual add lanes; weights "
            + ("on chip" if not streamed else f"streamed for layers {streamed}")
        )
        return Schedule(d, est, True, msg)
    costs = choices[0]
    d = _design(wl, b, clock, costs, 3, _placement(wl, b, clock, costs, budget))
    d.attn_lanes = d.gelu_lanes = d.ln_lanes = d.add_lanes = 1
    est = estimate(wl, d)
    over = {r: u for r, u in est["utilization"].items() if u > budget}
    need = ", ".join(f"{r.upper()} {getattr_total(est, r)} = {u:.0%} of the board" for r, u in over.items())
    msg = f"does NOT fit {b.name} within {budget:.0%}: the smallest design (3 engines, 1 lane each) needs {need}"
    return Schedule(d, est, False, msg)


def getattr_total(est: dict[str, Any], res: str) -> int:
    return int(est.get(res, 0))
