"""The same checkpoint compiles to the same project, byte for byte, whatever Python's hash seed.

Each compile runs in its own interpreter (``PYTHONHASHSEED`` 0 and 1), so set and
dict orders that depend on string hashes would show up as differing files.
Only ``report.json``'s ``timing`` section (seconds) may differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ckpts import make_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _compile(ckpt: Path, out: Path, seed: int) -> None:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    cmd = [sys.executable, "-m", "compiler", "compile", str(ckpt), "-o", str(out)]
    cmd += ["--seq-len", "16", "--block", "4x4", "--calib", "8", "--no-csim", "-q"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_compile_is_byte_identical_under_two_hash_seeds(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt", layers=2, hidden=48, heads=4, ffn=96, seed=5)
    _compile(ckpt, tmp_path / "a", 0)
    _compile(ckpt, tmp_path / "b", 1)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert len(a) > 10 and "schedule.json" in a and "model.onnx" in a
    differ = [name for name in a if a[name] != b[name] and name != "report.json"]
    assert differ == []
    ra, rb = json.loads(a["report.json"]), json.loads(b["report.json"])
    ra.pop("timing"), rb.pop("timing")
    assert ra == rb
