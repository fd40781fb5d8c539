"""Every bad input we know of, one row each: exit 2, one line, no traceback, nothing half-written.

A row is (case id, how to spoil a fresh copy of a small compiled project, the
command, a substring of the one-line message).  Add a row for every bug found.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.outputs import MARKER, write_manifest
from tests.clihelp import assert_user_error, run_cli

# its module fixtures are built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("test_bad_input")

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(100)] + ["the", "a", "cat", "sat"]


def add_tokenizer(ckpt: Path, vocab: int) -> Path:
    """A small word-level tokenizer.json (ids < ``vocab``) so that ``run --text`` works on a tiny model."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    ids = {w: i for i, w in enumerate(WORDS[:vocab])}
    tok = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])]
    )
    tok.save(str(ckpt / "tokenizer.json"))
    return ckpt


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint, project): a 2-layer random BERT with a tokenizer, compiled once with HLS, no csim."""
    from ckpts import make_checkpoint

    from compiler.cli import main

    root = tmp_path_factory.mktemp("bad-input")
    ckpt = add_tokenizer(make_checkpoint(root / "ckpt"), 120)
    project = root / "project"
    args = ["compile", str(ckpt), "-o", str(project), "--seq-len", "16", "--block", "4x4", "--calib", "4"]
    assert main([*args, "--no-csim", "-q"]) == 0
    return ckpt, project


# ------------------------------------------------------------- how to spoil
def _write(rel: str, data: bytes | str) -> Callable[[Path, Path], None]:
    def spoil(project: Path, tmp: Path) -> None:
        p = project / rel
        p.write_bytes(data) if isinstance(data, bytes) else p.write_text(data)

    return spoil


def _resigned(rel: str, data: str) -> Callable[[Path, Path], None]:
    """Replace a file and its manifest entry alike: the shape check behind the hash must still catch it."""

    def spoil(project: Path, tmp: Path) -> None:
        (project / rel).write_text(data)
        write_manifest(next(d for d in (project / rel).parents if (d / MARKER).is_file()))

    return spoil


def _delete(rel: str) -> Callable[[Path, Path], None]:
    return lambda project, tmp: (project / rel).unlink()


def _truncate(project: Path, tmp: Path) -> None:
    w = project / "hls" / "weights.bin"
    w.write_bytes(w.read_bytes()[:100])


def _flip(project: Path, tmp: Path) -> None:
    w = project / "hls" / "weights.bin"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))


def _foreign_folder(project: Path, tmp: Path) -> None:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.tex").write_text("years of work")


def _distilbert_classifier(project: Path, tmp: Path) -> None:
    (tmp / "dcls").mkdir()
    cfg = {"model_type": "distilbert", "architectures": ["DistilBertForSequenceClassification"]}
    (tmp / "dcls" / "config.json").write_text(json.dumps(cfg))


def _nothing(project: Path, tmp: Path) -> None:
    pass


def _xclbin(
    kernel: str | None = None, board: str = "u250", metadata: bool = True, swap_args: bool = False
) -> Callable[[Path, Path], None]:
    """Write {tmp}/x.xclbin: the project's kernel unless ``kernel``, for ``board``'s platform."""

    def spoil(project: Path, tmp: Path) -> None:
        from compiler.hw.boards import get_board
        from tests.xclbins import make_xclbin

        itf = json.loads((project / "hls" / "interface.json").read_text())
        args = itf["args"][::-1] if swap_args else itf["args"]
        make_xclbin(tmp / "x.xclbin", kernel or itf["top"], args, get_board(board).platform, metadata)

    return spoil


@dataclass(frozen=True)
class Case:
    id: str
    spoil: Callable[[Path, Path], None]
    args: tuple[str, ...]  # {project}, {ckpt}, {tmp} are filled in
    message: str


CSIM, RUN_CSIM = ("csim", "{project}"), ("run", "{project}", "--text", "the cat", "--backend", "csim")
COMPILE = ("compile", "{ckpt}", "--seq-len", "16", "--block", "4x4", "--no-hls", "-q")
PRUNE = ("prune", "{ckpt}", "-o", "{tmp}/pruned", "--sparsity", "0.5", "--block", "4x4")
RUN_XRT = ("run", "{project}", "--text", "the cat", "--backend", "xrt")
XCLBIN = (*RUN_XRT, "--xclbin", "{tmp}/x.xclbin")

# fmt: off
CASES = [
    # a damaged project: one line naming the file, asking for a recompile
    Case("weights-bin-deleted", _delete("hls/weights.bin"), CSIM, "weights.bin is missing: recompile"),
    Case("weights-bin-truncated", _truncate, CSIM, "weights.bin has 100 bytes"),
    Case("weights-bin-truncated-run", _truncate, RUN_CSIM, "weights.bin has 100 bytes"),
    Case("weights-bin-flipped", _flip, CSIM, "weights.bin changed since it was compiled"),
    Case("weights-bin-flipped-run", _flip, RUN_CSIM, "weights.bin changed"),
    Case("interface-json-corrupt", _write("hls/interface.json", "{nope"), CSIM, "interface.json has 5 bytes"),
    Case("interface-json-corrupt-run", _write("hls/interface.json", "{nope"), RUN_CSIM, "interface.json"),
    Case("interface-json-unreadable", _resigned("hls/interface.json", "{nope"), CSIM, "not readable JSON"),
    Case("interface-json-list", _resigned("hls/interface.json", "[]"), RUN_CSIM, "JSON list, not an object"),
    Case("interface-json-no-args", _resigned("hls/interface.json", '{"top": "t", "max_seq": 16}'), CSIM, "'args'"),
    Case("manifest-deleted", _delete(MARKER), CSIM, "recompile"),
    Case("graph-json-changed", _write("ir/graph.json", "{}"), CSIM, "graph.json has 2 bytes"),
    Case("graph-json-list-inspect", _write("ir/graph.json", "[]"), ("inspect", "{project}"), "graph.json holds a JSON list"),
    Case("graph-json-no-nodes", _resigned("ir/graph.json", '{"sparsehls_ir_version": 1}'), CSIM, "not a sparsehls IR"),
    Case("params-deleted", _delete("ir/params.npz"), ("run", "{project}", "--text", "cat"), "params.npz is missing"),
    Case("report-json-corrupt-inspect", _write("report.json", "{oops"), ("inspect", "{project}"), "report.json is not readable JSON"),
    Case("report-json-corrupt-csim", _write("report.json", "{oops"), CSIM, "report.json is not readable JSON"),
    Case("report-json-corrupt-report", _write("report.json", "{oops"), ("report", "{project}"), "report.json"),
    Case("report-json-list-inspect", _write("report.json", "[1, 2]"), ("inspect", "{project}"), "JSON list, not an object"),
    Case("report-json-list-report", _write("report.json", "[1, 2]"), ("report", "{project}"), "JSON list"),
    # arguments out of range, refused before any work
    Case("rtlsim-layer-minus-1", _nothing, ("rtlsim", "{project}", "--layer", "-1"), "--layer -1 is outside 0..1"),
    Case("rtlsim-layer-too-big", _nothing, ("rtlsim", "{project}", "--layer", "2"), "outside 0..1"),
    Case("rtlsim-no-schedule", _delete("schedule.json"), ("rtlsim", "{project}"), "schedule.json"),
    Case("rtlsim-sequences-0", _nothing, ("rtlsim", "{project}", "--sequences", "0"), "--sequences must be >= 1"),
    Case("rtlsim-lanes-3", _nothing, ("rtlsim", "{project}", "--lanes", "3"), "token lanes must be a power of two"),
    Case("bench-clock-zero", _nothing, ("bench", "{project}", "--clock", "0", "-q"), "--clock 0.0 mhz must be positive"),
    Case("bench-clock-negative", _nothing, ("bench", "{project}", "--clock", "-5", "-q"), "must be positive"),
    # run --backend xrt (the project is built for U250): wrong xclbin, board or no XRT, refused before the card
    Case("xrt-no-xclbin-built", _nothing, RUN_XRT, "xclbin not found"),
    Case("xrt-xclbin-missing", _nothing, (*RUN_XRT, "--xclbin", "{tmp}/none.xclbin"), "none.xclbin"),
    Case("xrt-xclbin-not-an-xclbin", _write("../x.xclbin", b"hello"), XCLBIN, "not a readable xclbin (no xclbin2 header)"),
    Case("xrt-xclbin-other-kernel", _xclbin(kernel="other_top"), XCLBIN, "holds kernel(s) [other_top], not this project's"),
    Case("xrt-xclbin-other-kernel-no-metadata", _xclbin(kernel="other_top", metadata=False), XCLBIN, "another design"),
    Case("xrt-xclbin-other-register-map", _xclbin(swap_args=True), XCLBIN, "this project's takes"),
    Case("xrt-xclbin-other-platform", _xclbin(board="u280"), XCLBIN, "built for platform xilinx_u280"),
    Case("xrt-board-not-built-for", _xclbin(), (*XCLBIN, "--board", "u280"), "built for U250, not U280"),
    Case("xrt-board-unknown", _xclbin(), (*XCLBIN, "--board", "u999"), "unknown board 'u999'"),
    # the right xclbin, but no XRT here: "needs ... pyxrt" (with pyxrt and no card: "XRT: <XRT's answer>")
    Case("xrt-without-xrt", _xclbin(), XCLBIN, "xrt"),
    Case("xclbin-with-csim", _xclbin(), (*RUN_CSIM, "--xclbin", "{tmp}/x.xclbin"), "apply to --backend xrt only"),
    Case("run-unknown-backend", _nothing, ("run", "{project}", "--text", "cat", "--backend", "gpu"), "unknown backend"),
    Case("onnx-unreadable", _write("../mine.onnx", b"\x00garbage"), ("compile", "{tmp}/mine.onnx", "-o", "{tmp}/out", "-q"), "mine.onnx is not a readable onnx"),
    Case("compile-distilbert-classifier", _distilbert_classifier, ("compile", "{tmp}/dcls", "-o", "{tmp}/out", "-q"), "head (pre_classifier + relu) is not supported"),  # fuzz seed 8
    Case("compile-block-too-large", _nothing, (*COMPILE, "-o", "{tmp}/out", "--block", "64x64"), "larger than the model's attention"),
    Case("prune-unknown-method", _nothing, (*PRUNE, "--method", "random"), "unknown pruning method 'random'"),
    Case("prune-sparsity-above-1", _nothing, (*PRUNE, "--sparsity", "1.5"), "sparsity 1.5 is outside"),
    Case("prune-block-too-large", _nothing, (*PRUNE, "--block", "4x128"), "larger than the model's attention"),
    Case("prune-onnx", _write("../m.onnx", b"x"), ("prune", "{tmp}/m.onnx", "-o", "{tmp}/p", "--sparsity", "0.5"), "onnx file"),
    # distillation text and recovery settings: refused before the model loads
    Case("prune-data-missing", _nothing, (*PRUNE, "--data", "{tmp}/none.tsv"), "none.tsv not found"),
    Case("prune-data-empty", _write("../empty.tsv", ""), (*PRUNE, "--data", "{tmp}/empty.tsv"), "empty.tsv is empty"),
    Case("prune-data-blank", _write("../blank.jsonl", "\n \n"), (*PRUNE, "--data", "{tmp}/blank.jsonl"), "is empty"),
    Case("prune-data-binary", _write("../bin.tsv", b"text\n\x00\x01\x02\xff"), (*PRUNE, "--data", "{tmp}/bin.tsv"), "bin.tsv is binary"),
    Case("prune-data-no-header", _write("../raw.tsv", "1\t0.5\thello world\n"), (*PRUNE, "--data", "{tmp}/raw.tsv"), "needs a 'text' column named in its header"),
    Case("prune-data-no-text-field", _write("../d.jsonl", '{"sentence": "hi"}\n'), (*PRUNE, "--data", "{tmp}/d.jsonl"), "no 'text' field"),
    Case("prune-batch-0", _nothing, (*PRUNE, "--batch", "0"), "--batch 0 must be >= 1"),
    Case("prune-lr-0", _nothing, (*PRUNE, "--lr", "0"), "--lr 0.0 must be a learning rate in (0, 1]"),
    Case("prune-lr-2", _nothing, (*PRUNE, "--lr", "2"), "--lr 2.0 must be a learning rate"),
    Case("prune-max-len-above-positions", _nothing, (*PRUNE, "--max-len", "65"), "--max-len 65 is above the model's 64 position embeddings"),
    Case("prune-max-len-0", _nothing, (*PRUNE, "--max-len", "0"), "--max-len 0 must be >= 1"),
    Case("prune-time-budget-0", _nothing, (*PRUNE, "--time-budget", "0"), "must be a positive number of seconds"),
    # output folders that cannot hurt
    Case("output-is-input", _nothing, (*COMPILE, "-o", "{ckpt}", "--force"), "is the input model"),
    Case("output-contains-input", _nothing, (*COMPILE, "-o", "{ckpt}/..", "--force"), "contains the input model"),
    Case("output-inside-input", _nothing, (*COMPILE, "-o", "{ckpt}/out"), "inside the input model"),
    Case("prune-output-is-input", _nothing, (*PRUNE, "-o", "{ckpt}", "--force"), "is the input model"),
    Case("output-empty", _nothing, (*COMPILE, "-o", "", "--force"), "output folder is empty"),
    Case("output-current-folder", _nothing, (*COMPILE, "-o", ".", "--force"), "current folder"),
    Case("output-parent-folder", _nothing, (*COMPILE, "-o", "..", "--force"), "current folder or one of its parents"),
    Case("force-on-foreign-folder", _foreign_folder, (*COMPILE, "-o", "{tmp}/mine", "--force"), "not a sparsehls output"),
]
# fmt: on


def _leftovers(*roots: Path) -> list[Path]:
    return [p for r in roots for p in r.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, compiled, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ckpt_src, project_src = compiled
    work = tmp_path / "work"  # the current folder: an output there would be a bug
    work.mkdir()
    monkeypatch.chdir(work)
    ckpt, project = tmp_path / "models" / "ckpt", tmp_path / "project"
    shutil.copytree(ckpt_src, ckpt)
    shutil.copytree(project_src, project)
    case.spoil(project, tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = [a.format(project=project, ckpt=ckpt, tmp=tmp_path) for a in case.args]
    code, err = run_cli(capsys, *args)
    assert_user_error(code, err, case.message)
    assert _leftovers(tmp_path, tmp_path.parent) == []
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before, "a refused command wrote something"


# ------------------------------------------- cases that need more than a row
def _copy_project(compiled: tuple[Path, Path], tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(compiled[1], project)
    return project


def test_run_text_not_utf8_is_decoded_with_a_warning(compiled, capsys, caplog) -> None:  # type: ignore[no-untyped-def]
    """Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape); the tokenizer took them badly."""
    code, err = run_cli(capsys, "run", str(compiled[1]), "--text", "caf\udce9 the cat")
    assert code == 0, err
    assert "not valid UTF-8" in caplog.text and "Traceback" not in err


def test_run_text_cut_to_the_sequence_length_warns(compiled, capsys, caplog) -> None:  # type: ignore[no-untyped-def]
    code, err = run_cli(capsys, "run", str(compiled[1]), "--text", "the cat sat " * 10)
    assert code == 0, err
    assert "32 tokens long; only the first 16" in caplog.text


def test_csim_on_a_read_only_project(compiled, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Root ignores permissions, so the read-only file system is os.access saying no."""
    import os

    project = _copy_project(compiled, tmp_path)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == project else real(p, m))
    code, err = run_cli(capsys, "csim", str(project))
    assert_user_error(code, err, "cannot write to", "writable")
    assert not (project / "hls" / "csim").exists()


def test_a_crash_in_the_c_simulation_is_one_line(compiled, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The design runs in a forked child: a signal there is an error here, the process lives on."""
    import os
    import signal

    import numpy as np

    from compiler.backends.hls.csim import CsimDesign
    from compiler.errors import UserError
    from compiler.outputs import read_json

    hls = compiled[1] / "hls"
    design = CsimDesign(hls, None, read_json(hls / "interface.json"), np.zeros(8, np.uint8))  # type: ignore[arg-type]
    monkeypatch.setattr(CsimDesign, "_call", lambda *a: os.kill(os.getpid(), signal.SIGSEGV))
    feeds = {a["tensor"]: np.ones((1, 4), np.int32) for a in design.inputs}
    with pytest.raises(UserError, match=r"crashed \(SIGSEGV\).*recompile"):
        design.run(feeds)


def test_prune_vader_not_fetched(compiled, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``--data vader`` before ``make data`` (or offline): one line that says how to get it, nothing written."""
    monkeypatch.setenv("SPARSEHLS_VADER_DIR", str(tmp_path / "no-vader"))
    monkeypatch.chdir(tmp_path)
    args = [a.format(ckpt=compiled[0], tmp=tmp_path) for a in (*PRUNE, "--data", "vader")]
    code, err = run_cli(capsys, *args)
    assert_user_error(code, err, "vader sentences are not in", "make data")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_prune_calibration_fits_a_short_roberta(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Calibration text was cut at 64 tokens whatever the model; RoBERTa's positions start after pad + 1."""
    from ckpts import make_checkpoint

    from compiler.prune.calib import calibration_length

    ckpt = make_checkpoint(
        tmp_path / "rob", family="roberta", layers=1, max_pos=12
    )  # 14 positions, 12 usable
    cfg = json.loads((ckpt / "config.json").read_text())
    assert calibration_length(cfg) == 12
    data = tmp_path / "long.jsonl"
    data.write_text("".join(json.dumps({"text": " ".join(["word"] * 80)}) + "\n" for _ in range(6)))
    out = tmp_path / "pruned"
    args = ["prune", str(ckpt), "-o", str(out), "--sparsity", "0.5", "--block", "4x4", "--data", str(data)]
    code, err = run_cli(capsys, *args)
    assert code == 0, err
    assert (out / MARKER).is_file()


def test_cheap_checks_run_before_torch_loads(compiled, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A wrong method, sparsity or block is refused in a second, not after loading torch and the model."""
    import os
    import subprocess
    import sys

    ckpt = str(compiled[0])
    cases = [
        ["prune", ckpt, "-o", "x", "--method", "nope", "--sparsity", "0.5"],
        ["prune", ckpt, "-o", "x", "--sparsity", "1.5"],
        ["prune", ckpt, "-o", "x", "--sparsity", "0.5", "--block", "64x64"],
        ["prune", ckpt, "-o", "x", "--sparsity", "0.5", "--batch", "0"],
        ["prune", ckpt, "-o", "x", "--sparsity", "0.5", "--max-len", "999"],
        ["prune", ckpt, "-o", "x", "--sparsity", "0.5", "--data", "none.tsv"],
        ["compile", ckpt, "-o", "x", "--block", "64x64"],
    ]
    code = (
        "import sys; from compiler.cli import main\n"
        f"codes = [main(a) for a in {cases!r}]\n"
        "print(codes, 'torch' in sys.modules)"
    )
    root = str(Path(__file__).resolve().parents[1])
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
    )
    assert res.stdout.split("\n")[0] == "[2, 2, 2, 2, 2, 2, 2] False", res.stdout + res.stderr


def test_sigterm_cleans_up_like_ctrl_c(compiled, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "compiler", "compile", str(compiled[0]), "-o", str(out), "--seq-len", "16"]
    proc = subprocess.Popen(
        [*cmd, "--block", "4x4", "--calib", "4", "-q"], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not _leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated; no output was left behind" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_appears_meanwhile_is_not_overwritten(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two runs to one new -o: the second to finish fails instead of silently replacing the first."""
    from compiler.errors import UserError
    from compiler.outputs import atomic_dir

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="appeared while this run was writing"):
        with atomic_dir(out) as tmp:
            (tmp / "mine.txt").write_text("second")
            out.mkdir()  # the other run finished first
            (out / "theirs.txt").write_text("first")
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert _leftovers(tmp_path) == []


def test_force_replaces_only_sparsehls_outputs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from compiler.errors import UserError
    from compiler.outputs import atomic_dir

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    for text in ("one", "two"):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "x.txt").write_text(text)
    assert (out / "x.txt").read_text() == "two" and (out / MARKER).is_file()
    (out / MARKER).unlink()
    with pytest.raises(UserError, match="not a sparsehls output"):
        with atomic_dir(out, force=True) as tmp:
            pass
    assert (out / "x.txt").read_text() == "two"
    assert _leftovers(tmp_path) == []
