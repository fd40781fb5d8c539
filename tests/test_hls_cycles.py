"""The HLS design's own expected cycles (compiler/backends/hls/cycles.py), against hand-worked cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls import cycles
from compiler.backends.hls.command import generate_hls
from compiler.backends.hls.plan import plan_design
from compiler.hw.boards import get_board
from compiler.perf.model import DDR_LATENCY
from tests.test_hls_project import quantized_graph


def _r64(n: int) -> int:
    return -(-n // 64) * 64


def test_weight_load_is_whole_beats_plus_one_latency() -> None:
    assert cycles.weight_load_cycles(0) == 0
    assert cycles.weight_load_cycles(1) == 1 + DDR_LATENCY
    assert cycles.weight_load_cycles(64) == 1 + DDR_LATENCY
    assert cycles.weight_load_cycles(4096) == 64 + DDR_LATENCY  # one full burst of 64 beats
    assert cycles.weight_load_cycles(4097) == 65 + DDR_LATENCY


def test_linear_image_and_cycles_hand_worked() -> None:
    """l0.q of l1_h32_b1x4: a 32x32 matrix in 1x4 blocks, 8 tokens, one engine."""
    g = quantized_graph("l1_h32_b1x4")
    plan = plan_design(g, get_board("u250"))
    op = next(o for o in plan.ops if o.name == "l0.q")
    w = np.asarray(g.param(g.node("l0.q"), "weight_q"))
    nnzb = int(np.count_nonzero(np.any(w.reshape(32, 8, 4) != 0, axis=2)))
    assert op.nnzb == nnzb and sum(op.row_blocks) == nnzb and len(op.row_blocks) == 32
    # indptr 33 int32 | indices nnzb int32 | blocks nnzb x 4 int8 | bias, mult, shift 32 int32 each,
    # every section starting on a 64-byte beat
    nbytes = _r64(33 * 4) + _r64(4 * nnzb) + _r64(4 * nnzb) + 128 + 128 + 128
    assert op.image.nbytes == nbytes and op.image.onchip
    assert op.image.offset % 64 == 0 and op.image.beats == nbytes // 64
    sec = {s.name: s for s in plan.image.sections}
    assert op.image.offset == sec["l0.q.indptr"].offset
    assert op.const["IDX_INDPTR"] == 0  # offsets relative to the op's on-chip image
    assert op.const["OFF_BLOCKS"] == sec["l0.q.blocks"].offset - op.image.offset
    # 32 rounds of one block row: PTR (2) + clear (8 slots) + 8 rows out, and per kept block one step
    # of max(1 beat of a 4-byte block, 8 token slots) = 8 cycles
    assert cycles.kernel_cycles(op, 8) == 32 * (2 + 8 + 8) + 8 * nnzb + cycles.LOOP_FILL
    entry = next(e for e in cycles.expected_cycles(plan)["ops"] if e["name"] == "l0.q")
    assert entry["weight_load"] == nbytes // 64 + DDR_LATENCY
    assert entry["total"] == entry["weight_load"] + entry["kernel"] + entry["store"]


def test_ops_add_up_to_the_total_hand_worked() -> None:
    g = quantized_graph("l1_h32_b1x4")  # seq 8, hidden 32, ffn 64, 2 heads
    plan = plan_design(g, get_board("u200"))
    e = cycles.expected_cycles(plan)
    assert e["total"] == e["inputs"] + sum(o["total"] for o in e["ops"])
    assert e["inputs"] == len(plan.inputs) * 8
    assert e["weight_load"] == sum(o["weight_load"] for o in e["ops"])
    by = {o["name"]: o for o in e["ops"]}
    gelu = next(o for o in plan.ops if o.op == "gelu")
    assert by[gelu.name]["kernel"] == 8 * 64 + cycles.LOOP_FILL  # 1 lane, II=1 per element
    assert by[gelu.name]["weight_load"] == 0
    att = next(o for o in plan.ops if o.op == "attention")
    # mask copy (8), then per head and query row: 5 passes over 8 keys, 2 row moves, one division
    assert by[att.name]["kernel"] == 8 + 2 * 8 * (5 * 8 + 2 + cycles.DIV_LATENCY)
    emb = next(o for o in plan.ops if o.op == "embed")
    # per token 3 table rows of 32 bytes (tables start on a beat: a row never straddles one, 1 beat
    # each), one latency each, then 32 elements
    assert by[emb.name]["kernel"] == 8 * (3 * (DDR_LATENCY + 1) + 32) + cycles.LOOP_FILL
    assert by[emb.name]["weight_load"] == 0  # it reads its tables from the port itself
    last = plan.ops[-1]
    assert by[last.name]["store"] == 8 * 32  # the top's copy of last_hidden_state to its port


def test_report_has_its_own_expected_cycles(tmp_path: Path) -> None:
    rep = generate_hls(quantized_graph("l1_h32_b1x4"), tmp_path, "u280")["hls"]
    ec = rep["expected_cycles"]
    assert "not synthesized" in ec["basis"] and "loop structure" in ec["basis"]
    assert rep["expected_latency_ms"] == round(ec["total"] / (rep["clock_mhz"] * 1e3), 4)
    assert rep["weight_port"] == {"bits": 512, "max_read_burst_beats": 64}
    json.dumps(rep)  # report.json material
    top = (tmp_path / "hls/src/sparsehls_top.cpp").read_text()
    assert "const sparsehls::beat_t* w, int n_batch, int n_seq)" in top
    assert "port = w offset = slave bundle = gmem_w" in top and "max_read_burst_length = 64" in top
    assert "w8" not in top and "w32" not in top


@pytest.mark.parametrize("bad", [("w8", "int8_t"), ("w", "int8_t")])
def test_old_weight_ports_are_refused(tmp_path: Path, bad: tuple[str, str]) -> None:
    from compiler.errors import UserError
    from compiler.project import check_interface

    plan = plan_design(quantized_graph("l1_h32_b1x4"), get_board("u250"))
    doc = plan.interface()
    doc["args"] = [{**a, "name": bad[0], "ctype": bad[1]} if a["name"] == "w" else a for a in doc["args"]]
    with pytest.raises(UserError, match="recompile"):
        check_interface(doc, tmp_path / "interface.json")
