"""The ``sparsehls`` command line.

Verbs: prune, compile, inspect, csim, run, rtlsim.  Errors a user can cause
print one line (``sparsehls: error: ...``) and exit with code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from compiler.errors import UserError

log = logging.getLogger("sparsehls")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse's default too)
        self.exit(2, f"sparsehls: error: {message}\n")


def _console() -> Any:
    import shutil

    from rich.console import Console

    # tables are wide: do not wrap them at 80 columns when piped or captured
    return Console(stderr=False, highlight=False, width=max(shutil.get_terminal_size((160, 24)).columns, 150))


def _progress_printer(quiet: bool) -> Callable[[str], None]:
    from rich.console import Console

    err = Console(stderr=True, highlight=False)

    def step(msg: str) -> None:
        if not quiet:
            err.print(f"[dim]•[/dim] {msg}")

    return step


# --------------------------------------------------------------------- verbs
def _check_prune_args(a: argparse.Namespace) -> None:
    """Everything about ``prune``'s arguments that can be checked before torch or the model loads."""
    from compiler.checkpoint import (
        check_block_against_config,
        check_sparsity,
        parse_block,
        read_config,
        resolve_model,
    )
    from compiler.outputs import check_output_dir
    from compiler.prune import METHODS, calib, check_recovery_args

    if a.method not in METHODS:
        raise UserError(f"unknown pruning method '{a.method}' (choose from {', '.join(METHODS)})")
    check_sparsity(a.sparsity)
    block = parse_block(a.block)
    check_recovery_args(a.steps, a.batch, a.time_budget, a.lr, a.pruning_steps, a.method)
    ref = resolve_model(a.model)
    if ref.kind == "onnx":
        raise UserError(
            f"{ref.path} is an ONNX file; pruning needs a Hugging Face checkpoint folder (or 'minilm')"
        )
    check_output_dir(a.output, a.force, source=ref.path)
    check_block_against_config(ref.path, block)
    calib.calibration_length(read_config(ref.path), a.max_len)
    calib.load_data(a.data)  # a missing, empty, binary or header-less file; 'vader' not fetched


@contextlib.contextmanager
def _step_bar() -> Iterator[Callable[[int, int, float], None]]:
    """A progress bar for fine-tuning steps with the loss (one bar per fine-tune run)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    cols = (
        TextColumn("fine-tune"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
    )
    with Progress(*cols, TimeElapsedColumn(), transient=False) as bar:
        task: list[Any] = []

        def step(k: int, steps: int, loss: float) -> None:
            if k == 1 or not task:
                task[:] = [bar.add_task("fine-tune", total=steps, loss="-")]
            bar.update(task[0], completed=k, loss=f"{loss:.4f}")

        yield step


def cmd_prune(a: argparse.Namespace) -> int:
    _check_prune_args(a)
    from compiler.prune.command import run_prune

    with _step_bar() as on_step:
        rep = run_prune(
            a.model,
            Path(a.output),
            a.method,
            a.sparsity,
            a.block,
            data=a.data,
            steps=a.steps,
            seed=a.seed,
            force=a.force,
            progress=_progress_printer(False),
            batch=a.batch,
            max_len=a.max_len,
            time_budget=a.time_budget,
            on_step=on_step,
            lr=a.lr,
            pruning_steps=a.pruning_steps,
        )
    c = _console()
    c.print(
        f"pruned {a.model} with {a.method}: weight sparsity {rep['achieved_sparsity']:.4f}, "
        f"block sparsity {rep['achieved_block_sparsity']:.4f} -> {a.output}"
    )
    rec = rep.get("recovery") or {}
    if rec.get("steps_done"):
        best = (
            f", best validation loss {rec['best_val_loss']} at step {rec['best_step']}"
            if "best_step" in rec
            else ""
        )
        cut = " (stopped at the time budget)" if rec.get("stopped_at_time_budget") else ""
        c.print(f"fine-tuning: {rec['steps_done']} steps of {rep['batch']} sentences{best}{cut}")
    fid = rep.get("fidelity") or {}
    if fid:
        c.print(
            "fidelity to the dense model (held-out sentences): "
            + ", ".join(f"{k} {v:.4f}" for k, v in fid.items() if isinstance(v, float))
        )
    return 0


def cmd_compile(a: argparse.Namespace) -> int:
    from compiler.checkpoint import (
        check_block_against_config,
        check_head,
        parse_block,
        read_config,
        resolve_model,
    )
    from compiler.outputs import check_output_dir

    block = parse_block(a.block)
    ref = resolve_model(a.model)  # cheap checks first: no torch, no weights loaded yet
    check_output_dir(a.output, a.force, source=ref.path)
    if ref.kind == "hf":
        check_head(read_config(ref.path))
        check_block_against_config(ref.path, block)
    from compiler.pipeline import CompileOptions, compile_model

    opts = CompileOptions(
        seq_len=a.seq_len,
        block=block,
        board=a.board,
        calib=a.calib,
        force=a.force,
        csim=not a.no_csim,
        hls=not a.no_hls,
        debug=a.debug,
    )
    report = compile_model(a.model, Path(a.output), opts, _progress_printer(a.quiet))
    _print_summary(Path(a.output), report)
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from compiler.inspect import inspect_project

    _console().print(inspect_project(Path(a.project)))
    return 0


def cmd_csim(a: argparse.Namespace) -> int:
    import numpy as np

    from compiler.backends.hls.command import run_csim
    from compiler.ir.io import load_graph
    from compiler.outputs import require_writable, update_report
    from compiler.project import check_project

    project = Path(a.project)
    check_project(project, hls=True)
    require_writable(project, "csim records its result in report.json")
    graph = load_graph(project / "ir")
    gi = project / "golden_inputs.npz"
    if not gi.exists():
        raise UserError(f"{project} has no golden_inputs.npz: incomplete project, recompile it")
    with np.load(gi, allow_pickle=False) as z:
        feeds = {k: z[k] for k in z.files}
    res = run_csim(project, graph, feeds)
    update_report(project, {"csim": res})
    _console().print(
        f"csim: passed={res['passed']} mismatches={res['mismatches']} inputs={res['inputs']} ({res['seconds']:.1f} s)"
    )
    return 0 if res["passed"] else 1


def cmd_run(a: argparse.Namespace) -> int:
    from runtime.text import run_text

    out = run_text(
        Path(a.project), a.text, backend=a.backend, xclbin=a.xclbin, board=a.board, device=a.device
    )
    _console().print(out)
    return 0


def cmd_rtlsim(a: argparse.Namespace) -> int:
    from compiler.backends.rtl.command import run_rtlsim
    from compiler.outputs import require_writable, update_report
    from compiler.project import check_project

    check_project(Path(a.project))
    require_writable(Path(a.project), "rtlsim writes its build and report.json there")
    res = run_rtlsim(
        Path(a.project),
        a.layer,
        chained=not a.per_op,
        sequences=a.sequences,
        lanes=a.lanes,
        package_only=a.package_only,
    )
    if res.get("scope") == "package":
        update_report(Path(a.project), {"vitis_package": res})
        _console().print(
            f"accelerator RTL and Vitis package written (not simulated): {res['vitis']} (docs/deploy.md)"
        )
        if a.synth:
            _synth_accel(a)
        return 0
    if res.get("scope") == "accelerator":
        _console().print(
            f"accelerator: {res['mismatches']} mismatches over {res['sequences']} sequence(s); "
            f"{res['cycles']} cycles = {res['latency_ms']} ms at {res['clock_mhz']:g} MHz (simulated), "
            f"model {res['model_cycles']} ({res['model_error']:+.2%}); weight load {res['load_cycles']} cycles"
        )
    update_report(Path(a.project), {"rtlsim": res})
    _console().print(" ".join(f"{k}={v}" for k, v in res.items() if not isinstance(v, dict | list)))
    if a.synth and res.get("scope") == "accelerator":
        _synth_accel(a)
    elif a.synth:
        from compiler.backends.rtl.linear import plan_from_node
        from compiler.backends.rtl.synth import synth_resources
        from compiler.ir.io import load_graph

        graph = load_graph(Path(a.project) / "ir")
        layer = a.layer if a.layer is not None else graph.layers()[0]
        node = graph.find(layer, "q") or next(n for n in graph.nodes if n.op == "linear" and n.layer == layer)
        resources = synth_resources(plan_from_node(graph, node))
        resources["op"] = node.name
        update_report(Path(a.project), {"rtl_resources": resources})
        _console().print(
            "rtl_resources ("
            + node.name
            + "): "
            + " ".join(
                f"{k}={v}" for k, v in resources.items() if k in ("LUT", "FF", "DSP", "BRAM", "seconds")
            )
        )
    return 0 if res.get("passed") else 1


def _synth_accel(a: argparse.Namespace) -> None:
    """``rtlsim --synth`` on the whole accelerator: Yosys resources by parts -> report.json rtl_resources."""
    from compiler.backends.rtl.command import synth_project
    from compiler.ir.io import load_graph
    from compiler.outputs import update_report

    project = Path(a.project)
    res = synth_project(project, load_graph(project / "ir"), lanes=a.lanes, timeout_s=a.synth_timeout)
    update_report(project, {"rtl_resources": res})
    line = " ".join(f"{r}={res[r]:g}" for r in ("lut", "ff", "dsp", "bram", "uram"))
    fits = res.get("fits_80pct")
    where = f"; within 80 % of the {res['board']}: {all(fits.values())}" if fits else ""
    _console().print(
        f"rtl_resources (whole accelerator, Yosys by parts): {line}{where} ({res['seconds']:g} s)"
    )


def _print_summary(project: Path, report: dict[str, Any]) -> None:
    from rich.table import Table

    from compiler.inspect import inspect_project

    c = _console()
    c.print(inspect_project(project))
    t = Table(title="summary", show_header=False)
    ch = report["checks"]
    m = report["model"]
    t.add_row(
        "model",
        f"{m['name']} ({m['arch']}, {m['layers']} layers, hidden {m['hidden']}, {m['heads']} heads, seq {m['seq_len']})",
    )
    t.add_row("onnx vs torch (max abs)", f"{ch.get('onnx_vs_torch_max_abs', float('nan')):.2e}")
    t.add_row("golden float vs onnxruntime (max abs)", f"{ch['golden_float_vs_onnx_max_abs']:.2e}")
    t.add_row(
        "golden int vs float (mean cosine)",
        f"{ch['golden_int_vs_float_cosine']:.4f} over {ch['golden_int_vs_float_inputs']} inputs",
    )
    sp = report["sparsity"]
    t.add_row("weight / block sparsity", f"{sp['weight']:.3f} / {sp['block']:.3f}")
    t.add_row(
        "dropped heads / neurons / layers",
        f"{sp['dropped_heads']} / {sp['dropped_neurons']} / {sp['dropped_layers']}",
    )
    hls = report.get("hls", {})
    if "expected_cycles" in hls:
        t.add_row(
            "HLS C++ expected (not synthesized)",
            f"{hls['expected_cycles']['total']:,} cycles = {hls['expected_latency_ms']:.3f} ms at "
            f"{hls['clock_mhz']} MHz per sequence (its loop structure; not the RTL's number)",
        )
    if "csim" in report:
        cs = report["csim"]
        t.add_row(
            "C simulation",
            f"passed={cs['passed']} mismatches={cs['mismatches']} on {cs['inputs']} inputs ({cs['seconds']:.1f} s)",
        )
    t.add_row("compile time", f"{report['timing']['compile_s']:.1f} s")
    t.add_row("report", str(project / "report.json"))
    c.print(t)


# -------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="sparsehls",
        description="Compile pruned BERT-family encoders to block-sparse Vitis HLS projects.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    p.add_argument("--debug", action="store_true", help="show tracebacks and run IR verification everywhere")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    s = sub.add_parser("prune", help="prune a checkpoint (writes a normal HF checkpoint)")
    s.add_argument("model", help="checkpoint folder or 'minilm'")
    s.add_argument("-o", "--output", required=True)
    s.add_argument(
        "--method",
        default="magnitude",
        help="magnitude | balanced | block-lasso | pgb | obert | ae (docs/pruning.md)",
    )
    s.add_argument("--sparsity", type=float, required=True)
    s.add_argument("--block", default="16x16")
    s.add_argument(
        "--data",
        default=None,
        help="distillation text: 'vader' (make data) or a TSV/CSV/JSONL file with a text column (optional label)",
    )
    s.add_argument(
        "--steps",
        type=int,
        default=None,
        help="fine-tune steps; obert without --pruning-steps: pruning steps of its gradual schedule (3; 1 = one-shot); docs/pruning.md",
    )
    s.add_argument("--batch", type=int, default=8, help="sentences per distillation step (8)")
    s.add_argument(
        "--max-len", type=int, default=None, help="tokens per sentence (64, or the model's positions)"
    )
    s.add_argument("--time-budget", type=float, default=None, help="seconds after which fine-tuning stops")
    s.add_argument(
        "--lr", type=float, default=None, help="distillation learning rate (AdamW peak; docs/pruning.md)"
    )
    s.add_argument(
        "--pruning-steps",
        type=int,
        default=None,
        help="pgb / obert: prune gradually in K selections on a cubic schedule (pgb: 1, one-shot)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true", help="replace an existing output folder")
    s.set_defaults(fn=cmd_prune)

    s = sub.add_parser(
        "compile", help="checkpoint -> verified ONNX -> block-sparse integer IR -> HLS project"
    )
    s.add_argument("model", help="checkpoint folder, .onnx file or 'minilm'")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--seq-len", type=int, default=128)
    s.add_argument("--block", default="16x16")
    s.add_argument("--board", default="u250")
    s.add_argument("--calib", type=int, default=32, help="calibration inputs")
    s.add_argument("--no-csim", action="store_true", help="skip C simulation")
    s.add_argument("--no-hls", action="store_true", help="stop after the IR and golden data (no HLS project)")
    s.add_argument("--force", action="store_true", help="replace an existing output folder")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(fn=cmd_compile)

    s = sub.add_parser("inspect", help="per-layer table of a compiled project")
    s.add_argument("project")
    s.set_defaults(fn=cmd_inspect)

    s = sub.add_parser("csim", help="C simulation of a compiled project against the golden model")
    s.add_argument("project")
    s.set_defaults(fn=cmd_csim)

    s = sub.add_parser("run", help="run a sentence through a compiled project")
    s.add_argument("project")
    s.add_argument("--text", required=True)
    s.add_argument("--backend", default="golden", help="golden | csim | xrt")
    s.add_argument(
        "--xclbin", default=None, help="xrt: the bitstream (default PROJECT/hls/build/sparsehls.xclbin)"
    )
    s.add_argument(
        "--board", default=None, help="xrt: the card's board; refused unless the project was built for it"
    )
    s.add_argument("--device", type=int, default=None, help="xrt: device index (default 0)")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser(
        "rtlsim",
        help="RTL simulation (Verilator + cocotb) of a compiled project: the whole accelerator (default), "
        "one layer (--layer) or op by op (--per-op)",
    )
    s.add_argument("project")
    s.add_argument(
        "--layer",
        type=int,
        default=None,
        help="simulate only this encoder layer, as one chained RTL module (default: the whole accelerator)",
    )
    s.add_argument(
        "--per-op",
        action="store_true",
        help="simulate the layer's ops one by one on their golden inputs instead of the chained layer module",
    )
    s.add_argument(
        "--sequences",
        type=int,
        default=1,
        help="how many sequences of golden_inputs.npz to run (one ap_start each; default 1)",
    )
    s.add_argument(
        "--lanes",
        type=int,
        default=None,
        help="accelerator: token lanes, a power of two (default: from the schedule's engines, 6 per lane)",
    )
    s.add_argument(
        "--synth",
        action="store_true",
        help="also synthesize with Yosys -> report.json rtl_resources: the whole accelerator (each unit build "
        "once x its instances, plus the glue; many minutes at BERT-base size), or with --layer the layer's Q engine",
    )
    s.add_argument(
        "--synth-timeout",
        type=int,
        default=3600,
        help="--synth: seconds each Yosys run may take (default 3600); past it the command stops (exit 2)",
    )
    s.add_argument(
        "--package-only",
        action="store_true",
        help="write the accelerator's RTL and its Vitis RTL-kernel package (rtlsim/rtl/vitis) without simulating",
    )
    s.set_defaults(fn=cmd_rtlsim)

    from compiler.bench.cli import add_parsers  # bench, report

    add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "fn", None):
        if args.verb is None:
            parser.print_help()
            return 2
    if args.debug:
        args.fn(args)
        return 0
    with _sigterm_interrupts():
        try:
            return int(args.fn(args))
        except UserError as e:
            print(f"sparsehls: error: {e}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            print("sparsehls: interrupted; no output was left behind", file=sys.stderr)
            return 130
        except Terminated:
            print("sparsehls: terminated; no output was left behind", file=sys.stderr)
            return 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that the output folders' cleanup runs as on Ctrl-C."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
