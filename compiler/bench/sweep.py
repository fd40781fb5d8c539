"""`sparsehls sweep`: the design-space exploration of `bench` on its own, fanned out as tasks.

Every point is the scheduler's ESTIMATE (compiler/perf) for the model's shape at a
uniform block sparsity: boards x sparsity x block x seq x clock.  Only the shape
(layers, hidden, heads, FFN) is read from the checkpoint or project, so a task
carries a few numbers and a worker needs no model files.  Each point is a task
(compiler/scale); results are stored in ``OUT/tasks/`` as each finishes, and a
second run with the same ``-o`` skips the points already there.  ``OUT/sweep.json``
(points in axis order, so every executor writes the same bytes) and ``OUT/sweep.png``
are written at the end, each by temp file + rename.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.errors import UserError

if TYPE_CHECKING:  # the parser is built from this module's defaults: keep its import cheap
    from compiler.scale.executor import Executor
    from compiler.scale.run import RunSummary
    from compiler.scale.store import TaskStore
    from compiler.scale.tasks import Task

KEEP = (
    *("latency_ms", "limit_ms", "latency_over_limit", "fits", "engines", "dsp", "lut", "bram", "uram"),
    *("cycles", "clock_mhz", "throughput_seq_s"),
)


@dataclass(frozen=True)
class SweepSpec:
    name: str
    dims: dict[str, int]  # layers, hidden, heads, ffn
    boards: tuple[str, ...]
    sparsity: tuple[float, ...]
    blocks: tuple[tuple[int, int], ...]
    seqs: tuple[int, ...]
    clocks: tuple[float | None, ...]  # None: the board's own clock
    mac_per_dsp: int | None = None

    def points(self) -> list[dict[str, Any]]:
        return [
            {"board": b, "sparsity": s, "block": list(bl), "seq": q, "clock_mhz": c}
            for b in self.boards
            for bl in self.blocks
            for q in self.seqs
            for c in self.clocks
            for s in self.sparsity
        ]


def sweep_point(
    layers: int,
    hidden: int,
    heads: int,
    ffn: int,
    board: str,
    sparsity: float,
    block: list[int],
    seq: int,
    clock_mhz: float | None,
    mac_per_dsp: int | None,
) -> dict[str, Any]:
    """One point: schedule the uniform workload and keep the estimate's headline numbers (a task)."""
    from compiler.hw.builds import DEFAULT_BUILDS
    from compiler.perf.schedule import schedule
    from compiler.perf.workload import from_shape

    wl = from_shape(layers, hidden, heads, ffn, seq, (block[0], block[1]), sparsity)
    s = schedule(wl, board, clock_mhz, DEFAULT_BUILDS.with_pack(mac_per_dsp))
    out = {k: s.estimate[k] for k in KEEP if k in s.estimate}
    out["message"] = s.message
    plain: dict[str, Any] = json.loads(json.dumps(out, default=float))
    return plain


def point_key(p: dict[str, Any]) -> str:
    c = "board" if p["clock_mhz"] is None else f"{p['clock_mhz']:g}"
    return f"{p['board']}_sp{p['sparsity']:g}_b{p['block'][0]}x{p['block'][1]}_seq{p['seq']}_clk{c}"


def tasks(spec: SweepSpec) -> list[Task]:
    from compiler.scale.tasks import Task

    return [
        Task(point_key(p), sweep_point, {**spec.dims, **p, "mac_per_dsp": spec.mac_per_dsp})
        for p in spec.points()
    ]


# ------------------------------------------------------------------ inputs
def model_shape(src: str) -> tuple[str, dict[str, int], int | None]:
    """(name, layers/hidden/heads/ffn, max positions or None) of a checkpoint, 'minilm' or a project."""
    from compiler.checkpoint import model_dims, read_config, resolve_model

    p = Path(src)
    if p.is_dir() and (p / "ir" / "graph.json").exists():
        from compiler.ir.io import load_graph
        from compiler.perf.workload import from_graph

        wl = from_graph(load_graph(p / "ir"), p.name)
        dims = {
            "layers": len(wl.layers),
            "hidden": wl.hidden,
            "heads": max(ly.heads for ly in wl.layers),  # the unpruned shape: the largest layer
            "ffn": max(ly.ffn for ly in wl.layers),
        }
        return p.name, dims, None
    ref = resolve_model(src)
    if ref.kind != "hf":
        raise UserError(f"{src} is an ONNX file; sweep a checkpoint folder, 'minilm' or a compiled project")
    d = model_dims(read_config(ref.path))
    return ref.name, {k: d[k] for k in ("layers", "hidden", "heads", "ffn")}, d["max_pos"]


def _items(flag: str, text: str) -> list[str]:
    out = [x.strip() for x in str(text).split(",") if x.strip()]
    if not out:
        raise UserError(f"{flag} is empty: give at least one value")
    return list(dict.fromkeys(out))


def _number(flag: str, x: str, kind: type) -> Any:
    try:
        v = kind(x)
    except ValueError:
        raise UserError(f"{flag}: {x!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(v):
        raise UserError(f"{flag}: {x!r} is not a finite number")
    return v


def parse_spec(
    src: str,
    boards: str,
    sparsity: str,
    block: str,
    seq: str,
    clock: str = "",
    mac_per_dsp: int | None = None,
) -> SweepSpec:
    """Every axis checked before anything runs or is written: a bad value is one UserError line."""
    from compiler.checkpoint import check_sparsity, parse_block
    from compiler.hw.boards import get_board

    bs = tuple(get_board(b).name.lower() for b in _items("--boards", boards))
    sps = tuple(_number("--sparsity", x, float) for x in _items("--sparsity", sparsity))
    for s in sps:
        try:
            check_sparsity(s)
        except UserError as e:
            raise UserError(f"--sparsity: {e}") from None
    blocks = tuple(parse_block(x) for x in _items("--block", block))
    seqs = tuple(_number("--seq", x, int) for x in _items("--seq", seq))
    clocks: tuple[float | None, ...] = (None,)
    if str(clock).strip():
        clocks = tuple(_number("--clock", x, float) for x in _items("--clock", clock))
    for c in clocks:
        if c is not None and not 0 < c <= 1000:
            raise UserError(f"--clock {c:g} MHz is outside (0, 1000]")
    name, dims, max_pos = model_shape(src)
    h, f = dims["hidden"], dims["ffn"]
    for bm, bn in blocks:
        if bm > min(h, f) or bn > min(h, f):
            raise UserError(f"--block {bm}x{bn} is larger than a matrix of {name} (hidden {h}, FFN {f})")
    for q in seqs:
        if q < 1 or (max_pos is not None and q > max_pos):
            raise UserError(f"--seq {q} is outside [1, {max_pos or 'any'}] for {name}")
    return SweepSpec(name, dims, bs, sps, blocks, seqs, clocks, mac_per_dsp)


def check_out(out: Path, force: bool) -> None:
    """A new folder, or one an earlier sweep wrote (resumed; ``force``: its stored points are dropped)."""
    from compiler.outputs import check_output_dir

    if out.is_dir() and (
        (out / "tasks").is_dir() or (out / "sweep.json").is_file() or not any(out.iterdir())
    ):
        if not os.access(out, os.W_OK):
            raise UserError(f"cannot write to {out}: permission denied")
        return
    if out.exists():
        raise UserError(f"{out} exists and holds no sweep (no tasks/ or sweep.json): name a new folder")
    check_output_dir(out, force=False)


# ------------------------------------------------------------------ running
def run_sweep(
    spec: SweepSpec, out: Path, executor: Executor, force: bool = False, show: bool = True
) -> tuple[dict[str, Any], RunSummary]:
    from compiler.outputs import write_json
    from compiler.scale.run import run_tasks
    from compiler.scale.store import TaskStore

    out = Path(out)
    check_out(out, force)
    if force:
        shutil.rmtree(out / "tasks", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    store = TaskStore(out / "tasks")
    ts = tasks(spec)
    summary = run_tasks(ts, executor, store, label=f"sweep {spec.name}", show=show)
    doc = assemble(spec, ts, store, summary)
    write_json(out / "sweep.json", doc)
    if doc["points"]:
        _atomic_plot(doc, out / "sweep.png")
    return doc, summary


def assemble(spec: SweepSpec, ts: list[Task], store: TaskStore, summary: RunSummary) -> dict[str, Any]:
    """sweep.json from the stored results, in axis order (independent of which task finished first)."""
    points = []
    for t in ts:
        rec = store.get(t.key)
        if rec and rec.get("ok"):
            p = {k: t.inputs()[k] for k in ("board", "sparsity", "block", "seq", "clock_mhz")}
            points.append({**p, **rec["result"]})
    return {
        "what": "FPGA latency ESTIMATES of the scheduled design (compiler/perf), uniform block sparsity per matrix",
        "model": {"name": spec.name, **spec.dims},
        "axes": {
            "boards": list(spec.boards),
            "sparsity": list(spec.sparsity),
            "block": [list(b) for b in spec.blocks],
            "seq": list(spec.seqs),
            "clock_mhz": list(spec.clocks),
            "mac_per_dsp": spec.mac_per_dsp,
        },
        "points": points,
        "failed": [{k: f[k] for k in ("key", "inputs", "error")} for f in summary.failed],
    }


def _atomic_plot(doc: dict[str, Any], path: Path) -> None:
    from compiler.bench.plots import sweep_lines

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        sweep_lines(doc, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
