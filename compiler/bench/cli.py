"""The `bench`, `report` and `sweep` verbs: parsers and handlers, added to the CLI with one call.

In ``compiler/cli.py`` ``build_parser()``, before ``return p``::

    from compiler.bench.cli import add_parsers; add_parsers(sub)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compiler.errors import UserError


def cmd_bench(a: argparse.Namespace) -> int:
    from rich.console import Console

    from compiler.bench.command import print_table, run_bench
    from compiler.bench.progress import set_quiet
    from compiler.hw.builds import DEFAULT_BUILDS

    if a.clock is not None and not a.clock > 0:  # also NaN
        raise UserError(f"--clock {a.clock} MHz must be positive")
    set_quiet(a.quiet)
    err = Console(stderr=True, highlight=False)

    def step(msg: str) -> None:
        if not a.quiet:
            err.print(f"[dim]•[/dim] {msg}")

    boards = [b.strip() for b in a.boards.split(",") if b.strip()]
    res = run_bench(
        a.model,
        Path(a.output) if a.output else None,
        boards,
        a.seq_len,
        reps=a.reps,
        threads=a.threads,
        clock_mhz=a.clock,
        builds=DEFAULT_BUILDS.with_pack(a.mac_per_dsp),
        progress=step,
        checkpoint=a.checkpoint,
    )
    print_table(res)
    out = Path(res["project"]).parent if not a.output else Path(a.output)
    Console().print(f"wrote {out}/bench.json, bench.md, report.html, latency.png, sparsity.png, roofline.png")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from rich.console import Console

    from compiler.bench.report import render_report

    Console().print(f"wrote {render_report(Path(a.project))}")
    return 0


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("bench", help="measure CPU backends and estimate FPGA boards for a model or project")
    s.add_argument("model", help="checkpoint folder, 'minilm', .onnx file, or a compiled project folder")
    s.add_argument("-o", "--output", default=None, help="output folder (default bench-<name>)")
    s.add_argument("--boards", default="u200,u250,u280,u55c")
    s.add_argument("--seq-len", type=int, default=128)
    s.add_argument("--reps", type=int, default=10, help="timed runs per CPU backend after warm-up (>= 10)")
    s.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    s.add_argument(
        "--clock", type=float, default=None, help="FPGA kernel clock in MHz (default: the board's, 300)"
    )
    s.add_argument(
        "--mac-per-dsp",
        type=int,
        default=None,
        choices=(1, 2),
        help="int8 MACs per DSP48E2 (default: the default design's PACK=2; 1 where the block height is odd)",
    )
    s.add_argument("--checkpoint", default=None, help="with a project: its checkpoint, to time torch too")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("report", help="render PROJECT/report.html (tables and plots, no network needed)")
    s.add_argument("project")
    s.set_defaults(fn=cmd_report)
    add_sweep_parser(sub)


def cmd_sweep(a: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.markup import escape

    from compiler.bench.sweep import check_out, parse_spec, run_sweep
    from compiler.scale.args import executor_from_args

    out = Path(a.output)
    spec = parse_spec(a.model, a.boards, a.sparsity, a.block, a.seq, a.clock, a.mac_per_dsp)
    check_out(out, a.force)  # before a Ray starts: a bad -o costs nothing
    n = len(spec.points())
    executor = executor_from_args(a)
    t0 = time.perf_counter()
    err = Console(stderr=True, highlight=False)
    try:
        doc, summary = run_sweep(spec, out, executor, force=a.force, show=not a.quiet)
    except KeyboardInterrupt:
        err.print(
            f"sparsehls: interrupted; the points done are kept in {out}/tasks: rerun to resume", markup=False
        )
        return 130
    finally:
        executor.close()
    if doc["points"] and not a.quiet:
        _best_table(doc)
    for f in summary.failed:
        err.print(
            f"[red]failed[/red] {escape(f['key'])}: {escape(f['error'])} (inputs {escape(str(f['inputs']))})"
        )
    Console(highlight=False, soft_wrap=True).print(
        f"sweep {spec.name}: {n} points, {summary.skipped} stored before, {summary.done} run, "
        f"{len(summary.failed)} failed on {executor.name} in {time.perf_counter() - t0:.1f} s "
        f"-> {out}/sweep.json" + (", sweep.png" if doc["points"] else "")
    )
    return 1 if summary.failed else 0


def _best_table(doc: dict[str, Any]) -> None:
    """Per board, the fastest point that fits (estimates)."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{doc['model']['name']}: fastest fitting point per board (FPGA estimates)")
    for c in ("board", "sparsity", "block", "seq", "clock MHz", "latency ms", "points that fit"):
        t.add_column(c)
    for b in doc["axes"]["boards"]:
        pts = [p for p in doc["points"] if p["board"] == b]
        fit = [p for p in pts if p["fits"]]
        if not fit:
            t.add_row(b.upper(), "", "", "", "", "none fits", f"0 / {len(pts)}")
            continue
        p = min(fit, key=lambda p: p["latency_ms"])
        blk = f"{p['block'][0]}x{p['block'][1]}"
        t.add_row(
            b.upper(),
            f"{p['sparsity']:g}",
            blk,
            str(p["seq"]),
            f"{p['clock_mhz']:g}",
            f"{p['latency_ms']:.4f}",
            f"{len(fit)} / {len(pts)}",
        )
    Console(highlight=False).print(t)


# the sweep's default axes: bench's boards and sparsity sweep (here, so that --help imports nothing more)
SWEEP_BOARDS = "u200,u250,u280,u55c"
SWEEP_SPARSITY = "0,0.5,0.7,0.8,0.9,0.95"


def add_sweep_parser(sub: Any) -> None:
    from compiler.scale.args import add_executor_args

    s = sub.add_parser(
        "sweep",
        help="FPGA estimates over boards x sparsity x block x seq x clock (JSON + plot), fanned out as tasks",
    )
    s.add_argument("model", help="checkpoint folder, 'minilm' or a compiled project (only its shape is used)")
    s.add_argument("-o", "--output", required=True, help="output folder; a rerun resumes it")
    s.add_argument("--boards", default=SWEEP_BOARDS, help=f"comma list (default {SWEEP_BOARDS})")
    s.add_argument(
        "--sparsity",
        default=SWEEP_SPARSITY,
        help=f"block sparsities, comma list (default {SWEEP_SPARSITY})",
    )
    s.add_argument("--block", default="16x16", help="blocks BMxBN, comma list (default 16x16)")
    s.add_argument("--seq", default="128", help="sequence lengths, comma list (default 128)")
    s.add_argument("--clock", default="", help="kernel clocks in MHz, comma list (default: the board's)")
    s.add_argument("--mac-per-dsp", type=int, default=None, choices=(1, 2), help="int8 MACs per DSP48E2")
    s.add_argument("--force", action="store_true", help="drop the points an earlier run stored in -o")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_executor_args(s)
    s.set_defaults(fn=cmd_sweep)
