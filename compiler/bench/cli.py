"""The `bench` and `report` verbs: parsers and handlers, added to the CLI with one call.

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
