"""A compiled project is checked before it is trusted.

``csim``, ``run`` and ``rtlsim`` call :func:`check_project` first: every file
the compile wrote must still have the size and sha256 its manifest records
(``compiler.outputs.MARKER``, one in the project and one in ``hls/``), and the
JSON files the backends read must have the shape they expect.  A damaged
project is one line naming the file and asking for a recompile, never a
traceback or a crash inside the C simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.errors import UserError
from compiler.outputs import read_json, verify_manifest

_M_AXI_KEYS: dict[str, type | tuple[type, ...]] = {"name": str, "tensor": str, "dir": str, "ctype": str}
_PORT_KEYS: dict[str, type | tuple[type, ...]] = {"rows": (str, int), "cols": int}
_CTYPES = ("int8_t", "int32_t")
_WEIGHT_PORT = ("w", "ap_uint<512>")  # plan.WEIGHT_PORT, plan.BEAT_CTYPE: weights.bin as 512-bit beats


def check_project(project: Path, hls: bool = False) -> None:
    """Refuse (``UserError``) a missing, incomplete or changed project; ``hls``: its HLS part too."""
    project = Path(project)
    if not project.is_dir():
        raise UserError(f"project folder {project} not found")
    if not (project / "ir" / "graph.json").is_file():
        raise UserError(f"{project} has no ir/graph.json: not a compiled sparsehls project")
    verify_manifest(project)
    if (project / "report.json").exists():
        read_json(project / "report.json", "object")
    if hls:
        check_hls(project / "hls")


def check_hls(hls_dir: Path) -> dict[str, Any]:
    """Check ``hls_dir`` against its manifest and return its ``interface.json``."""
    hls_dir = Path(hls_dir)
    if not (hls_dir / "interface.json").is_file():
        raise UserError(
            f"{hls_dir.parent} has no generated HLS project (hls/interface.json missing): compile it without --no-hls"
        )
    verify_manifest(hls_dir)
    path = hls_dir / "interface.json"
    interface = read_json(path, "object")
    check_interface(interface, path)
    return interface


def check_interface(doc: dict[str, Any], path: Path) -> None:
    """``interface.json`` as ``DesignPlan.interface`` writes it: top, max_seq and typed args."""

    def bad(what: str) -> UserError:
        return UserError(f"{path} is not a sparsehls interface ({what}): recompile the project")

    if not isinstance(doc.get("top"), str):
        raise bad("no 'top' name")
    if not isinstance(doc.get("max_seq"), int) or doc["max_seq"] < 1:
        raise bad("no positive 'max_seq'")
    args = doc.get("args")
    if not isinstance(args, list) or not all(isinstance(a, dict) for a in args):
        raise bad("'args' is not a list of objects")
    for a in args:
        if a.get("kind") == "scalar":
            continue
        if a.get("kind") != "m_axi":
            raise bad(f"argument kind {a.get('kind')!r}")
        for key, typ in _M_AXI_KEYS.items():
            if not isinstance(a.get(key), typ):
                raise bad(f"argument without a '{key}'")
        if a["name"] == _WEIGHT_PORT[0]:
            if a["ctype"] != _WEIGHT_PORT[1] or a["dir"] != "in":
                raise bad(f"weight port {a['name']}: ctype {a['ctype']!r}, dir {a['dir']!r}")
            continue
        if a["ctype"] not in _CTYPES or a["dir"] not in ("in", "out"):
            raise bad(f"argument {a['name']}: ctype {a['ctype']!r}, dir {a['dir']!r}")
        for key, typs in _PORT_KEYS.items():
            if not isinstance(a.get(key), typs):
                raise bad(f"argument {a['name']} without '{key}'")
    names = [a.get("name") for a in args]
    if _WEIGHT_PORT[0] not in names:
        raise bad(f"no weight port {_WEIGHT_PORT[0]} ({_WEIGHT_PORT[1]})")
