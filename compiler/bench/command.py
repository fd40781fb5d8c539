"""`sparsehls bench MODEL_OR_PROJECT`: CPU backends measured + FPGA estimates per board, in one run.

Writes bench.json, bench.md, PNG plots and report.html into ``out``.  FPGA
numbers are estimates of the scheduled design (compiler/perf) at the stated
clock; CPU numbers are medians measured in this run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.hw.boards import BOARDS, get_board
from compiler.hw.builds import VARIANTS, Builds
from compiler.hw.costs import design_costs
from compiler.outputs import update_report, write_json
from compiler.perf.schedule import schedule
from compiler.perf.workload import Workload, from_graph

log = logging.getLogger(__name__)
DEFAULT_BOARDS = ["u200", "u250", "u280", "u55c"]
SWEEP = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95]


def is_project(p: Path) -> bool:
    return (p / "ir" / "graph.json").exists()


def estimate_project(
    project: Path, board: str = "u250", clock_mhz: float | None = None, builds: Builds | None = None
) -> dict[str, Any]:
    """Schedule a compiled project for ``board`` and write ``estimate`` + ``schedule`` into its report.json."""
    from compiler.ir.io import load_graph

    wl = from_graph(load_graph(project / "ir"), project.name)
    s = schedule(wl, board, clock_mhz, builds)
    update_report(project, {"estimate": s.estimate, "schedule": s.to_meta()})
    return s.estimate


def _uniform(wl: Workload, sparsity: float) -> Workload:
    """The same shape at another uniform block sparsity (for the sparsity plot)."""
    from dataclasses import replace

    def keep(m: Any) -> Any:
        return replace(m, nnzb=int(round((1 - sparsity) * m.nb * m.kb)))

    layers = tuple(replace(ly, linears=tuple(keep(m) for m in ly.linears)) for ly in wl.layers)
    return replace(wl, layers=layers, tail=tuple(keep(m) for m in wl.tail))


def run_bench(
    model_or_project: str,
    out: Path | None,
    boards: list[str] | None = None,
    seq_len: int = 128,
    reps: int = 10,
    threads: int | None = None,
    clock_mhz: float | None = None,
    builds: Builds | None = None,
    progress: Callable[[str], None] | None = None,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """Measure CPU backends and estimate FPGA boards for a model or a compiled project."""
    from compiler.bench import cpu, gpu
    from compiler.checkpoint import resolve_model
    from compiler.ir.io import load_graph

    step = progress or (lambda s: log.info(s))
    boards = [b.lower() for b in (boards or DEFAULT_BOARDS)]
    for b in boards:
        get_board(b)
    threads = threads or cpu.threads_default()
    if reps < 10:
        raise UserError(f"--reps must be >= 10 (median of at least 10), got {reps}")
    src = Path(model_or_project)
    ckpt: Path | None = None
    timing: dict[str, float] = {}
    if src.is_dir() and is_project(src):
        project = src
        name = src.name
        if checkpoint:
            ckpt = resolve_model(checkpoint).path
    else:
        from compiler.pipeline import CompileOptions, compile_model

        ref = resolve_model(model_or_project)
        if ref.kind == "hf":
            ckpt = ref.path
        name = ref.name
        out = Path(out or f"bench-{name}")
        out.mkdir(parents=True, exist_ok=True)
        project = out / "project"
        step(f"compiling {model_or_project} (IR only, csim skipped) → {project}")
        t0 = time.perf_counter()
        compile_model(
            model_or_project,
            project,
            CompileOptions(seq_len=seq_len, csim=False, hls=False, force=True),
            step,
        )
        timing["compile_s"] = time.perf_counter() - t0
    out = Path(out or f"bench-{name}")
    out.mkdir(parents=True, exist_ok=True)
    graph = load_graph(project / "ir")
    seq = int(graph.meta.get("seq_len", seq_len))
    wl = from_graph(graph, name)

    step("scheduling and estimating each board")
    fpga: dict[str, Any] = {}
    variants: dict[str, dict[str, Any]] = {}
    from compiler.bench.progress import track

    scheds = {}
    for b in track(boards, "scheduling boards"):
        s = scheds[b] = schedule(wl, b, clock_mhz, builds)
        fpga[b] = {**s.estimate, "fits_message": s.message, "schedule": s.to_meta()}
        variants[b] = {}
        for vname, vb in VARIANTS.items():
            sv = schedule(wl, b, clock_mhz, costs=design_costs(wl.block, vb))
            keep = ("latency_ms", "latency_over_limit", "fits", "engines", "dsp", "cost_source")
            variants[b][vname] = {k: sv.estimate[k] for k in keep}
    if "u250" in fpga:
        sb = scheds["u250"]
        update_report(project, {"estimate": sb.estimate, "schedule": sb.to_meta()})

    step("sparsity sweep of the estimate (same shape)")
    points: list[dict[str, Any]] = []
    sweep: dict[str, Any] = {"boards": boards, "points": points}
    for sp in track(SWEEP, "sparsity sweep"):
        w2 = _uniform(wl, sp)
        sweep["points"].append(
            {
                "sparsity": sp,
                "latency_ms": {b: schedule(w2, b, clock_mhz, builds).estimate["latency_ms"] for b in boards},
            }
        )

    cpu_res: dict[str, Any] = {}
    onnx = project / "model.onnx"
    vocab = int(graph.params[graph.nodes[0].params["word"]].shape[0])
    step(f"measuring CPU backends on {threads} threads (round-robin, {reps} runs each after warm-up)")
    load_before = os.getloadavg()
    cpu_all = cpu.measure_all(onnx if onnx.exists() else None, ckpt, seq, vocab, threads, reps)
    cpu_res.update({k: v for k, v in cpu_all.items() if not v.get("dropped_as_slower_sparse_path")})
    model_info = {
        "name": name,
        "layers": len(wl.layers),
        "hidden": wl.hidden,
        "block": list(wl.block),
        "block_sparsity": wl.block_sparsity(),
        "macs": wl.macs(),
        "dense_macs": wl.dense_macs(),
    }
    step("GPU rows (measured on a CUDA GPU if there is one, else NVIDIA's published figures)")
    gpu_res = gpu.gpu_section(model_info, seq, onnx if onnx.exists() else None, ckpt, vocab, reps)
    res: dict[str, Any] = {
        "what": "CPU latencies measured in this run (median, batch 1); FPGA latencies are ESTIMATES of the scheduled design at the stated clock; GPU rows: source measured | published",
        "model": model_info,
        "seq_len": seq,
        "threads": threads,
        "machine": {
            "loadavg_1m_before_after_cpu_timing": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "cpu": cpu_res,
        "cpu_all": cpu_all,
        "gpu": gpu_res,
        "gpu_ratios": gpu.ratios(gpu_res, fpga),
        "fpga": fpga,
        "fpga_variants": variants,
        "boards": {b: asdict(BOARDS[b]) for b in boards},
        "sparsity_sweep": sweep,
        "ratios": _ratios(cpu_res, fpga),
        "timing": timing,
        "project": str(project),
    }
    step("writing bench.json, bench.md, plots, report.html")
    write_outputs(res, out)
    return res


def _ratios(cpu_res: dict[str, Any], fpga: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for b, e in fpga.items():
        out[b] = {f"{k} / fpga": v["median_ms"] / e["latency_ms"] for k, v in cpu_res.items()}
    return out


def write_outputs(res: dict[str, Any], out: Path) -> None:
    from compiler.bench import plots
    from compiler.bench.page import render_html

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bench.json", res)
    pngs = [
        plots.latency_bars(res, out / "latency.png"),
        plots.latency_vs_sparsity(res, out / "sparsity.png"),
    ]
    rb = "u250" if "u250" in res["fpga"] else next(iter(res["fpga"]))
    pngs.append(plots.roofline(res, rb, out / "roofline.png"))
    md = markdown(res)
    (out / "bench.md").write_text(md)
    render_html(md, pngs, out / "report.html", title=f"sparsehls bench: {res['model']['name']}")


def markdown(res: dict[str, Any]) -> str:
    m = res["model"]
    lines = [
        f"# sparsehls bench: {m['name']}",
        "",
        f"{m['layers']} layers, hidden {m['hidden']}, block {m['block'][0]}x{m['block'][1]}, block sparsity {m['block_sparsity']:.1%}, "
        f"seq {res['seq_len']}, batch 1; {m['macs'] / 1e9:.3f} GMAC block-sparse ({m['dense_macs'] / 1e9:.3f} dense).",
        "",
        f"Machine load (1-min load average) around the CPU timing: {res['machine'].get('loadavg_1m_before_after_cpu_timing')} on {res['machine'].get('cpus')} cores: "
        "other jobs share this machine, so absolute CPU times can be inflated; the backends are timed round-robin so they share the same load.",
        "",
        f"CPU: measured in this run, median of {next(iter(res['cpu'].values()))['reps'] if res['cpu'] else 0} after warm-up, {res['threads']} threads, {res['machine']['processor']}.",
        "FPGA: **estimates** of the scheduled design (analytical model, compiler/perf), not measurements; clock as stated; "
        "headline design: the default unit configuration (compiler/hw/builds.py DEFAULT_BUILDS), built in RTL and tested bit-exact. "
        "The variant table below schedules the other built configurations on the same boards.",
        "",
        "| backend | latency (ms) | kind |",
        "|---|---:|---|",
    ]
    for k, v in res["cpu"].items():
        lines.append(f"| CPU {k} | {v['median_ms']:.2f} | measured |")
    for b, e in res["fpga"].items():
        lines.append(f"| {b.upper()} | {e['latency_ms']:.4f} | estimate @ {e['clock_mhz']:.0f} MHz |")
    lines += gpu_markdown(res)
    lines += [
        "",
        "| board | fits (≤80 %) | latency est. (ms) | limit (ms) | latency ÷ limit | seq/s | DSP | LUT | BRAM36 | URAM | engines |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b, e in res["fpga"].items():
        u = e["utilization"]
        lines.append(
            f"| {b.upper()} @ {e['clock_mhz']:.0f} MHz | {'yes' if e['fits'] else 'NO'} | {e['latency_ms']:.4f} | {e['limit_ms']:.4f} | {e['latency_over_limit']:.2f} | "
            f"{e['throughput_seq_s']:.0f} | {e['dsp']} ({u['dsp']:.0%}) | {e['lut']} ({u['lut']:.0%}) | {e['bram']} ({u['bram']:.0%}) | {e['uram']} ({u['uram']:.0%}) | {e['engines']} |"
        )
    first: dict[str, Any] = next(iter(res["fpga"].values()), {})
    g = first.get("gap_to_compute_limit")
    if g:
        lines += [
            "",
            f"Where latency ÷ compute limit comes from ({next(iter(res['fpga'])).upper()}): "
            + " × ".join(f"{v:.2f} ({k.replace('_', ' ')})" for k, v in g.items()),
        ]
    names = list(next(iter(res.get("fpga_variants", {}).values()), {}))
    if names:
        lines += [
            "",
            "Built unit configurations (estimate, ms and ÷ limit):",
            "",
            "| board | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for b, va in res["fpga_variants"].items():
            cells = [
                f"{va[n]['latency_ms']:.4f} ({va[n]['latency_over_limit']:.1f}×{'' if va[n]['fits'] else ', NO fit'})"
                for n in names
            ]
            lines.append(f"| {b.upper()} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Speed-up of the FPGA estimate over each measured CPU backend (CPU latency ÷ FPGA latency):",
        "",
    ]
    for b, r in res["ratios"].items():
        lines.append(
            f"- {b.upper()}: " + ", ".join(f"{k.replace(' / fpga', '')} {v:.0f}×" for k, v in r.items())
        )
    lines += ["", "Fit decisions:", ""] + [f"- {e['fits_message']}" for e in res["fpga"].values()]
    lines += ["", "Physical limit: " + next(iter(res["fpga"].values()))["limit"]["assumes"] + ".", ""]
    lines += ["![latency](latency.png)", "", "![sparsity](sparsity.png)", "", "![roofline](roofline.png)", ""]
    return "\n".join(lines)


def gpu_markdown(res: dict[str, Any]) -> list[str]:
    """The GPU rows: a table of their own, each row saying whether it was measured or quoted."""
    g = res.get("gpu")
    if not g or not g.get("rows"):
        return []
    head = (
        "GPU, measured in this run"
        if g["source"] == "measured"
        else "GPU, **published** figures (not measured here)"
    )
    lines = ["", f"{head}: {g['note']}.", "", "| GPU backend | latency (ms) | source |", "|---|---:|---|"]
    for k, r in g["rows"].items():
        lines.append(f"| {k} | {r['latency_ms']:.2f} | {r['label']} |")
    for b, r in res.get("gpu_ratios", {}).items():
        lines += [
            "",
            f"GPU latency ÷ {b.upper()} estimate: "
            + ", ".join(f"{k.replace(' / fpga', '')} {v:.2f}×" for k, v in r.items()),
        ]
    return lines


def print_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"{res['model']['name']} seq {res['seq_len']}: CPU measured ({res['threads']} threads) vs FPGA estimates"
    )
    for c in ("backend", "latency ms", "kind", "fits", "÷ limit"):
        t.add_column(c)
    for k, v in res["cpu"].items():
        t.add_row(f"CPU {k}", f"{v['median_ms']:.2f}", "measured", "", "")
    for b, e in res["fpga"].items():
        t.add_row(
            b.upper(),
            f"{e['latency_ms']:.4f}",
            f"estimate @ {e['clock_mhz']:.0f} MHz",
            "yes" if e["fits"] else "NO",
            f"{e['latency_over_limit']:.2f}",
        )
    g = res.get("gpu") or {}
    for k, r in g.get("rows", {}).items():
        kind = (
            "measured"
            if r["source"] == "measured"
            else "published" + ("" if g["comparable"] else ", other model")
        )
        t.add_row(f"GPU {k}", f"{r['latency_ms']:.2f}", kind, "", "")
    Console().print(t)


def load_bench(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


__all__ = ["run_bench", "estimate_project", "print_table", "np"]
