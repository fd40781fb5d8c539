"""bench/prune_quality.py on a tiny configuration: a random tiny BERT, a fake VADER cache, one row."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("prune_quality", ROOT / "bench" / "prune_quality.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_prune_quality_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_prune import tiny
    from test_vader import fake_cache

    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(fake_cache(tmp_path / "v", n=60)))
    out = tmp_path / "q.json"
    args = ["--model", str(tiny(tmp_path)), "--methods", "magnitude", "--sparsity", "0.5", "--block", "4x4"]
    args += ["--steps", "2", "--batch", "8", "--max-len", "16", "--n-train", "30", "--n-test", "20"]
    args += ["--out", str(out), "--label", "test"]
    bench = _bench()
    assert bench.main(args) == 0
    doc = json.loads(out.read_text())
    (dense,) = doc["dense"].values()
    assert -1 <= dense["probe_spearman"] <= 1
    (row,) = doc["rows"]
    assert row["method"] == "magnitude" and row["block"] == "4x4" and row["label"] == "test"
    assert row["block_sparsity"] == pytest.approx(0.5, abs=0.01)
    assert 0 < row["peak_rss_mb"] and 0 < row["wall_s"]
    assert -1 <= row["mean_cosine_to_dense"] <= 1 and 0 <= row["probe_sign_accuracy"] <= 1
    assert row["recovery"]["steps_done"] == 2
    assert bench.main([*args, "--dense-only"]) == 0  # rows merge by configuration, none duplicated
    assert len(json.loads(out.read_text())["rows"]) == 1


def test_prune_quality_needs_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(tmp_path / "none"))
    assert _bench().main(["--out", str(tmp_path / "q.json")]) == 2
    assert not (tmp_path / "q.json").exists()


def test_prune_quality_undoes_a_hidden_permutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pgb at sparsity 0 with the hidden permutation and no steps is the dense model, permuted: once the
    recorded permutation is undone, its cosine to dense is 1 and its probe score the dense one."""
    from test_prune import tiny
    from test_vader import fake_cache

    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(fake_cache(tmp_path / "v", n=60)))
    out = tmp_path / "q.json"
    args = ["--model", str(tiny(tmp_path)), "--methods", "pgb", "--sparsity", "0", "--block", "4x4"]
    args += ["--steps", "0", "--max-len", "16", "--n-train", "30", "--n-test", "20", "--out", str(out)]
    assert _bench().main([*args, "--pgb-permute-hidden"]) == 0
    doc = json.loads(out.read_text())
    (dense,) = doc["dense"].values()
    (row,) = doc["rows"]
    assert row["pgb_permute_hidden"] and row["settings"]["permute_hidden"]
    assert row["mean_cosine_to_dense"] == pytest.approx(1.0, abs=1e-4)
    assert row["probe_spearman"] == pytest.approx(dense["probe_spearman"], abs=2e-3)


def test_int_probe_embeds_like_the_float_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--int-probe: the compiled integer model's embeddings (dequantized, mean-pooled over real
    tokens, in sentence order) point where the float checkpoint's do, sentence by sentence."""
    import random

    from ckpts import make_checkpoint
    from test_bad_input import WORDS, add_tokenizer

    from compiler.data import vader

    rng = random.Random(0)  # VADER-format files whose words the tiny tokenizer knows
    for name in vader.FILES.values():
        rows = [
            f"{i}\t{rng.uniform(-4, 4):.3f}\t" + " ".join(rng.choices(WORDS[4:], k=rng.randint(2, 12)))
            for i in range(60)
        ]
        (tmp_path / "v").mkdir(exist_ok=True)
        (tmp_path / "v" / name).write_text("\r\n".join(rows) + "\r\n")
    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(tmp_path / "v"))
    ckpt = add_tokenizer(make_checkpoint(tmp_path / "ckpt"), 120)
    bench = _bench()
    _, float_emb = bench._probe_model(ckpt, 16, 30, 20)
    r = bench.int_probe(ckpt, 16, "4x4", 30, 20, dense=float_emb)
    assert r["mean_cosine_to_dense"] > 0.98, r
    assert "probe_spearman" in r and r["int_vs_float_cosine"] > 0.9  # (fake sentences: mostly [UNK])
    shuffled = bench.int_probe(ckpt, 16, "4x4", 30, 20, dense=float_emb[::-1].copy())
    assert shuffled["mean_cosine_to_dense"] < r["mean_cosine_to_dense"] - 0.01  # the check can fail
