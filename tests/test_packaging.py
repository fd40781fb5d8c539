"""A non-editable install must carry the templates, kernels, RTL and corpus as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_package_data(tmp_path: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    wheel = next(tmp_path.glob("sparsehls-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for want in (
        "hls_templates/kernels/sparsehls.h",
        "hls_templates/kernels/sparsehls_linear.h",
        "hls_templates/rtl/sparse_linear.sv",
        "compiler/data/corpus.txt",
        "compiler/hw/data/rtl_synth.json",  # the cost model's Yosys numbers ship with the package
        "compiler/hw/data/rtl_synth_units.json",
        "hls_templates/rtl/sparsehls_pkg.sv",
        "hls_templates/kernels/sparsehls_weights.h",
        "compiler/cli.py",
        "runtime/accelerator.py",
    ):
        assert want in names, want
    assert any(n.startswith("hls_templates/project/") and n.endswith(".j2") for n in names)
    assert any(n.startswith("runtime/host/") and n.endswith(".cpp") for n in names)
    assert not any(n.startswith("tests/") for n in names)
