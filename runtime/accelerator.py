"""Run a compiled sparsehls design: one ``Accelerator`` interface, three backends.

* ``golden``: the NumPy integer golden model (no project needed beyond the graph);
* ``csim``: the generated HLS C++ built with g++ and called through ctypes;
* ``xrt``: the Alveo card through XRT's Python binding ``pyxrt`` (weights are
  copied to the card once, in ``__init__``; each ``run`` moves only the ids,
  mask and outputs).

All backends take the same feeds (``{input name: int array [batch, seq]}``) and
return the same integer outputs, so they can be compared element by element.
"""

from __future__ import annotations

import abc
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.hw.boards import get_board
from compiler.ir.graph import Graph
from compiler.outputs import read_json
from runtime.xclbin import check_xclbin, read_xclbin

log = logging.getLogger(__name__)

BACKENDS = ("golden", "csim", "xrt")


class Accelerator(abc.ABC):
    """Runs batches of token sequences through one compiled design."""

    backend: str = ""

    @abc.abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Integer outputs by graph output name, for every sequence of ``feeds``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device (nothing to do for software backends)."""

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GoldenAccelerator(Accelerator):
    backend = "golden"

    def __init__(self, graph: Graph) -> None:
        if not graph.quantized:
            raise UserError("the golden accelerator needs a quantized graph")
        self.graph = graph

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from compiler.golden import interpreter

        return interpreter.run(self.graph, feeds, mode="int")


class CsimAccelerator(Accelerator):
    backend = "csim"

    def __init__(self, project: Path) -> None:
        from compiler.backends.hls.csim import CsimDesign

        self.design = CsimDesign.load(Path(project) / "hls")

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs, _ = self.design.run(feeds)
        return {k: v.astype(np.int64) for k, v in outs.items()}


class XrtAccelerator(Accelerator):
    """The card, through pyxrt. ``xclbin`` defaults to ``project/hls/build/sparsehls.xclbin``.

    Everything that can be checked without a card is checked first, each refusal one
    line (``UserError``): the board asked for against the one the project was built for,
    the xclbin's kernel, argument list and platform against the project's
    (``runtime.xclbin``), then whether XRT is installed; XRT's own failures (no card,
    ``XILINX_XRT`` not set) become one line too.
    """

    backend = "xrt"

    def __init__(
        self, project: Path, xclbin: Path | None = None, device: int = 0, board: str | None = None
    ) -> None:
        hls = Path(project) / "hls"
        self.interface: dict[str, Any] = json.loads((hls / "interface.json").read_text())
        built_for = project_board(Path(project))
        if board is not None:
            check_board(board, built_for)
        xclbin = Path(xclbin) if xclbin else hls / "build" / "sparsehls.xclbin"
        check_xclbin(read_xclbin(xclbin), self.interface, built_for)
        if importlib.util.find_spec("pyxrt") is None:
            raise UserError(
                "the xrt backend needs XRT's Python binding pyxrt (source /opt/xilinx/xrt/setup.sh)"
            )
        import pyxrt  # type: ignore[import-not-found]

        try:
            self._open(pyxrt, hls, xclbin, device)
        except (RuntimeError, OSError) as e:  # XRT's answers: no card, XILINX_XRT not set, load failed
            raise UserError(f"XRT: {' '.join(str(e).split())}") from None

    def _open(self, pyxrt: Any, hls: Path, xclbin: Path, device: int) -> None:
        self.pyxrt = pyxrt
        self.dev = pyxrt.device(device)
        uuid = self.dev.load_xclbin(pyxrt.xclbin(str(xclbin)))
        self.kernel = pyxrt.kernel(self.dev, uuid, self.interface["top"], pyxrt.kernel.cu_access_mode.shared)
        raw = np.fromfile(hls / "weights.bin", dtype=np.uint8)
        w_index = [a["name"] for a in self.interface["args"]].index("w")  # the 512-bit weight port
        self.wbo = pyxrt.bo(self.dev, raw.size, pyxrt.bo.normal, self.kernel.group_id(w_index))
        self.wbo.write(raw, 0)
        self.wbo.sync(pyxrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, raw.size, 0)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        px = self.pyxrt
        args: list[Any] = []
        outs: dict[str, tuple[Any, np.ndarray]] = {}
        shape = None
        for i, a in enumerate(self.interface["args"]):
            if a["name"] == "w":
                args.append(self.wbo)
            elif a["kind"] == "m_axi" and a["dir"] == "in":
                x = np.ascontiguousarray(feeds[a["tensor"]], dtype=np.int32)
                shape = x.shape
                bo = px.bo(self.dev, x.nbytes, px.bo.normal, self.kernel.group_id(i))
                bo.write(x, 0)
                bo.sync(px.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, x.nbytes, 0)
                args.append(bo)
            elif a["kind"] == "m_axi":
                assert shape is not None
                rows = shape[1] if a["rows"] == "seq" else 1
                dt = np.int8 if a["ctype"] == "int8_t" else np.int32
                host = np.zeros(
                    (shape[0], rows, a["cols"]) if a["rows"] == "seq" else (shape[0], a["cols"]), dtype=dt
                )
                bo = px.bo(self.dev, max(host.nbytes, 4), px.bo.normal, self.kernel.group_id(i))
                outs[a["tensor"]] = (bo, host)
                args.append(bo)
            elif a["name"] == "n_batch":
                assert shape is not None
                args.append(int(shape[0]))
            else:
                assert shape is not None
                args.append(int(shape[1]))
        run = self.kernel(*args)
        run.wait()
        result = {}
        for name, (bo, host) in outs.items():
            bo.sync(px.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE, host.nbytes, 0)
            host[...] = np.frombuffer(bytes(bo.read(host.nbytes, 0)), dtype=host.dtype).reshape(host.shape)
            result[name] = host.astype(np.int64)
        return result


ACCEL_DIR = Path("rtlsim") / "rtl"  # where `sparsehls rtlsim` writes the accelerator, its package and layout
ACCEL_XCLBIN = "vitis/sparsehls_accel.xclbin"  # `make -C PROJECT/rtlsim/rtl/vitis xclbin`


def accel_interface() -> dict[str, Any]:
    """The RTL accelerator's interface in interface.json's terms (for ``check_xclbin``), from
    ``kernel_args``: the table its RTL decodes, its testbench drives and kernel.xml lists."""
    from compiler.backends.rtl.kernel_args import ARGS, REGISTERS

    args = [{"name": a.name, "kind": "m_axi" if a.pointer else "scalar"} for a in ARGS]
    return {"top": "sparsehls_accel", "args": args, "register_map": REGISTERS}


class XrtAccelAccelerator(Accelerator):
    """The RTL accelerator (``sparsehls_accel``) on the card, through pyxrt: the calls of its cocotb
    testbench and of runtime/host/sparsehls_accel_host.cpp -- the weight image once (a load call,
    mode 1), then one run call per sequence (input, output, n_tokens, mode 0).

    The token / position / type gather stays on the host: the embedding sums (the kernel's input)
    come from the golden model's integer nodes up to that tensor (:func:`interpreter.run_to`).
    Refusals as :class:`XrtAccelerator`'s."""

    backend = "xrt"

    def __init__(
        self,
        project: Path,
        graph: Graph,
        xclbin: Path | None = None,
        device: int = 0,
        board: str | None = None,
    ) -> None:
        rtl = Path(project) / ACCEL_DIR
        self.graph = graph
        self.layout: dict[str, Any] = read_json(rtl / "layout.json", "object")
        built_for = project_board(Path(project))
        if board is not None:
            check_board(board, built_for)
        xclbin = Path(xclbin) if xclbin else rtl / ACCEL_XCLBIN
        check_xclbin(read_xclbin(xclbin), accel_interface(), built_for)
        if importlib.util.find_spec("pyxrt") is None:
            raise UserError(
                "the xrt backend needs XRT's Python binding pyxrt (source /opt/xilinx/xrt/setup.sh)"
            )
        import pyxrt

        try:
            self._open(pyxrt, rtl, xclbin, device)
        except (RuntimeError, OSError) as e:
            raise UserError(f"XRT: {' '.join(str(e).split())}") from None

    def _open(self, pyxrt: Any, rtl: Path, xclbin: Path, device: int) -> None:
        from compiler.backends.rtl.accel import BEAT, MODE_LOAD

        self.px = pyxrt
        self.dev = pyxrt.device(device)
        uuid = self.dev.load_xclbin(pyxrt.xclbin(str(xclbin)))
        self.kernel = pyxrt.kernel(self.dev, uuid, "sparsehls_accel", pyxrt.kernel.cu_access_mode.exclusive)
        lay = self.layout
        raw = np.fromfile(rtl / "weights.bin", dtype=np.uint8)
        in_bytes = lay["mask_beats"] * BEAT + lay["tmax"] * lay["in_row_beats"] * BEAT
        self.bos = [
            pyxrt.bo(self.dev, n, pyxrt.bo.normal, self.kernel.group_id(i))
            for i, n in enumerate((raw.size, in_bytes, lay["tmax"] * lay["out_row_beats"] * BEAT))
        ]
        self.bos[0].write(raw, 0)
        self.bos[0].sync(pyxrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, raw.size, 0)
        self.kernel(*self.bos, 0, MODE_LOAD).wait()  # weights, input, output, n_tokens, mode

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from compiler.backends.rtl.accel import BEAT, MODE_RUN, BufferLayout
        from compiler.golden import interpreter

        lay = self.layout
        buf = BufferLayout(
            **{k: int(lay[k]) for k in ("hidden", "tmax", "mask_beats", "in_row_beats", "out_row_beats")}
        )
        try:  # the host's gather: the graph's nodes up to the embedding sum, no further
            emb = interpreter.run_to(self.graph, feeds, lay["emb_input"], mode="int")
        except KeyError:
            raise UserError(
                f"the project's graph has no tensor {lay['emb_input']}: run `sparsehls rtlsim` again"
            ) from None
        mask = np.asarray(feeds[lay["mask"]])
        sync = self.px.xclBOSyncDirection
        rows = []
        for b in range(emb.shape[0]):
            t = emb.shape[1]
            data = np.frombuffer(buf.input_buffer(emb[b], mask[b]), dtype=np.uint8)
            self.bos[1].write(data, 0)
            self.bos[1].sync(sync.XCL_BO_SYNC_BO_TO_DEVICE, data.size, 0)
            self.kernel(*self.bos, t, MODE_RUN).wait()
            n = t * buf.out_row_beats * BEAT
            self.bos[2].sync(sync.XCL_BO_SYNC_BO_FROM_DEVICE, n, 0)
            rows.append(buf.read_output(bytes(self.bos[2].read(n, 0)), t))
        return {lay["output"]: np.stack(rows)}


def has_accelerator(project: Path) -> bool:
    """Whether ``sparsehls rtlsim`` wrote the RTL accelerator and its package for ``project``."""
    return (Path(project) / ACCEL_DIR / "layout.json").is_file()


def project_board(project: Path) -> str | None:
    """The board ``project`` was compiled for (report.json ``hls.board``), if it records one."""
    path = Path(project) / "report.json"
    if not path.is_file():
        return None
    board = read_json(path, "object").get("hls", {}).get("board")
    return str(board).lower() if board else None


def check_board(board: str, built_for: str | None) -> None:
    """Refuse a board the project was not built for (its HLS project, platform and xclbin are per board)."""
    want = get_board(board).name
    if built_for is None:
        raise UserError(f"the project records no board; it cannot be checked against --board {board}")
    if want != built_for:
        raise UserError(
            f"the project was built for {built_for.upper()}, not {want.upper()}: "
            f"recompile it with --board {want} (or drop --board)"
        )


def open_accelerator(
    backend: str, project: Path | None = None, graph: Graph | None = None, **kw: Any
) -> Accelerator:
    """``golden`` needs ``graph``; ``csim`` and ``xrt`` need ``project`` (with ``project/hls``)."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "golden":
        if graph is None:
            raise UserError("the golden backend needs the quantized graph")
        return GoldenAccelerator(graph)
    if project is None:
        raise UserError(f"the {backend} backend needs a project folder")
    if backend == "xrt" and use_accelerator(Path(project), kw.get("xclbin")):
        if graph is None:
            raise UserError("the xrt backend on the RTL accelerator needs the quantized graph")
        return XrtAccelAccelerator(project, graph, **kw)
    if not (Path(project) / "hls" / "interface.json").is_file():
        raise UserError(f"{project} has no generated HLS project (hls/interface.json missing)")
    return CsimAccelerator(project) if backend == "csim" else XrtAccelerator(project, **kw)


def use_accelerator(project: Path, xclbin: Path | str | None) -> bool:
    """The xrt backend drives the RTL accelerator when ``--xclbin`` holds ``sparsehls_accel``, or,
    without ``--xclbin``, when the project has the accelerator and no HLS xclbin
    (``hls/build/sparsehls.xclbin``) but the accelerator's (``rtlsim/rtl/vitis/``)."""
    if not has_accelerator(project):
        return False
    if xclbin is not None:
        return Path(xclbin).is_file() and "sparsehls_accel" in read_xclbin(Path(xclbin)).kernels
    hls = project / "hls" / "build" / "sparsehls.xclbin"
    return not hls.is_file() and (project / ACCEL_DIR / ACCEL_XCLBIN).is_file()
