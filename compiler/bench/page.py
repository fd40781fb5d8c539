"""Markdown to a self-contained HTML page (tables, lists, headings, PNGs inlined as base64; no network)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

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
