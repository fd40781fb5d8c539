"""End to end on the real all-MiniLM-L6-v2 (dense and magnitude-pruned 80 %, 4x4 blocks):
the issue's numbers, checked on the project sparsehls writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.cli import main

pytestmark = [pytest.mark.xdist_group("test_minilm"), pytest.mark.slow, pytest.mark.csim]

REQUIRED = [
    ("model", "arch"),
    ("model", "layers"),
    ("model", "hidden"),
    ("model", "heads"),
    ("model", "seq_len"),
    ("checks", "onnx_vs_torch_max_abs"),
    ("checks", "golden_float_vs_onnx_max_abs"),
    ("checks", "golden_int_vs_float_cosine"),
    ("sparsity", "weight"),
    ("sparsity", "block"),
    ("sparsity", "dropped_heads"),
    ("sparsity", "dropped_neurons"),
    ("sparsity", "dropped_layers"),
    ("timing", "compile_s"),
]


def _report(project: Path) -> dict:
    return json.loads((project / "report.json").read_text())


def _check_common(r: dict) -> None:
    for a, b in REQUIRED:
        assert b in r[a], (a, b)
    assert r["model"] == {
        **r["model"],
        "arch": "BertModel",
        "layers": 6,
        "hidden": 384,
        "heads": 12,
        "seq_len": 128,
    }
    assert r["checks"]["onnx_vs_torch_max_abs"] <= 1e-3
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    assert r["checks"]["golden_int_vs_float_inputs"] >= 32
    assert r["checks"]["golden_int_vs_float_inputs_are_text"]
    assert r["checks"]["golden_int_vs_float_cosine"] >= 0.99
    assert all(v <= 1e-5 for v in r["checks"]["passes_max_abs"].values())
    assert r["csim"]["passed"] is True and r["csim"]["mismatches"] == 0 and r["csim"]["inputs"] >= 8


def test_dense_minilm(minilm_dense_project: Path) -> None:
    r = _report(minilm_dense_project)
    _check_common(r)
    assert r["sparsity"]["weight"] < 0.01
    assert (minilm_dense_project / "hls" / "run_hls.tcl").exists()


def test_pruned_minilm(minilm_pruned_project: Path) -> None:
    r = _report(minilm_pruned_project)
    _check_common(r)
    assert r["sparsity"]["block"] >= 0.79
    assert r["sparsity"]["weight"] >= 0.79
    assert r["model"]["block"] == [4, 4]


def test_inspect_shows_layers(minilm_pruned_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(minilm_pruned_project)]) == 0
    out = capsys.readouterr().out
    assert "encoder layers" in out and "block-sparse matrices" in out
    assert "fc1" in out and "4x4" in out


def test_run_csim_and_golden_print_identical_integers(
    minilm_pruned_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outs = []
    for backend in ("golden", "csim"):
        assert main(["run", str(minilm_pruned_project), "--text", "hello world", "--backend", backend]) == 0
        outs.append(capsys.readouterr().out.split("\n", 1))
    assert outs[0][1] == outs[1][1]  # everything after the backend line
    assert "sha256" in outs[0][0] and outs[0][0].split("sha256")[1] == outs[1][0].split("sha256")[1]
