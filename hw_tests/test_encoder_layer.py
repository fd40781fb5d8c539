"""The chained encoder-layer module (compiler/backends/rtl/layer.py) against the golden trace.

Random small BERT layers (tests/irfactory.py), quantized: 4x4 blocks with a
pruned head and an odd FFN width (dropped neurons) at 0 % and 90 % block
sparsity, 16x16 blocks at 50 % and 90 %.  Each simulation runs several calls
back to back on one build: every sequence of a padded batch (masked keys), a
shorter sequence (n_tokens < the buffers' depth) and a call with random idle
input cycles and output backpressure.  Every output word (pad lanes
included) is compared with the golden integer trace; every full-rate call's
cycles ap_start -> ap_done must equal ``layer.layer_cycles``.

Builds: one per layer shape (sparsity changes only ROM files, so the 0 / 90 %
and 50 / 90 % cases share a build).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import numpy as np
import pytest
from conftest import needs_sim

from compiler.backends.rtl import layer as rtl_layer
from compiler.backends.rtl import verilate
from compiler.backends.rtl.command import CHAINED_NOTE, run_rtlsim_layer
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.ir.graph import Graph, Node, frozen
from compiler.passes.pipeline import STRUCTURE_PASSES, run_passes
from compiler.passes.quantize import quantize
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks, zero_head, zero_neurons

PRUNED = dict(hidden=24, heads=3, ffn=40, seq=8, block=(4, 4), dead_head=1, dead_neurons=(3, 17, 30))
WIDE = dict(hidden=32, heads=4, ffn=64, seq=8, block=(16, 16))


def layer_graph(
    hidden: int,
    heads: int,
    ffn: int,
    seq: int,
    block: tuple[int, int],
    sparsity: float,
    seed: int = 0,
    dead_head: int | None = None,
    dead_neurons: tuple[int, ...] = (),
) -> Graph:
    """A quantized 1-layer BERT: heads / neurons pruned first (shapes), then blocks zeroed (ROMs only)."""
    g = make_bert_graph(layers=1, hidden=hidden, heads=heads, ffn=ffn, seq=seq, block=block, seed=seed)
    if dead_head is not None:
        g = zero_head(g, 0, dead_head)
    if dead_neurons:
        g = zero_neurons(g, 0, dead_neurons)
    g, _ = run_passes(g, STRUCTURE_PASSES)
    if sparsity:
        g = zero_blocks(g, sparsity, seed=seed + 7)
    return quantize(g, random_feeds(g, 4, seed=1))


def _runs(plan: rtl_layer.LayerPlan, g: Graph, seed: int) -> list[rtl_layer.LayerRun]:
    feeds = random_feeds(g, 2, seed=seed)
    assert feeds["attention_mask"].min() == 0  # the second sequence is padded: masked keys
    runs = rtl_layer.runs_from_trace(plan, feeds, interpreter.run(g, feeds, mode="int", trace=True))
    short = {k: v[:1, :5] for k, v in feeds.items()}  # 5 of the 8 tokens the buffers hold
    runs += rtl_layer.runs_from_trace(plan, short, interpreter.run(g, short, mode="int", trace=True))
    first = runs[0]
    runs.append(rtl_layer.LayerRun(first.x, first.mask, first.want, pause=seed))
    return runs


@pytest.mark.sim
@needs_sim
@pytest.mark.parametrize(
    "shape,sparsity",
    [(PRUNED, 0.0), (PRUNED, 0.9), (WIDE, 0.5), (WIDE, 0.9)],
    ids=["4x4-sp0-pruned-head-ffn37", "4x4-sp90-pruned-head-ffn37", "16x16-sp50", "16x16-sp90"],
)
def test_encoder_layer_matches_golden(shape, sparsity, tmp_path, build_root):
    g = layer_graph(**shape, sparsity=sparsity)
    plan = rtl_layer.plan_layer(g, 0)
    if shape is PRUNED:
        assert (plan.heads, plan.ffn) == (2, 37)  # the factory pruned what we asked for
    runs = _runs(plan, g, seed=3)
    res = rtl_layer.run_layer(plan, runs, tmp_path, build_root)
    assert res["passed"] and res["mismatches"] == 0, res
    x_width = plan.x_beats * plan.x_lanes
    assert res["compared"] == sum(len(r.x) for r in runs) * x_width
    for r in res["runs"]:
        if not r["paused"]:
            assert r["cycles"] == r["model_cycles"], r  # full rate: the model is exact
    assert [r["tokens"] for r in res["runs"]] == [8, 8, 5, 8]


@pytest.mark.sim
@needs_sim
def test_run_rtlsim_layer_reports(tmp_path, build_root):
    """The command's chained mode on the 16x16 shape: keys, cycles next to the model, the note."""
    g = layer_graph(**WIDE, sparsity=0.7, seed=2)
    res = run_rtlsim_layer(
        g,
        0,
        feeds=random_feeds(g, 1, seed=5),
        workdir=tmp_path,
        build_root=build_root,
        pause_seed=9,
    )
    assert res["passed"] and res["mismatches"] == 0, res
    assert res["mode"] == "chained" and res["note"] == CHAINED_NOTE
    assert res["sequences"] == 1 and len(res["runs"]) == 2 and res["runs"][1]["paused"]
    assert abs(res["cycles"] - res["model_cycles"]) <= 0.02 * res["model_cycles"]
    assert res["model_cycles"] == sum(res["stage_model_cycles"].values())
    assert 0 < res["ideal_cycles"] < res["cycles"]
    assert {n.name for n in g.nodes if n.layer == 0} == set(res["rtl_ops"])
    assert res["rtl_top"] == str(tmp_path / "rtl" / "encoder_layer_L0.sv")
    assert (tmp_path / "rtl" / "L0_fc1_weights.mem").exists()


@pytest.mark.sim
@needs_sim
@pytest.mark.parametrize("shape", [PRUNED, WIDE], ids=["4x4-pruned", "16x16"])
def test_generated_layer_lint_clean(shape, tmp_path):
    plan = rtl_layer.plan_layer(layer_graph(**shape, sparsity=0.5), 0)
    top = rtl_layer.write_layer(plan, tmp_path)
    verilate.setup_verilator()
    proc = subprocess.run(
        [
            "verilator",
            "--lint-only",
            "-Wall",
            *map(str, rtl_layer.SOURCES),
            str(top),
            "--top-module",
            top.stem,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- generation (no simulator)
def test_generation_is_deterministic_and_complete(tmp_path):
    g = layer_graph(**PRUNED, sparsity=0.5)
    a, b = rtl_layer.plan_layer(g, 0), rtl_layer.plan_layer(g, 0)
    assert rtl_layer.render_layer(a) == rtl_layer.render_layer(b)
    assert rtl_layer.layer_mem_files(a) == rtl_layer.layer_mem_files(b)
    top = rtl_layer.write_layer(a, tmp_path)
    text = top.read_text()
    assert top.name == "encoder_layer_L0.sv" and "module encoder_layer_L0 (" in text
    for port in ("ap_start", "ap_done", "ap_idle", "ap_ready", "n_tokens", "x_in_TDATA", "mask_in_TVALID"):
        assert port in text
    for inst in (
        "u_q",
        "u_k",
        "u_v",
        "u_o",
        "u_fc1",
        "u_fc2",
        "u_attn",
        "u_res1",
        "u_res2",
        "u_ln1",
        "u_ln2",
    ):
        assert f") {inst}_l0 (" in text  # lane 0 (the one lane of a chained-layer build)
    # every ROM file the top names is written
    named = (
        set(re.findall(r'"(L0_[a-z0-9_]+\.mem)"', text))
        | {f"L0_{r}_add_params.mem" for r in ("res1", "res2")}
        | {f"L0_{r}_ln_params.mem" for r in ("ln1", "ln2")}
    )
    assert named <= {p.name for p in tmp_path.glob("*.mem")}


def test_gelu_is_built_without_input_requant_when_it_is_the_identity():
    """fc1's int32 output is already FX(F_GELU): the quantizer sets GELU's input requant to the
    identity, so the layer builds int_gelu IN_IDENTITY = 1 (the simulations above check it
    bit-exact); any other in_mult/in_shift keeps the requant (IN_IDENTITY = 0)."""
    plan = rtl_layer.plan_layer(layer_graph(**PRUNED, sparsity=0.5), 0)
    assert (plan.cfg["gelu.in_mult"], plan.cfg["gelu.in_shift"]) == (2**30, 30)
    assert "int_gelu #(.IN_IDENTITY(1)) u_gelu_l0 (" in rtl_layer.render_layer(plan)
    other = dataclasses.replace(plan, cfg={**plan.cfg, "gelu.in_shift": 29})
    assert "int_gelu #(.IN_IDENTITY(0)) u_gelu_l0 (" in rtl_layer.render_layer(other)


def test_model_is_the_sum_of_the_units_formulas():
    g = layer_graph(**WIDE, sparsity=0.5)
    plan = rtl_layer.plan_layer(g, 0)
    st = rtl_layer.stage_cycles(plan, 8)
    assert list(st) == list(rtl_layer.STAGES)
    assert rtl_layer.layer_cycles(plan, 8) == sum(st.values())
    # per head: K in (8 beats, q at cycle 10), the first row (a softmax row of 3 * 8 + 50, the
    # packed-QK fill 6 + 2, NB = D = 8 requant issues, 3 requant stages), then 7 rows at the
    # softmax divider's period of 36 cycles (QK's 8 + 2 and the hold register's 9 are shorter)
    first_row = 3 * 8 + 50 + 6 + 2 + 8 + 3
    assert st["attn"] == plan.heads * (10 - 1 + first_row + 7 * 36 + rtl_layer.STAGE_OVERHEAD)
    assert rtl_layer.layer_cycles(plan, 0) == 1


def test_unsupported_layers_are_refused():
    g = layer_graph(**PRUNED, sparsity=0.5)
    with pytest.raises(UserError, match="no such encoder layer"):
        rtl_layer.plan_layer(g, 3)
    with pytest.raises(UserError, match="tokens per call"):
        rtl_layer.plan_layer(g, 0, max_tokens=100_000)
    unq = make_bert_graph(layers=1, hidden=16, heads=2, ffn=32, seq=8)
    with pytest.raises(UserError, match="quantized"):
        rtl_layer.plan_layer(unq, 0)
    # head_dim 6: not a power of two
    g6 = quantize(make_bert_graph(layers=1, hidden=12, heads=2, ffn=24, seq=8), random_feeds(unq, 2, seed=1))
    with pytest.raises(UserError, match="head_dim 6"):
        rtl_layer.plan_layer(g6, 0)
    # a missing op (gelu's output read straight by fc2 is not a layer the module takes)
    nodes = tuple(n for n in g.nodes if n.role != "gelu")
    broken = Graph(nodes, *_rest(g))
    with pytest.raises(UserError, match="gelu"):
        rtl_layer.plan_layer(broken, 0)
    # a multiplier the units' ports cannot take
    gelu = g.find(0, "gelu")
    assert gelu is not None
    bad = Graph(tuple(_with_attr(n, "out_shift", 70) if n is gelu else n for n in g.nodes), *_rest(g))
    with pytest.raises(UserError, match="out_shift"):
        rtl_layer.plan_layer(bad, 0)


def _rest(g: Graph) -> tuple:  # type: ignore[type-arg]
    return g.inputs, g.outputs, g.params, g.meta


def _with_attr(node: Node, key: str, value: int) -> Node:
    return dataclasses.replace(node, attrs=frozen({**dict(node.attrs), key: value}))


def test_stream_packing_round_trips():
    plan = rtl_layer.plan_layer(layer_graph(**PRUNED, sparsity=0.5), 0)
    x = np.random.default_rng(0).integers(-128, 128, size=(3, plan.hidden))
    words = rtl_layer.pack_rows(plan, x)
    assert len(words) == 3 * plan.x_beats
    back = rtl_layer.unpack_rows(plan, words, 3)
    assert np.array_equal(back[:, : plan.hidden], x) and not back[:, plan.hidden :].any()


def test_cli_rtlsim_flags(tmp_path):
    from compiler.cli import build_parser, main

    a = build_parser().parse_args(["rtlsim", "J", "--layer", "0"])
    assert (a.layer, a.per_op, a.sequences) == (0, False, 1)
    a = build_parser().parse_args(["rtlsim", "J", "--layer", "2", "--per-op", "--sequences", "3"])
    assert (a.layer, a.per_op, a.sequences) == (2, True, 3)
    # a user error is one line and exit code 2, before anything is built
    assert main(["rtlsim", str(tmp_path), "--layer", "0", "--sequences", "0"]) == 2
