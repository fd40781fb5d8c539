"""Scheduler fit decisions and the performance model against RTL cycle counts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from compiler.hw.boards import BOARDS
from compiler.hw.builds import DEFAULT_BUILDS, AddBuild
from compiler.perf.schedule import schedule
from compiler.perf.workload import from_shape

RTL = Path(__file__).resolve().parents[1] / "bench" / "results" / "rtl_linear.json"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_fit_within_80_percent(board: str) -> None:
    wl = from_shape(4, 256, 4, 1024, 64, (16, 16), 0.8)
    s = schedule(wl, board)
    assert s.fits
    for res, u in s.estimate["utilization"].items():
        assert u <= 0.8, (res, u)


def test_does_not_fit_says_what_it_needs() -> None:
    wl = from_shape(2, 4096, 32, 16384, 512, (16, 16), 0.0)  # dense and huge activations
    s = schedule(wl, "u200", budget=0.05)
    assert not s.fits
    assert "does NOT fit" in s.message and "%" in s.message


def test_latency_monotone_in_sparsity() -> None:
    lats = [
        schedule(from_shape(2, 256, 4, 1024, 64, (16, 16), sp), "u250").estimate["latency_ms"]
        for sp in (0.0, 0.5, 0.8, 0.9, 0.95)
    ]
    assert all(a >= b * 0.999 for a, b in zip(lats[:4], lats[1:4], strict=False)), lats
    # past ~90 % the engines become load/store bound (nnzb < KB or NB, docs/rtl.md): flat, not faster
    assert lats[4] <= lats[3] * 1.05, lats


def test_bert_base_shape_end_to_end_on_the_u250() -> None:
    """The headline case, scheduled once: BERT-base 90 % 16x16 fits the U250 with every weight on chip,
    and with at most 80 % of the DSPs it cannot come closer than 1 / 0.8 to the compute limit."""
    s = schedule(from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9), "u250")
    assert s.fits and "fits u250" in s.message
    assert s.estimate["weights_streamed_layers"] == []
    assert s.estimate["latency_over_limit"] >= 1 / 0.8


@pytest.mark.parametrize("board", ["u200", "u280", "u55c"])
def test_bert_base_weights_fit_on_chip(board: str) -> None:
    """BERT-base 90 %: 10 % of its 85 M encoder weights as int8 plus indices and per-row parameters,
    about 9.4 MB, fit in the BRAM + URAM budget of every card: all 12 layers on chip."""
    from compiler.hw.boards import FIT_BUDGET, get_board
    from compiler.hw.costs import design_costs
    from compiler.perf.schedule import _placement

    wl = from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9)
    assert 8.5e6 < wl.weight_bytes() < 1e7
    b = get_board(board)
    assert _placement(wl, b, 300.0, design_costs(wl.block), FIT_BUDGET) == tuple(range(12))


def test_weights_too_big_for_chip_are_streamed() -> None:
    wl = from_shape(4, 1024, 16, 4096, 64, (16, 16), 0.0)  # 51 MB of int8 weights > 80 % of U200 RAM
    s = schedule(wl, "u200")
    e = s.estimate
    assert s.fits and e["weights_streamed_layers"] and "streamed" in s.message
    assert e["latency_ms"] >= e["memory_ms"] * 0.999  # a streamed layer waits for its weights
    assert all(u <= 0.8 for u in e["utilization"].values())


def test_phase_b_is_the_slowest_stage_plus_streamed_fills() -> None:
    """Phase B = slowest stage + every other stage's first-unit latency, less the cycles in which a stage
    takes its first input while its predecessor gives it out (the stages are joined by streams)."""
    from compiler.perf.model import (
        first_tile_cycles,
        gelu_fill,
        late_q,
        layer_timing,
        phase_b_stages,
        rq_cycles,
    )

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    ly = wl.layers[0]
    # first element in to last out (int_gelu.sv: 13-cycle call latency less its ap_start cycle)
    assert gelu_fill(ly, 48) == 3072 // 48 + 12  # one token over the lanes
    assert gelu_fill(ly, 48, 2) == 2 * 3072 // 48 + 12
    d = schedule(wl, "u250").design
    t = layer_timing(wl, d, ly)
    tt = d.tt
    w = d.costs.ln_width
    beats, stats = -(-768 // w), 137 + (w.bit_length() - 1)  # int_layernorm.sv: row beats, statistics
    more = -(-128 // d.ln_lanes) > 1  # the unit's second row is loading during the first's statistics
    ln_row = beats + (max(beats + 1, stats) if more else stats) + beats + 10  # first row: x beat to y beat
    ln_period = max(beats + 2, stats)
    # attention: QK streams into the softmax and the softmax into PV: packed-QK fill (6, +2 for the first
    # key pair), softmax row, shared requant of 64 lanes + its 3 stages (measured by hw_tests);
    # o's first tile needs `tt` tokens of every head from the lanes that hold that head
    # a lane's row period: QK (64 key pairs in 2 cycles each, 2 to take the next q), the softmax's
    # divider (36), the hold register (64 + 1)
    period = max(2 * 64 + 2, 36, 65)
    groups = [g for g in range(1, 13) if 12 % g == 0 and d.attn_lanes // (12 // g) >= 1]
    g = min(groups, key=lambda g: (-(-(g * 128) // (d.attn_lanes // (12 // g))), g))
    waves = -(-(tt * g) // (d.attn_lanes // (12 // g)))
    add_row = -(-768 // d.add_lanes)
    gelu_rows = -(-(tt * 3072) // d.gelu_lanes)
    stages = {}  # name: (fill, take, give)
    roles_b = ("q", "o", "fc1", "fc2") if late_q(ly, d) else ("o", "fc1", "fc2")
    lin = {}
    for m in ly.linears:
        if m.role in roles_b:
            r = min(d.rows[0][m.role], m.nb)
            xw = d.costs.xw  # the engine loads xw X words per beat (sparse_linear.sv XW)
            ft = first_tile_cycles(m, tt, r, rq_cycles(d.costs, 16), xw)
            lin[m.role] = (ft, tt * -(-m.kb // xw), tt * -(-m.nb // r))
    order = ["q"] if "q" in roles_b else []
    order += ["attention", "o", "add1", "ln1", "fc1", "gelu", "fc2", "add2", "ln2"]
    for name in order:
        if name in lin:
            stages[name] = lin[name]
        elif name == "attention":
            stages[name] = (6 + 2 + (3 * 128 + 50) + 64 + 3 + (waves - 1) * period, 1, 1)
        elif name.startswith("add"):
            stages[name] = (add_row + 5, add_row, add_row)  # int_add.sv: one token over the lanes + 5
        elif name == "ln1":  # fc1's first tile needs `tt` rows from the units
            stages[name] = (ln_row + (-(-tt // d.ln_lanes) - 1) * ln_period, beats + 1, beats)
        elif name == "ln2":
            stages[name] = (ln_row, beats + 1, beats)
        elif name == "gelu":
            stages[name] = (gelu_rows + 12, gelu_rows, gelu_rows)
    names = list(stages)
    model_stages = phase_b_stages(wl, d, ly, t.kernels)
    assert list(model_stages) == names
    for name in names:  # every stage's first unit (the bottleneck's too)
        got = model_stages[name]
        assert (got.fill, got.take, got.give) == stages[name], name
    overlap = sum(min(stages[u][2], stages[v][1]) for u, v in zip(names, names[1:], strict=False))
    assert overlap > 0
    top = t.bottleneck
    fills = sum(f for n, (f, _, _) in stages.items() if n != top)
    excess = 0
    if "q" in roles_b:  # q runs on fc2's engines: whatever of it outlasts fc2's start delays fc2
        start, prev = 0, None
        for n in names:
            if n == "fc2":
                break
            if prev is not None:
                start += stages[prev][0] - min(stages[prev][2], stages[n][1])
            prev = n
        start += stages[prev][0] - min(stages[prev][2], stages["fc2"][1])
        excess = max(0, t.kernels["q"] - start)
        assert d.alloc[0]["q"] == d.alloc[0]["fc2"]
        assert t.phase_a == max(t.kernels["k"], t.kernels["v"])
    assert t.phase_b == t.kernels[top] + fills - overlap + excess


def test_attention_lanes_keep_the_heads_they_serve() -> None:
    """Lanes are dealt out per group of heads (a lane holds its heads' K and V): rows per lane follow."""
    from compiler.perf.model import attention_groups

    assert attention_groups(12, 128, 12) == (1, 128)  # one lane per head
    assert attention_groups(12, 128, 24) == (1, 64)  # two lanes per head split its rows
    assert attention_groups(12, 128, 6) == (2, 256)  # a lane takes every row of two heads
    assert attention_groups(12, 128, 5) == (12, 308)  # 5 lanes share all 12 heads: ceil(1536 / 5)
    # 28 lanes: 4 groups of 3 heads with 7 lanes each -> ceil(384 / 7) = 55 rows (the smallest g that gets 55)
    assert attention_groups(12, 128, 28) == (3, 55)
    # never better than perfect balance, never worse than the lanes a multiple of heads would give
    for lanes in range(1, 60):
        g, rows = attention_groups(12, 128, lanes)
        assert rows >= -(-(12 * 128) // lanes)
        assert 12 % g == 0 and lanes >= 12 // g


@pytest.mark.parametrize("mpd", [1, 2])
def test_gap_ledger_packing(mpd: int) -> None:
    """The gap ledger's packing factor: 1 when the engines pack two MACs a DSP (as the physical limit
    assumes), between 1 and 2 when they pack one (the RTL attention head always packs two); no factor
    can beat the limit."""
    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    g = schedule(wl, "u250", builds=DEFAULT_BUILDS.with_pack(mpd)).estimate["gap_to_compute_limit"]
    assert g["packing"] == 1.0 if mpd == 2 else 1.0 < g["packing"] < 2.0
    assert all(v >= 1.0 for v in g.values())


def test_phase_a_runs_on_the_engines_the_previous_layer_has_freed() -> None:
    """Phase A of layer l+1 runs on layer l's engines once their last token has left them, on the rows
    layer l's last LayerNorm has given out; the rest after layer l ends, at least one tile."""

    from compiler.perf.model import (
        DDR_LATENCY,
        EMBED_LANES,
        attention_fill,
        embed_timing,
        first_tile_cycles,
        layernorm_cycles,
        phase_a_overlap,
        phase_a_roles,
        phase_b_stages,
        rq_cycles,
        total_cycles,
    )

    wl = from_shape(4, 768, 12, 3072, 128, (16, 16), 0.9)
    d = schedule(wl, "u250").design
    cyc, lys, other = total_cycles(wl, d)
    # v behind k: o's and fc1's engines may finish v until attention's first PV pass (or their own input)
    ly0, t0 = wl.layers[0], lys[0]
    st = phase_b_stages(wl, d, ly0, t0.kernels)
    start, prev_s, starts = 0, None, {}
    for n, s in st.items():
        if prev_s is not None:
            start += prev_s.fill - min(prev_s.give, s.take)
        starts[n], prev_s = start, s
    # a row's PV pass starts after the first row's latency less its PV pass, the shared requant (64) and
    # the 5 cycles from the last V row's beat to the o_out beat (measured by hw_tests/test_nonlinear.py)
    need_v = starts["attention"] + attention_fill(128, 64) - 128 - 64 - 5
    # engines a late q borrows do v only after q
    busy = {r: st["q"].cycles for r in d.late_q_on} if "q" in st else {}
    room = sum(d.alloc[0][r] * max(0, min(need_v, starts[r]) - busy.get(r, 0)) for r in ("o", "fc1"))
    assert t0.v_room == room > 0
    roles0 = [m for m in ly0.linears if m.role in phase_a_roles(ly0, d.late_q)]
    e0 = sum(d.alloc[0][m.role] for m in roles0)
    wv = d.alloc[0]["v"] * t0.kernels["v"]
    rq = rq_cycles(d.costs, 16)
    xw = d.costs.xw
    tile0 = max(first_tile_cycles(m, d.tt, d.rows[0][m.role], rq, xw) for m in roles0)
    # the first layer streams behind the embedding stage (every engine free, rows one per period)
    emb = embed_timing(wl, d)
    assert emb.tail == ((d.engines, emb.phase_b),) and emb.period > 0
    assert t0.overlap == phase_a_overlap(wl, d, ly0, t0, emb)
    assert t0.overlap > t0.phase_a - max(tile0, t0.phase_a - min(room, wv) // e0)  # more than v's late share
    for prev, t, ly in zip(lys[:-1], lys[1:], wl.layers[1:], strict=True):
        roles = [m for m in ly.linears if m.role in phase_a_roles(ly, d.late_q)]
        engines = sum(d.alloc[ly.index][m.role] for m in roles)
        capacity = sum(e * f for e, f in prev.tail) + t.v_room  # engine-cycles freed around phase A
        assert 0 < t.overlap <= capacity / engines + 1
        for m in roles:  # the last tile waits for the last row
            assert t.overlap <= t.phase_a - first_tile_cycles(m, d.tt, d.rows[ly.index][m.role], rq, xw)
        # the tail: a linear's engines are free for the latency of the chain after it
        st = phase_b_stages(wl, d, wl.layers[prev.layer], prev.kernels)
        names = list(st)
        for role, (e, free) in zip(("o", "fc1", "fc2"), prev.tail, strict=False):
            later = names[names.index(role) + 1 :]
            want = sum(
                st[n].fill - min(st[p].give, st[n].take) for p, n in zip([role, *later], later, strict=False)
            )
            assert (e, free) == (d.alloc[prev.layer][role], want)
    assert cyc == other + sum(t.phase_a + t.phase_b - t.overlap for t in lys)
    # no tail in this workload: the embedding stage, its LayerNorm on ln1's and ln2's units (slower than
    # the 64-byte-per-cycle gather) after the first row's gather
    assert wl.embed_ln and other == emb.phase_b
    row = -(-wl.hidden // EMBED_LANES)
    ln = layernorm_cycles(wl.hidden, wl.seq, 2 * d.ln_lanes, d.costs.ln_width)
    assert other == DDR_LATENCY + row + ln > DDR_LATENCY + wl.seq * row
    bare = replace(wl, embed_ln=False)
    assert embed_timing(bare, d).phase_b == DDR_LATENCY + wl.seq * row
    # more freed engines never hide less; none freed hides nothing
    t1, t0 = lys[1], lys[0]
    more = replace(t0, tail=tuple((2 * e, f) for e, f in t0.tail))
    assert phase_a_overlap(wl, d, wl.layers[1], t1, more) >= t1.overlap
    alone = replace(t1, v_room=0)  # without v's late share
    assert phase_a_overlap(wl, d, wl.layers[1], alone, replace(t0, tail=())) == 0
    # rows are given out one per period, the last at the end: if all leave at the end, nothing is ready early
    assert phase_a_overlap(wl, d, wl.layers[1], alone, replace(t0, period=0.0)) == 0


def test_scheduler_picks_the_fastest_layernorm_width() -> None:
    """Without fixed costs the schedule is no slower than the best fixed LayerNorm width."""
    from compiler.hw.builds import LN_WIDTHS
    from compiler.hw.costs import design_costs

    wl = from_shape(12, 768, 12, 3072, 128, (16, 16), 0.9)
    s = schedule(wl, "u250")
    fixed = {
        w: schedule(wl, "u250", costs=design_costs(wl.block, DEFAULT_BUILDS.with_ln_width(w))).estimate[
            "cycles"
        ]
        for w in LN_WIDTHS
    }
    assert s.design.costs.ln_width in LN_WIDTHS
    assert s.estimate["cycles"] == min(fixed.values())
    assert s.estimate["ln_width"] == s.design.costs.ln_width
    assert f"(W={s.design.costs.ln_width})" in s.message


def test_late_q_needs_an_fc2_to_borrow() -> None:
    """A layer whose FFN was pruned away keeps q in phase A (there are no fc2 engines to run it on)."""

    from compiler.perf.model import layer_timing

    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    ly1 = wl.layers[1]
    no_ffn = replace(ly1, linears=tuple(m for m in ly1.linears if m.role not in ("fc1", "fc2")), ffn=0)
    wl = replace(wl, layers=(wl.layers[0], no_ffn))
    s = schedule(wl, "u250")
    d = s.design
    assert 1 not in d.late_q
    t = layer_timing(wl, d, no_ffn)
    assert t.phase_a == max(t.kernels[r] for r in ("q", "k", "v"))
    assert "q" in d.alloc[1] and "fc2" not in d.alloc[1]


def test_both_layernorm_and_add_stages_are_paid_for() -> None:
    """ln1/ln2 and the two residual adds run at the same time in phase B: each has its own units."""

    from compiler.perf.model import resources

    wl = from_shape(2, 768, 12, 3072, 128, (16, 16), 0.9)
    d = schedule(wl, "u250").design
    base = resources(wl, d)
    one_more_ln = resources(wl, replace(d, ln_lanes=d.ln_lanes + 1))
    one_more_add = resources(wl, replace(d, add_lanes=d.add_lanes + 1))
    assert one_more_ln.dsp - base.dsp == pytest.approx(2 * d.costs.layernorm_lane().dsp)
    assert one_more_add.dsp - base.dsp == pytest.approx(2 * d.costs.add_lane().dsp)
    from compiler.hw.costs import unit_synth_cost

    # int_add.sv as Yosys maps it (rtl_synth_units.json): the default design builds FABRIC = 1
    # (multipliers in LUTs: no DSP), the DSP build is what add_fabric=False costs
    assert d.costs.add_fabric
    fabric, dsp = unit_synth_cost("add_fabric"), unit_synth_cost("add")
    assert fabric is not None and d.costs.add_lane() == fabric and fabric.dsp == 0
    assert (
        dsp is not None
        and replace(d.costs, builds=replace(d.costs.builds, add=AddBuild(False))).add_lane() == dsp
        and dsp.dsp > 0
    )
    assert fabric.lut > dsp.lut  # the multipliers moved into LUTs


def test_late_q_may_borrow_fc1_and_fc2_engines() -> None:
    """A late q on fc1's and fc2's engines: it has both matrices' engines, must be done when fc1
    (the earlier) starts, and fc1's engines do v only after it; the scheduler tries both layouts."""
    from compiler.hw.boards import get_board
    from compiler.hw.costs import design_costs
    from compiler.perf.model import chain_starts, layer_timing, phase_b_stages
    from compiler.perf.schedule import LAYOUTS, _design, _placement

    wl = from_shape(4, 768, 12, 3072, 128, (16, 16), 0.9)
    b, c = get_board("u280"), design_costs(wl.block, DEFAULT_BUILDS.with_ln_width(4))
    onchip = _placement(wl, b, 300.0, c, 0.8)
    narrow = _design(wl, b, 300.0, c, 40, onchip, ("fc2",))
    wide = _design(wl, b, 300.0, c, 40, onchip, ("fc1", "fc2"))
    assert {(("fc2",), False), (("fc1", "fc2"), False), ((), False)} <= set(LAYOUTS)
    for d in (narrow, wide):
        al = d.alloc[1]
        assert al["q"] == sum(al[r] for r in d.late_q_on) and 1 in d.late_q
    ly = wl.layers[1]
    tn, tw = layer_timing(wl, narrow, ly), layer_timing(wl, wide, ly)
    assert tw.kernels["q"] < tn.kernels["q"]  # more engines
    st = phase_b_stages(wl, wide, ly, tw.kernels)
    starts = chain_starts(st)
    slowest = max(s.cycles for s in st.values())
    base = slowest + sum(s.fill for s in st.values()) - max(st.values(), key=lambda s: s.cycles).fill
    base -= sum(min(u.give, v.take) for u, v in zip(list(st.values()), list(st.values())[1:], strict=False))
    assert tw.phase_b == base + max(0, st["q"].cycles - starts["fc1"])
    # fc1's engines compute v only once q is off them (o's are not borrowed)
    from compiler.perf.model import attention_pv_start

    need_v = starts["attention"] + attention_pv_start(128, 64)
    al = wide.alloc[1]
    room = al["o"] * min(need_v, starts["o"]) + al["fc1"] * max(
        0, min(need_v, starts["fc1"]) - st["q"].cycles
    )
    assert tw.v_room == room


def test_attention_lanes_priced_by_dsp_and_bram() -> None:
    """Priced attention lanes: the cheapest count that still meets the target, e.g. 36 lanes of one
    head each rather than 35 that must each hold all 12 heads' K and V."""
    from compiler.hw.costs import Cost, design_costs
    from compiler.perf.model import attention_cost, attention_cycles, heads_per_lane
    from compiler.perf.schedule import _layer_lanes

    wl = from_shape(1, 768, 12, 3072, 128, (16, 16), 0.9)
    ly = wl.layers[0]
    lane = design_costs(wl.block).attention_lane(64, 128)
    target = attention_cycles(ly, 128, 35)
    fewest = _layer_lanes(ly, 128, target, 4)[0]
    price = (lane.dsp, lane.bram, 12288.0, 2688.0)
    priced = _layer_lanes(ly, 128, target, 4, price)[0]
    assert fewest == 35 and heads_per_lane(12, 128, 35) == 12
    assert priced == 36 and heads_per_lane(12, 128, 36) == 1
    assert attention_cycles(ly, 128, priced) <= target
    bram = [attention_cost(Cost(dsp=lane.dsp, bram=lane.bram), 12, 128, 64, n).bram for n in (fewest, priced)]
    assert bram[1] < bram[0] / 2
