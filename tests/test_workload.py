"""What the FPGA computes (compiler/perf/workload.py), worked by hand."""

from __future__ import annotations

import numpy as np
from irfactory import make_bert_graph, zero_blocks

from compiler.perf.workload import LinearWork, from_graph, from_shape


def test_linear_work_by_hand() -> None:
    """100 x 40 in 16x16 blocks: 7 block rows, 3 block columns; 5 kept blocks."""
    m = LinearWork("x", 0, "q", 100, 40, 16, 16, 5)
    assert (m.nb, m.kb) == (7, 3)
    assert m.macs(10) == 10 * 5 * 256 == 12_800
    # int8 blocks + int32 column indices + int32 row pointers + per-row int32 bias, mult and int8 shift
    assert m.weight_bytes() == 5 * 256 + 4 * 5 + 4 * 8 + 9 * 100 == 2232
    assert LinearWork("c", -1, "cls", 3, 40, 16, 16, 3, tokens_one=True).macs(128) == 3 * 256


def test_from_shape_keeps_the_rounded_share_of_blocks() -> None:
    wl = from_shape(1, 64, 2, 128, 16, (16, 16), 0.75)
    fc1 = wl.layers[0].linear("fc1")
    assert fc1 is not None and (fc1.nb, fc1.kb) == (8, 4) and fc1.nnzb == 8  # 25 % of 32 blocks
    assert wl.block_sparsity() == 0.75


def test_from_graph_counts_kept_blocks() -> None:
    """The kept blocks of every matrix, counted block by block in the test."""
    g = zero_blocks(make_bert_graph(2, 32, 2, 64, 8, block=(4, 8)), 0.6, seed=3, block=(4, 8))
    wl = from_graph(g)
    assert (wl.seq, wl.hidden, wl.block, len(wl.layers)) == (8, 32, (4, 8), 2)
    for ly in wl.layers:
        assert (ly.heads, ly.head_dim, ly.ffn) == (2, 16, 64)
        for m in ly.linears:
            node = g.find(ly.index, m.role)
            assert node is not None
            w = np.asarray(g.params[node.params["weight"]])
            kept = sum(
                bool(np.any(w[r : r + 4, c : c + 8]))
                for r in range(0, w.shape[0], 4)
                for c in range(0, w.shape[1], 8)
            )
            assert (m.n, m.k, m.nnzb) == (w.shape[0], w.shape[1], kept)
