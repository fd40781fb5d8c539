"""sparsehls prune: exact block sparsity, checkpoint output, bad input, Ctrl-C (magnitude / balanced)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from compiler.data import default_corpus, split_corpus
from compiler.errors import UserError
from compiler.prune.blocks import block_sum, grid
from compiler.prune.command import run_prune
from compiler.prune.objective import spearman


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one torch thread avoids OpenMP spin-waiting on a shared 2-core machine (5-10x faster)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny(tmp_path: Path, cls: str = "BertModel", name: str = "tiny", **kw) -> Path:
    import transformers

    torch.manual_seed(kw.pop("seed", 0))
    if cls.startswith("DistilBert"):
        cfg = transformers.DistilBertConfig(
            vocab_size=120, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64
        )
    elif cls.startswith("Roberta"):
        cfg = transformers.RobertaConfig(
            vocab_size=120,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=70,
        )
    else:
        cfg = transformers.BertConfig(
            vocab_size=120,
            hidden_size=kw.pop("hidden", 32),
            num_hidden_layers=kw.pop("layers", 2),
            num_attention_heads=4,
            intermediate_size=kw.pop("ffn", 64),
            max_position_embeddings=64,
        )
    for k, v in kw.items():
        setattr(cfg, k, v)
    model = getattr(transformers, cls)(cfg)
    folder = tmp_path / name
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def assert_whole_blocks(report: dict, bm: int, bn: int) -> None:
    """Every zero of a pruned matrix lies in an all-zero block, and each matrix hits round(s*blocks)."""
    for name, m in report["matrices"].items():
        assert m["zero_blocks"] == m["target_zero_blocks"], name
        rows, cols = m["shape"]
        r, c = grid((rows, cols), bm, bn)
        full = (rows // bm) * (cols // bn)
        # random weights have no stray zeros: zero weights == size of the zero blocks
        assert m["blocks"] == r * c
        assert full <= m["blocks"]


def test_corpus_is_offline_and_split() -> None:
    c = default_corpus()
    assert len(c) >= 200 and all(isinstance(s, str) and s for s in c)
    cal, held = split_corpus(c)
    assert len(cal) + len(held) == len(c) and len(held) >= 50
    assert not set(held) & set(cal)


def test_spearman_known_values() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(a, a**3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    # ties get average ranks: ranks of b = [1.5, 1.5, 3, 4, 5]
    b = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
    rb = np.array([1.5, 1.5, 3, 4, 5])
    expect = np.corrcoef(np.arange(1, 6), rb)[0, 1]
    assert spearman(a, b) == pytest.approx(expect)


@pytest.mark.parametrize("block", ["4x4", "1x4", "8x16", "3x5"])
def test_magnitude_exact_whole_blocks(tmp_path: Path, block: str) -> None:
    src = tiny(tmp_path)
    out = tmp_path / "out"
    r = run_prune(str(src), out, "magnitude", 0.7, block)
    bm, bn = (int(x) for x in block.split("x"))
    w = weights(out)
    for name, m in r["matrices"].items():
        t = w[name + ".weight"]
        zero = (t == 0).float()
        sizes = block_sum(torch.ones_like(zero), bm, bn)
        zb = block_sum(zero, bm, bn)
        # blocks are either all zero or (random weights) free of zeros
        assert bool(((zb == 0) | (zb == sizes)).all()), name
        assert int((zb == sizes).sum()) == round(0.7 * sizes.numel()) == m["zero_blocks"]
    # the smallest-norm blocks went: every kept block has at least the norm of every pruned one
    orig = weights(src)
    name = next(iter(r["matrices"]))
    e = block_sum(orig[name + ".weight"] ** 2, bm, bn) / block_sum(
        torch.ones_like(orig[name + ".weight"]), bm, bn
    )
    kept = block_sum((w[name + ".weight"] != 0).float(), bm, bn) > 0
    assert float(e[kept].min()) >= float(e[~kept].max())
    assert_whole_blocks(r, bm, bn)


def test_balanced_rows_equal(tmp_path: Path) -> None:
    src = tiny(tmp_path)
    r = run_prune(str(src), tmp_path / "out", "balanced", 0.75, "4x4")
    w = weights(tmp_path / "out")
    for name in r["matrices"]:
        t = w[name + ".weight"]
        nz_blocks = block_sum((t != 0).float(), 4, 4) > 0
        per_row = nz_blocks.sum(1)
        c = nz_blocks.shape[1]
        assert bool((per_row == c - round(0.75 * c)).all()), name


def test_output_checkpoint_loads_and_report(tmp_path: Path) -> None:
    from transformers import AutoModel

    src = tiny(tmp_path)
    out = tmp_path / "out"
    r = run_prune(str(src), out, "magnitude", 0.5, "4x4", steps=2)
    m = AutoModel.from_pretrained(str(out))
    assert type(m).__name__ == "BertModel"
    assert m.config.num_hidden_layers == 2 and m.config.hidden_size == 32
    rep = json.loads((out / "prune_report.json").read_text())
    assert rep["matrices"] == r["matrices"]
    assert rep["method"] == "magnitude" and rep["requested_sparsity"] == 0.5
    assert rep["achieved_sparsity"] == pytest.approx(0.5)
    assert set(rep["fidelity"]) >= {"mean_cosine", "spearman", "n_sentences"}
    assert rep["time_s"] > 0 and len(rep["matrices"]) == 12
    # fine-tuning did not revive pruned weights; embeddings / LayerNorm untouched
    w, o = weights(out), weights(src)
    for k, v in o.items():
        if "embeddings" in k:
            assert torch.equal(v, w[k]), k
    for name, mm in rep["matrices"].items():
        assert int((w[name + ".weight"] == 0).sum()) == mm["zero_blocks"] * 16


@pytest.mark.parametrize("cls", ["DistilBertModel", "RobertaModel"])
def test_other_families(tmp_path: Path, cls: str) -> None:
    from transformers import AutoModel

    src = tiny(tmp_path, cls)
    r = run_prune(str(src), tmp_path / "out", "magnitude", 0.5, "4x4")
    assert len(r["matrices"]) == 12 and r["achieved_block_sparsity"] == pytest.approx(0.5)
    assert type(AutoModel.from_pretrained(str(tmp_path / "out"))).__name__ == cls


def test_classifier_with_labelled_data(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    src = tiny(tmp_path, "BertForSequenceClassification", num_labels=2)
    data = tmp_path / "d.tsv"
    data.write_text(
        "text\tlabel\n"
        + "".join(f"sentence number {i} is {'good' if i % 2 else 'bad'}\t{i % 2}\n" for i in range(30))
    )
    r = run_prune(str(src), tmp_path / "out", "magnitude", 0.5, "4x4", data=str(data), steps=3)
    assert r["data"] == str(data) and r["calibration_sentences"] == 24
    m = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "out"))
    assert type(m).__name__ == "BertForSequenceClassification"
    assert not any("classifier" in k for k in r["matrices"])


def _bad(tmp_path: Path, match: str, **kw) -> None:
    args = {
        "model": str(tiny(tmp_path)),
        "out": tmp_path / "out",
        "method": "magnitude",
        "sparsity": 0.5,
        "block": "4x4",
    }
    args.update(kw)
    with pytest.raises(UserError, match=match) as e:
        run_prune(**args)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("s", [1.0, -0.1, float("nan"), 1.5])
def test_bad_sparsity(tmp_path: Path, s: float) -> None:
    _bad(tmp_path, "outside", sparsity=s)


@pytest.mark.parametrize(
    ("block", "match"),
    [("0x4", "positive"), ("4by4", "BMxBN"), ("64x4", "does not fit"), ("4x128", "does not fit")],
)
def test_bad_block(tmp_path: Path, block: str, match: str) -> None:
    _bad(tmp_path, match, block=block)


def test_bad_method_and_steps(tmp_path: Path) -> None:
    _bad(tmp_path, "unknown pruning method 'random'", method="random")
    _bad(tmp_path, "must be >= 0", steps=-1)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("d.csv", "sentence,label\nhello,1\n", "needs a 'text' column"),
        ("d.tsv", "text\tlabel\n", "no rows"),
        ("d.jsonl", '{"sentence": "x"}\n', "no 'text' field"),
        ("d.jsonl", "not json\n", "not JSON"),
        ("d.tsv", "text\tlabel\nhello\tpositive\n", "not an integer"),
        ("d.txt", "hello\n", "unknown format"),
    ],
)
def test_bad_data(tmp_path: Path, name: str, content: str, match: str) -> None:
    p = tmp_path / name
    p.write_text(content)
    _bad(tmp_path, match, data=str(p))


def test_missing_data_and_label_range(tmp_path: Path) -> None:
    _bad(tmp_path, "not found", data=str(tmp_path / "nope.tsv"))
    src = tiny(tmp_path, "BertForSequenceClassification", name="cls", num_labels=2)
    p = tmp_path / "d.tsv"
    p.write_text("text\tlabel\n" + "".join(f"s {i}\t{i % 3}\n" for i in range(10)))
    _bad(tmp_path, "outside", model=str(src), data=str(p))


def test_bad_models(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x00")
    _bad(tmp_path, "ONNX file", model=str(onnx))
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text('{"model_type": "gpt2"}')
    _bad(tmp_path, "not supported", model=str(gpt))
    _bad(tmp_path, "not found", model=str(tmp_path / "nothing"))


def test_existing_output_needs_force(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="already exists"):
        run_prune(str(tiny(tmp_path)), tmp_path / "out", "magnitude", 0.5, "4x4")
    r = run_prune(str(tiny(tmp_path)), tmp_path / "out", "magnitude", 0.5, "4x4", force=True)
    assert (tmp_path / "out" / "model.safetensors").exists() and r["achieved_sparsity"] == pytest.approx(0.5)


@pytest.mark.parametrize("where", ["finetune", "save"])
def test_ctrl_c_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    import compiler.prune.command as command
    from compiler.prune.objective import Context

    src = tiny(tmp_path)

    def boom(*a, **k):
        if where == "save":  # interrupt half way through writing the checkpoint
            (Path(a[1]) / "model.safetensors").write_bytes(b"partial")
        raise KeyboardInterrupt

    if where == "finetune":
        monkeypatch.setattr(Context, "finetune", boom)
    else:
        monkeypatch.setattr(command, "save_hf_model", boom)
    with pytest.raises(KeyboardInterrupt):
        run_prune(str(src), tmp_path / "out", "magnitude", 0.5, "4x4", steps=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


@pytest.mark.slow
def test_minilm_magnitude(tmp_path: Path) -> None:
    from transformers import AutoModel

    # one-shot block pruning hurts MiniLM fast (0.5 at 16x16: cosine ~0.05, see docs/pruning.md);
    # light 1x4 pruning must stay close to the dense model
    r = run_prune("minilm", tmp_path / "out", "magnitude", 0.1, "1x4")
    assert r["achieved_sparsity"] == pytest.approx(0.1, abs=1e-4) and len(r["matrices"]) == 36
    assert r["fidelity"]["mean_cosine"] > 0.9 and r["fidelity"]["spearman"] > 0.8
    assert (tmp_path / "out" / "tokenizer.json").exists()
    AutoModel.from_pretrained(str(tmp_path / "out"))
