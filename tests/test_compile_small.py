"""`compile` on small random checkpoints with dead heads, neurons and a dead layer:
the passes remove them, the report counts them, inspect shows them, C simulation
still matches the golden model bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ckpts import make_checkpoint
from safetensors.numpy import load_file, save_file

from compiler.cli import main


def _zero(ckpt: Path, edit) -> None:
    st = load_file(str(ckpt / "model.safetensors"))
    edit(st)
    save_file(st, str(ckpt / "model.safetensors"), metadata={"format": "pt"})


@pytest.mark.csim
def test_dead_structure_is_dropped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt", layers=3, hidden=48, heads=4, ffn=96, seed=5)
    hd = 12

    def edit(st: dict[str, np.ndarray]) -> None:
        # layer 0: head 2 dead (its O-projection columns are zero)
        st["encoder.layer.0.attention.output.dense.weight"][:, 2 * hd : 3 * hd] = 0
        # layer 0: 10 FFN neurons dead (their fc2 columns are zero)
        st["encoder.layer.0.output.dense.weight"][:, :10] = 0
        # layer 1: every sublayer weight zero -> whole layer dropped
        for k in list(st):
            if (
                k.startswith("encoder.layer.1.")
                and k.endswith("dense.weight")
                or k.startswith("encoder.layer.1.attention.self")
                and k.endswith("weight")
            ):
                st[k] = np.zeros_like(st[k])

    _zero(ckpt, edit)
    out = tmp_path / "proj"
    assert (
        main(
            ["compile", str(ckpt), "-o", str(out), "--seq-len", "16", "--block", "4x4", "--calib", "8", "-q"]
        )
        == 0
    )
    r = json.loads((out / "report.json").read_text())
    sp = r["sparsity"]
    assert sp["dropped_heads"] == 1 + 4
    assert sp["dropped_neurons"] == 10 + 96
    assert sp["dropped_layers"] == 1
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    assert all(v <= 1e-5 for v in r["checks"]["passes_max_abs"].values())
    assert r["csim"]["passed"] and r["csim"]["mismatches"] == 0
    stages = {"export", "import", "passes", "quantize", "schedule", "save", "hls", "csim"}
    assert set(r["timing"]["stages"]) == stages and set(r["timing"]["stages_cpu"]) == stages
    assert sum(r["timing"]["stages"].values()) <= r["timing"]["compile_s"] + 0.05
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dropped (residual + LayerNorms only)" in text
    assert "dropped 5 heads, 106 neurons, 1 layers" in " ".join(text.split())


@pytest.mark.csim
@pytest.mark.parametrize(
    "family,classifier,block",
    [("bert", True, "2x8"), ("distilbert", False, "8x8"), ("roberta", False, "1x4")],
)
def test_other_families_compile_and_simulate(
    tmp_path: Path, family: str, classifier: bool, block: str
) -> None:
    ckpt = make_checkpoint(
        tmp_path / "ckpt", family, classifier, layers=2, hidden=32, heads=2, ffn=64, seed=3
    )
    out = tmp_path / "proj"
    assert (
        main(
            ["compile", str(ckpt), "-o", str(out), "--seq-len", "12", "--block", block, "--calib", "8", "-q"]
        )
        == 0
    )
    r = json.loads((out / "report.json").read_text())
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    assert r["checks"]["golden_int_vs_float_cosine"] >= 0.95
    assert r["csim"]["passed"] and r["csim"]["mismatches"] == 0


def test_compile_from_onnx_file(tmp_path: Path) -> None:
    """An .onnx MODEL: imported and checked against onnxruntime (no torch check)."""
    first = tmp_path / "first"
    ckpt = make_checkpoint(tmp_path / "ckpt", layers=1, hidden=32, heads=2, ffn=64)
    assert (
        main(
            [
                "compile",
                str(ckpt),
                "-o",
                str(first),
                "--seq-len",
                "8",
                "--block",
                "4x4",
                "--calib",
                "4",
                "--no-hls",
                "-q",
            ]
        )
        == 0
    )
    second = tmp_path / "second"
    assert (
        main(
            [
                "compile",
                str(first / "model.onnx"),
                "-o",
                str(second),
                "--block",
                "4x4",
                "--calib",
                "4",
                "--no-hls",
                "-q",
            ]
        )
        == 0
    )
    r = json.loads((second / "report.json").read_text())
    assert r["model"]["seq_len"] == 8 and r["model"]["layers"] == 1
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    assert "onnx_vs_torch_max_abs" not in r["checks"]


def test_compile_is_deterministic(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt", layers=1, hidden=32, heads=2, ffn=64)
    a, b = tmp_path / "a", tmp_path / "b"
    for o in (a, b):
        assert (
            main(
                [
                    "compile",
                    str(ckpt),
                    "-o",
                    str(o),
                    "--seq-len",
                    "8",
                    "--block",
                    "4x4",
                    "--calib",
                    "4",
                    "-q",
                    "--no-csim",
                ]
            )
            == 0
        )
    for rel in ("ir/graph.json", "ir/params.npz", "golden_outputs.npz"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    ra = json.loads((a / "report.json").read_text())
    rb = json.loads((b / "report.json").read_text())
    assert ra["hls"]["sha256"] == rb["hls"]["sha256"]  # every generated HLS file, byte for byte
