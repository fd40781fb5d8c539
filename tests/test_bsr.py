"""BSR storage: roundtrip, partial blocks, statistics, block checks."""

from __future__ import annotations

import numpy as np
import pytest
from irfactory import make_bert_graph

from compiler.errors import UserError
from compiler.ir.bsr import BSR, block_mask, check_block, check_block_fits, nnz_blocks

BLOCKS = [(1, 1), (1, 4), (4, 1), (4, 4), (8, 8), (16, 16), (32, 32), (2, 8), (3, 5)]
SHAPES = [(64, 64), (37, 50), (5, 7), (72, 288)]


def _sparse(shape: tuple[int, int], seed: int, density: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32)
    w[rng.random(shape) > density] = 0.0
    return w


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("shape", SHAPES)
def test_roundtrip_and_counts(block: tuple[int, int], shape: tuple[int, int]) -> None:
    w = _sparse(shape, seed=hash((block, shape)) % 1000)
    m = BSR.from_dense(w, block)
    back = m.to_dense()
    assert back.shape == w.shape and back.dtype == w.dtype
    np.testing.assert_array_equal(back, w)
    bm, bn = block
    nbr, nbc = -(-shape[0] // bm), -(-shape[1] // bn)
    assert m.n_block_rows == nbr and m.n_block_cols == nbc
    assert m.data.shape == (m.nnz_blocks, bm, bn)
    # brute-force count of non-zero blocks, per block row
    per_row = [
        sum(bool(w[r * bm : (r + 1) * bm, c * bn : (c + 1) * bn].any()) for c in range(nbc))
        for r in range(nbr)
    ]
    np.testing.assert_array_equal(m.nnz_per_block_row(), per_row)
    assert m.nnz_blocks == sum(per_row) == nnz_blocks(w, block) == block_mask(w, block).sum()
    assert all(np.all(np.diff(m.indices[m.indptr[r] : m.indptr[r + 1]]) > 0) for r in range(nbr))
    s = m.stats()
    assert s.nnz == np.count_nonzero(w)
    assert s.weight_sparsity == pytest.approx(1 - np.count_nonzero(w) / w.size)
    assert s.block_sparsity == pytest.approx(1 - sum(per_row) / (nbr * nbc))
    assert (s.nnz_per_block_row_min, s.nnz_per_block_row_max) == (min(per_row), max(per_row))
    assert s.nnz_per_block_row_mean == pytest.approx(np.mean(per_row))


def test_partial_blocks_are_zero_padded() -> None:
    w = np.zeros((6, 6), np.float32)
    w[5, 5] = 3.0
    w[0, 1] = -1.0
    m = BSR.from_dense(w, (4, 4))
    assert m.padded_shape == (8, 8)
    assert m.nnz_blocks == 2
    np.testing.assert_array_equal(m.indices, [0, 1])
    last = m.data[1]
    assert last[1, 1] == 3.0 and np.count_nonzero(last) == 1  # padded cells stay zero
    s = m.stats()
    assert s.weight_sparsity == pytest.approx(1 - 2 / 36)  # real cells only
    assert s.block_sparsity == pytest.approx(0.5)
    np.testing.assert_array_equal(m.to_dense(), w)


def test_empty_and_dense() -> None:
    z = BSR.from_dense(np.zeros((9, 10), np.float32), (4, 4))
    assert z.nnz_blocks == 0 and z.stats().block_sparsity == 1.0
    np.testing.assert_array_equal(z.to_dense(), np.zeros((9, 10)))
    d = BSR.from_dense(np.ones((9, 10), np.float32), (4, 4))
    assert d.nnz_blocks == 9 and d.stats().weight_sparsity == 0.0


@pytest.mark.parametrize("bad", [(0, 4), (4, 0), (-1, 2), "x", (4,), None])
def test_bad_block_is_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        check_block(bad)
    with pytest.raises(ValueError):
        BSR.from_dense(np.ones((4, 4)), bad)  # type: ignore[arg-type]


def test_check_block_fits() -> None:
    g = make_bert_graph(1, 72, 3, 40, 4, classifier=True)
    assert check_block_fits(g, (8, 8)) == (8, 8)
    assert check_block_fits(g, [40, 40]) == (40, 40)  # fc1 is 40x72: fits exactly
    with pytest.raises(UserError, match="larger than matrix"):
        check_block_fits(g, (41, 4))  # fc1 has only 40 rows
    with pytest.raises(UserError, match="larger than matrix"):
        check_block_fits({"w": (16, 8)}, (4, 16))
    with pytest.raises(UserError, match="positive"):
        check_block_fits([(16, 16)], (0, 4))
    assert check_block_fits([(16, 16), (32, 16)], (16, 16)) == (16, 16)
