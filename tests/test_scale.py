"""The fan-out layer (compiler/scale) and `sparsehls sweep` on it: in-process and on a local Ray
(one Ray session shared by the module), failures kept apart, resume, bad input in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compiler.cli import main
from compiler.scale.executor import InProcessExecutor
from compiler.scale.run import run_tasks
from compiler.scale.store import TaskStore
from compiler.scale.tasks import Task, task_seed

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("ray")  # one worker owns the module's Ray session
CALLS: list[int] = []
SMALL = ["--boards", "u250,u55c", "--sparsity", "0,0.9", "--seq", "16", "-q"]


def square(x: int) -> dict[str, int]:
    CALLS.append(x)
    if x == 3:
        raise ValueError(f"x={x} is unlucky")
    return {"x": x, "sq": x * x}


def _tasks(n: int = 5) -> list[Task]:
    return [Task(f"t{i}", square, {"x": i}) for i in range(n)]


@pytest.fixture()
def ckpt(tmp_path: Path) -> Path:
    """A checkpoint as far as the sweep reads one: config.json alone (2 layers, hidden 64)."""
    d = tmp_path / "tiny"
    d.mkdir()
    cfg = {"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 2}
    cfg |= {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
    (d / "config.json").write_text(json.dumps(cfg | {"max_position_embeddings": 64}))
    return d


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[Any]:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'sparsehls[scale]')")
    from compiler.scale.executor import RayExecutor

    ex = RayExecutor(num_cpus=2)
    yield ex
    ex.close()


# ------------------------------------------------------------------ the layer
def test_a_task_that_raises_is_reported_and_the_rest_complete(tmp_path: Path) -> None:
    CALLS.clear()
    store = TaskStore(tmp_path / "tasks")
    s = run_tasks(_tasks(), InProcessExecutor(), store, show=False)
    assert (s.total, s.done, s.skipped) == (5, 4, 0)
    assert [(f["key"], f["inputs"]) for f in s.failed] == [("t3", {"x": 3})]
    assert s.failed[0]["error"] == "ValueError: x=3 is unlucky" and "square" in s.failed[0]["traceback"]
    rec = store.get("t4")
    assert rec is not None and rec["seconds"] >= 0
    assert {k: rec[k] for k in ("key", "inputs", "ok", "result")} == {
        "key": "t4",
        "inputs": {"x": 4},
        "ok": True,
        "result": {"x": 4, "sq": 16},
    }
    assert not list(tmp_path.rglob("*.tmp"))


def test_resume_skips_finished_tasks(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks")
    CALLS.clear()
    run_tasks(_tasks(), InProcessExecutor(), store, show=False)
    assert sorted(CALLS) == [0, 1, 2, 3, 4]
    CALLS.clear()
    s = run_tasks(_tasks(), InProcessExecutor(), store, show=False)
    assert CALLS == [3] and s.skipped == 4  # only the failed one runs again
    store.path("t1").unlink()
    store.path("t2").write_text('{"key": "t2", "inp')  # a torn file from elsewhere: run again
    CALLS.clear()
    run_tasks(_tasks(), InProcessExecutor(), store, show=False)
    assert sorted(CALLS) == [1, 2, 3]
    CALLS.clear()
    changed = [Task("t0", square, {"x": 10})]  # same key, other inputs: not the stored result
    run_tasks(changed, InProcessExecutor(), store, show=False)
    assert CALLS == [10]


def test_task_seeds_are_deterministic() -> None:
    assert task_seed("u250_sp0.9") == task_seed("u250_sp0.9") != task_seed("u250_sp0.8")
    assert 0 <= task_seed("x", 7) < 2**31


def test_help_compile_and_an_in_process_sweep_never_import_ray(ckpt: Path, tmp_path: Path) -> None:
    code = f"""
import contextlib, io, sys
from compiler.cli import main
import compiler.pipeline
with contextlib.redirect_stdout(io.StringIO()):
    for argv in (["--help"], ["compile", "--help"], ["sweep", "--help"]):
        try:
            main(argv)
        except SystemExit:
            pass
    assert main(["sweep", {str(ckpt)!r}, "-o", {str(tmp_path / "o")!r}, "--boards", "u250", "--sparsity", "0.5", "--seq", "16", "-q"]) == 0
print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------ the sweep
def test_sweep_writes_json_and_plot_and_resumes(
    ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sw"
    assert main(["sweep", str(ckpt), "-o", str(out), *SMALL]) == 0
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["points"]) == 4 and doc["failed"] == []
    assert [(p["board"], p["sparsity"]) for p in doc["points"]] == [
        ("u250", 0.0),
        ("u250", 0.9),
        ("u55c", 0.0),
        ("u55c", 0.9),
    ]
    assert all(p["latency_ms"] > 0 and isinstance(p["fits"], bool) for p in doc["points"])
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    from compiler.bench import sweep

    calls: list[str] = []
    real = sweep.sweep_point
    monkeypatch.setattr(sweep, "sweep_point", lambda **kw: calls.append(kw["board"]) or real(**kw))
    before = (out / "sweep.json").read_bytes()
    capsys.readouterr()
    assert main(["sweep", str(ckpt), "-o", str(out), *SMALL]) == 0
    assert calls == [] and "4 stored before, 0 run" in capsys.readouterr().out
    assert (out / "sweep.json").read_bytes() == before


def test_sweep_task_failure_is_reported_and_exit_1(
    ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.bench import sweep

    real = sweep.sweep_point

    def flaky(**kw: Any) -> dict[str, Any]:
        if kw["board"] == "u55c" and kw["sparsity"] == 0.9:
            raise RuntimeError("scheduler blew up")
        return real(**kw)

    monkeypatch.setattr(sweep, "sweep_point", flaky)
    out = tmp_path / "sw"
    assert main(["sweep", str(ckpt), "-o", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert "u55c_sp0.9_b16x16_seq16_clkboard: RuntimeError: scheduler blew up" in err
    assert "'board': 'u55c'" in err and "'sparsity': 0.9" in err and "'block': [16, 16]" in err
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["points"]) == 3 and doc["failed"][0]["inputs"]["board"] == "u55c"
    monkeypatch.setattr(sweep, "sweep_point", real)
    assert main(["sweep", str(ckpt), "-o", str(out), *SMALL]) == 0  # resume runs only the failed one
    assert "3 stored before, 1 run, 0 failed" in capsys.readouterr().out


# ------------------------------------------------------------------ bad input
def _refused(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("sparsehls: error:"), err
    assert not out.exists()  # nothing half-written
    return err[0]


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--sparsity", "0.5,1.5", "outside [0, 1)"),
        ("--sparsity", "0.5,abc", "'abc' is not a number"),
        ("--boards", "u250,u999", "unknown board 'u999'"),
        ("--block", "16y16", "not of the form BMxBN"),
        ("--block", "128x128", "larger than a matrix"),
        ("--seq", "0", "--seq 0 is outside"),
        ("--seq", "65", "--seq 65 is outside [1, 64]"),
        ("--clock", "-5", "--clock -5 MHz"),
        ("--clock", "nan", "not a finite number"),
        ("--boards", " , ", "--boards is empty"),
    ],
)
def test_sweep_refuses_a_bad_axis_value(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, says: str
) -> None:
    out = tmp_path / "sw"
    line = _refused(["sweep", str(ckpt), "-o", str(out), flag, value], out, capsys)
    assert says in line


def test_ray_not_installed_is_one_line(
    ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "sw"
    for extra in (["--ray"], ["--ray-address", "127.0.0.1:1"]):
        line = _refused(["sweep", str(ckpt), "-o", str(out), *SMALL, *extra], out, capsys)
        assert "needs Ray, which is not installed" in line and "sparsehls[scale]" in line


def test_num_cpus_without_ray_is_refused(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sw"
    assert "--num-cpus" in _refused(
        ["sweep", str(ckpt), "-o", str(out), *SMALL, "--num-cpus", "2"], out, capsys
    )


@pytest.mark.ray
def test_unreachable_ray_address_is_one_line(
    ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'sparsehls[scale]')")
    out = tmp_path / "sw"
    argv = ["sweep", str(ckpt), "-o", str(out), *SMALL, "--ray-address", "127.0.0.1:1", "--ray-timeout", "1"]
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in _refused(argv, out, capsys)
    argv[-3] = "no-port-here"
    assert "is not HOST:PORT" in _refused(argv, out, capsys)


# ------------------------------------------------------------------ Ray
@pytest.mark.ray
def test_sweep_on_ray_writes_the_same_json(ckpt: Path, tmp_path: Path, ray_executor: Any) -> None:
    a, b = tmp_path / "inproc", tmp_path / "ray"
    assert main(["sweep", str(ckpt), "-o", str(a), *SMALL]) == 0
    assert main(["sweep", str(ckpt), "-o", str(b), *SMALL, "--ray", "--num-cpus", "2"]) == 0
    assert (a / "sweep.json").read_bytes() == (b / "sweep.json").read_bytes()
    assert sorted(p.name for p in (a / "tasks").iterdir()) == sorted(p.name for p in (b / "tasks").iterdir())


@pytest.mark.ray
def test_ray_task_that_raises_is_reported_and_the_rest_complete(tmp_path: Path, ray_executor: Any) -> None:
    store = TaskStore(tmp_path / "tasks")
    s = run_tasks(_tasks(), ray_executor, store, show=False)
    assert s.done == 4 and [f["key"] for f in s.failed] == ["t3"]
    assert s.failed[0]["error"] == "ValueError: x=3 is unlucky" and s.failed[0]["inputs"] == {"x": 3}
    assert store.get("t4")["result"] == {"x": 4, "sq": 16}  # type: ignore[index]
    again = run_tasks(_tasks(), ray_executor, store, show=False)
    assert again.skipped == 4 and again.done == 0 and len(again.failed) == 1


def test_sweep_reads_a_projects_shape(tmp_path: Path) -> None:
    from irfactory import make_bert_graph

    from compiler.bench.sweep import model_shape
    from compiler.ir.io import save_graph

    proj = tmp_path / "proj"
    save_graph(make_bert_graph(2, 32, 4, 64, 16), proj / "ir")
    assert model_shape(str(proj)) == ("proj", {"layers": 2, "hidden": 32, "heads": 4, "ffn": 64}, None)


def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Tty()
    monkeypatch.setattr(sys, "stderr", term)
    s = run_tasks(_tasks(), InProcessExecutor(), TaskStore(tmp_path / "t"), label="demo")
    import re

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.getvalue())
    assert s.done == 4 and "demo: 1 failed, 0 running" in shown and "5/5" in shown
