"""`sparsehls compile`: checkpoint -> verified ONNX -> IR -> passes -> integer IR -> project.

The whole compile is :data:`STAGES`, one ordered list run by :func:`compile_model`, which
times every stage (``report.json`` ``timing.stages``: wall seconds, ``timing.stages_cpu``:
CPU seconds) and stops at the first stage whose check fails.  Each stage checks its own
result before the next one runs:

1. ``export``: load the checkpoint (safetensors only) and export ONNX at batch 1 / the
   sequence length; onnxruntime must agree with torch (<= 1e-3);
2. ``import``: the ONNX graph into the IR by patterns; the float golden model must agree
   with onnxruntime (<= 1e-4).  An ``.onnx`` from another exporter is prepared first
   (:mod:`compiler.ir.prepare_onnx`: dynamic axes folded at batch 1, a pooling tail cut and
   kept on the host, ``report.json`` ``model.host_outputs``); then every output of the file is
   checked against the golden encoder output pooled on the host;
3. ``passes``: the structure passes (drop dead heads / neurons / layers, permute blocks);
   outputs before and after each pass must agree (<= 1e-4);
4. ``quantize``: calibrate and quantize to integer-only arithmetic; integer vs float
   golden cosine is reported;
5. ``schedule``: size the design for the board (``schedule.json``);
6. ``save``: IR, golden inputs/outputs, tokenizer;
7. ``hls``: the HLS C++ project (unless ``--no-hls``);
8. ``csim``: C simulation (g++) against the integer golden model (unless ``--no-csim``).

The RTL is generated from the saved project by ``sparsehls rtlsim``, not by compile.
Everything is written to a temporary folder and moved into place at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler import checkpoint
from compiler.backends.hls.command import generate_hls, run_csim
from compiler.errors import UserError
from compiler.frontend import export, inputs
from compiler.golden import interpreter
from compiler.hw.boards import get_board
from compiler.ir import prepare_onnx
from compiler.ir.bsr import check_block_fits
from compiler.ir.graph import Graph
from compiler.ir.importer import import_onnx
from compiler.ir.io import save_graph
from compiler.ir.pooling import host_outputs
from compiler.ir.stats import stats_report
from compiler.ir.verify import verify
from compiler.outputs import atomic_dir, update_report
from compiler.passes.pipeline import STRUCTURE_PASSES
from compiler.passes.quantize import DEFAULT_PERCENTILE, quantize
from compiler.perf.schedule_design import schedule_project

log = logging.getLogger(__name__)

GOLDEN_TOL = 1e-4
PASS_TOL = 1e-4
N_CHECK_TEXT, N_CHECK_RANDOM = 6, 2  # ONNX / golden agreement inputs
N_EVAL_TEXT, N_EVAL_RANDOM = 32, 0  # int-vs-float fidelity (held out from calibration)


@dataclass
class CompileOptions:
    seq_len: int = 128
    block: tuple[int, int] = (16, 16)
    board: str = "u250"
    calib: int = 32
    force: bool = False
    csim: bool = True
    hls: bool = True
    debug: bool = False
    percentile: float = DEFAULT_PERCENTILE


Progress = Callable[[str], None]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(den, 1e-30)


def pooled(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean pooling over real tokens (sentence embeddings); logits pass through."""
    if y.ndim == 2:
        return y
    m = mask[..., None].astype(np.float64)
    return (y * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)


def dequantized_output(q: Graph, out: np.ndarray) -> np.ndarray:
    name = q.outputs[0]
    return out.astype(np.float64) * np.asarray(q.meta["tensor_scales"][name], dtype=np.float64)


def int_fidelity(float_graph: Graph, q: Graph, feeds: dict[str, np.ndarray]) -> dict[str, float]:
    yf = interpreter.run(float_graph, feeds)[q.outputs[0]]
    yi = dequantized_output(q, interpreter.run(q, feeds, mode="int")[q.outputs[0]])
    cos = cosine_rows(pooled(yf, feeds["attention_mask"]), pooled(yi, feeds["attention_mask"]))
    return {"mean": float(cos.mean()), "min": float(cos.min()), "n": int(cos.size)}


class StageClock:
    """Wall and CPU seconds of the compile's stages (CPU: this process's threads plus
    finished child processes such as g++; steadier than wall time on a shared machine)."""

    def __init__(self, timing: dict[str, Any]) -> None:
        self.timing = timing
        self._t = self.now()

    @staticmethod
    def now() -> tuple[float, float]:
        t = os.times()
        return time.perf_counter(), t.user + t.system + t.children_user + t.children_system

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap (or the start) to ``stage``."""
        now = self.now()
        self.timing["stages"][stage] = round(now[0] - self._t[0], 2)
        self.timing["stages_cpu"][stage] = round(now[1] - self._t[1], 2)
        self._t = now


def _feeds_for(graph_inputs: tuple[str, ...], feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: feeds[k] for k in graph_inputs}


@dataclass
class Compilation:
    """What the stages hand on: the inputs, the graph as it goes, the checks and the report."""

    ref: checkpoint.ModelRef
    tmp: Path
    opts: CompileOptions
    step: Progress
    checks: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    tok_dir: Path | None = None
    vocab: int = 0
    check_feeds: dict[str, np.ndarray] = field(default_factory=dict)
    ort_out: np.ndarray | None = None  # onnxruntime on check_feeds
    gold: np.ndarray | None = None  # the float golden model on check_feeds
    dense: Graph | None = None  # the imported graph (before the passes)
    graph: Graph | None = None  # the current graph
    golden_feeds: dict[str, np.ndarray] = field(default_factory=dict)
    golden_outputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def g(self) -> Graph:
        assert self.graph is not None, "a stage ran before the graph was imported"
        return self.graph

    @property
    def onnx_path(self) -> Path:
        return self.tmp / "model.onnx"


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Compilation], None]
    enabled: Callable[[CompileOptions], bool] = lambda opts: True


def export_model(c: Compilation) -> None:
    """Checkpoint -> ONNX, checked against torch (an .onnx input is copied as it is)."""
    if c.ref.kind != "hf":
        shutil.copy(c.ref.path, c.onnx_path)
        c.meta = {"arch": "onnx", "model_type": "unknown"}
        return
    cfg = checkpoint.read_config(c.ref.path)
    checkpoint.check_head(cfg)
    dims = checkpoint.model_dims(cfg)
    if c.opts.seq_len > dims["max_pos"]:
        raise UserError(
            f"--seq-len {c.opts.seq_len} is above the model's max_position_embeddings ({dims['max_pos']})"
        )
    c.step("loading checkpoint")
    model = checkpoint.load_hf_model(c.ref.path)
    c.tok_dir, c.vocab = c.ref.path, int(model.config.vocab_size)
    c.meta = {
        "arch": checkpoint.arch_of(cfg),
        "model_type": cfg["model_type"],
        "pad_token_id": int(cfg.get("pad_token_id") or 0),
        **dims,
    }
    c.check_feeds = inputs.sample_inputs(
        c.tok_dir, c.vocab, c.opts.seq_len, N_CHECK_TEXT, N_CHECK_RANDOM, seed=1
    )
    c.step("exporting ONNX (torch.export) and checking it against torch")
    res = export.export_and_check(
        model, c.onnx_path, c.opts.seq_len, _feeds_for(export.model_input_names(model), c.check_feeds)
    )
    c.checks["onnx_vs_torch_max_abs"] = res.max_abs
    c.ort_out = res.ort_output  # the golden check of the import reuses it


def import_model(c: Compilation) -> None:
    """ONNX -> IR; the float golden model must agree with onnxruntime."""
    c.step("importing ONNX into the IR")
    import onnx

    try:
        onnx_model = onnx.load(str(c.onnx_path))
    except Exception as e:
        raise UserError(
            f"{c.ref.path if c.ref.kind == 'onnx' else c.onnx_path.name} is not a readable ONNX model "
            f"({str(e).splitlines()[0][:100]})"
        ) from None
    host: dict[str, str] = {}
    if c.ref.kind == "onnx":  # other exporters: dynamic axes folded, a pooling tail cut
        prep = prepare_onnx.prepare(onnx_model, c.opts.seq_len)
        onnx_model, host = prep.model, dict(prep.host_outputs)
    graph = import_onnx(onnx_model, {**c.meta, "block": c.opts.block, "seq_len": c.opts.seq_len})
    graph = _complete_meta(graph, onnx_model, c.opts)
    if host:
        graph = graph.with_meta(host_outputs=host)
    check_block_fits(graph, c.opts.block)
    verify(graph)
    if c.ref.kind == "onnx":  # an .onnx model fixes its own sequence length and vocabulary
        c.vocab = int(graph.params[graph.nodes[0].params["word"]].shape[0])
        c.check_feeds = inputs.random_inputs(
            N_CHECK_TEXT + N_CHECK_RANDOM, graph.meta["seq_len"], c.vocab, seed=1
        )
    c.gold = interpreter.run(graph, _feeds_for(graph.inputs, c.check_feeds))[graph.outputs[0]]
    if host:
        diff = _check_host_outputs(c, host)
    else:
        if c.ort_out is None:
            sess = export.ort_session(c.onnx_path)
            c.ort_out = export.ort_forward(
                sess, _feeds_for(tuple(i.name for i in sess.get_inputs()), c.check_feeds)
            )
        diff = float(np.max(np.abs(c.gold - c.ort_out)))
    c.checks["golden_float_vs_onnx_max_abs"] = diff
    if not diff <= GOLDEN_TOL:
        raise UserError(
            f"the IR's float golden model differs from onnxruntime by {diff:.3g} (> {GOLDEN_TOL}): "
            "an import pattern is wrong for this model"
        )
    c.graph = c.dense = graph


def _check_host_outputs(c: Compilation, host: dict[str, str]) -> float:
    """Every output of the file vs the golden encoder output pooled on the host; the largest difference."""
    assert c.gold is not None
    sess = export.ort_session(c.onnx_path)
    want = export.ort_forward_all(sess, _feeds_for(tuple(i.name for i in sess.get_inputs()), c.check_feeds))
    got = host_outputs(host, c.gold, c.check_feeds["attention_mask"])
    by_output = {o: float(np.max(np.abs(got[o] - want[o]))) for o in host}
    c.checks["golden_float_vs_onnx_by_output"] = by_output
    return max(by_output.values())


def run_structure_passes(c: Compilation) -> None:
    """The structure passes in order; each one must leave the float outputs unchanged."""
    c.step("running structure passes")
    graph, before = c.g, c.gold
    assert before is not None
    pass_checks = {}
    for p in STRUCTURE_PASSES:
        new, _ = p(graph)
        verify(new)
        after = (
            interpreter.run(new, _feeds_for(new.inputs, c.check_feeds))[new.outputs[0]]
            if new is not graph
            else before
        )
        diff = pass_checks[p.name] = float(np.max(np.abs(before - after)))
        if not diff <= PASS_TOL:
            raise UserError(
                f"pass {p.name} changed the model's outputs by {diff:.3g} (> {PASS_TOL}): refusing to continue"
            )
        graph = new
    c.checks["passes_max_abs"] = pass_checks
    c.graph = graph


def quantize_model(c: Compilation) -> None:
    """Calibrate and quantize; report the integer model's fidelity to the float one."""
    opts, seq = c.opts, int(c.g.meta["seq_len"])
    c.step(f"calibrating on {opts.calib} inputs and quantizing")
    n_text = opts.calib if c.tok_dir is not None else 0
    calib_feeds = inputs.sample_inputs(c.tok_dir, c.vocab, seq, n_text, opts.calib - n_text, seed=2, offset=0)
    q = quantize(c.g, _feeds_for(c.g.inputs, calib_feeds), opts.percentile)
    verify(q)
    eval_feeds = inputs.sample_inputs(
        c.tok_dir, c.vocab, seq, N_EVAL_TEXT, N_EVAL_RANDOM, seed=3, offset=opts.calib
    )
    fid = int_fidelity(c.g, q, _feeds_for(q.inputs, eval_feeds))
    c.checks["golden_int_vs_float_cosine"] = fid["mean"]
    c.checks["golden_int_vs_float_cosine_min"] = fid["min"]
    c.checks["golden_int_vs_float_inputs"] = fid["n"]
    c.checks["golden_int_vs_float_inputs_are_text"] = c.tok_dir is not None
    c.graph = q


def schedule_model(c: Compilation) -> None:
    """Size the design for the board (attrs and meta only) and write schedule.json."""
    c.step(f"scheduling for {c.opts.board}")
    c.graph, c.report["estimate"] = schedule_project(c.g, c.tmp, c.opts.board)


def save_project(c: Compilation) -> None:
    """The IR, golden inputs and outputs, the tokenizer and the report of what is compiled."""
    c.step("saving IR and golden data")
    q, seq = c.g, int(c.g.meta["seq_len"])
    save_graph(q, c.tmp / "ir")
    offset = c.opts.calib + N_EVAL_TEXT
    c.golden_feeds = _feeds_for(
        q.inputs, inputs.sample_inputs(c.tok_dir, c.vocab, seq, 6, 2, seed=4, offset=offset)
    )
    np.savez(c.tmp / "golden_inputs.npz", **c.golden_feeds)  # type: ignore[arg-type]
    c.golden_outputs = interpreter.run(q, c.golden_feeds, mode="int")
    np.savez(c.tmp / "golden_outputs.npz", **c.golden_outputs)  # type: ignore[arg-type]
    if c.tok_dir is not None:
        _copy_tokenizer(c.tok_dir, c.tmp / "tokenizer")
    stats = stats_report(q)
    dense = c.dense if c.dense is not None else q
    estimate, timing = c.report["estimate"], c.report["timing"]
    c.report.clear()  # the report's keys in the order report.json shows them
    c.report.update(
        {
            "sparsehls_version": _version(),
            "model": {
                "name": c.ref.name,
                "arch": q.meta.get("arch"),
                "layers": int(dense.meta["layers"]),
                "hidden": int(q.meta["hidden"]),
                "heads": int(dense.meta["heads"]),
                "seq_len": int(q.meta["seq_len"]),
                "block": list(c.opts.block),
                **({"host_outputs": dict(q.meta["host_outputs"])} if "host_outputs" in q.meta else {}),
            },
            "checks": c.checks,
            "sparsity": stats["sparsity"],
            "matrices": stats.get("matrices", []),
            "quantization": {"percentile": c.opts.percentile, "calib_inputs": c.opts.calib},
            "timing": timing,
            "board": c.opts.board,
            "estimate": estimate,
            "schedule": q.meta["schedule"],
        }
    )


def emit_hls(c: Compilation) -> None:
    """The HLS C++ project for the board."""
    c.step(f"generating the HLS project for {c.opts.board}")
    c.report.update(generate_hls(c.g, c.tmp, c.opts.board))  # the fragment is {"hls": {...}}


def csim(c: Compilation) -> None:
    """C simulation (g++) of the HLS project against the integer golden model."""
    c.step("C simulation (g++) against the integer golden model")
    c.report["csim"] = run_csim(c.tmp, c.g, c.golden_feeds, c.golden_outputs)


#: The compile, in order.  A stage checks its own result; the driver times them.
STAGES: tuple[Stage, ...] = (
    Stage("export", export_model),
    Stage("import", import_model),
    Stage("passes", run_structure_passes),
    Stage("quantize", quantize_model),
    Stage("schedule", schedule_model),
    Stage("save", save_project),
    Stage("hls", emit_hls, lambda opts: opts.hls),
    Stage("csim", csim, lambda opts: opts.hls and opts.csim),
)


def compile_model(
    model_arg: str, out: Path, opts: CompileOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Run :data:`STAGES` on ``model_arg`` into the project folder ``out`` (atomically)."""
    t_start = StageClock.now()
    ref = checkpoint.resolve_model(model_arg)
    if opts.seq_len <= 0:
        raise UserError(f"--seq-len must be positive, got {opts.seq_len}")
    if opts.calib <= 0:
        raise UserError(f"--calib must be positive, got {opts.calib}")
    if opts.hls:
        get_board(opts.board)  # board names are checked up front
    with atomic_dir(out, opts.force) as tmp:
        c = Compilation(ref, tmp, opts, progress or (lambda s: log.info(s)))
        timing: dict[str, Any] = {"stages": {}, "stages_cpu": {}}
        c.report["timing"] = timing
        clock = StageClock(timing)
        for stage in STAGES:
            if stage.enabled(opts):
                stage.run(c)
                clock.lap(stage.name)
                if "sparsehls_version" in c.report:
                    update_report(tmp, c.report)
        t_end = StageClock.now()
        timing["compile_s"] = round(t_end[0] - t_start[0], 2)
        timing["compile_cpu_s"] = round(t_end[1] - t_start[1], 2)
        update_report(tmp, c.report)
    return c.report


def _copy_tokenizer(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)


def _complete_meta(graph: Graph, onnx_model: Any, opts: CompileOptions) -> Graph:
    """Fill hidden/heads/ffn/seq_len from the graph itself (needed for .onnx input)."""
    attn = [n for n in graph.nodes if n.op == "attention"]
    fc1 = [n for n in graph.nodes if n.role == "fc1"]
    shape = onnx_model.graph.input[0].type.tensor_type.shape.dim
    seq = shape[1].dim_value if len(shape) > 1 and shape[1].dim_value > 0 else opts.seq_len
    hidden = int(graph.params[graph.nodes[0].params["word"]].shape[1])
    return graph.with_meta(
        hidden=hidden,
        heads=int(attn[0].attrs["heads"]),
        ffn=int(graph.param(fc1[0], "weight").shape[0]) if fc1 else 0,
        seq_len=int(seq),
        block=tuple(opts.block),
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparsehls")
    except PackageNotFoundError:
        return "0+unknown"
