"""docs/numbers.md is generated from the stored results, and the README quotes only what it holds."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBERS_MD = ROOT / "docs" / "numbers.md"


@pytest.fixture(scope="module")
def numbers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_numbers", ROOT / "bench" / "numbers_table.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _section(text: str, title: str) -> str:
    """The Markdown section that starts at heading ``title`` (up to the next heading of its level)."""
    level = re.match(r"#+", title)
    assert level is not None
    start = text.index(title + "\n")
    nxt = re.search(rf"^{level.group()} ", text[start + len(title) :], re.M)
    return text[start : start + len(title) + (nxt.start() if nxt else len(text))]


def _row(text: str, first_cell: str) -> list[str]:
    """The cells of the first table row in ``text`` whose first cell is ``first_cell``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def _quoted_numbers(text: str) -> set[str]:
    """Numbers with a decimal point or a thousands separator: the measured or estimated values."""
    tokens = (t.rstrip(".,") for t in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text))
    return {t for t in tokens if "." in t or "," in t}


def test_numbers_md_is_current(numbers: ModuleType) -> None:
    assert NUMBERS_MD.read_text() == numbers.render(ROOT), "run `python bench/numbers_table.py`"


def test_check_flag_reports_a_stale_table(numbers: ModuleType, tmp_path: Path, monkeypatch, capsys) -> None:
    for folder in (numbers.RESULTS, numbers.HW_DATA):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "docs").mkdir()
    (tmp_path / numbers.OUT).write_text(NUMBERS_MD.read_text().replace("0.3683", "0.3684"))
    monkeypatch.setattr(numbers, "ROOT", tmp_path)
    assert numbers.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not current" in err
    assert numbers.main([]) == 0
    assert numbers.main(["--check"]) == 0


def test_bert_base_u250_estimate_in_its_row() -> None:
    """Read the JSON here, format it by hand, and find it in the BERT-base U250 row."""
    bench = json.loads((ROOT / "bench" / "results" / "bench_bert_base.json").read_text())
    u250 = bench["fpga"]["u250"]
    section = _section(NUMBERS_MD.read_text(), "## BERT-base shape, 90 % 16×16 block sparsity")
    cells = _row(_section(section, "### FPGA latency per board"), "U250")
    assert cells[1] == f"{u250['latency_ms']:.4f}" == "0.3683"
    assert cells[3] == f"{u250['latency_over_limit']:.2f}×"
    assert cells[-1] == "model (estimate, not a simulated or built design)"
    cpu = _row(_section(section, "### CPU baselines"), "onnxruntime fp32")
    assert cpu[1] == f"{bench['cpu']['onnxruntime fp32']['median_ms']:.1f}" == "146.9"
    assert cpu[-1] == "measured"


def test_yosys_unit_row_matches_its_json() -> None:
    name = "rtl_synth_units.json"
    path = ROOT / "compiler" / "hw" / "data" / name
    units = json.loads((path if path.is_file() else ROOT / "bench" / "results" / name).read_text())["units"]
    cells = _row(NUMBERS_MD.read_text(), "`attention_d64`")
    att = units["attention_d64"]
    assert (cells[4], cells[5], cells[6]) == (str(att["DSP"]), f"{att['LUT']:,}", f"{att['LUT_TOTAL']:,}")


def test_readme_headline_numbers_are_in_the_table() -> None:
    readme = (ROOT / "README.md").read_text()
    headline = _section(readme, "## Headline numbers")
    quoted = _quoted_numbers(headline)
    assert len(quoted) >= 5, "the headline section should quote numbers"
    missing = sorted(quoted - _quoted_numbers(NUMBERS_MD.read_text()))
    assert not missing, f"README headline numbers not in docs/numbers.md: {missing}"


def test_quoted_numbers_parser() -> None:
    text = "0.3683 ms, 1.96× the limit; 1,955,194 cycles on 2 cores at 300 MHz (16×16), v2.1."
    assert _quoted_numbers(text) == {"0.3683", "1.96", "1,955,194"}
