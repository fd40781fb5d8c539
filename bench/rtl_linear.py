"""Measure the RTL block-sparse linear engine: cycles, efficiency, cycle-model error, sim speed.

Runs each case once at full stream rate in Verilator (cocotb), checks every
output word against the integer golden, and writes
bench/results/rtl_linear.json.  Efficiency = ideal cycles (T * nonzero
blocks: MACs / (bm*bn) MAC units) / measured ap_start->ap_done cycles.

    .venv/bin/python bench/rtl_linear.py            # full set (several minutes)
    .venv/bin/python bench/rtl_linear.py --quick    # small set
    .venv/bin/python bench/rtl_linear.py --dsp      # only the PACK / REQ_LANES cases, merged into the file

Every case names its engine: PACK (int8 MACs per multiplier) and REQ_LANES
(shared requant pipelines, default BM); the model is given BM / REQ_LANES
and the kept blocks per block row, so it stays exact.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "hw_tests")]

from cases import random_layer, random_tokens  # noqa: E402

from compiler.backends.rtl import rtlsim, verilate  # noqa: E402
from compiler.backends.rtl.linear import with_engine  # noqa: E402
from compiler.hw import timing  # noqa: E402
from compiler.outputs import write_json  # noqa: E402

OUT = ROOT / "bench" / "results" / "rtl_linear.json"

# (label, block, N, K, sparsity, tokens, empty block rows as a fraction of rows)
MAIN = [
    (f"{bm}x{bn}-384x384-sp{int(sp * 100)}", (bm, bn), 384, 384, sp, 128, 0.0)
    for (bm, bn) in ((4, 4), (8, 8), (16, 16))
    for sp in (0.5, 0.7, 0.9)
]
EXTRA = [
    ("1x4-384x384-sp90", (1, 4), 384, 384, 0.9, 128, 0.0),
    ("4x4-384x1536-sp90 (fc1 shape)", (4, 4), 1536, 384, 0.9, 128, 0.0),
    ("16x16-64x64-sp90 (tiny)", (16, 16), 64, 64, 0.9, 128, 0.0),
    ("8x8-64x64-sp50 (tiny)", (8, 8), 64, 64, 0.5, 128, 0.0),
    ("4x4-384x384-sp90-halfempty (empty block rows)", (4, 4), 384, 384, 0.9, 128, 0.5),
    ("4x4-384x384-sp70-T16 (few tokens)", (4, 4), 384, 384, 0.7, 16, 0.0),
]
QUICK = [
    ("4x4-128x128-sp50", (4, 4), 128, 128, 0.5, 64, 0.0),
    ("16x16-256x256-sp90", (16, 16), 256, 256, 0.9, 64, 0.0),
]
# DSP-saving engines: (label, block, N, K, sparsity, tokens, empty fraction, PACK, REQ_LANES).
# The weights are those of the MAIN / EXTRA case of the same label stem (same seed).
DSP = [
    ("16x16-384x384-sp50 pack2 rq4", (16, 16), 384, 384, 0.5, 128, 0.0, 2, 4),
    ("16x16-384x384-sp70 pack2 rq4", (16, 16), 384, 384, 0.7, 128, 0.0, 2, 4),
    ("16x16-384x384-sp90 pack2 rq4", (16, 16), 384, 384, 0.9, 128, 0.0, 2, 4),
    ("16x16-384x384-sp90 pack2 rq1", (16, 16), 384, 384, 0.9, 128, 0.0, 2, 1),
    ("8x8-384x384-sp90 pack2 rq2", (8, 8), 384, 384, 0.9, 128, 0.0, 2, 2),
    ("4x4-384x384-sp90 pack2 rq1", (4, 4), 384, 384, 0.9, 128, 0.0, 2, 1),
]


def _seed_index(label: str) -> int:
    """Index of the MAIN + EXTRA case whose weights a DSP case reuses (seed = 100 + index)."""
    stem = label.split(" pack")[0]
    return next(i for i, c in enumerate(MAIN + EXTRA) if c[0] == stem)


def run(cases: list, build_root: Path, work: Path, seeds: list[int] | None = None) -> list[dict]:
    rows = []
    for i, case in enumerate(cases):
        label, block, n, k, sp, tokens, empty_frac = case[:7]
        pack, rq = case[7:9] if len(case) > 7 else (1, None)
        j = i if seeds is None else seeds[i]
        nb = -(-n // block[0])
        empty = tuple(range(0, nb, 2)) if empty_frac else ()
        plan = random_layer(seed=100 + j, n=n, k=k, block=block, sparsity=sp, empty_rows=empty, tt=4)
        plan = with_engine(plan, pack, rq)
        x = random_tokens(200 + j, tokens, k)
        t0 = time.perf_counter()
        res = rtlsim.run_case(plan, [(x, None)], work / f"case{i}", build_root)
        wall = time.perf_counter() - t0
        shape = rtlsim.shape_of(plan)
        cycles = res["runs"][0]["cycles"]
        model = timing.linear_cycles(
            tokens, shape.nb, shape.kb, plan.nnzb, plan.tt, rq_cycles=plan.rq_cycles, row_nnz=plan.row_nnz
        )
        ideal = plan.ideal_cycles(tokens)
        row = {
            "case": label,
            "block": list(block),
            "pack": plan.pack,
            "req_lanes": plan.rq_lanes,
            "n": n,
            "k": k,
            "tokens": tokens,
            "tt": plan.tt,
            "sparsity_target": sp,
            "block_sparsity": round(1 - plan.nnzb / (plan.nb * plan.kb), 4),
            "empty_block_rows": int((plan.row_nnz == 0).sum()),
            "nnzb": plan.nnzb,
            "passed": res["passed"],
            "mismatches": res["mismatches"],
            "cycles": cycles,
            "ideal_cycles": ideal,
            "efficiency": round(ideal / cycles, 4) if ideal else None,
            "model_cycles": model,
            "model_error": round((model - cycles) / cycles, 5),
            "sim_seconds": round(res["seconds"], 2),
            "sim_cycles_per_second": round(cycles / res["seconds"]),
            "wall_seconds_with_build": round(wall, 1),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--dsp", action="store_true", help="only the PACK / REQ_LANES cases, merged into the file"
    )
    # sim_build/ is git-ignored: ROM files, logs and Verilator builds stay out of the repo
    ap.add_argument("--work", type=Path, default=ROOT / "hw_tests" / "sim_build" / "bench")
    args = ap.parse_args()
    verilate.setup_verilator()
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    if args.dsp:  # "cases" (default engines, what compiler/perf models) stay as measured
        dsp_rows = run(DSP, args.work / "build", args.work / "dsp", [_seed_index(c[0]) for c in DSP])
        rows = old.get("cases", [])
    else:
        cases = QUICK if args.quick else MAIN + EXTRA
        rows = run(cases, args.work / "build", args.work)
        dsp_rows = old.get("dsp_cases", [])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        OUT,
        {
            "what": "RTL block-sparse linear engine, Verilator + cocotb, full-rate streams",
            "efficiency": "T*nnzb / measured ap_start->ap_done cycles",
            "machine": platform.platform(),
            "cases": rows,
            "dsp_cases_what": "PACK = 2 / REQ_LANES < BM engines (bench/rtl_linear.py --dsp); weights of the "
            "default case with the same label stem; model = linear_cycles(..., rq_cycles, row_nnz)",
            "dsp_cases": dsp_rows,
        },
    )
    bad = [r["case"] for r in rows + dsp_rows if not r["passed"] or abs(r["model_error"]) > 0.02]
    print(f"wrote {OUT}; {len(rows) + len(dsp_rows)} cases, problems: {bad or 'none'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
