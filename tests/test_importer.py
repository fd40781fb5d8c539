"""ONNX -> IR importer on real exports of random-weight checkpoints of several shapes
and families: the float golden model must match onnxruntime (<= 1e-4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from ckpts import make_checkpoint

from compiler.checkpoint import load_hf_model
from compiler.frontend import export, inputs
from compiler.golden import interpreter
from compiler.ir.importer import import_onnx
from compiler.ir.verify import verify

CONFIGS = [
    # family, classifier, dims, seq
    ("bert", False, dict(layers=2, hidden=48, heads=4, ffn=96), 16),
    ("bert", False, dict(layers=3, hidden=36, heads=3, ffn=80), 9),  # odd sizes
    ("bert", True, dict(layers=1, hidden=64, heads=8, ffn=128), 12),  # pooler + classifier
    ("bert", False, dict(layers=2, hidden=40, heads=1, ffn=60), 7),  # single head
    ("distilbert", False, dict(layers=2, hidden=32, heads=2, ffn=64), 10),
    ("roberta", True, dict(layers=2, hidden=32, heads=4, ffn=64), 8),
]


def _export(tmp_path: Path, family: str, classifier: bool, dims: dict, seq: int, seed: int):
    ckpt = make_checkpoint(tmp_path / "ckpt", family, classifier, seed=seed, **dims)
    model = load_hf_model(ckpt)
    feeds = inputs.random_inputs(5, seq, int(model.config.vocab_size), seed=seed)
    names = export.model_input_names(model)
    res = export.export_and_check(model, tmp_path / "m.onnx", seq, {k: feeds[k] for k in names})
    return model, feeds, names, res


@pytest.mark.parametrize("family,classifier,dims,seq", CONFIGS)
def test_import_matches_onnxruntime(tmp_path, family, classifier, dims, seq):
    model, feeds, names, res = _export(tmp_path, family, classifier, dims, seq, seed=len(str(dims)))
    assert res.max_abs <= 1e-3
    g = import_onnx(
        onnx.load(str(res.onnx_path)), {"block": (4, 4), "pad_token_id": int(model.config.pad_token_id or 0)}
    )
    verify(g)
    assert g.meta["layers"] == dims["layers"]
    attn = [n for n in g.nodes if n.op == "attention"]
    assert [n.attrs["heads"] for n in attn] == [dims["heads"]] * dims["layers"]
    roles = [n.role for n in g.nodes if n.layer == 0]
    assert roles == ["q", "k", "v", "attn", "o", "res1", "ln1", "fc1", "gelu", "fc2", "res2", "ln2"]
    if classifier:
        assert [n.role for n in g.nodes if n.layer < 0][-4:] == ["cls", "pooler", "pooler_act", "classifier"]
    ort = export.ort_forward(export.ort_session(res.onnx_path), {k: feeds[k] for k in names})
    got = interpreter.run(g, {k: feeds[k] for k in g.inputs})[g.outputs[0]]
    assert got.shape == ort.shape
    assert np.max(np.abs(got - ort)) <= 1e-4


def test_weights_are_not_copied_per_node(tmp_path):
    """Each weight array is stored once in the parameter store and referenced by key."""
    _, _, _, res = _export(tmp_path, "bert", False, dict(layers=2, hidden=32, heads=2, ffn=64), 8, 0)
    g = import_onnx(onnx.load(str(res.onnx_path)), {"block": (4, 4)})
    keys = [k for n in g.nodes for k in n.params.values()]
    assert len(keys) == len(set(keys)) == len(g.params)


def test_unsupported_pattern_names_the_node(tmp_path):
    """A Softmax whose input is not Q @ K^T is rejected with the node's name."""
    _, _, _, res = _export(tmp_path, "bert", False, dict(layers=1, hidden=32, heads=2, ffn=64), 8, 0)
    m = onnx.load(str(res.onnx_path))
    sm = next(n for n in m.graph.node if n.op_type == "Softmax")
    # feed the softmax from a residual tensor instead of the attention scores
    ln = next(n for n in m.graph.node if n.op_type == "LayerNormalization")
    sm.input[0] = ln.output[0]
    from compiler.errors import UserError

    with pytest.raises(UserError, match="Softmax"):
        import_onnx(m, {"block": (4, 4)})


def test_export_check_refuses_a_mismatch(tmp_path):
    """The torch-vs-onnxruntime gate is live: with a tolerance below the real difference it refuses."""
    from compiler.errors import UserError

    ckpt = make_checkpoint(tmp_path / "ckpt", layers=1, hidden=32, heads=2, ffn=64)
    model = load_hf_model(ckpt)
    feeds = inputs.random_inputs(3, 8, int(model.config.vocab_size), seed=0)
    names = export.model_input_names(model)
    res = export.export_and_check(model, tmp_path / "a.onnx", 8, {k: feeds[k] for k in names})
    assert 0 < res.max_abs <= 1e-3
    with pytest.raises(UserError, match="differs from torch"):
        export.export_and_check(
            model, tmp_path / "b.onnx", 8, {k: feeds[k] for k in names}, tol=res.max_abs / 10
        )
