"""The pictures of ``sparsehls report PROJECT``: matplotlib (Agg) PNGs, inlined by ``page.render_html``.

* per-layer cycles: the whole-accelerator simulation's (report.json ``rtlsim``, written by
  ``sparsehls rtlsim PROJECT``) beside the built design's model, or, before any simulation,
  the scheduled design's performance-model estimate alone, labelled "model";
* resources used against the board's fit budget (80 %);
* the kept-block map of every matrix, from the IR's weights;
* latency: the simulated FPGA latency (when simulated) and the scheduled design's model
  estimate against the CPU rows (when a bench.json lies next to the
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

#: where `sparsehls rtlsim PROJECT` (the whole accelerator) records its result in report.json
SIM_KEY = "rtlsim"


def accel_sim(rep: dict[str, Any]) -> dict[str, Any]:
    """The whole-accelerator simulation's record in report.json, or {} (none, or a one-layer run)."""
    sim = rep.get(SIM_KEY) or {}
    return sim if sim.get("scope") == "accelerator" else {}


def simulated_layer_cycles(rep: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """Per layer (simulated cycles, model cycles of the built design), from ``report.json[SIM_KEY]``:
    the simulation counts each layer between the layer datapath's start and done."""
    rows = accel_sim(rep).get("layer_cycles") or []
    return {int(r["layer"]): (int(r["cycles"]), int(r["model_cycles"])) for r in rows}


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt_agg().close(fig)
    return path


def layer_cycles(rep: dict[str, Any], path: Path) -> Path:
    """Cycles per layer: simulated against the built design's model when the whole accelerator was
    simulated, else the scheduled design's performance-model estimate alone (labelled so)."""
    plt = plt_agg()
    e = rep["estimate"]
    sim = simulated_layer_cycles(rep)
    if sim:
        layers = sorted(sim)
        series = [
            ("simulated (RTL of the generated accelerator)", [sim[i][0] for i in layers], "tab:orange"),
            ("model of the built design (accel.accel_cycles)", [sim[i][1] for i in layers], "tab:blue"),
        ]
        clock = float(accel_sim(rep).get("clock_mhz") or e["clock_mhz"])
        what = "simulated vs model"
    else:
        layers = [int(ly["layer"]) for ly in e.get("layers", [])]
        series = [
            (
                "model (performance model of the scheduled design, not built)",
                [int(ly["cycles"]) for ly in e.get("layers", [])],
                "tab:blue",
            )
        ]
        clock = float(e["clock_mhz"])
        what = "model only (run `sparsehls rtlsim PROJECT` for simulated bars)"
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(max(7.0, 0.5 * len(layers) + 2), 3.6))
    w = 0.8 / len(series)
    for k, (label, ys, color) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * w, ys, w, color=color, label=label)
    ax.set_xticks(x, [str(i) for i in layers])
    ax.set_xlabel("encoder layer")
    ax.set_ylabel("cycles")
    ax.set_ylim(0, max([*(v for _, ys, _ in series for v in ys), 1]) * 1.3)  # room for the legend
    ax.set_title(f"cycles per layer, {e['board'].upper()} @ {clock:.0f} MHz: {what}", fontsize=9)
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
    """FPGA simulated (if simulated) and model latency against the CPU rows of ``bench`` (if any) and
    the GPU rows of ``gpu``."""
    plt = plt_agg()
    e = rep["estimate"]
    bars: list[tuple[str, float, str, str]] = []
    for name, r in (bench or {}).get("cpu", {}).items():
        bars.append((f"CPU {name}\nmeasured", float(r["median_ms"]), "tab:gray", ""))
    for label, ms, published in gpu_bars({"gpu": gpu}):
        bars.append((label, ms, "tab:purple", "//" if published else ""))
    sim = accel_sim(rep)
    if sim:
        board = str(sim.get("board") or e["board"]).upper()
        bars.append(
            (f"{board} simulated\n@{sim['clock_mhz']:.0f} MHz", float(sim["latency_ms"]), "tab:orange", "")
        )
    bars.append(
        (
            f"{e['board'].upper()} model\n(scheduled, not built)",
            float(e["latency_ms"]),
            "tab:green",
            "..",
        )
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
        f"latency, seq {e.get('seq_len', '?')}: FPGA simulated / model, GPU (hatched: published){cpu_note}",
        fontsize=9,
    )
    return _save(fig, path)


def prune_quality_series(doc: dict[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """``bench/results/prune_quality.json`` rows as one series per recipe (method, block, steps,
    learning rate and gradual selections when set): sorted (sparsity, probe Spearman, mean cosine
    to dense)."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for r in doc.get("rows", []):
        key = f"{r['method']} {r['block']}" + ("" if r.get("steps") is None else f" {r['steps']} steps")
        key += "" if r.get("lr") is None else f" lr {r['lr']:g}"
        key += "" if (r.get("pruning_steps") or 1) == 1 else f" {r['pruning_steps']} selections"
        out.setdefault(key, []).append(
            (float(r["sparsity"]), float(r["probe_spearman"]), float(r["mean_cosine_to_dense"]))
        )
    return {k: sorted(v) for k, v in sorted(out.items())}


def prune_quality(doc: dict[str, Any], path: Path) -> Path:
    """Probe Spearman and cosine to dense vs sparsity, one line per recipe; the dense model's probe
    and its cosine between unrelated sentences as dashed lines."""
    plt = plt_agg()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, pts in prune_quality_series(doc).items():
        xs = [100 * p[0] for p in pts]
        a1.plot(xs, [p[1] for p in pts], marker="o", label=key)
        a2.plot(xs, [p[2] for p in pts], marker="o", label=key)
    dense = next(iter(doc.get("dense", {}).values()), None)
    if dense is not None:
        a1.axhline(dense["probe_spearman"], ls="--", color="k", label="dense")
        a2.axhline(dense["unrelated_cosine"], ls="--", color="tab:red", label="dense, unrelated sentences")
    a1.set(xlabel="block sparsity (%)", ylabel="probe Spearman (VADER test)", title="sentiment probe")
    a2.set(
        xlabel="block sparsity (%)", ylabel="mean cosine to dense", title="embedding fidelity", ylim=(0, 1.02)
    )
    for ax in (a1, a2):
        ax.legend(fontsize=7)
    return _save(fig, path)
