"""Shared fixtures: small random-weight checkpoints (real transformers models,
saved as safetensors) and the embedded MiniLM, compiled once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from ckpts import make_checkpoint


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-bert")


@pytest.fixture(scope="session")
def minilm_dense_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sparsehls compile minilm` (seq 128, 16x16, csim on): compiled once per session."""
    from compiler.cli import main

    out = tmp_path_factory.mktemp("minilm") / "dense"
    assert main(["compile", "minilm", "-o", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="session")
def minilm_pruned_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """magnitude 80% 4x4 prune of MiniLM (no recovery steps: these tests check the compiler on a
    pruned model, not the prune's quality), then compile with 4x4 blocks."""
    from compiler.cli import main

    base = tmp_path_factory.mktemp("minilm-pruned")
    ckpt = base / "ckpt"
    assert (
        main(
            [
                "prune",
                "minilm",
                "-o",
                str(ckpt),
                "--method",
                "magnitude",
                "--sparsity",
                "0.8",
                "--block",
                "4x4",
                "--steps",
                "0",
            ]
        )
        == 0
    )
    out = base / "project"
    assert main(["compile", str(ckpt), "-o", str(out), "--block", "4x4", "-q"]) == 0
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers whose vendor tool is absent skip with a reason (csim/sim tests skip themselves)."""
    import importlib.util
    import shutil

    have_hls = shutil.which("vitis_hls") is not None
    have_xrt = importlib.util.find_spec("pyxrt") is not None and shutil.which("xbutil") is not None
    for item in items:
        if "hls" in item.keywords and not have_hls:
            item.add_marker(
                pytest.mark.skip(reason="vitis_hls not on PATH (AMD Vitis HLS is not installed here)")
            )
        if "board" in item.keywords and not have_xrt:
            item.add_marker(
                pytest.mark.skip(reason="XRT (pyxrt, xbutil) and an Alveo card are not available here")
            )
