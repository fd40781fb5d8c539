"""Measure C-simulation speed of a generated design against the NumPy golden model.

    python bench/csim_speed.py --layers 2 --hidden 384 --heads 12 --ffn 1536 --seq 128 \
        --block 16 16 --sparsity 0.8 --batch 4 --out bench/results/csim_speed.json

Random-weight BERT-shaped graph (tests/irfactory.py), block-pruned and
quantized; reports build time, seconds per sequence for csim and golden, and
checks that both agree bit for bit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.backends.hls.command import generate_hls, run_csim  # noqa: E402
from compiler.golden import interpreter  # noqa: E402
from compiler.passes.quantize import quantize  # noqa: E402
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=1536)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--block", type=int, nargs=2, default=(16, 16))
    ap.add_argument("--sparsity", type=float, default=0.8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--board", default="u280")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()

    g = make_bert_graph(a.layers, a.hidden, a.heads, a.ffn, a.seq, block=tuple(a.block), seed=1)
    g = zero_blocks(g, a.sparsity, seed=2)
    q = quantize(g, random_feeds(g, 4, seed=3))
    feeds = random_feeds(g, a.batch, seed=4)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        generate_hls(q, Path(d), a.board)
        gen_s = time.perf_counter() - t0
        res = run_csim(Path(d), q, feeds)
    t1 = time.perf_counter()
    interpreter.run(q, feeds, mode="int")
    gold_s = time.perf_counter() - t1
    result = {
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(a).items() if k != "out"},
        "generate_seconds": round(gen_s, 2),
        "build_seconds": res["build_seconds"],
        "csim_seconds_per_sequence": res["seconds_per_input"],
        "golden_seconds_per_sequence": round(gold_s / a.batch, 5),
        "bit_exact": res["passed"],
        "mismatches": res["mismatches"],
    }
    print(json.dumps(result, indent=2))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
