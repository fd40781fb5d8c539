"""C simulation of a generated project: build it as a shared library and call it.

Like hls4ml's ``compile()``: the generated ``sparsehls_top.cpp`` is built with
g++ and the ap_types headers into ``libsparsehls.so`` and called through
ctypes.  The build defines ``SPARSEHLS_TRACE``, so the design can hand every
op's output to a Python callback (per-op traces, compared with the golden
model's to name the first op that differs).
"""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.backends.hls.plan import BEAT_BYTES, WEIGHT_PORT
from compiler.backends.hls.toolchain import CXXFLAGS, ap_types_dir, gxx
from compiler.errors import UserError
from compiler.project import check_hls

log = logging.getLogger(__name__)

_NP = {"int8_t": np.int8, "int32_t": np.int32}
TRACE_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)


def build_library(hls_dir: Path, opt: str = "-O2") -> Path:
    """Build (or reuse, when up to date) ``hls_dir/csim/libsparsehls.so``."""
    src = hls_dir / "src"
    if not (src / "sparsehls_top.cpp").is_file():
        raise UserError(f"{hls_dir} holds no generated HLS project (run the HLS generation first)")
    out = hls_dir / "csim" / "libsparsehls.so"
    newest = max(p.stat().st_mtime for p in src.iterdir())
    if out.is_file() and out.stat().st_mtime >= newest:
        return out
    if not os.access(hls_dir, os.W_OK) or (out.parent.exists() and not os.access(out.parent, os.W_OK)):
        out = Path(tempfile.mkdtemp(prefix="sparsehls-csim-")) / "libsparsehls.so"  # read-only project
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".so.tmp")
    cmd = [
        gxx(),
        *CXXFLAGS,
        opt,
        "-shared",
        "-fPIC",
        "-DSPARSEHLS_TRACE",
        f"-I{src}",
        "-isystem",  # the ap_types headers do not build warning-free with -Wextra (512-bit ap_uint)
        str(ap_types_dir()),
        str(src / "sparsehls_top.cpp"),
        "-o",
        str(tmp),
    ]
    log.info("building C simulation: %s", " ".join(cmd))
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        first = next((ln for ln in res.stderr.splitlines() if "error" in ln), res.stderr.strip()[:300])
        raise UserError(f"g++ failed to build the C simulation: {first}")
    tmp.replace(out)
    log.info("built %s in %.1f s", out, time.perf_counter() - t0)
    return out


@dataclass
class CsimDesign:
    """A loaded C-simulation library with its weight image and interface."""

    hls_dir: Path
    lib: ctypes.CDLL
    interface: dict[str, Any]
    weights: np.ndarray

    @classmethod
    def load(cls, hls_dir: Path) -> CsimDesign:
        """Check ``hls_dir`` against its manifest (a changed weight image is refused, not run), then build and load."""
        hls_dir = Path(hls_dir)
        interface = check_hls(hls_dir)
        path = build_library(hls_dir)
        raw = np.fromfile(hls_dir / "weights.bin", dtype=np.uint8)
        # the port is ap_uint<512>: whole 64-byte beats, at a 64-byte-aligned address
        store = np.zeros(raw.size + 2 * BEAT_BYTES, dtype=np.uint8)
        skip = -store.ctypes.data % BEAT_BYTES
        weights = store[skip : skip + raw.size + BEAT_BYTES]
        weights[: raw.size] = raw
        lib = ctypes.CDLL(str(path))
        return cls(hls_dir, lib, interface, weights)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return [
            a
            for a in self.interface["args"]
            if a["kind"] == "m_axi" and a["dir"] == "in" and a["name"] != WEIGHT_PORT
        ]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [a for a in self.interface["args"] if a["kind"] == "m_axi" and a["dir"] == "out"]

    def run(
        self, feeds: dict[str, np.ndarray], trace: bool = False
    ) -> tuple[dict[str, np.ndarray], dict[tuple[int, int], np.ndarray]]:
        """Run every sequence of ``feeds``; returns outputs by tensor name (and per-op traces)."""
        arrays = []
        shape = None
        for a in self.inputs:
            if a["tensor"] not in feeds:
                raise UserError(f"missing input {a['tensor']}")
            x = np.ascontiguousarray(np.asarray(feeds[a["tensor"]]), dtype=np.int32)
            if x.ndim != 2 or (shape is not None and x.shape != shape):
                raise UserError(f"input {a['tensor']} must be [batch, seq] like the others, got {x.shape}")
            shape = x.shape
            arrays.append(x)
        assert shape is not None
        n_batch, n_seq = shape
        if not 1 <= n_seq <= self.interface["max_seq"]:
            raise UserError(
                f"sequence length {n_seq} is outside 1..{self.interface['max_seq']} of this design"
            )
        outs = {}
        for a in self.outputs:
            rows = n_seq if a["rows"] == "seq" else 1
            outs[a["tensor"]] = _shared_zeros(
                (n_batch, rows, a["cols"]) if a["rows"] == "seq" else (n_batch, a["cols"]),
                _NP[a["ctype"]],
            )
        traces = self._call_isolated(arrays, outs, n_batch, n_seq, trace)
        return {k: v.copy() for k, v in outs.items()}, traces

    def _call_isolated(
        self, arrays: list[np.ndarray], outs: dict[str, np.ndarray], n_batch: int, n_seq: int, trace: bool
    ) -> dict[tuple[int, int], np.ndarray]:
        """Call the design in a forked child: a crash there is a one-line error here, not our death.

        The outputs live in shared memory (``outs``); traces come back through a file.
        """
        with tempfile.TemporaryDirectory(prefix="sparsehls-csim-") as tmp:
            trace_file = Path(tmp) / "traces.npz"
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: call, save traces, and leave without running any cleanup
                code = 1
                faulthandler.disable()  # a crash is reported by the parent, in one line
                try:
                    traces = self._call(arrays, outs, n_batch, n_seq, trace)
                    if trace:
                        np.savez(trace_file, **{f"{op}_{b}": v for (op, b), v in traces.items()})  # type: ignore[arg-type]
                    code = 0
                finally:
                    os._exit(code)
            try:
                _, status = os.waitpid(pid, 0)
            except BaseException:  # Ctrl-C or SIGTERM while the child runs: do not leave it behind
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                raise UserError(
                    f"the C simulation of {self.hls_dir} crashed ({sig}): the project is damaged or the design is wrong; recompile it"
                )
            if os.WEXITSTATUS(status) != 0:
                raise UserError(f"the C simulation of {self.hls_dir} failed (exit {os.WEXITSTATUS(status)})")
            if not trace:
                return {}
            with np.load(trace_file, allow_pickle=False) as z:
                return {(int(k.split("_")[0]), int(k.split("_")[1])): z[k] for k in z.files}

    def _call(
        self, arrays: list[np.ndarray], outs: dict[str, np.ndarray], n_batch: int, n_seq: int, trace: bool
    ) -> dict[tuple[int, int], np.ndarray]:
        traces: dict[tuple[int, int], np.ndarray] = {}

        def on_trace(op: int, b: int, data: int, count: int, elem: int) -> None:
            dt = np.int8 if elem == 1 else np.int32
            traces[(op, b)] = (
                np.ctypeslib.as_array(
                    ctypes.cast(data, ctypes.POINTER(ctypes.c_int8 if elem == 1 else ctypes.c_int32)),
                    shape=(count,),
                )
                .astype(dt)
                .copy()
            )

        cb = TRACE_FN(on_trace)
        self.lib.sparsehls_set_trace(cb if trace else TRACE_FN())
        ptr = self.weights.ctypes.data_as(ctypes.c_void_p)
        args: list[Any] = [x.ctypes.data_as(ctypes.c_void_p) for x in arrays]
        args += [outs[a["tensor"]].ctypes.data_as(ctypes.c_void_p) for a in self.outputs]
        args += [ptr, ctypes.c_int(n_batch), ctypes.c_int(n_seq)]
        self.lib.sparsehls_top.restype = None
        self.lib.sparsehls_top(*args)
        self.lib.sparsehls_set_trace(TRACE_FN())
        return traces


def _shared_zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zeroed array in anonymous shared memory: what a forked child writes there, the parent sees."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = mmap.mmap(-1, max(n, 1))
    return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
