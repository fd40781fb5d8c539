"""ScheduleDesign annotates but never changes what the graph computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from irfactory import make_bert_graph, random_feeds, zero_blocks

from compiler.golden import interpreter
from compiler.ir.graph import Graph
from compiler.ir.verify import verify
from compiler.passes.quantize import quantize
from compiler.perf.schedule import schedule
from compiler.perf.schedule_design import ScheduleDesign, schedule_project

# its module fixtures are built once: the module runs on one xdist worker
pytestmark = pytest.mark.xdist_group("test_schedule_pass")


@pytest.fixture(scope="module")
def tiny_quantized() -> tuple[Graph, dict[str, np.ndarray]]:
    g = zero_blocks(make_bert_graph(2, 32, 4, 64, 16, seed=3, block=(4, 4)), 0.6, seed=1)
    feeds = random_feeds(g, 3, seed=2)
    return quantize(g, feeds), feeds


def test_schedule_pass_keeps_outputs(tiny_quantized: tuple[Graph, dict[str, np.ndarray]]) -> None:
    g, feeds = tiny_quantized
    before = interpreter.run(g, feeds, mode="int")[g.outputs[0]]
    new, changed = ScheduleDesign("u250")(g)
    assert changed
    verify(new)
    after = interpreter.run(new, feeds, mode="int")[new.outputs[0]]
    np.testing.assert_array_equal(before, after)
    sched = new.meta["schedule"]
    assert sched["fits"] and all(u <= 0.8 for u in sched["utilization"].values())
    lin = [n for n in new.nodes if n.op == "linear"]
    assert lin and all(n.attrs["engines"] >= 1 and n.attrs["weights"] in ("onchip", "streamed") for n in lin)
    assert all(n.attrs["lanes"] >= 1 for n in new.nodes if n.op in ("attention", "gelu", "layernorm"))
    assert new.params is g.params or all(new.params[k] is g.params[k] for k in g.params)


def test_schedule_project_writes_decisions(
    tiny_quantized: tuple[Graph, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    g, _ = tiny_quantized
    new, est = schedule_project(g, tmp_path, "u55c")
    doc = json.loads((tmp_path / "schedule.json").read_text())
    assert doc["board"] == "u55c" and doc["fits"] and est["board"] == "u55c"
    lin = [n.name for n in new.nodes if n.op == "linear"]
    assert set(lin) <= set(doc["nodes"]) and all(doc["nodes"][n]["engines"] >= 1 for n in lin)


def test_too_small_board_budget_is_refused(tiny_quantized: tuple[Graph, dict[str, np.ndarray]]) -> None:
    from compiler.perf.workload import from_graph

    s = schedule(from_graph(tiny_quantized[0]), "u200", budget=0.001)
    assert not s.fits and "does NOT fit" in s.message


def test_workload_sees_the_embedding_layernorm(tiny_quantized: tuple[Graph, dict[str, np.ndarray]]) -> None:
    """A BERT graph's embedding LayerNorm (role ln_emb) is in the workload, so the model times it;
    a graph without one does not get it."""
    from dataclasses import replace

    from compiler.perf.workload import from_graph

    g = tiny_quantized[0]
    assert any(n.role == "ln_emb" for n in g.nodes) and from_graph(g).embed_ln
    bare = replace(g, nodes=[replace(n, role="ln") if n.role == "ln_emb" else n for n in g.nodes])
    assert not from_graph(bare).embed_ln
