"""Tiers that need AMD's tools. They skip here (no Vitis HLS, no XRT, no card) with a
reason; on a machine that has them they run the generated flow for real."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from ckpts import make_checkpoint

from compiler.cli import main


def _small_project(tmp_path: Path) -> Path:
    ckpt = make_checkpoint(tmp_path / "ckpt", layers=1, hidden=32, heads=2, ffn=64)
    out = tmp_path / "proj"
    assert (
        main(["compile", str(ckpt), "-o", str(out), "--seq-len", "8", "--block", "4x4", "--calib", "4", "-q"])
        == 0
    )
    return out


@pytest.mark.hls
def test_vitis_hls_csim_and_csynth(tmp_path: Path) -> None:
    """The generated run_hls.tcl passes Vitis HLS C simulation and synthesizes."""
    proj = _small_project(tmp_path)
    res = subprocess.run(
        ["vitis_hls", "-f", "run_hls.tcl", "-tclargs", "csim", "csynth"],
        cwd=proj / "hls",
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert "0 mismatches" in res.stdout or "PASS" in res.stdout


@pytest.mark.board
def test_xrt_backend_matches_golden(tmp_path: Path) -> None:
    """On a project whose xclbin was built (SPARSEHLS_PROJECT), the card matches the golden model."""
    if not os.environ.get("SPARSEHLS_PROJECT"):
        pytest.skip(
            "set SPARSEHLS_PROJECT to a compiled project whose xclbin was built (make -C PROJECT/hls xclbin)"
        )
    import numpy as np

    from runtime.text import run_text_outputs

    proj = Path(os.environ["SPARSEHLS_PROJECT"])
    _, gold = run_text_outputs(proj, "hello world", "golden")
    _, card = run_text_outputs(proj, "hello world", "xrt")
    for name, want in gold.items():
        assert np.array_equal(card[name], want), name
