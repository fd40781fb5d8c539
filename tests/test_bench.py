"""`run_bench` and `render_report` end to end on a tiny random checkpoint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.bench.command import run_bench
from compiler.bench.report import render_report
from compiler.errors import UserError

# its module fixtures are built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("test_bench")


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


@pytest.fixture(scope="module")
def report_html(bench_out: Path) -> Path:
    return render_report(bench_out / "project")


def test_report_html_is_self_contained(report_html: Path) -> None:
    html = report_html.read_text()
    assert html.count("data:image/png;base64,") == 7
    assert not re.search(r"(src|href)=[\"']https?://", html)
    assert "estimate" in html


def test_report_needs_a_project(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        render_report(tmp_path)


def test_bench_refuses_few_reps(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError):
        run_bench(str(tiny_bert), tmp_path / "x", reps=3)


def test_bench_gpu_rows_are_published_and_not_compared_for_another_model(bench_out: Path) -> None:
    """No CUDA GPU here: NVIDIA's figures, labelled published, shown apart, and no ratio for a tiny model."""
    res = json.loads((bench_out / "bench.json").read_text())
    g = res["gpu"]
    assert g["source"] == "published" and not g["comparable"] and "this model differs" in g["note"]
    assert {r["source"] for r in g["rows"].values()} == {"published"}
    int8 = {k: r["latency_ms"] for k, r in g["rows"].items() if r["precision"] == "int8"}
    assert int8 == {"A100 TensorRT INT8": 0.58, "A30 TensorRT INT8": 0.63, "T4 TensorRT INT8": 1.69}
    assert g["rows"]["T4 TensorRT FP16"]["latency_ms"] == 1.95
    assert res["gpu_ratios"] == {}
    md = (bench_out / "bench.md").read_text()
    assert "published (NVIDIA TensorRT demoBERT, BERT-base seq 128 batch 1 INT8, dense)" in md
    assert (
        "| CPU " not in md.split("GPU, **published**")[1].split("\n\n")[1]
    )  # the GPU table holds GPU rows only


def test_gpu_rows_compared_only_for_bert_base(monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.bench import gpu

    base = {"layers": 12, "hidden": 768}
    assert gpu.comparability(base, 128)[0]
    ok, note = gpu.comparability(base, 64)
    assert not ok and "seq_len 64 (BERT-base 128)" in note
    monkeypatch.setattr(gpu, "cuda_available", lambda: False)
    sec = gpu.gpu_section(base, 128, None, None, 100, 10)
    assert sec["source"] == "published" and sec["comparable"]
    fpga = {"u250": {"latency_ms": 0.5}}
    assert gpu.ratios(sec, fpga)["u250"]["A100 TensorRT INT8 / fpga"] == pytest.approx(0.58 / 0.5)
    row = {"source": "measured", "latency_ms": 2.0, "label": "measured", "precision": "fp16"}
    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    monkeypatch.setattr(gpu, "measured_rows", lambda *a: {"torch fp16 (CUDA)": row})
    sec = gpu.gpu_section({"layers": 2, "hidden": 64}, 16, None, None, 100, 10)
    assert sec["source"] == "measured" and sec["comparable"] and list(sec["rows"]) == ["torch fp16 (CUDA)"]


def _img_payloads(html: str) -> list[bytes]:
    import base64

    srcs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", html)
    assert all(s.startswith("data:image/png;base64,") for s in srcs), srcs
    return [base64.b64decode(s.split(",", 1)[1], validate=True) for s in srcs]


def test_report_images_are_decodable_pngs(report_html: Path) -> None:
    """Every picture of report.html decodes as a PNG of a sensible size (no browser needed)."""
    import io

    from PIL import Image

    html = report_html.read_text()
    payloads = _img_payloads(html)
    assert len(payloads) == 7  # 4 report pictures + bench's latency, sparsity, roofline
    for data in payloads:
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "PNG"
            im.load()  # decodes every pixel
            assert im.width >= 300 and im.height >= 200
            assert len(im.getcolors(1 << 16) or range(1 << 16)) > 2  # not a blank image
    for alt in ("layer cycles", "resources", "block map", "latency"):
        assert f'alt="{alt}"' in html
    assert "published" in html and "no simulated bars yet" in html  # rtlsim has not run on this project


def test_report_shows_the_simulated_latency(bench_out: Path, tmp_path: Path) -> None:
    """Once `sparsehls rtlsim PROJECT` has recorded the whole accelerator, the report leads with its
    simulated latency and labels the scheduled design's estimate as a model of another design (the
    record's shape is the one hw_tests/test_accel.py gets from a real simulation)."""
    from compiler.bench import figures
    from compiler.bench.report import figures_markdown, project_markdown

    rep = json.loads((bench_out / "project" / "report.json").read_text())
    n = len(rep["estimate"]["layers"])
    rep["rtlsim"] = {
        "scope": "accelerator",
        "passed": True,
        "mismatches": 0,
        "bytes": 2048,
        "sequences": 1,
        "tokens": 16,
        "cycles": 12345,
        "model_cycles": 12300,
        "model_error": -0.00365,
        "load_cycles": 999,
        "latency_ms": 0.04938,
        "clock_mhz": 250.0,
        "board": "u250",
        "design": {"lanes": 2},
        "layer_cycles": [{"layer": i, "cycles": 5000 + i, "model_cycles": 4990} for i in range(n)],
    }
    assert figures.simulated_layer_cycles(rep) == {i: (5000 + i, 4990) for i in range(n)}
    md = project_markdown(rep)
    assert "## FPGA latency, simulated (U250 @ 250 MHz" in md and "| latency (simulated) | 0.04938 ms |" in md
    assert "-0.36%" in md and "not the design simulated above" in md
    assert "simulated (the generated accelerator" in figures_markdown(
        rep, {"source": "published", "note": ""}, False
    )
    assert figures.layer_cycles(rep, tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    # a one-layer rtlsim record is not the accelerator's latency
    rep["rtlsim"] = {"scope": "layer", "cycles": 1}
    assert figures.accel_sim(rep) == {} and "simulated (" not in project_markdown(rep)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not on PATH (apt-get install chromium); not part of make setup"
)
def test_report_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    """The page loads in a real browser and every image decodes there (naturalWidth > 0)."""
    probe = (
        "<script>window.addEventListener('load',()=>{const im=[...document.images];"
        "document.body.setAttribute('data-decoded',im.filter(i=>i.complete&&i.naturalWidth>0).length+'/'+im.length)})"
        "</script></body>"
    )
    page = tmp_path / "report.html"
    page.write_text(report_html.read_text().replace("</body>", probe))
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-decoded="7/7"' in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    cmd = [*base, "--window-size=1300,1800", f"--screenshot={shot}", report_html.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_report_plots_pruning_quality(bench_out: Path, tmp_path: Path) -> None:
    """A prune_quality.json next to the project: the report gains the quality-vs-sparsity plot, one
    series per recipe, points in sparsity order."""
    from compiler.bench import figures
    from compiler.bench.report import render_report

    row = {"method": "pgb", "block": "16x16", "steps": 40, "probe_spearman": 0.5, "mean_cosine_to_dense": 0.7}
    doc = {
        "dense": {"minilm": {"probe_spearman": 0.645, "unrelated_cosine": 0.09}},
        "rows": [
            {**row, "sparsity": 0.8},
            {**row, "sparsity": 0.5, "probe_spearman": 0.58, "mean_cosine_to_dense": 0.79},
            {**row, "method": "obert", "steps": None, "sparsity": 0.5},
            {**row, "steps": 300, "lr": 0.003, "pruning_steps": 3, "sparsity": 0.8, "probe_spearman": 0.6},
        ],
    }
    assert figures.prune_quality_series(doc) == {
        "obert 16x16": [(0.5, 0.5, 0.7)],
        "pgb 16x16 40 steps": [(0.5, 0.58, 0.79), (0.8, 0.5, 0.7)],
        "pgb 16x16 300 steps lr 0.003 3 selections": [(0.8, 0.6, 0.7)],
    }
    project = tmp_path / "project"
    shutil.copytree(bench_out / "project", project)
    (tmp_path / "prune_quality.json").write_text(json.dumps(doc))
    html = render_report(project).read_text()
    assert 'alt="pruning quality"' in html and "## Pruning quality" not in html
    assert "Pruning quality" in html
