"""`sparsehls report PROJECT_DIR`: a self-contained report.html (tables + plots as base64 PNGs, no network)."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from compiler.errors import UserError
from compiler.outputs import read_json

CSS = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px}img{max-width:100%}"


def _inline(s: str) -> str:
    s = html.escape(s)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)


def md_to_html(md: str, images: dict[str, Path]) -> str:
    """The small Markdown subset bench.md uses: headings, tables, lists, images, paragraphs."""
    out: list[str] = []
    rows: list[str] = []

    def flush() -> None:
        if rows:
            cells = [
                [c.strip() for c in r.strip().strip("|").split("|")]
                for r in rows
                if not re.match(r"^\|[-:| ]+\|$", r.strip())
            ]
            body = "".join(
                "<tr>"
                + "".join(f"<{'th' if i == 0 else 'td'}>{_inline(c)}</{'th' if i == 0 else 'td'}>" for c in r)
                + "</tr>"
                for i, r in enumerate(cells)
            )
            out.append(f"<table>{body}</table>")
            rows.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            rows.append(line)
            continue
        flush()
        m = re.match(r"!\[(.*?)\]\((.*?)\)", line)
        if m:
            p = images.get(m.group(2))
            if p is not None and p.exists():
                b64 = base64.b64encode(p.read_bytes()).decode()
                out.append(f'<p><img alt="{html.escape(m.group(1))}" src="data:image/png;base64,{b64}"></p>')
        elif line.startswith("#"):
            lvl = len(line) - len(line.lstrip("#"))
            out.append(f"<h{lvl}>{_inline(line.lstrip('#').strip())}</h{lvl}>")
        elif line.startswith("- "):
            out.append(f"<ul><li>{_inline(line[2:])}</li></ul>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    return "\n".join(out)


def render_html(md: str, pngs: list[Path], path: Path, title: str) -> Path:
    images = {p.name: p for p in pngs}
    doc = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n{md_to_html(md, images)}\n</body></html>\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(doc)
    tmp.replace(path)
    return path


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
    e = rep.get("estimate")
    if e:
        lines += [
            "",
            f"## FPGA estimate ({e['board'].upper()} @ {e['clock_mhz']:.0f} MHz, estimate, not a measurement)",
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


def render_report(project: Path) -> Path:
    """Write ``project/report.html`` from report.json (+ bench.json next to it, if any)."""
    import tempfile

    from compiler.bench import plots
    from compiler.bench.command import estimate_project, is_project

    project = Path(project)
    rpath = project / "report.json"
    if not rpath.exists():
        raise UserError(f"{project} has no report.json: not a compiled sparsehls project")
    rep = read_json(rpath, "object")
    if "estimate" not in rep and is_project(project):
        estimate_project(project, rep.get("board", "u250"))
        rep = read_json(rpath, "object")
    md = project_markdown(rep)
    pngs: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="sparsehls-report-") as tmp:
        bench = next((p for p in (project / "bench.json", project.parent / "bench.json") if p.exists()), None)
        if bench is not None:
            from compiler.bench.command import markdown

            res = json.loads(bench.read_text())
            md += "\n" + markdown(res)
            rb = "u250" if "u250" in res["fpga"] else next(iter(res["fpga"]))
            pngs = [
                plots.latency_bars(res, Path(tmp) / "latency.png"),
                plots.latency_vs_sparsity(res, Path(tmp) / "sparsity.png"),
                plots.roofline(res, rb, Path(tmp) / "roofline.png"),
            ]
        return render_html(md, pngs, project / "report.html", f"sparsehls report: {project.name}")
