"""``run_rtlsim``: simulate a compiled project in RTL against the golden traces.

Three modes:

* **accelerator** (the default): the whole encoder as one kernel
  (``compiler.backends.rtl.accel``: AXI4-Lite control, AXI4 memory, the weight
  image loaded into on-chip tables, embedding LayerNorm and every layer), driven
  like the XRT host drives it; every output byte is compared with the golden
  last hidden state, and its cycles give the simulated latency;
* **chained** (``layer`` given, the default then): the generated top
  ``encoder_layer_L<n>`` (``compiler.backends.rtl.layer``) runs the whole layer
  -- q, k, v, attention (every head), o, res1, ln1, fc1, gelu, fc2, res2, ln2 --
  from ONE ap_start to ap_done per sequence; its input is the golden trace's
  layer input, every word of its output is compared with the golden ln2
  output, and its cycles are reported next to ``layer.layer_cycles``.
* **per-op** (``chained=False``, or no ``layer``: all layers): every linear,
  attention, gelu, add and layernorm node is simulated on its own, on exactly
  the input the golden trace gives it (ops not chained).

Embed, tanh (pooler) and any other op are NOT in RTL (golden trace only).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compiler.backends.rtl import layer as rtl_layer
from compiler.backends.rtl import nonlinear, rtlsim, verilate
from compiler.backends.rtl.linear import plan_from_node
from compiler.errors import UserError
from compiler.golden import interpreter
from compiler.hw import timing
from compiler.hw.builds import RTL_ENGINE, Builds

if TYPE_CHECKING:
    from compiler.backends.rtl.accel import AccelPlan, UnitWidths
from compiler.ir.graph import Graph, Node

log = logging.getLogger(__name__)

NOT_IN_RTL = (
    "in RTL: linear, attention (QK^T, softmax, PV per head), gelu, add and layernorm, each simulated on its "
    "golden input (ops not chained); not in RTL: embed, tanh and any other op (golden trace only)"
)
CHAINED_NOTE = (
    "in RTL: the whole encoder layer chained in one module (q, k, v, attention per head, o, res1, ln1, fc1, "
    "gelu, fc2, res2, ln2; one ap_start per sequence, input = the golden layer input); not in RTL: embed "
    "and the pooler / tanh (golden trace only)"
)


ACCEL_NOTE = (
    "in RTL: the whole encoder as one kernel (embedding LayerNorm and every layer on one chained layer "
    "datapath, weights loaded over AXI4 into on-chip tables, AXI4-Lite ap_ctrl_hs control); on the host: the "
    "token / position / type gather and the pooler / tanh"
)


def run_rtlsim(
    project: Path,
    layer: int | None = None,
    chained: bool = True,
    sequences: int = 1,
    scope: str | None = None,
    lanes: int | None = None,
    package_only: bool = False,
) -> dict[str, Any]:
    """Simulate a compiled project in RTL (``package_only``: write the whole accelerator's RTL and
    its Vitis package without simulating it, :func:`package_project`).

    No ``layer`` and ``chained`` (or ``scope="accelerator"``): the whole
    accelerator, :func:`run_rtlsim_project`.  With ``layer`` given and
    ``chained``: the chained layer module on
    the first ``sequences`` sequences of the project's golden inputs
    (``golden_inputs.npz``; random ids with a full mask when absent), see
    :func:`run_rtlsim_layer`.  Otherwise the per-op mode of
    :func:`run_rtlsim_graph` (all layers when ``layer`` is None).

    Returns at least {"passed", "mismatches", "cycles", "ideal_cycles",
    "model_cycles", "seconds", "note"}.
    """
    from compiler.ir.io import load_graph

    if sequences < 1:
        raise UserError(f"--sequences must be >= 1, got {sequences}")
    project = Path(project)
    graph = load_graph(project / "ir" if (project / "ir" / "graph.json").exists() else project)
    n_layers = int(graph.meta.get("layers") or max(graph.layers(), default=-1) + 1)
    if layer is not None and not 0 <= layer < n_layers:
        raise UserError(
            f"--layer {layer} is outside 0..{n_layers - 1}: this model has {n_layers} encoder layers"
        )
    whole = scope == "accelerator" or (scope is None and layer is None and chained)
    if package_only:
        if not whole:
            raise UserError("--package-only writes the whole accelerator: drop --layer / --per-op")
        return package_project(project, graph, sequences, lanes)
    if whole:
        return run_rtlsim_project(project, graph, sequences, lanes)
    if layer is not None and chained:
        gi = project / "golden_inputs.npz"
        feeds = None
        if gi.exists():
            with np.load(gi) as z:
                feeds = {k: z[k][:sequences] for k in z.files}
        return run_rtlsim_layer(graph, layer, feeds=feeds, workdir=project / "rtlsim")
    return run_rtlsim_graph(graph, layer=layer, workdir=project / "rtlsim")


def _project_feeds(project: Path, sequences: int) -> dict[str, np.ndarray] | None:
    gi = project / "golden_inputs.npz"
    if not gi.exists():
        return None
    with np.load(gi) as z:
        return {k: z[k][:sequences] for k in z.files}


def _project_accel_args(project: Path, sequences: int, lanes: int | None) -> dict[str, Any]:
    """:func:`run_rtlsim_accel`'s arguments for a compiled project: its board, clock, schedule."""
    import json

    from compiler.backends.rtl import accel

    sched_path = project / "schedule.json"
    if not sched_path.exists():
        raise UserError(f"{project} has no schedule.json: compile it with --board to size the design first")
    sched = json.loads(sched_path.read_text())
    return {
        "feeds": _project_feeds(project, sequences),
        "workdir": project / "rtlsim",
        "board": str(sched.get("board") or ""),
        "clock_mhz": float(sched.get("clock_mhz") or 300.0),
        "schedule": sched,
        "lanes": lanes if lanes is not None else accel.lanes_for_schedule(sched),
        "fit_lanes": lanes is None,
        "builds": Builds.from_meta(sched["builds"]) if isinstance(sched.get("builds"), dict) else None,
    }


def run_rtlsim_project(
    project: Path, graph: Graph, sequences: int = 1, lanes: int | None = None
) -> dict[str, Any]:
    """The whole accelerator of a compiled project, on the board and clock it was scheduled for;
    ``lanes`` token lanes (default :func:`accel.lanes_for_schedule`)."""
    return run_rtlsim_accel(graph, **_project_accel_args(project, sequences, lanes))


def package_project(
    project: Path, graph: Graph, sequences: int = 1, lanes: int | None = None
) -> dict[str, Any]:
    """The whole accelerator of a compiled project planned as :func:`run_rtlsim_project` plans it,
    written (RTL, weights.bin, layout.json, host/, the Vitis package vitis/) but not simulated."""
    return run_rtlsim_accel(graph, simulate=False, **_project_accel_args(project, sequences, lanes))


def plan_accel_for(
    graph: Graph,
    tokens: int,
    board: str = "",
    schedule: Mapping[str, Any] | None = None,
    lanes: int = 1,
    fit_lanes: bool = False,
    builds: Builds | None = None,
    widths: UnitWidths | None = None,
) -> AccelPlan:
    """The accelerator :func:`run_rtlsim_accel` builds for sequences of ``tokens`` tokens: ``lanes``
    token lanes (fewer where ``fit_lanes`` and their tables would not fit ``board``), the schedule's
    element-wise units over them; refused when its tables do not fit ``board``."""
    from compiler.backends.rtl import accel

    if not graph.quantized:
        raise UserError("RTL simulation needs a quantized graph (run the quantize pass first)")
    tmax = max(tokens, int(graph.meta.get("seq_len", 0)))
    if fit_lanes and board:  # fewer lanes where their copies of the tables would not fit the board
        lanes = accel.fitting_lanes(accel.plan_accel(graph, max_tokens=tmax, builds=builds), board, lanes)
    if widths is None and schedule is not None:  # the schedule's element-wise units over the lanes
        widths = accel.widths_for_schedule(schedule, lanes)
    plan = accel.plan_accel(graph, max_tokens=tmax, lanes=lanes, builds=builds, widths=widths)
    if board:
        accel.check_fits(plan, board)
    return plan


def synth_project(
    project: Path, graph: Graph, lanes: int | None = None, timeout_s: int = 3600
) -> dict[str, Any]:
    """Yosys resources of the whole accelerator a compiled project builds (planned as
    :func:`run_rtlsim_project` plans it): :func:`accel_synth.synth_accel`, in ``rtlsim/synth``
    (unit results cached in ``rtlsim/synth/cache``), against the project's board."""
    from compiler.backends.rtl import accel_synth

    args = _project_accel_args(project, 1, lanes)
    feeds = args.pop("feeds") or default_feeds(graph)
    tokens = int(np.asarray(next(iter(feeds.values()))).shape[-1])
    args.pop("clock_mhz")
    work = args.pop("workdir") / "synth"
    plan = plan_accel_for(graph, tokens, **args)
    res = accel_synth.synth_accel(
        plan, work, board=args["board"], cache_dir=work / "cache", timeout_s=timeout_s
    )
    res["design"] = {"lanes": plan.shape.lanes, "layers": len(plan.layers), "tmax": plan.tmax}
    return res


def run_rtlsim_accel(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | None = None,
    workdir: Path | None = None,
    build_root: Path | None = None,
    board: str = "",
    clock_mhz: float = 300.0,
    schedule: Mapping[str, Any] | None = None,
    opt: str = "-O1",
    lanes: int = 1,
    fit_lanes: bool = False,
    builds: Builds | None = None,
    widths: UnitWidths | None = None,
    simulate: bool = True,
) -> dict[str, Any]:
    """The whole accelerator (``lanes`` token lanes) on every sequence of ``feeds`` (one load call, then one run call each).

    ``simulate=False``: only write its files (``workdir/rtl``: RTL, weights, host data, Vitis
    package) and return what was written; no Verilator needed.

    ``cycles`` / ``latency_ms`` are per sequence (the first one; ``runs`` has each), from the
    ``ap_start`` write to the done interrupt; ``model_cycles`` is :func:`accel.accel_cycles`.
    """
    from compiler.backends.rtl import accel

    feeds = dict(feeds) if feeds is not None else default_feeds(graph)
    tokens = int(np.asarray(next(iter(feeds.values()))).shape[-1])
    plan = plan_accel_for(graph, tokens, board, schedule, lanes, fit_lanes, builds, widths)
    if simulate:
        verilate.setup_verilator()
    seqs = accel.sequences_from_feeds(plan, graph, feeds)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sparsehls-rtlsim-"))
    build_dir = Path(build_root) if build_root is not None else root / "build"
    t0 = time.perf_counter()
    files = accel.write_accel(plan, root / "rtl", board=board)
    accel.write_host_data(plan, seqs, root / "rtl")
    if not simulate:
        return {
            "scope": "package",
            "rtl": str(root / "rtl"),
            "vitis": str(files["vitis"]),
            "board": board or None,
            "sequences": len(seqs),
            "tokens": tokens,
            "design": accel.design_summary(plan, tokens),
        }
    res = accel.run_accel(plan, seqs, root / "cases" / "accelerator", build_dir, opt=opt)
    first = res["runs"][0]
    cycles, model = int(first["cycles"]), int(first["model_cycles"])
    out: dict[str, Any] = {
        "scope": "accelerator",
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "bytes": res["compared"],
        "sequences": len(seqs),
        "tokens": tokens,
        "cycles": cycles,
        "load_cycles": int(res["load_cycles"]),
        "model_cycles": model,
        "model_error": round((model - cycles) / cycles, 5),
        "load_model_cycles": int(res["load_model_cycles"]),
        "latency_ms": round(cycles / (clock_mhz * 1e3), 5),
        "clock_mhz": clock_mhz,
        "board": board or None,
        "seconds": round(time.perf_counter() - t0, 2),
        "sim_seconds": res["seconds"],
        "build_seconds": res["build_seconds"],
        "layer_cycles": [
            {"layer": i, "cycles": int(c), "model_cycles": int(m)}
            for i, (c, m) in enumerate(zip(first["layer_cycles"], first["layer_model_cycles"], strict=True))
        ],
        "runs": res["runs"],
        "design": accel.design_summary(plan, tokens),
        "rtl_top": str(files[accel.TOP]),
        "note": ACCEL_NOTE,
    }
    if schedule is not None and isinstance(schedule.get("estimate"), Mapping):
        est = schedule["estimate"]
        out["scheduled_design"] = {
            "latency_ms": est.get("latency_ms"),
            "builds": schedule.get("builds"),
            "engines": schedule.get("engines"),
            "attn_lanes": schedule.get("attn_lanes"),
            "built": False,
            "note": "the performance model's estimate of the pooled design the scheduler sized; "
            "the generated accelerator is the design above (one engine per matrix role), not this one",
        }
    log.info("rtlsim accelerator: %s", {k: v for k, v in out.items() if not isinstance(v, dict | list)})
    return out


def run_rtlsim_layer(
    graph: Graph,
    layer: int,
    feeds: Mapping[str, np.ndarray] | None = None,
    workdir: Path | None = None,
    build_root: Path | None = None,
    tt: int = RTL_ENGINE.token_tile,
    pause_seed: int | None = None,
    opt: str = "-O1",
) -> dict[str, Any]:
    """The chained encoder layer module on every sequence of ``feeds`` (one ap_start each).

    ``pause_seed``: also run the first sequence again with random idle input
    cycles and output backpressure (correctness only; its cycles are not
    modelled).  ``cycles`` / ``model_cycles`` are summed over the full-rate calls.
    """
    if not graph.quantized:
        raise UserError("RTL simulation needs a quantized graph (run the quantize pass first)")
    feeds = dict(feeds) if feeds is not None else default_feeds(graph)
    tokens = int(np.asarray(next(iter(feeds.values()))).shape[-1])
    plan = rtl_layer.plan_layer(
        graph, layer, max_tokens=max(tokens, int(graph.meta.get("seq_len", 0))), tt=tt
    )
    verilate.setup_verilator()
    trace = interpreter.run(graph, feeds, mode="int", trace=True)
    runs = rtl_layer.runs_from_trace(plan, feeds, trace)
    if pause_seed is not None:
        first = runs[0]
        runs.append(rtl_layer.LayerRun(first.x, first.mask, first.want, pause=pause_seed))
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sparsehls-rtlsim-"))
    builds = Path(build_root) if build_root is not None else root / "build"
    t0 = time.perf_counter()
    top = rtl_layer.write_layer(plan, root / "rtl")  # the top and its ROM files, for the user
    res = rtl_layer.run_layer(plan, runs, root / "cases" / f"layer{layer}", builds, opt=opt)
    full = [r for r in res["runs"] if not r["paused"]]
    out = {
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": res["compared"],
        "cycles": sum(r["cycles"] for r in full),
        "model_cycles": sum(r["model_cycles"] for r in full),
        "ideal_cycles": sum(rtl_layer.ideal_cycles(plan, r["tokens"]) for r in full),
        "seconds": round(time.perf_counter() - t0, 2),
        "sim_seconds": res["seconds"],
        "build_seconds": res["build_seconds"],
        "mode": "chained",
        "layer": layer,
        "top": plan.top,
        "rtl_top": str(top),
        "sequences": len(full),
        "tokens": tokens,
        "runs": res["runs"],
        "stage_model_cycles": rtl_layer.stage_cycles(plan, tokens),
        "rtl_ops": [n.name for n in graph.nodes if n.layer == layer],
        "golden_only": [n.name for n in graph.nodes if n.layer != layer],
        "note": CHAINED_NOTE,
    }
    log.info("rtlsim layer %d: %s", layer, {k: v for k, v in out.items() if not isinstance(v, dict | list)})
    return out


def default_feeds(graph: Graph, seq: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs for a BERT-like graph: random token ids, full attention mask.

    ``seq`` defaults to the compiled sequence length (graph.meta["seq_len"]).
    """
    rng = np.random.default_rng(seed)
    seq = int(seq or graph.meta.get("seq_len", 16))
    vocab = 100
    for node in graph.nodes:
        if node.op == "embed" and "word_q" in node.params:
            vocab = graph.param(node, "word_q").shape[0]
    feeds: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if "mask" in name:
            feeds[name] = np.ones((1, seq), dtype=np.int64)
        elif "type" in name:
            feeds[name] = np.zeros((1, seq), dtype=np.int64)
        else:
            feeds[name] = rng.integers(0, vocab, size=(1, seq))
    return feeds


def run_rtlsim_graph(
    graph: Graph,
    feeds: Mapping[str, np.ndarray] | None = None,
    layer: int | None = None,
    workdir: Path | None = None,
    tt: int = RTL_ENGINE.token_tile,
    kinds: Collection[str] | None = None,
    build_root: Path | None = None,
) -> dict[str, Any]:
    """Like :func:`run_rtlsim` on an in-memory quantized graph.

    ``kinds``: simulate only these ops (e.g. {"gelu", "attention"}); default all with RTL.
    ``build_root``: where the Verilator builds live (default ``workdir/build``).
    """
    if not graph.quantized:
        raise UserError("RTL simulation needs a quantized graph (run the quantize pass first)")
    in_layer = [n for n in graph.nodes if layer is None or n.layer == layer]
    ops = [
        n
        for n in in_layer
        if (n.op == "linear" or n.op in nonlinear.OP_UNITS) and (kinds is None or n.op in kinds)
    ]
    if not ops:
        where = "the graph" if layer is None else f"layer {layer}"
        raise UserError(f"no linear op in {where} to simulate (nor gelu, add, layernorm or attention)")
    verilate.setup_verilator()
    trace = interpreter.run(graph, feeds or default_feeds(graph), mode="int", trace=True)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sparsehls-rtlsim-"))
    builds = Path(build_root) if build_root is not None else root / "build"
    t0 = time.perf_counter()
    results = []
    for node in ops:
        results.append(
            _sim_linear(graph, node, trace, root, builds, tt)
            if node.op == "linear"
            else _sim_unit(graph, node, trace, root, builds)
        )
        log.info("rtlsim %s: %s", node.name, results[-1])
    return {
        "passed": all(r["passed"] for r in results),
        "mismatches": sum(r["mismatches"] for r in results),
        "cycles": sum(r["cycles"] for r in results),
        "ideal_cycles": sum(r["ideal_cycles"] for r in results),
        "model_cycles": sum(r["model_cycles"] for r in results),
        "seconds": round(time.perf_counter() - t0, 2),
        "mode": "per-op",
        "ops": results,
        "rtl_ops": [n.name for n in ops],
        "golden_only": [n.name for n in in_layer if n not in ops],
        "note": NOT_IN_RTL,
    }


def _sim_linear(
    graph: Graph, node: Node, trace: dict[str, np.ndarray], root: Path, builds: Path, tt: int
) -> dict[str, Any]:
    x = trace[node.inputs[0]]
    x2 = x.reshape(-1, x.shape[-1])
    plan = plan_from_node(graph, node, tt=tt)
    res = rtlsim.run_case(plan, [(x2, None)], root / "cases" / node.name, builds)
    want = trace[node.outputs[0]].reshape(-1, plan.n)
    shape = rtlsim.shape_of(plan)
    return {
        "op": node.name,
        "kind": "linear",
        "layer": node.layer,
        "role": node.role,
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": int(want.size),
        "cycles": res["runs"][0]["cycles"],
        "model_cycles": timing.linear_cycles(len(x2), shape.nb, shape.kb, plan.nnzb, plan.tt),
        "ideal_cycles": plan.ideal_cycles(len(x2)),
        "block": [plan.bm, plan.bn],
        "nnzb": plan.nnzb,
    }


def _sim_unit(
    graph: Graph, node: Node, trace: dict[str, np.ndarray], root: Path, builds: Path
) -> dict[str, Any]:
    """A gelu / add / layernorm / attention node on its golden inputs (attention: every sequence and head)."""
    nc = nonlinear.node_case(graph, node, trace)
    res = nonlinear.run_unit(
        nc.unit, nc.case, nc.runs, root / "cases" / node.name, builds, nc.mems, nc.parameters
    )
    return {
        "op": node.name,
        "kind": nc.unit,
        "layer": node.layer,
        "role": node.role,
        "passed": res["passed"],
        "mismatches": res["mismatches"],
        "words": int(res["compared"]),
        "cycles": sum(r["cycles"] for r in res["runs"]),
        "model_cycles": len(nc.runs) * nonlinear.unit_cycles(nc.unit, nc.elems, nc.rows, nc.width),
        # one element per cycle (attention: one score and one probability per cycle, S*S per head)
        "ideal_cycles": len(nc.runs) * (nc.rows * nc.width if nc.unit == "attention" else nc.elems),
    }
