"""Output folders that cannot hurt, their manifests, and the project's ``report.json``.

Outputs are built in a temporary sibling folder and renamed into place, so a
failure, Ctrl-C or SIGTERM never leaves a half-written checkpoint or project
behind.  Every folder made here carries a manifest (``MARKER``): it tells a
sparsehls output from a user's folder (``--force`` replaces only the former)
and records the size and sha256 of each file, which the verbs that load a
project check first (:func:`verify_manifest`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from compiler.errors import UserError

MARKER = "sparsehls-manifest.json"
# rewritten by later verbs (csim, rtlsim, bench): listed by name only, never hashed
MUTABLE = frozenset({"report.json"})


def _refuse_dangerous(path: Path, source: Path | None) -> None:
    """An output that is the current folder, one of its parents, or the input model is never written."""
    target = path.resolve()
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise UserError(
            f"output folder {path} is the current folder or one of its parents: name a new folder"
        )
    if source is None:
        return
    src = Path(source).resolve()
    if target == src:
        raise UserError(f"output folder {path} is the input model {source}: name another folder")
    if target in src.parents:
        raise UserError(f"output folder {path} contains the input model {source}: name another folder")
    if src in target.parents:
        raise UserError(f"output folder {path} is inside the input model {source}: name another folder")


def is_sparsehls_output(path: Path) -> bool:
    return (Path(path) / MARKER).is_file()


def check_output_dir(path: Path | str, force: bool, source: Path | None = None) -> None:
    """Refuse a dangerous or existing output folder (``force``: only a sparsehls output); check the parent is writable.

    ``path``: as the user typed it (``Path("")`` would already be the current folder).
    ``source``: the input model, which the output may neither be, contain nor sit in.
    """
    if not str(path).strip():
        raise UserError("the output folder is empty (-o ''): name a new folder")
    path = Path(path)
    _refuse_dangerous(path, source)
    if path.exists() and not force:
        raise UserError(f"output folder {path} already exists (use --force to replace it)")
    if path.exists() and not path.is_dir():
        raise UserError(f"output path {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not is_sparsehls_output(path):
        raise UserError(
            f"{path} is not empty and holds no {MARKER}: it is not a sparsehls output, and --force replaces only those"
        )
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


def require_writable(folder: Path, why: str) -> None:
    """Refuse up front to work in a folder that cannot be written (a read-only file system, say)."""
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write to {folder} ({why}): copy the project to a writable folder")


@contextlib.contextmanager
def atomic_dir(path: Path, force: bool = False, source: Path | None = None) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    The manifest is written last; the move into place never overwrites a
    folder that appeared meanwhile (another run) unless ``force``.
    """
    path = Path(path)
    check_output_dir(path, force, source)
    parent = path.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        yield tmp
        write_manifest(tmp)
        _move_into_place(tmp, path, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, path: Path, force: bool) -> None:
    try:
        os.rename(tmp, path)  # atomic; fails on an existing non-empty folder (ENOTEMPTY / EEXIST)
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise UserError(f"cannot move the output into {path}: {e.strerror}") from None
    if not force:
        raise UserError(
            f"output folder {path} appeared while this run was writing (another run?); "
            "nothing was replaced (use --force to replace it)"
        )
    if not is_sparsehls_output(path):
        raise UserError(f"{path} appeared meanwhile and is not a sparsehls output: nothing was replaced")
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
    try:
        os.rename(path, old / "x")
        try:
            os.rename(tmp, path)
        except OSError as e:
            os.rename(old / "x", path)  # put the previous output back
            raise UserError(f"cannot move the output into {path}: {e.strerror}") from None
    finally:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------ manifests
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_files(root: Path) -> Iterator[Path]:
    """Files of ``root``, leaving out the manifest itself and nested outputs (they carry their own)."""
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if not (d / n / MARKER).is_file())
        for name in sorted(filenames):
            if d == root and name == MARKER:
                continue
            yield d / name


def write_manifest(root: Path) -> None:
    """Record every file's size and sha256 in ``root/MARKER`` (``MUTABLE`` files: name only)."""
    root = Path(root)
    files: dict[str, Any] = {}
    for p in _manifest_files(root):
        rel = p.relative_to(root).as_posix()
        files[rel] = {} if rel in MUTABLE else {"size": p.stat().st_size, "sha256": _sha256(p)}
    write_json(root / MARKER, {"sparsehls_output": 1, "files": files})


def read_manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MARKER
    if not path.is_file():
        raise UserError(
            f"{root} has no {MARKER}: an incomplete project or one from an older sparsehls; recompile it"
        )
    doc = read_json(path, "object")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise UserError(f"{path} is not a sparsehls manifest: recompile the project")
    return files


def verify_manifest(root: Path, names: Iterable[str] | None = None) -> None:
    """Check the size and sha256 of ``names`` (default: every file the manifest lists)."""
    root = Path(root)
    files = read_manifest(root)
    for rel in sorted(files) if names is None else names:
        entry = files.get(rel)
        path = root / rel
        if entry is None:
            raise UserError(f"{path} is not in {root / MARKER}: recompile the project")
        if not path.is_file():
            raise UserError(f"{path} is missing: recompile the project")
        if "size" not in entry:
            continue
        size = path.stat().st_size
        if size != entry["size"]:
            raise UserError(
                f"{path} has {size} bytes, {entry['size']} when compiled (truncated or replaced): recompile the project"
            )
        if _sha256(path) != entry.get("sha256"):
            raise UserError(f"{path} changed since it was compiled (sha256 differs): recompile the project")


# ----------------------------------------------------------------- JSON files
def read_json(path: Path, kind: str = "object") -> Any:
    """Read a JSON file the tool wrote; a missing, unreadable or wrong-shaped one is a UserError."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing: recompile the project") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(
            f"{path} is not readable JSON ({e.__class__.__name__}): recompile the project"
        ) from None
    want = {"object": dict, "list": list}[kind]
    if not isinstance(doc, want):
        raise UserError(f"{path} holds a JSON {type(doc).__name__}, not an {kind}: recompile the project")
    return doc


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
        report = read_json(path, "object")
    _merge(report, updates)
    write_json(path, report)
    return report


def write_json(path: Path, data: Any) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise UserError(f"cannot write {path}: {e.strerror}") from None


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
