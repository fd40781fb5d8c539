"""`sparsehls report PROJECT_DIR`: a self-contained report.html (tables + plots as base64 PNGs, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.bench import figures, gpu, plots
from compiler.bench.command import estimate_project, is_project, markdown
from compiler.bench.page import render_html
from compiler.errors import UserError
from compiler.outputs import read_json


def project_markdown(rep: dict[str, Any]) -> str:
    m = rep.get("model", {})
    lines = [f"# sparsehls report: {m.get('name', '?')}", ""]
    lines += ["| field | value |", "|---|---|"]
    for k in ("arch", "layers", "hidden", "heads", "seq_len", "block"):
        lines.append(f"| {k} | {m.get(k)} |")
    sp = rep.get("sparsity", {})
    lines.append(f"| weight / block sparsity | {sp.get('weight', 0):.3f} / {sp.get('block', 0):.3f} |")
    ch = rep.get("checks", {})
    if "golden_int_vs_float_cosine" in ch:
        lines.append(f"| golden int vs float cosine | {ch['golden_int_vs_float_cosine']:.4f} |")
    for k, v in rep.get("timing", {}).items():
        lines.append(f"| timing {k} | {v} |")
    sim = figures.accel_sim(rep)
    if sim:
        d = sim.get("design", {})
        lines += [
            "",
            f"## FPGA latency, simulated ({str(sim.get('board') or '?').upper()} @ {sim['clock_mhz']:.0f} MHz: "
            "RTL simulation of the generated accelerator, bit-exact against the golden model)",
            "",
            "| quantity | value |",
            "|---|---|",
            f"| latency (simulated) | {sim['latency_ms']:.4g} ms |",
            f"| cycles, ap_start to ap_done | {sim['cycles']} |",
            f"| model cycles of the built design | {sim['model_cycles']} (error {sim['model_error']:+.2%}) |",
            f"| weight load at start-up | {sim['load_cycles']} cycles |",
            f"| output bytes compared / mismatches | {sim.get('bytes', '?')} / {sim['mismatches']} |",
            f"| sequences, tokens | {sim['sequences']}, {sim['tokens']} |",
            f"| token lanes | {d.get('lanes', '?')} |",
        ]
    e = rep.get("estimate")
    if e:
        lines += [
            "",
            f"## FPGA estimate of the scheduled design ({e['board'].upper()} @ {e['clock_mhz']:.0f} MHz, "
            "performance model, not a measurement" + (", not the design simulated above)" if sim else ")"),
            "",
        ]
        lines += ["| quantity | value |", "|---|---|"]
        for k in (
            "cycles",
            "latency_ms",
            "throughput_seq_s",
            "limit_ms",
            "latency_over_limit",
            "dsp",
            "lut",
            "ff",
            "bram",
            "uram",
            "fits",
            "engines",
            "attn_lanes",
            "gelu_lanes",
            "ln_lanes",
            "ln_width",
            "add_lanes",
            "mac_per_dsp",
            "cost_source",
        ):
            v = e.get(k)
            lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
        lines += ["", f"- {rep.get('schedule', {}).get('message', '')}"]
        g = e.get("gap_to_compute_limit")
        if g:
            lines.append(
                "- latency / compute limit = "
                + " x ".join(f"{v:.2f} ({k.replace('_', ' ')})" for k, v in g.items())
            )
        lines += [
            "",
            "| layer | cycles | phase A | phase B | A under previous LN | q in phase B | bottleneck |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for ly in e.get("layers", []):
            lines.append(
                f"| {ly['layer']} | {ly['cycles']} | {ly['phase_a']} | {ly['phase_b']} | {ly.get('overlap', 0)} "
                f"| {'yes' if ly.get('late_q') else 'no'} | {ly['bottleneck']} |"
            )
    mats = rep.get("matrices", [])
    if mats:
        lines += [
            "",
            "## Matrices",
            "",
            "| layer | role | shape | block sparsity | kept blocks |",
            "|---|---|---|---:|---:|",
        ]
        for r in mats:
            lines.append(
                f"| {r['layer']} | {r['role']} | {r['shape'][0]}x{r['shape'][1]} | {r['block_sparsity']:.1%} | {r['nnz_blocks']} |"
            )
    return "\n".join(lines) + "\n"


QUALITY_JSON = "prune_quality.json"  # bench/prune_quality.py's results, next to the project
FIGURES = ("layer_cycles.png", "resources.png", "block_map.png", "report_latency.png")


def figures_markdown(rep: dict[str, Any], gpu_res: dict[str, Any], have_bench: bool) -> str:
    """The pictures' section: what each shows and where its numbers come from."""
    e = rep.get("estimate", {})
    sim = figures.accel_sim(rep)
    lines = [
        "## Pictures",
        "",
        "Cycles per layer: simulated (the generated accelerator, `sparsehls rtlsim`) beside the built "
        "design's model."
        if sim
        else "Cycles per layer from the performance model of the scheduled design (labelled model; "
        f"no simulated bars yet: `sparsehls rtlsim PROJECT` fills report.json {figures.SIM_KEY}).",
        "",
        "![layer cycles](layer_cycles.png)",
        "",
        f"Resources the scheduled design uses on the {e.get('board', '?').upper()}, against the fit budget (80 %), estimate.",
        "",
        "![resources](resources.png)",
        "",
        "Kept blocks of every matrix (from the IR's weights).",
        "",
        "![block map](block_map.png)",
        "",
        (
            "Latency: the simulated FPGA latency, the scheduled design's model estimate"
            if sim
            else "Latency: the FPGA model estimate"
        )
        + (
            ", the CPU rows measured by `sparsehls bench`"
            if have_bench
            else " (run `sparsehls bench` for CPU rows)"
        )
        + f" and the GPU rows ({gpu_res['source']}: {gpu_res['note']}).",
        "",
        "![latency](report_latency.png)",
        "",
    ]
    return "\n".join(lines)


def render_report(project: Path) -> Path:
    """Write ``project/report.html`` from report.json and the IR (+ bench.json and
    prune_quality.json next to it, if any)."""
    import tempfile

    from compiler.ir.io import load_graph

    project = Path(project)
    rpath = project / "report.json"
    if not rpath.exists():
        raise UserError(f"{project} has no report.json: not a compiled sparsehls project")
    rep = read_json(rpath, "object")
    if "estimate" not in rep and is_project(project):
        estimate_project(project, rep.get("board", "u250"))
        rep = read_json(rpath, "object")
    bench_path = next(
        (p for p in (project / "bench.json", project.parent / "bench.json") if p.exists()), None
    )
    res = json.loads(bench_path.read_text()) if bench_path is not None else None
    m = rep.get("model", {})
    gpu_res = (res or {}).get("gpu") or gpu.gpu_section_published(m, int(m.get("seq_len", 0)))
    md = project_markdown(rep)
    with tempfile.TemporaryDirectory(prefix="sparsehls-report-") as tmp:
        t = Path(tmp)
        pngs: list[Path] = []
        if "estimate" in rep:
            md += "\n" + figures_markdown(rep, gpu_res, res is not None)
            pngs += [
                figures.layer_cycles(rep, t / FIGURES[0]),
                figures.resources(rep, t / FIGURES[1]),
                figures.block_maps(load_graph(project / "ir"), t / FIGURES[2]),
                figures.latency(rep, res, gpu_res, t / FIGURES[3]),
            ]
        quality = next(
            (p for p in (project / QUALITY_JSON, project.parent / QUALITY_JSON) if p.exists()), None
        )
        if quality is not None:
            md += (
                "\n## Pruning quality\n\nProbe Spearman and cosine to dense vs sparsity per recipe, from "
                f"`{quality}` (`bench/prune_quality.py`).\n\n![pruning quality](prune_quality.png)\n"
            )
            pngs.append(figures.prune_quality(read_json(quality, "object"), t / "prune_quality.png"))
        if res is not None:
            md += "\n" + markdown(res)
            rb = "u250" if "u250" in res["fpga"] else next(iter(res["fpga"]))
            pngs += [
                plots.latency_bars(res, t / "latency.png"),
                plots.latency_vs_sparsity(res, t / "sparsity.png"),
                plots.roofline(res, rb, t / "roofline.png"),
            ]
        return render_html(md, pngs, project / "report.html", f"sparsehls report: {project.name}")
