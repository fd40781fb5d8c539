"""PNG plots of a bench result (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_bars(res: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    labels, vals, colors = [], [], []
    for name, r in res["cpu"].items():
        labels.append(f"CPU {name}\nmeasured, {res['threads']} thr")
        vals.append(r["median_ms"])
        colors.append("tab:gray")
    for b, e in res["fpga"].items():
        labels.append(f"{b.upper()} est.\n@{e['clock_mhz']:.0f} MHz")
        vals.append(e["latency_ms"])
        colors.append("tab:green" if e["fits"] else "tab:red")
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4))
    ax.bar(range(len(vals)), vals, color=colors)
    ax.set_yscale("log")
    ax.set_xticks(range(len(vals)), labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("latency per sequence (ms, log)")
    ax.set_title(f"{res['model']['name']}, seq {res['seq_len']}: CPU measured vs FPGA estimates")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_vs_sparsity(res: dict[str, Any], path: Path) -> Path:
    plt = _plt()
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
    plt = _plt()
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
