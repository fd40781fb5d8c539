"""Bad input: one line naming the problem, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler.cli import main
from tests.clihelp import assert_user_error, run_cli


def _compile(out: Path, model: Path | str, *extra: str) -> list[str]:
    return [
        "compile",
        str(model),
        "-o",
        str(out),
        "--seq-len",
        "16",
        "--block",
        "4x4",
        "--calib",
        "4",
        "--no-hls",
        "-q",
        *extra,
    ]


@pytest.fixture
def ckpt(tiny_bert: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny_bert, dst)
    return dst


def test_missing_model(capsys, tmp_path):
    code, err = run_cli(capsys, *_compile(tmp_path / "out", tmp_path / "nope"))
    assert_user_error(code, err, "not found")
    assert not (tmp_path / "out").exists()


def test_missing_config(capsys, ckpt, tmp_path):
    (ckpt / "config.json").unlink()
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "config.json")


def test_corrupt_config(capsys, ckpt, tmp_path):
    (ckpt / "config.json").write_text("{not json")
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "not valid JSON")


def test_corrupt_safetensors(capsys, ckpt, tmp_path):
    (ckpt / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "safetensors")
    assert not (tmp_path / "out").exists()


def test_pickle_only_checkpoint_is_refused(capsys, ckpt, tmp_path):
    (ckpt / "model.safetensors").unlink()
    (ckpt / "pytorch_model.bin").write_bytes(b"PK pickle")
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "pickle")


def test_decoder_model_is_refused(capsys, tmp_path):
    import transformers

    d = tmp_path / "gpt2"
    transformers.GPT2Model(
        transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50)
    ).save_pretrained(d)
    code, err = run_cli(capsys, *_compile(tmp_path / "out", d))
    assert_user_error(code, err, "gpt2", "encoder-only")


def test_seq_len_above_max_positions(capsys, ckpt, tmp_path):
    code, err = run_cli(
        capsys, "compile", str(ckpt), "-o", str(tmp_path / "out"), "--seq-len", "65", "--no-hls"
    )
    assert_user_error(code, err, "max_position_embeddings")


@pytest.mark.parametrize(
    "block,needle", [("0x4", "positive"), ("4x-1", "positive"), ("4by4", "BMxBN"), ("64x64", "block")]
)
def test_bad_block(capsys, ckpt, tmp_path, block, needle):
    args = _compile(tmp_path / "out", ckpt)
    args[args.index("--block") + 1] = block
    code, err = run_cli(capsys, *args)
    assert_user_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_nan_weights(capsys, ckpt, tmp_path):
    from safetensors.numpy import load_file, save_file

    st = load_file(str(ckpt / "model.safetensors"))
    key = next(k for k in st if k.endswith("query.weight"))
    st[key] = st[key].copy()
    st[key][0, 0] = np.nan
    save_file(st, str(ckpt / "model.safetensors"), metadata={"format": "pt"})
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "NaN", key)


def test_existing_output_needs_force(capsys, ckpt, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = run_cli(capsys, *_compile(out, ckpt))
    assert_user_error(code, err, "already exists", "--force")
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output(capsys, ckpt, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code, err = run_cli(capsys, *_compile(ro / "out", ckpt))
    assert_user_error(code, err, "cannot write")


def test_output_under_a_file(capsys, ckpt, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    code, err = run_cli(capsys, *_compile(f / "out", ckpt))
    assert_user_error(code, err, "cannot")


def test_failure_leaves_nothing_behind(capsys, ckpt, tmp_path, monkeypatch):
    """A failure late in compile (here: in quantization) leaves no output or temp folder."""
    import compiler.pipeline as pl
    from compiler.errors import UserError

    def boom(*a, **k):
        raise UserError("injected failure")

    monkeypatch.setattr(pl, "quantize", boom)
    code, err = run_cli(capsys, *_compile(tmp_path / "out", ckpt))
    assert_user_error(code, err, "injected failure")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


@pytest.mark.parametrize("s", ["1.0", "-0.1", "1.5", "nan"])
def test_prune_sparsity_out_of_range(capsys, ckpt, tmp_path, s):
    code, err = run_cli(capsys, "prune", str(ckpt), "-o", str(tmp_path / "p"), "--sparsity", s)
    assert_user_error(code, err, "sparsity")
    assert not (tmp_path / "p").exists()


def test_unknown_board(capsys, ckpt, tmp_path):
    code, err = run_cli(capsys, "compile", str(ckpt), "-o", str(tmp_path / "out"), "--board", "u999")
    assert_user_error(code, err, "u999")


def test_inspect_missing_and_incomplete_project(capsys, tmp_path):
    code, err = run_cli(capsys, "inspect", str(tmp_path / "none"))
    assert_user_error(code, err, "not found")
    (tmp_path / "half").mkdir()
    code, err = run_cli(capsys, "inspect", str(tmp_path / "half"))
    assert_user_error(code, err, "not a compiled sparsehls project")


def test_incompatible_project_version(capsys, ckpt, tmp_path):
    out = tmp_path / "out"
    assert main(_compile(out, ckpt)) == 0
    gj = out / "ir" / "graph.json"
    doc = json.loads(gj.read_text())
    doc["sparsehls_ir_version"] = 999
    gj.write_text(json.dumps(doc))
    capsys.readouterr()
    code, err = run_cli(capsys, "inspect", str(out))
    assert_user_error(code, err, "version 999")


def test_unknown_verb_via_entry_point(tmp_path):
    res = subprocess.run([sys.executable, "-m", "compiler", "frobnicate"], capture_output=True, text=True)
    assert res.returncode == 2
    assert "invalid choice: 'frobnicate'" in res.stderr
    assert "Traceback" not in res.stderr


def test_onnx_model_with_unsupported_op(capsys, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 4])
    y = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Cos", ["input_ids"], ["last_hidden_state"], name="my_cos")
    model = helper.make_model(
        helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 18)]
    )
    p = tmp_path / "m.onnx"
    onnx.save(model, str(p))
    code, err = run_cli(capsys, "compile", str(p), "-o", str(tmp_path / "out"), "--no-hls", "-q")
    assert_user_error(code, err, "Cos", "my_cos")
