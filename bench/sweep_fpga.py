"""FPGA estimate sweeps (analytical model, no compile): sparsity, block size, seq length, model size, boards.

Writes bench/results/sweep_fpga.json so later changes to the scheduler/model
can be compared (``--compare OLD.json`` prints latency changes > 2 %).
Every number is an ESTIMATE at 300 MHz; uniform block sparsity per matrix.

    .venv/bin/python bench/sweep_fpga.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.hw.boards import BOARDS  # noqa: E402
from compiler.hw.builds import DEFAULT_BUILDS  # noqa: E402
from compiler.outputs import write_json  # noqa: E402
from compiler.perf.schedule import schedule  # noqa: E402
from compiler.perf.workload import from_shape  # noqa: E402

OUT = ROOT / "bench" / "results" / "sweep_fpga.json"
MODELS = {"minilm-l6": (6, 384, 12, 1536), "bert-base": (12, 768, 12, 3072)}
SPARSITY = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95]
BLOCKS = [(4, 4), (8, 8), (16, 16), (32, 32)]
SEQS = [64, 128, 256, 512]


def point(model: str, sp: float, block: tuple[int, int], seq: int, board: str, mpd: int = 2) -> dict:
    layers, hidden, heads, ffn = MODELS[model]
    e = schedule(
        from_shape(layers, hidden, heads, ffn, seq, block, sp), board, builds=DEFAULT_BUILDS.with_pack(mpd)
    ).estimate
    keep = (
        "latency_ms",
        "limit_ms",
        "latency_over_limit",
        "fits",
        "engines",
        "dsp",
        "lut",
        "bram",
        "uram",
        "cycles",
    )
    return {
        "model": model,
        "sparsity": sp,
        "block": list(block),
        "seq": seq,
        "board": board,
        "mac_per_dsp": mpd,
        **{k: e[k] for k in keep},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", type=Path, default=None)
    a = ap.parse_args()
    rows = []
    for model in MODELS:
        for board in BOARDS:
            rows += [point(model, sp, (16, 16), 128, board) for sp in SPARSITY]
            rows += [point(model, 0.9, b, 128, board) for b in BLOCKS if b != (16, 16)]
            rows += [point(model, 0.9, (16, 16), s, board) for s in SEQS if s != 128]
        rows.append(point(model, 0.9, (16, 16), 128, "u250", mpd=1))
    for r in rows:
        print(json.dumps(r), flush=True)
    if a.compare and a.compare.exists():
        old = {
            (r["model"], r["sparsity"], tuple(r["block"]), r["seq"], r["board"], r["mac_per_dsp"]): r
            for r in json.loads(a.compare.read_text())["points"]
        }
        for r in rows:
            o = old.get(
                (r["model"], r["sparsity"], tuple(r["block"]), r["seq"], r["board"], r["mac_per_dsp"])
            )
            if o and abs(r["latency_ms"] / o["latency_ms"] - 1) > 0.02:
                print(
                    f"changed: {r['model']} sp{r['sparsity']} {r['block']} seq{r['seq']} {r['board']} mac/dsp {r['mac_per_dsp']}: {o['latency_ms']:.4f} -> {r['latency_ms']:.4f} ms"
                )
    write_json(
        OUT,
        {"what": "FPGA latency ESTIMATES (compiler/perf), 300 MHz, uniform block sparsity", "points": rows},
    )
    print(f"wrote {OUT} ({len(rows)} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
