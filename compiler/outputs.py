"""Atomic output folders and the project's ``report.json``.

Outputs are built in a temporary sibling folder and renamed into place, so a
failure or Ctrl-C never leaves a half-written checkpoint or project behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compiler.errors import UserError


def check_output_dir(path: Path, force: bool) -> None:
    """Refuse an existing output folder unless ``force``; check the parent is writable."""
    path = Path(path)
    if path.exists() and not force:
        raise UserError(f"output folder {path} already exists (use --force to replace it)")
    if path.exists() and not path.is_dir():
        raise UserError(f"output path {path} exists and is not a folder")
    parent = path.resolve().parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot create {path}: {parent} is a file")
    if not parent.exists():
        try:
            parent.mkdir(parents=True)
        except OSError as e:
            raise UserError(f"cannot create {parent}: {e.strerror}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"cannot write to {path}: permission denied")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write to {parent}: permission denied")


@contextlib.contextmanager
def atomic_dir(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    check_output_dir(path, force)
    parent = path.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
        os.rename(path, old / "x")
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


def _merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


def update_report(project: Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``updates`` into ``project/report.json`` (written atomically)."""
    path = Path(project) / "report.json"
    report: dict[str, Any] = {}
    if path.exists():
        report = json.loads(path.read_text())
    _merge(report, updates)
    write_json(path, report)
    return report


def write_json(path: Path, data: Any) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
