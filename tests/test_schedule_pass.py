"""ScheduleDesign annotates but never changes what the graph computes."""

from __future__ import annotations

import numpy as np
import pytest
from irfactory import make_bert_graph, random_feeds, zero_blocks

from compiler.golden import interpreter
from compiler.ir.graph import Graph
from compiler.ir.verify import verify
from compiler.passes.quantize import quantize
from compiler.passes.schedule import ScheduleDesign


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
