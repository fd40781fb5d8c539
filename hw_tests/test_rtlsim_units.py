"""run_rtlsim_graph on a quantized BERT layer: the non-linear ops in RTL against the golden trace.

gelu, both residual adds, both LayerNorms and the attention (QK^T, softmax, PV;
2 sequences x 2 heads) of layer 1 of a small random BERT (batch 2, the second
sequence padded: masked keys),
each on its golden input, compared with the golden trace word for word; the
full-rate cycles equal nonlinear.unit_cycles.  Reuses the four unit builds of
test_nonlinear.py (the linear ops are covered by test_rtlsim_command.py).
"""

from __future__ import annotations

import pytest
from conftest import needs_sim

from compiler.backends.rtl.command import NOT_IN_RTL, run_rtlsim_graph
from compiler.passes.quantize import quantize
from tests.irfactory import make_bert_graph, random_feeds

pytestmark = [pytest.mark.sim, needs_sim]


def test_rtlsim_graph_nonlinear_ops(tmp_path, build_root):
    g = quantize(
        make_bert_graph(layers=2, hidden=16, heads=2, ffn=32, seq=8),
        random_feeds(make_bert_graph(layers=2, hidden=16, heads=2, ffn=32, seq=8), 4, seed=1),
    )
    feeds = random_feeds(g, 2, seed=3)
    assert feeds["attention_mask"].min() == 0  # padded keys reach the softmax
    res = run_rtlsim_graph(
        g,
        feeds,
        layer=1,
        workdir=tmp_path,
        build_root=build_root,
        kinds={"gelu", "add", "layernorm", "attention"},
    )
    assert res["passed"] and res["mismatches"] == 0, res
    kinds = sorted(o["kind"] for o in res["ops"])
    assert kinds == ["add", "add", "attention", "gelu", "layernorm", "layernorm"], kinds
    for op in res["ops"]:
        assert op["cycles"] == op["model_cycles"], op
        assert op["words"] > 0 and op["layer"] == 1
    # every other node of the layer is named as not simulated (here: the linears, left out by kinds)
    assert {o["op"] for o in res["ops"]} == set(res["rtl_ops"])
    layer1 = {n.name: n.op for n in g.nodes if n.layer == 1}
    assert set(res["rtl_ops"]) | set(res["golden_only"]) == set(layer1)
    assert {layer1[n] for n in res["golden_only"]} == {"linear"}
    assert res["note"] == NOT_IN_RTL


def test_builds_link_the_shared_verilator_runtime(build_root, tmp_path):
    """A build in a root whose Verilator run-time objects are published links them instead of
    compiling its own (each compile is about 20 s of g++); the model still simulates (every other
    hw test after the first build of a session runs on such a build)."""
    import shutil

    from compiler.backends.rtl import nonlinear, verilate

    nonlinear.build_unit("add", build_root)  # publishes the objects if no build here has yet
    shared = verilate._shared_runtime(build_root)
    assert shared is not None and [p.stem for p in shared] == list(verilate.RUNTIME_OBJS)
    mine = verilate._runtime_dir(tmp_path)
    mine.mkdir()
    for p in shared:
        shutil.copy2(p, mine / p.name)
    d = nonlinear.build_unit("add", tmp_path, {"HMAX": 64})
    assert (d / "int_add").exists()
    assert not list(d.glob("verilated*.o"))
    log = (d / "build.log").read_text()
    assert "verilated.cpp" not in log and str(mine / "verilated.o") in log
