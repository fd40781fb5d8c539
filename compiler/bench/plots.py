"""PNG plots of a bench result (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plt_agg() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gpu_bars(res: dict[str, Any]) -> list[tuple[str, float, bool]]:
    """(label, ms, published) per GPU row of a bench result; published rows say so, and say when the model differs."""
    g = res.get("gpu") or {}
    out = []
    for name, r in g.get("rows", {}).items():
        if r["source"] == "published":
            note = "published" if g.get("comparable") else "published,\nBERT-base"
            out.append((f"GPU {name}\n{note}", float(r["latency_ms"]), True))
        else:
            out.append((f"GPU {name}\nmeasured", float(r["latency_ms"]), False))
    return out


def latency_bars(res: dict[str, Any], path: Path) -> Path:
    plt = plt_agg()
    labels, vals, colors, hatches = [], [], [], []
    for name, r in res["cpu"].items():
        labels.append(f"CPU {name}\nmeasured, {res['threads']} thr")
        vals.append(r["median_ms"])
        colors.append("tab:gray")
        hatches.append("")
    for label, ms, published in gpu_bars(res):
        labels.append(label)
        vals.append(ms)
        colors.append("tab:purple")
        hatches.append("//" if published else "")
    for b, e in res["fpga"].items():
        labels.append(f"{b.upper()} est.\n@{e['clock_mhz']:.0f} MHz")
        vals.append(e["latency_ms"])
        colors.append("tab:green" if e["fits"] else "tab:red")
        hatches.append("")
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels)), 4.5))
    for bar, hatch in zip(
        ax.bar(range(len(vals)), vals, color=colors, edgecolor="white"), hatches, strict=True
    ):
        bar.set_hatch(hatch)
    ax.set_yscale("log")
    ax.set_xticks(range(len(vals)), labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("latency per sequence (ms, log)")
    g = res.get("gpu") or {}
    note = (
        ""
        if g.get("comparable", True)
        else "\nGPU rows are BERT-base seq 128, not this model: for scale only"
    )
    ax.set_title(
        f"{res['model']['name']}, seq {res['seq_len']}: CPU measured, GPU (hatched: published), FPGA estimates{note}",
        fontsize=9,
    )
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_vs_sparsity(res: dict[str, Any], path: Path) -> Path:
    plt = plt_agg()
    fig, ax = plt.subplots(figsize=(6, 4))
    sw = res["sparsity_sweep"]
    for b in sw["boards"]:
        ax.plot(
            [p["sparsity"] for p in sw["points"]],
            [p["latency_ms"][b] for p in sw["points"]],
            marker="o",
            label=f"{b.upper()} estimate",
        )
    for name, r in res["cpu"].items():
        ax.axhline(r["median_ms"], ls="--", lw=0.8, color="gray")
        ax.text(0.0, r["median_ms"], f" CPU {name}", fontsize=6, va="bottom")
    ax.set_yscale("log")
    ax.set_xlabel("block sparsity (same shape, uniform)")
    ax.set_ylabel("latency (ms, log)")
    ax.set_title("latency vs sparsity (FPGA: estimates; CPU: measured, dense kernels)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roofline(res: dict[str, Any], board: str, path: Path) -> Path:
    plt = plt_agg()
    e = res["fpga"][board]
    lim = e["limit"]
    peak = lim["peak_gmacs"]
    bw = res["boards"][board]["bandwidth_gbs"]
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [10 ** (i / 10) for i in range(-10, 61)]
    ax.plot(
        xs,
        [min(peak, bw * x) for x in xs],
        color="black",
        label=f"{board.upper()} roof: {peak:.0f} GMAC/s, {bw:.0f} GB/s",
    )
    ai = lim["macs"] / max(lim["bytes_per_seq"], 1)
    ax.plot(
        [ai],
        [e["achieved_gmacs"]],
        "o",
        color="tab:green",
        label=f"design (estimate) {e['achieved_gmacs']:.0f} GMAC/s",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (MAC / off-chip byte)")
    ax.set_ylabel("GMAC/s")
    ax.set_title(f"roofline, {board.upper()} @ {e['clock_mhz']:.0f} MHz (int8, 2 MAC/DSP)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sweep_lines(doc: dict[str, Any], path: Path) -> Path:
    """`sparsehls sweep`: latency estimate vs block sparsity, one line per board/block/seq/clock
    (hollow markers: the design does not fit the board)."""
    plt = plt_agg()
    lines: dict[str, list[dict[str, Any]]] = {}
    for p in doc["points"]:
        clk = "board clock" if p["clock_mhz"] is None else f"{p['clock_mhz']:g} MHz"
        label = f"{p['board'].upper()} {p['block'][0]}x{p['block'][1]} seq {p['seq']} {clk}"
        lines.setdefault(label, []).append(p)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, ps in lines.items():
        ps = sorted(ps, key=lambda p: p["sparsity"])
        line = ax.plot([p["sparsity"] for p in ps], [p["latency_ms"] for p in ps], label=label)[0]
        for p in ps:
            face = line.get_color() if p["fits"] else "none"
            ax.plot(p["sparsity"], p["latency_ms"], "o", mfc=face, mec=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("block sparsity (uniform per matrix)")
    ax.set_ylabel("latency per sequence (ms, log; estimate)")
    m = doc["model"]
    ax.set_title(
        f"{m['name']} ({m['layers']} layers, hidden {m['hidden']}): FPGA estimates; hollow = does not fit",
        fontsize=9,
    )
    ax.legend(fontsize=6, ncol=2 if len(lines) > 8 else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path
