"""Structure passes: run the float golden, transform, verify, run, compare.

Every pass must keep the model's function (max abs diff <= 1e-5 on random feeds
with padding), remove exactly what is dead, and leave a graph with nothing to
do untouched (the very same object).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from irfactory import (
    make_bert_graph,
    random_feeds,
    set_param,
    weight,
    zero_blocks,
    zero_head,
    zero_layer,
    zero_neurons,
    zero_unstructured,
)

from compiler.errors import UserError
from compiler.golden.interpreter import run
from compiler.ir.bsr import nnz_blocks
from compiler.ir.graph import Graph
from compiler.ir.stats import matrix_table, sparsity_summary, stats_report
from compiler.ir.verify import verify
from compiler.passes.drop_dead_heads import DropDeadHeads
from compiler.passes.drop_dead_layers import DropDeadLayers
from compiler.passes.drop_dead_neurons import DropDeadNeurons
from compiler.passes.permute_blocks import PermuteBlocks
from compiler.passes.pipeline import STRUCTURE_PASSES, PassResult, run_passes

TOL = 1e-5

# (layers, hidden, heads, ffn, seq, block, classifier, token_types)
CONFIGS = [
    (2, 72, 3, 40, 9, (1, 4), False, True),
    (3, 48, 4, 64, 16, (4, 4), True, False),
    (4, 32, 2, 56, 5, (2, 8), False, True),
    (2, 64, 4, 96, 12, (8, 8), True, True),
    (2, 96, 3, 72, 7, (16, 16), False, True),
]
IDS = [f"L{c[0]}-H{c[1]}x{c[2]}-F{c[3]}-S{c[4]}-b{c[5][0]}x{c[5][1]}" for c in CONFIGS]


def _graph(cfg: tuple, seed: int = 0) -> Graph:
    layers, hidden, heads, ffn, seq, block, cls, tt = cfg
    return make_bert_graph(
        layers, hidden, heads, ffn, seq, seed=seed, classifier=cls, token_types=tt, block=block
    )


def _same_function(before: Graph, after: Graph, seed: int = 0) -> None:
    verify(after)
    feeds = random_feeds(before, batch=3, seed=seed)
    ya, yb = run(before, feeds), run(after, feeds)
    assert ya.keys() == yb.keys()
    for k in ya:
        assert ya[k].shape == yb[k].shape
        assert np.all(np.isfinite(ya[k]))
        np.testing.assert_allclose(yb[k], ya[k], rtol=0, atol=TOL, err_msg=k)


def _layer_roles(g: Graph, layer: int) -> list[str]:
    return [n.role for n in g.layer_nodes(layer)]


# ---------------------------------------------------------------- DropDeadHeads
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_drop_dead_heads(cfg: tuple) -> None:
    g = _graph(cfg, seed=1)
    heads = cfg[2]
    d = cfg[1] // heads
    g = zero_head(g, 0, heads - 1, "o")  # dead through O
    g = zero_head(g, 0, 0, "v")  # dead through V: its bias folds into O's bias
    for h in range(heads):  # last layer: every head dead, mixing both ways
        g = zero_head(g, cfg[0] - 1, h, "v" if h % 2 else "o")
    fc1_before = weight(g, 0, "fc1")

    out, changed = DropDeadHeads()(g)
    assert changed
    _same_function(g, out)

    kept = [h for h in range(heads) if h not in (0, heads - 1)]
    attn = out.find(0, "attn")
    if kept:
        assert attn is not None and attn.attrs["heads"] == len(kept)
        assert attn.attrs["scale"] == pytest.approx(1 / math.sqrt(d))
        for r in ("q", "k", "v"):
            assert weight(out, 0, r).shape == (len(kept) * d, cfg[1])
        assert weight(out, 0, "o").shape == (cfg[1], len(kept) * d)
        np.testing.assert_array_equal(weight(out, 0, "q"), weight(g, 0, "q")[d : (heads - 1) * d])
    else:
        assert attn is None
    assert out.meta["dropped_heads"][0] == [0, heads - 1]
    assert out.meta["kept_heads"][0] == kept
    last = cfg[0] - 1
    assert out.meta["dropped_heads"][last] == list(range(heads))
    assert _layer_roles(out, last) == ["res1", "ln1", "fc1", "gelu", "fc2", "res2", "ln2"]
    assert len(out.find(last, "res1").inputs) == 1 and "const" in out.find(last, "res1").params  # type: ignore[union-attr]
    for layer in range(1, last):  # untouched layers keep every head
        assert out.find(layer, "attn").attrs["heads"] == heads  # type: ignore[union-attr]
    assert weight(out, 0, "fc1") is fc1_before  # arrays are shared, not copied
    assert sparsity_summary(out)["dropped_heads"] == 2 + heads
    assert "l0.q" in out.meta["orig_shapes"] and out.meta["orig_shapes"]["l0.q"]["shape"] == [cfg[1], cfg[1]]


def test_drop_dead_heads_noop_and_not_dead() -> None:
    g = _graph(CONFIGS[0])
    # a head with zero Q (uniform attention, a mean of V) is NOT dead
    q = weight(g, 0, "q").copy()
    q[:24] = 0.0
    g = set_param(g, g.find(0, "q").params["weight"], q)  # type: ignore[union-attr]
    out, changed = DropDeadHeads()(g)
    assert not changed and out is g
    # repeated application is a no-op
    g2, _ = DropDeadHeads()(zero_head(g, 1, 1, "o"))
    g3, changed = DropDeadHeads()(g2)
    assert not changed and g3 is g2


def test_drop_heads_twice_tracks_original_indices() -> None:
    g = zero_head(_graph(CONFIGS[1]), 0, 1, "o")
    g1, _ = DropDeadHeads()(g)
    assert g1.meta["kept_heads"][0] == [0, 2, 3]
    # now kill what is currently head 1 (originally head 2)
    g1b = zero_head(g1, 0, 1, "v")
    g2, changed = DropDeadHeads()(g1b)
    assert changed
    assert g2.meta["dropped_heads"][0] == [1, 2]
    assert g2.meta["kept_heads"][0] == [0, 3]
    _same_function(g1b, g2)


# -------------------------------------------------------------- DropDeadNeurons
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_drop_dead_neurons(cfg: tuple) -> None:
    layers, hidden, _, ffn = cfg[:4]
    g = _graph(cfg, seed=2)
    g = zero_neurons(g, 0, [0, 3, ffn - 1], "fc2")
    g = zero_neurons(g, 0, [3, 5, 7], "fc1")  # neuron 3 is dead both ways: counted once
    g = zero_neurons(g, layers - 1, range(0, ffn, 2), "fc1")
    g = zero_neurons(g, layers - 1, range(1, ffn, 2), "fc2")  # last layer: whole FFN dead
    q_before = weight(g, 0, "q")

    out, changed = DropDeadNeurons()(g)
    assert changed
    _same_function(g, out)
    assert weight(out, 0, "fc1").shape == (ffn - 5, hidden)
    assert weight(out, 0, "fc2").shape == (hidden, ffn - 5)
    assert out.meta["dropped_neurons"][0] == 5
    assert out.meta["dropped_neurons"][layers - 1] == ffn
    assert _layer_roles(out, layers - 1) == ["q", "k", "v", "attn", "o", "res1", "ln1", "res2", "ln2"]
    res2 = out.find(layers - 1, "res2")
    assert res2 is not None and res2.inputs == (out.find(layers - 1, "ln1").outputs[0],)  # type: ignore[union-attr]
    for layer in range(1, layers - 1):
        assert weight(out, layer, "fc1").shape == (ffn, hidden)
    assert weight(out, 0, "q") is q_before
    assert sparsity_summary(out)["dropped_neurons"] == 5 + ffn


def test_drop_dead_neurons_noop() -> None:
    g = zero_blocks(_graph(CONFIGS[3]), 0.5, seed=4)  # block-sparse, but no whole neuron dead
    for layer in g.layers():
        assert weight(g, layer, "fc2").any(axis=0).all() and weight(g, layer, "fc1").any(axis=1).all()
    out, changed = DropDeadNeurons()(g)
    assert not changed and out is g


def test_gelu_tanh_fold() -> None:
    g = _graph(CONFIGS[0], seed=5)
    act = g.find(0, "gelu")
    g = g.replace_node(act, act.with_attrs(approximate="tanh"))  # type: ignore[arg-type, union-attr]
    g = zero_neurons(g, 0, range(10), "fc1")
    out, _ = DropDeadNeurons()(g)
    _same_function(g, out)


# ---------------------------------------------------------------- DropDeadLayers
@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=IDS[:3])
def test_drop_dead_layers(cfg: tuple) -> None:
    g = _graph(cfg, seed=6)
    g = zero_layer(g, 1)
    g = zero_head(g, 0, 0, "o")
    for h in range(cfg[2]):  # layer 0: attention dead, FFN alive -> not a dropped layer
        g = zero_head(g, 0, h, "v")
    out, results = run_passes(g, [DropDeadHeads(), DropDeadNeurons(), DropDeadLayers()], check=verify)
    assert [r.changed for r in results] == [True, True, True]
    _same_function(g, out)
    assert out.meta["dropped_layers"] == [1]
    assert _layer_roles(out, 1) == ["res1", "ln1", "res2", "ln2"]  # post-LN: the LayerNorms stay
    assert out.find(0, "attn") is None and out.find(0, "fc1") is not None
    s = sparsity_summary(out)
    assert s["dropped_layers"] == 1 and s["dropped_heads"] == 2 * cfg[2]
    again, changed = DropDeadLayers()(out)
    assert not changed and again is out


def test_drop_dead_layers_noop() -> None:
    g = _graph(CONFIGS[0])
    out, changed = DropDeadLayers()(g)
    assert not changed and out is g


# ------------------------------------------------------------------ PermuteBlocks
def _block_sparse(
    rng: np.random.Generator, shape: tuple[int, int], grp: tuple[int, int], density: float
) -> np.ndarray:
    """Dense values times a random mask of grp-aligned tiles (each tile row/col keeps >= 1 tile)."""
    nr, nc = shape[0] // grp[0], shape[1] // grp[1]
    mask = rng.random((nr, nc)) < density
    mask[np.arange(nr), rng.integers(0, nc, nr)] = True
    mask[rng.integers(0, nr, nc), np.arange(nc)] = True
    cells = np.kron(mask, np.ones(grp, dtype=bool))
    w = rng.standard_normal(shape).astype(np.float32) / math.sqrt(shape[1])
    return np.where(cells, w, 0).astype(np.float32)


def _nnzb(g: Graph) -> int:
    return sum(m.nnz_blocks for m in matrix_table(g) if m.layer >= 0)


@pytest.mark.parametrize("block", [(4, 4), (8, 8), (1, 4), (2, 8), (16, 16)])
def test_permute_blocks_restores_optimum(block: tuple[int, int]) -> None:
    hidden, heads, ffn = 64, 2, 96
    d = hidden // heads
    lcm = math.lcm(*block)
    g = make_bert_graph(2, hidden, heads, ffn, 8, seed=7, block=block)
    rng = np.random.default_rng(sum(block))
    # tiles of lcm(bm, bn) along the permuted axis: the optimum is their own block count
    for layer in g.layers():
        for role, shape, tile in (
            ("q", (hidden, hidden), (lcm, block[1])),
            ("k", (hidden, hidden), (lcm, block[1])),
            ("v", (hidden, hidden), (lcm, block[1])),
            ("o", (hidden, hidden), (block[0], lcm)),
            ("fc1", (ffn, hidden), (lcm, block[1])),
            ("fc2", (hidden, ffn), (block[0], lcm)),
        ):
            g = set_param(g, g.find(layer, role).params["weight"], _block_sparse(rng, shape, tile, 0.3))  # type: ignore[union-attr]
    optimum = _nnzb(g)
    # scramble with exactly compensated permutations: FFN neurons, q/k and v/o head dims
    sc = g
    for layer in g.layers():
        upd = {}
        p = rng.permutation(ffn)
        fc1, fc2 = g.find(layer, "fc1"), g.find(layer, "fc2")
        upd[fc1.params["weight"]] = g.param(fc1, "weight")[p]  # type: ignore[union-attr, arg-type]
        upd[fc1.params["bias"]] = g.param(fc1, "bias")[p]  # type: ignore[union-attr, arg-type]
        upd[fc2.params["weight"]] = g.param(fc2, "weight")[:, p]  # type: ignore[union-attr, arg-type]
        pqk = np.concatenate([h * d + rng.permutation(d) for h in range(heads)])
        pvo = np.concatenate([h * d + rng.permutation(d) for h in range(heads)])
        for role, perm, axis in (("q", pqk, 0), ("k", pqk, 0), ("v", pvo, 0), ("o", pvo, 1)):
            n = g.find(layer, role)
            upd[n.params["weight"]] = np.take(g.param(n, "weight"), perm, axis=axis)  # type: ignore[union-attr, arg-type]
            if axis == 0:
                upd[n.params["bias"]] = g.param(n, "bias")[perm]  # type: ignore[union-attr, arg-type]
        sc = sc.with_params(upd)
    _same_function(g, sc)  # the scrambling itself is exact
    scrambled = _nnzb(sc)
    assert scrambled > optimum

    out, changed = PermuteBlocks()(sc)
    assert changed
    _same_function(sc, out)
    assert _nnzb(out) == optimum
    for layer, kinds in out.meta["permutations"].items():
        for kind, perm in kinds.items():
            assert sorted(perm) == list(range(len(perm))), (layer, kind)
    # a second run finds nothing better and returns the graph as is
    again, changed = PermuteBlocks()(out)
    assert not changed and again is out


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_permute_blocks_unstructured(cfg: tuple) -> None:
    g = zero_unstructured(_graph(cfg, seed=8), 0.85, seed=9, roles=("q", "k", "v", "o", "fc1", "fc2"))
    before = {m.name: m.nnz_blocks for m in matrix_table(g)}
    out, changed = PermuteBlocks()(g)
    _same_function(g, out)
    after = {m.name: m.nnz_blocks for m in matrix_table(out)}
    assert sum(after.values()) <= sum(before.values())
    if cfg[5] != (1, 1):
        assert changed and sum(after.values()) < sum(before.values())
    # only the coupled pairs move; each pair's total never grows
    for layer in g.layers():
        for pair in (("fc1", "fc2"), ("q", "k"), ("v", "o")):
            names = [g.find(layer, r).name for r in pair]  # type: ignore[union-attr]
            assert sum(after[n] for n in names) <= sum(before[n] for n in names)


def test_permute_blocks_dense_noop() -> None:
    g = _graph(CONFIGS[1])
    out, changed = PermuteBlocks()(g)
    assert not changed and out is g
    g11 = zero_unstructured(make_bert_graph(1, 16, 2, 16, 4, block=(1, 1)), 0.7)
    out, changed = PermuteBlocks()(g11)
    assert not changed and out is g11


# ------------------------------------------------------------------ pipeline / stats
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_structure_pipeline(cfg: tuple) -> None:
    layers, hidden, heads, ffn = cfg[:4]
    g = _graph(cfg, seed=10)
    g = zero_unstructured(g, 0.7, seed=11, roles=("q", "k", "v", "o", "fc1", "fc2"))
    g = zero_head(g, 0, 1, "o")
    g = zero_neurons(g, 0, range(0, ffn, 3), "fc2")
    g = zero_layer(g, layers - 1)
    dense_total = layers * (4 * hidden * hidden + 2 * hidden * ffn)
    enc_nnz = sum(
        np.count_nonzero(weight(g, la, r)) for la in g.layers() for r in ("q", "k", "v", "o", "fc1", "fc2")
    )
    before = sparsity_summary(g)
    assert before["weight"] == pytest.approx(1 - enc_nnz / dense_total)

    out, results = run_passes(g, STRUCTURE_PASSES, check=verify)
    assert [r.name for r in results] == [p.name for p in STRUCTURE_PASSES]
    assert all(isinstance(r, PassResult) for r in results)
    _same_function(g, out)
    s = sparsity_summary(out)
    assert set(s) == {"weight", "block", "dropped_heads", "dropped_neurons", "dropped_layers"}
    assert s["dropped_layers"] == 1 and out.meta["dropped_layers"] == [layers - 1]
    assert s["dropped_heads"] >= heads + 1 and s["dropped_neurons"] >= ffn + len(range(0, ffn, 3))
    # removing heads drops non-zero q/k/v rows too, so sparsity can only rise
    assert s["weight"] >= before["weight"] and s["block"] >= before["block"]
    rep = stats_report(out)
    assert rep["sparsity"] == s
    assert {m["name"] for m in rep["matrices"]} == {n.name for n in out.nodes if n.op == "linear"}
    assert all(m["orig_shape"][1] in (hidden, ffn) for m in rep["matrices"] if m["layer"] >= 0)


def test_stats_table_counts() -> None:
    g = make_bert_graph(1, 16, 2, 8, 4, block=(4, 4))
    w = np.zeros((16, 16), np.float32)
    w[0, 0] = w[5, 9] = w[15, 15] = 1.0
    g = set_param(g, g.find(0, "q").params["weight"], w)  # type: ignore[union-attr]
    row = next(m for m in matrix_table(g) if m.role == "q")
    assert (row.nnz, row.nnz_blocks, row.total_blocks) == (3, 3, 16)
    assert (row.nnz_blocks_per_row_min, row.nnz_blocks_per_row_max) == (0, 1)
    assert row.weight_sparsity == pytest.approx(1 - 3 / 256) and row.block_sparsity == pytest.approx(13 / 16)
    s = sparsity_summary(g)
    total = 4 * 256 + 2 * 128
    nnz = 3 + 3 * 256 + 2 * 128
    assert s["weight"] == pytest.approx(1 - nnz / total)
    assert s["block"] == pytest.approx(13 / (total // 16))  # 13 zero blocks in q, the rest dense
    assert nnz_blocks(w, (4, 4)) == 3


@pytest.mark.parametrize(
    "p", [DropDeadHeads(), DropDeadNeurons(), DropDeadLayers(), PermuteBlocks()], ids=lambda p: p.name
)
def test_quantized_graph_refused(p: object) -> None:
    g = _graph(CONFIGS[0]).with_meta(quantized=True)
    with pytest.raises(UserError, match="quantized"):
        p(g)  # type: ignore[operator]


def test_meta_survives_json() -> None:
    """Layer-keyed meta comes back from JSON with string keys; stats and passes accept it."""
    import json
    from dataclasses import replace

    from compiler.ir.graph import frozen

    g = zero_layer(zero_head(_graph(CONFIGS[1], seed=12), 0, 2, "o"), 2)
    g = zero_unstructured(g, 0.8, seed=13, roles=("fc1", "fc2"))
    out, _ = run_passes(g, STRUCTURE_PASSES, check=verify)
    meta = json.loads(json.dumps({k: v for k, v in out.meta.items()}, default=list))
    back = replace(out, meta=frozen(meta))
    assert sparsity_summary(back) == sparsity_summary(out)
    again, results = run_passes(back, STRUCTURE_PASSES, check=verify)
    assert not any(r.changed for r in results) and again is back
    killed = zero_head(back, 0, 0, "o")  # original head 0 of layer 0
    later, changed = DropDeadHeads()(killed)
    assert changed and later.meta["dropped_heads"][0] == [0, 2]
