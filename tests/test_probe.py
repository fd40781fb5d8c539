"""The quality probe on synthetic data with known answers (no model, no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compiler.prune import probe


def test_ridge_matches_least_squares_and_shrinks() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 4.0
    w, b = probe.ridge_fit(x, y, 1e-9)
    np.testing.assert_allclose(w, [1.0, -2.0, 0.5, 0.0, 3.0], atol=1e-6)
    assert b == pytest.approx(4.0, abs=1e-6)
    w_big, b_big = probe.ridge_fit(x, y, 1e9)
    assert np.abs(w_big).max() < 1e-5 and b_big == pytest.approx(y.mean(), abs=1e-2)


def test_probe_on_a_linear_signal_and_on_noise() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=16)
    x = rng.normal(size=(600, 16))
    y = x @ w + 0.05 * rng.normal(size=600)
    good = probe.probe_scores(x[:400], y[:400], x[400:], y[400:])
    assert good["spearman"] > 0.99 and good["sign_accuracy"] > 0.97
    assert good["alpha"] <= 1.0 and good["n_train"] == 400 and good["n_test"] == 200
    noise = probe.probe_scores(x[:400], rng.normal(size=400), x[400:], rng.normal(size=200))
    assert abs(noise["spearman"]) < 0.2 and 0.35 < noise["sign_accuracy"] < 0.65
    assert noise["alpha"] >= 100  # cross-validation shrinks a useless fit


def test_spearman_known_values() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert probe.spearman(a, a**3) == pytest.approx(1.0)
    assert probe.spearman(a, -a) == pytest.approx(-1.0)


def test_cosines() -> None:
    rng = np.random.default_rng(2)
    e = rng.normal(size=(500, 64))
    assert probe.mean_cosine(e, 3 * e) == pytest.approx(1.0)
    assert probe.mean_cosine(e, -e) == pytest.approx(-1.0)
    assert abs(probe.unrelated_cosine(e)) < 0.05  # independent directions: about 0
    shared = e + 4.0  # a common component, as in real sentence embeddings: unrelated pairs look alike
    assert probe.unrelated_cosine(shared) > 0.8


def test_evaluate_on_a_tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end on a random tiny BERT and a fake VADER cache: shapes and keys, nothing more."""
    from test_prune import tiny
    from test_vader import fake_cache

    from compiler.checkpoint import load_hf_model
    from compiler.prune.calib import make_tokenizer

    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(fake_cache(tmp_path / "v", n=60)))
    folder = tiny(tmp_path)
    model = load_hf_model(folder).eval()
    tok = make_tokenizer(folder, 120, 16)
    res, emb = probe.evaluate(model, tok, n_train=30, n_test=20)
    assert emb.shape == (20, 32) and res["n_train"] == 30
    res2, _ = probe.evaluate(model, tok, n_train=30, n_test=20, dense=emb)
    assert res2["mean_cosine_to_dense"] == pytest.approx(1.0)
    assert res2["spearman"] == pytest.approx(res["spearman"])


def test_demo_table_dense_vs_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`python -m compiler.prune.probe DENSE PRUNED` (make demo): the dense model's cosine to itself is
    1, another model's is below; offline it says the probe is skipped and succeeds."""
    from test_prune import tiny
    from test_vader import fake_cache

    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(tmp_path / "none"))
    assert probe.main([str(tmp_path), str(tmp_path)]) == 0
    assert "probe: skipped, no VADER sentences" in capsys.readouterr().out
    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(fake_cache(tmp_path / "v", n=60)))
    src, other = tiny(tmp_path), tiny(tmp_path, name="other", seed=1)
    assert probe.main([str(src), str(other), "--n-train", "30", "--n-test", "20"]) == 0
    rows = {ln.split()[0]: ln.split()[1:] for ln in capsys.readouterr().out.splitlines()[2:4]}
    assert float(rows["dense"][2]) == 1.0
    assert float(rows["pruned"][2]) < 0.99
    assert -1 <= float(rows["pruned"][0]) <= 1
