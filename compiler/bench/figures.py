"""The pictures of ``sparsehls report PROJECT``: matplotlib (Agg) PNGs, inlined by ``page.render_html``.

* per-layer cycles of the performance model (labelled "model"), side by side with the
  whole-accelerator simulation's once report.json carries them (:func:`simulated_layer_cycles`);
* resources used against the board's fit budget (80 %);
* the kept-block map of every matrix, from the IR's weights;
* latency: the FPGA estimate against the CPU rows (when a bench.json lies next to the
  project) and the GPU rows (measured, or NVIDIA's published figures, labelled so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compiler.bench.plots import gpu_bars, plt_agg
from compiler.hw.boards import FIT_BUDGET, RESOURCES
from compiler.ir.bsr import block_mask
from compiler.ir.graph import Graph
from compiler.ir.stats import linear_weight, node_block

#: where the whole-accelerator simulation records its per-layer cycle counts in report.json
SIM_KEY = "accelerator_sim"


def simulated_layer_cycles(rep: dict[str, Any]) -> dict[int, int]:
    """Hook for the whole-accelerator RTL simulation: ``report.json[SIM_KEY]["layer_cycles"]``.

    A list of ``{"layer": i, "cycles": n}`` (what the simulation counted between a
    layer's start and done).  Empty until that simulation writes it; the chart then
    shows the model's bars alone.
    """
    rows = (rep.get(SIM_KEY) or {}).get("layer_cycles") or []
    return {int(r["layer"]): int(r["cycles"]) for r in rows}


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt_agg().close(fig)
    return path


def layer_cycles(rep: dict[str, Any], path: Path) -> Path:
    plt = plt_agg()
    e = rep["estimate"]
    layers = e.get("layers", [])
    model = [int(ly["cycles"]) for ly in layers]
    sim = simulated_layer_cycles(rep)
    x = np.arange(len(model))
    fig, ax = plt.subplots(figsize=(max(7.0, 0.5 * len(model) + 2), 3.6))
    w = 0.4 if sim else 0.7
    ax.bar(
        x - (w / 2 if sim else 0),
        model,
        w,
        color="tab:blue",
        label="model (performance model, compiler/perf)",
    )
    if sim:
        ax.bar(
            x + w / 2,
            [sim.get(int(ly["layer"]), 0) for ly in layers],
            w,
            color="tab:orange",
            label="simulated (whole-accelerator RTL)",
        )
    ax.set_xticks(x, [str(ly["layer"]) for ly in layers])
    ax.set_xlabel("encoder layer")
    ax.set_ylabel("cycles")
    ax.set_ylim(0, max([*model, *sim.values(), 1]) * 1.3)  # room for the legend
    what = "model vs simulated" if sim else "model (no accelerator simulation recorded yet)"
    ax.set_title(f"cycles per layer, {e['board'].upper()} @ {e['clock_mhz']:.0f} MHz: {what}", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def resources(rep: dict[str, Any], path: Path) -> Path:
    plt = plt_agg()
    e = rep["estimate"]
    util = e.get("utilization", {})
    names = [r for r in RESOURCES if r in util]
    vals = [100 * float(util[r]) for r in names]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    colors = ["tab:green" if v <= 100 * FIT_BUDGET else "tab:red" for v in vals]
    ax.bar(range(len(vals)), vals, color=colors)
    ax.axhline(100 * FIT_BUDGET, color="black", ls="--", lw=1, label=f"fit budget {FIT_BUDGET:.0%}")
    ax.set_xticks(range(len(vals)), [f"{n.upper()}\n{e.get(n, '')}" for n in names], fontsize=8)
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.1f} %", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, max(100.0, *vals) * 1.1)
    ax.set_ylabel("% of the board")
    ax.set_title(f"resources used (estimate), {e['board'].upper()}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def block_maps(graph: Graph, path: Path) -> Path:
    """One small image per matrix: rows are layers (then the tail), columns the roles; dark = kept block."""
    plt = plt_agg()
    mats = [n for n in graph.nodes if n.op == "linear"]
    rows = sorted({n.layer if n.layer is not None and n.layer >= 0 else 10**6 for n in mats})
    roles = list(dict.fromkeys(n.role or n.name for n in mats))
    fig, axes = plt.subplots(
        len(rows), len(roles), figsize=(1.3 * len(roles) + 0.6, 1.2 * len(rows) + 0.6), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for n in mats:
        tail = n.layer is None or n.layer < 0
        m = block_mask(linear_weight(graph, n), node_block(graph, n))
        ax = axes[rows.index(10**6 if tail else n.layer)][roles.index(n.role or n.name)]
        ax.imshow(m, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_title(f"{n.name if tail else f'L{n.layer} {n.role}'} {m.mean():.0%}", fontsize=6)
    bm, bn = node_block(graph, mats[0]) if mats else (0, 0)
    fig.suptitle(f"kept blocks ({bm}x{bn}) per matrix, dark = kept; % = blocks kept", fontsize=9)
    return _save(fig, path)


def latency(rep: dict[str, Any], bench: dict[str, Any] | None, gpu: dict[str, Any], path: Path) -> Path:
    """FPGA estimate against the CPU rows of ``bench`` (if any) and the GPU rows of ``gpu``."""
    plt = plt_agg()
    e = rep["estimate"]
    bars: list[tuple[str, float, str, str]] = []
    for name, r in (bench or {}).get("cpu", {}).items():
        bars.append((f"CPU {name}\nmeasured", float(r["median_ms"]), "tab:gray", ""))
    for label, ms, published in gpu_bars({"gpu": gpu}):
        bars.append((label, ms, "tab:purple", "//" if published else ""))
    bars.append(
        (f"{e['board'].upper()} est.\n@{e['clock_mhz']:.0f} MHz", float(e["latency_ms"]), "tab:green", "")
    )
    fig, ax = plt.subplots(figsize=(max(6.0, 0.85 * len(bars) + 1), 4.2))
    drawn = ax.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars], edgecolor="white")
    for bar, b in zip(drawn, bars, strict=True):
        bar.set_hatch(b[3])
    ax.set_yscale("log")
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7, rotation=30, ha="right")
    for i, b in enumerate(bars):
        ax.text(i, b[1], f"{b[1]:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("latency per sequence (ms, log)")
    cpu_note = "" if bench else "; no bench.json: no CPU rows"
    if gpu.get("source") == "published" and not gpu.get("comparable"):
        cpu_note += "\nGPU rows are BERT-base seq 128, not this model: for scale only"
    ax.set_title(
        f"latency, seq {e.get('seq_len', '?')}: FPGA estimate, GPU (hatched: published){cpu_note}", fontsize=9
    )
    return _save(fig, path)
