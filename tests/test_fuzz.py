"""A fixed handful of the fuzz campaign's configurations (bench/fuzz.py), run in `make test`:
one through C simulation, one at the edges (seq 1, sparsity 0.95, a block that does not divide),
one the tool must refuse in one line."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz", ROOT / "bench" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


fuzz = _fuzz()
Config = fuzz.Config


def test_draws_are_seeded_and_in_range() -> None:
    assert fuzz.draw(7) == fuzz.draw(7)
    for seed in range(50):
        c = fuzz.draw(seed)
        assert c.family in ("bert", "distilbert", "roberta")
        assert 1 <= c.layers <= 3 and 1 <= c.heads <= 12 and 4 <= c.head_size <= 64
        assert c.hidden <= 256 and c.hidden <= c.ffn + 1 <= 4 * c.hidden + 2
        assert 1 <= c.seq <= 128 and 0 <= c.sparsity <= 0.97
        assert 1 <= c.block[0] <= 32 and 4 <= c.block[1] <= 32


@pytest.mark.parametrize("prune", ["block", "unstructured"])
def test_pruning_reaches_the_sparsity(prune: str) -> None:
    c = Config("bert", False, 1, 2, 5, 23, (3, 4), 0.6, prune, 8)
    w = np.random.default_rng(0).standard_normal((23, 10)).astype(np.float32)
    p = fuzz._prune(w, c, np.random.default_rng(1))
    assert abs(float((p == 0).mean()) - 0.6) < 0.1
    assert np.array_equal(p[p != 0], w[p != 0])


@pytest.mark.csim
def test_odd_sizes_through_csim(tmp_path: Path) -> None:
    c = Config("bert", True, 1, 3, 5, 31, (3, 8), 0.5, "block", 5)  # hidden 15, no block divides
    row = fuzz.run_config(c, 11, tmp_path)
    assert row["outcome"] == "pass", row
    assert row["checks"]["csim_mismatches"] == 0


def test_edges_compile(tmp_path: Path) -> None:
    c = Config("roberta", False, 1, 1, 7, 9, (1, 4), 0.95, "unstructured", 1)
    row = fuzz.run_config(c, 12, tmp_path, csim=False)
    assert row["outcome"] == "pass", row


def test_block_larger_than_a_matrix_is_refused_in_one_line(tmp_path: Path) -> None:
    c = Config("distilbert", False, 1, 2, 4, 12, (32, 32), 0.5, "block", 4)  # hidden 8
    row = fuzz.run_config(c, 13, tmp_path, csim=False)
    assert row["outcome"] == "refused", row
    assert "block 32x32" in row["error"]


def test_distilbert_classifier_is_refused_before_loading(tmp_path: Path) -> None:
    """Found by the campaign (seed 8): DistilBERT's head (pre_classifier + ReLU) failed after the
    whole export and import with 'unsupported op Relu'; now one line from config.json."""
    c = Config("distilbert", True, 1, 2, 4, 12, (4, 4), 0.5, "block", 4)
    row = fuzz.run_config(c, 14, tmp_path, csim=False)
    assert row["outcome"] == "refused", row
    assert "DistilBertForSequenceClassification" in row["error"] and row["seconds"] < 30


def test_torchscript_export_of_odd_config(tmp_path: Path) -> None:
    """The same checks on the TorchScript exporter's .onnx (dynamic axes) of a RoBERTa classifier."""
    c = Config("roberta", True, 1, 3, 5, 37, (5, 4), 0.4, "block", 6)
    row = fuzz.run_config(c, 15, tmp_path, csim=False, exporter="torchscript")
    assert row["outcome"] == "pass", row


def test_campaign_runs_configurations_as_tasks_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main() fans the seeds out through compiler/scale (in-process here) and skips stored seeds;
    a configuration whose task itself fails is a fail row, and the rest still run."""
    calls: list[int] = []

    def fake(c: object, seed: int, work: Path, csim: bool = True, exporter: str = "dynamo") -> dict:
        calls.append(seed)
        if seed == 6:
            raise RuntimeError("worker lost")
        return {"seed": seed, "config": {}, "outcome": "pass", "seconds": 0.0}

    monkeypatch.setattr(fuzz, "run_config", fake)
    out = tmp_path / "fuzz.json"
    assert fuzz.main(["--n", "3", "--seed", "5", "--no-csim", "--out", str(out)]) == 1
    doc = json.loads(out.read_text())
    assert [r["seed"] for r in doc["results"]] == [5, 6, 7] and sorted(calls) == [5, 6, 7]
    assert (
        doc["results"][1]["outcome"] == "fail" and "RuntimeError: worker lost" in doc["results"][1]["reason"]
    )
    calls.clear()
    assert fuzz.main(["--n", "4", "--seed", "5", "--no-csim", "--out", str(out)]) == 1
    assert calls == [8]  # stored seeds are skipped (the failed one is a stored result)
