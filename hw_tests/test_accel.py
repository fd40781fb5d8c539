"""The whole accelerator (compiler/backends/rtl/accel.py) against the golden integer model.

A tiny random BERT (2 layers, hidden 64, 2 heads, FFN 128, 16 tokens, 8x8
blocks, 70 % of the blocks zero), quantized, built with two token lanes and
the scheduler's unit builds (engines PACK 2, REQ_LANES 4, RQ_FABRIC 2, token
tile 2; adders FABRIC 1) and wider element-wise units per lane (LayerNorm W 4,
four GELU and four residual-add units in lock step, two attention heads at
once) (C++ -O0: the build dominates, the simulation is short), driven like the
XRT host drives
the kernel: the weight image loaded once over AXI4, then one call per
sequence (a full one, a padded one whose masked keys must not count, and a
short one of 9 tokens on the 16-token build).  Every output byte (pad bytes
included) must equal the golden last hidden state, and every call's cycles
(ap_start write -> done interrupt) must be within 2 % of ``accel_cycles``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_sim

from compiler.backends.rtl import accel
from compiler.backends.rtl.command import run_rtlsim_accel
from compiler.errors import UserError
from compiler.hw.builds import DEFAULT_BUILDS
from compiler.passes.pipeline import STRUCTURE_PASSES, run_passes
from compiler.passes.quantize import quantize
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks, zero_head

pytestmark = pytest.mark.xdist_group("accel")
LANES, OPT = 2, "-O0"
WIDTHS = accel.UnitWidths(ln=4, gelu=4, add=4, attn=2)


def tiny_bert(dead_head_layer: int | None = None):  # type: ignore[no-untyped-def]
    g = make_bert_graph(layers=2, hidden=64, heads=2, ffn=128, seq=16, block=(8, 8), seed=11)
    if dead_head_layer is not None:
        g = zero_head(g, dead_head_layer, 1)
    g, _ = run_passes(g, STRUCTURE_PASSES)
    g = zero_blocks(g, 0.7, seed=3)
    return quantize(g, random_feeds(g, 4, seed=1))


@pytest.mark.sim
@needs_sim
def test_accelerator_matches_golden(tmp_path, build_root):
    g = tiny_bert()
    plan = accel.plan_accel(g, lanes=LANES, builds=DEFAULT_BUILDS, widths=WIDTHS)
    assert plan.shape.linears["fc1"].pack == 2 and plan.shape.linears["fc1"].rq_lanes == 4
    assert (plan.shape.ln_w, plan.shape.gelu_w, plan.shape.add_w, plan.shape.attn_w) == (4, 4, 4, 2)
    feeds = random_feeds(g, 2, seed=5)
    assert feeds["attention_mask"][1].min() == 0  # the second sequence has masked keys
    short = {k: v[:1, :9] for k, v in feeds.items()}
    seqs = accel.sequences_from_feeds(plan, g, feeds) + accel.sequences_from_feeds(plan, g, short)
    res = accel.run_accel(plan, seqs, tmp_path / "case", build_root, opt=OPT)
    assert res["passed"] and res["mismatches"] == 0
    assert res["compared"] == 2 * 16 * 64 + 9 * 64  # every byte of every row (pad bytes: 64-byte rows)
    assert [r["tokens"] for r in res["runs"]] == [16, 16, 9]
    for r in res["runs"]:
        assert abs(r["cycles"] - r["model_cycles"]) <= 0.02 * r["cycles"], r
        # each layer, counted between the layer datapath's start and done, is its model exactly:
        # the layer runs from on-chip RAMs at full rate (no memory in the loop)
        assert len(r["layer_cycles"]) == 2
        assert r["layer_cycles"] == r["layer_model_cycles"], r
        assert sum(r["layer_cycles"]) < r["cycles"]  # the input, embedding LN and output lie outside
    # the weight image streams at about a beat per cycle
    assert res["load_cycles"] == pytest.approx(plan.weight_beats, rel=0.02)
    assert res["runs"][2]["cycles"] < res["runs"][0]["cycles"]  # 9 tokens are cheaper than 16
    # two lanes and the wider units: the layers in under half the one-lane, one-unit model of the
    # same call (the input and the embedding LayerNorm, outside the lanes, are not halved)
    one = accel.plan_accel(g, lanes=1, builds=DEFAULT_BUILDS)
    assert sum(res["runs"][0]["layer_cycles"]) < 0.5 * accel.accel_cycles(one, 16)["layers"]

    # the command on the same build: report fields, latency from the simulated cycles
    out = run_rtlsim_accel(
        g,
        feeds={k: v[:1] for k, v in feeds.items()},
        workdir=tmp_path / "cmd",
        build_root=build_root,
        board="u250",
        clock_mhz=250.0,
        lanes=LANES,
        opt=OPT,
        builds=DEFAULT_BUILDS,
        widths=WIDTHS,
    )
    assert out["scope"] == "accelerator" and out["passed"] and out["mismatches"] == 0
    assert out["latency_ms"] == pytest.approx(out["cycles"] / 250e3, rel=1e-4)
    assert abs(out["model_error"]) <= 0.02
    assert [ly["layer"] for ly in out["layer_cycles"]] == [0, 1]
    assert all(ly["cycles"] > 0 for ly in out["layer_cycles"])
    assert (tmp_path / "cmd" / "rtl" / "weights.bin").stat().st_size == plan.weight_beats * accel.BEAT


def test_weight_image_layout_by_hand():
    """The image is each region's words, one 64-byte beat per word of at most 512 bits (low byte first)."""
    g = tiny_bert()
    plan = accel.plan_accel(g)
    img = accel.weight_image(plan)
    assert len(img) == plan.weight_beats * accel.BEAT
    # the first region is q's indptr, cumulative over the layers: layer 1 starts where layer 0 ended
    q0, q1 = plan.layers[0].linears["q"], plan.layers[1].linears["q"]
    r0 = plan.regions[0]
    assert r0.what == "q.indptr" and r0.lines == 2 * (q0.nb + 1)
    words = [int.from_bytes(img[i * 64 : (i + 1) * 64], "little") for i in range(r0.lines)]
    assert words[: q0.nb + 1] == [int(v) for v in q0.indptr]
    assert words[q0.nb + 1 :] == [q0.nnzb + int(v) for v in q1.indptr]
    # the cfg region holds both layers' scalars (12 each), in layer order
    cfg = next(r for r in plan.regions if r.what == "cfg")
    assert cfg.lines == 2 * 12 and cfg.words[12:] == tuple(
        plan.layers[1].cfg[n] & 0xFFFFFFFF for n in accel.rtl_layer.CFG_NAMES
    )


def test_input_and_output_buffers():
    g = tiny_bert()
    plan = accel.plan_accel(g)
    emb = np.arange(5 * 64).reshape(5, 64) - 100
    buf = accel.input_buffer(plan, emb, np.array([1, 1, 1, 0, 0]))
    assert buf[:5] == bytes([1, 1, 1, 0, 0]) and len(buf) == 64 + 5 * 4 * 64  # 16 int32 per beat
    assert np.frombuffer(buf[64 : 64 + 256], dtype="<i4").tolist() == emb[0].tolist()
    out = bytes(range(128)) * 5
    assert accel.read_output(plan, out, 2)[1].tolist() == [((64 + i) ^ 0x80) - 0x80 for i in range(64)]


def test_layers_of_different_shapes_are_padded_exactly():
    """A dead head in layer 0, no attention at all and fewer FFN neurons in layer 1: padded to one
    shape, the padded graph computes exactly what the pruned one does (integer golden)."""
    from compiler.backends.rtl.pad import pad_layers
    from compiler.golden import interpreter
    from tests.irfactory import zero_neurons

    g = make_bert_graph(layers=2, hidden=64, heads=2, ffn=128, seq=16, block=(8, 8), seed=11)
    g = zero_head(g, 0, 1)
    g = zero_head(zero_head(g, 1, 0), 1, 1)
    g = zero_neurons(g, 1, range(0, 128, 3))
    g, _ = run_passes(g, STRUCTURE_PASSES)
    g = quantize(g, random_feeds(g, 4, seed=1))
    assert g.find(1, "attn") is None and g.find(0, "attn").attrs["heads"] == 1  # pruned unevenly
    padded, summary = pad_layers(g)
    assert summary[1]["attention_added"] and summary[1]["heads"] == [0, 1]
    assert summary[1]["ffn"] == [128 - len(range(0, 128, 3)), 128]
    feeds = random_feeds(g, 2, seed=9)
    want = interpreter.run(g, feeds, mode="int")
    got = interpreter.run(padded, feeds, mode="int")
    assert all(np.array_equal(want[k], got[k]) for k in want)
    plan = accel.plan_accel(g)  # plans (one layer shape) with the padding on record
    assert plan.padded == summary and len(plan.layers) == 2


def test_lanes_from_the_schedule():
    assert [accel.lanes_for_schedule({"engines": e}) for e in (1, 6, 11, 12, 44, 200)] == [1, 1, 1, 2, 4, 16]
    with pytest.raises(UserError, match="power of two"):
        accel.plan_accel(tiny_bert(), lanes=3)


def test_tables_that_do_not_fit_are_refused():
    plan = accel.plan_accel(tiny_bert())
    accel.check_fits(plan, "u250")  # a tiny model fits
    big = accel.AccelPlan(plan.layers, plan.core, plan.eln, plan.emb_name, plan.regions * 40000)
    with pytest.raises(UserError, match="on-chip tables need"):
        accel.check_fits(big, "u55c")


def test_missing_verilator_is_one_line(tmp_path, monkeypatch):
    from compiler.backends.rtl import verilate

    monkeypatch.setattr(verilate, "verilator_root", lambda: None)
    with pytest.raises(UserError, match="Verilator"):
        run_rtlsim_accel(tiny_bert(), workdir=tmp_path / "w")
    assert not (tmp_path / "w").exists()  # refused before anything is written


def _with_tables(plan: accel.AccelPlan, weights: int, other: int) -> accel.AccelPlan:
    """``plan`` with two tables of q's engine: block weights of ``weights`` bytes, bias ``other``."""
    w = accel.Region(0, accel.MEM_NAMES.index("weights"), 8, (0,) * weights, "q.weights")
    b = accel.Region(0, accel.MEM_NAMES.index("bias"), 8, (0,) * other, "q.bias")
    return accel.AccelPlan(plan.layers, plan.core, plan.eln, plan.emb_name, (w, b))


def test_fitting_lanes():
    """Block weights once per lane pair, the other tables once per lane (worked by hand: 1 MB
    budget, weights W and bias B; L lanes need ceil(L / 2) W + L B)."""
    from compiler.hw.boards import FIT_BUDGET, get_board

    plan = accel.plan_accel(tiny_bert())
    assert accel.fitting_lanes(plan, "u250", 16) == 16  # a tiny model's tables fit 16 times
    have = int(get_board("u55c").onchip_bytes * FIT_BUDGET)
    # W = 0.5, B = 0.1: 2 lanes 0.5 + 0.2 = 0.7 fit, 4 lanes 1.0 + 0.4 = 1.4 do not
    big_w = _with_tables(plan, have // 2, have // 10)
    assert accel.table_bytes(big_w, 2) == have // 2 + 2 * (have // 10)
    assert accel.fitting_lanes(big_w, "u55c", 16) == 2
    assert accel.fitting_lanes(big_w, "u55c", 1) == 1
    # W = 0.2, B = 0.05: 4 lanes 0.4 + 0.2 = 0.6 fit, 8 lanes 0.8 + 0.4 = 1.2 do not; one copy of
    # the tables per lane (the build before weight sharing) would have stopped at 2 lanes (1.0 at 4)
    small_w = _with_tables(plan, have // 5, have // 20)
    assert accel.fitting_lanes(small_w, "u55c", 16) == 4
