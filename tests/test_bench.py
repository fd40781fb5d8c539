"""`run_bench` and `render_report` end to end on a tiny random checkpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compiler.bench.command import run_bench
from compiler.bench.report import render_report
from compiler.errors import UserError


@pytest.fixture(scope="module")
def bench_out(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "b"
    run_bench(str(tiny_bert), out, boards=["u250", "u55c"], seq_len=16, reps=10, threads=1)
    return out


def test_bench_outputs(bench_out: Path) -> None:
    res = json.loads((bench_out / "bench.json").read_text())
    assert {"torch fp32", "onnxruntime fp32", "onnxruntime int8 (dynamic)"} <= set(res["cpu"])
    assert all(v["reps"] >= 10 and v["median_ms"] > 0 for v in res["cpu"].values())
    for b in ("u250", "u55c"):
        e = res["fpga"][b]
        assert e["is_estimate"] and e["clock_mhz"] == 300
        for k in (
            "board",
            "cycles",
            "latency_ms",
            "throughput_seq_s",
            "limit_ms",
            "dsp",
            "lut",
            "bram",
            "uram",
        ):
            assert k in e
        assert e["limit_ms"] > 0
        assert res["ratios"][b]["onnxruntime fp32 / fpga"] == pytest.approx(
            res["cpu"]["onnxruntime fp32"]["median_ms"] / e["latency_ms"]
        )
    md = (bench_out / "bench.md").read_text()
    assert "estimate @ 300 MHz" in md and "measured" in md
    for png in ("latency.png", "sparsity.png", "roofline.png"):
        assert (bench_out / png).read_bytes()[:4] == b"\x89PNG"
    rep = json.loads((bench_out / "project" / "report.json").read_text())
    assert rep["estimate"]["board"] == "u250"


def test_report_html_is_self_contained(bench_out: Path) -> None:
    html = render_report(bench_out / "project").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=[\"']https?://", html)
    assert "estimate" in html


def test_report_needs_a_project(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        render_report(tmp_path)


def test_bench_refuses_few_reps(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError):
        run_bench(str(tiny_bert), tmp_path / "x", reps=3)
