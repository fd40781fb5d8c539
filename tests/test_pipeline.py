"""The compile driver: runs the stages in order, times each, stops at the first failed check and
leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from ckpts import make_checkpoint

from compiler import pipeline
from compiler.errors import UserError
from compiler.pipeline import Compilation, CompileOptions, Stage, compile_model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "ckpt", layers=1, hidden=16, heads=2, ffn=32)


def _stages(ran: list[str], fail: str = "") -> tuple[Stage, ...]:
    def make(name: str):
        def run(c: Compilation) -> None:
            ran.append(name)
            if name == fail:
                raise UserError(f"stage {name}'s check failed")
            c.report["sparsehls_version"] = "test"
            c.report[name] = True

        return run

    return (
        Stage("one", make("one")),
        Stage("skipped", make("skipped"), lambda opts: not opts.hls),
        Stage("two", make("two")),
        Stage("three", make("three")),
    )


def test_stages_run_in_order_and_are_timed(ckpt: Path, tmp_path: Path, monkeypatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(pipeline, "STAGES", _stages(ran))
    rep = compile_model(str(ckpt), tmp_path / "out", CompileOptions(hls=True))
    assert ran == ["one", "two", "three"]
    assert list(rep["timing"]["stages"]) == ["one", "two", "three"]
    assert (tmp_path / "out" / "report.json").exists()


def test_a_failed_check_stops_the_compile_and_leaves_nothing(ckpt: Path, tmp_path: Path, monkeypatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(pipeline, "STAGES", _stages(ran, fail="two"))
    with pytest.raises(UserError, match="stage two"):
        compile_model(str(ckpt), tmp_path / "out", CompileOptions())
    assert ran == ["one", "two"]
    assert list(tmp_path.iterdir()) == []  # no project, no temporary folder
