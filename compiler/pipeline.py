"""`sparsehls compile`: checkpoint -> verified ONNX -> IR -> passes -> integer IR -> project.

The stages, in order (each one checked before the next runs):

1. load the checkpoint (safetensors only) and export ONNX at fixed batch 1 /
   seq len; onnxruntime must agree with torch (<= 1e-3);
2. import the ONNX graph into the IR by patterns; the float golden model must
   agree with onnxruntime (<= 1e-4);
3. structure passes (drop dead heads / neurons / layers, permute blocks):
   outputs before and after each pass must agree (<= 1e-4 abs; measured much
   lower, see report.json checks.passes);
4. calibrate and quantize to integer-only arithmetic; integer golden vs float
   golden cosine is reported;
5. save IR + golden inputs/outputs, then (if available) the HLS backend.

Everything is written to a temporary folder and moved into place at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler import checkpoint
from compiler.errors import UserError
from compiler.frontend import export, inputs
from compiler.golden import interpreter
from compiler.ir.bsr import check_block_fits
from compiler.ir.graph import Graph
from compiler.ir.importer import import_onnx
from compiler.ir.io import save_graph
from compiler.ir.stats import stats_report
from compiler.ir.verify import verify
from compiler.outputs import atomic_dir, update_report
from compiler.passes.pipeline import STRUCTURE_PASSES
from compiler.passes.quantize import DEFAULT_PERCENTILE, quantize

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

    def __init__(self, timing: dict[str, float]) -> None:
        self.timing = timing
        self._t = self._now()

    @staticmethod
    def _now() -> tuple[float, float]:
        t = os.times()
        return time.perf_counter(), t.user + t.system + t.children_user + t.children_system

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap (or the start) to ``stage``."""
        now = self._now()
        self.timing[f"{stage}_s"] = round(now[0] - self._t[0], 2)
        self.timing[f"{stage}_cpu_s"] = round(now[1] - self._t[1], 2)
        self._t = now


def _feeds_for(graph_inputs: tuple[str, ...], feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: feeds[k] for k in graph_inputs}


def compile_model(
    model_arg: str, out: Path, opts: CompileOptions, progress: Progress | None = None
) -> dict[str, Any]:
    step = progress or (lambda s: log.info(s))
    t_start = StageClock._now()
    ref = checkpoint.resolve_model(model_arg)
    if opts.seq_len <= 0:
        raise UserError(f"--seq-len must be positive, got {opts.seq_len}")
    if opts.calib <= 0:
        raise UserError(f"--calib must be positive, got {opts.calib}")
    if opts.hls:
        from compiler.backends.hls.boards import get_board  # board names are checked up front

        get_board(opts.board)
    with atomic_dir(out, opts.force) as tmp:
        report = _compile_into(ref, tmp, opts, step)
        t_end = StageClock._now()
        report["timing"]["compile_s"] = round(t_end[0] - t_start[0], 2)
        report["timing"]["compile_cpu_s"] = round(t_end[1] - t_start[1], 2)
        update_report(tmp, report)
    return report


def _compile_into(
    ref: checkpoint.ModelRef, tmp: Path, opts: CompileOptions, step: Progress
) -> dict[str, Any]:
    timing: dict[str, float] = {}
    clock = StageClock(timing)
    checks: dict[str, Any] = {}
    tok_dir: Path | None = None
    onnx_path = tmp / "model.onnx"
    if ref.kind == "hf":
        cfg = checkpoint.read_config(ref.path)
        dims = checkpoint.model_dims(cfg)
        if opts.seq_len > dims["max_pos"]:
            raise UserError(
                f"--seq-len {opts.seq_len} is above the model's max_position_embeddings ({dims['max_pos']})"
            )
        step("loading checkpoint")
        model = checkpoint.load_hf_model(ref.path)
        tok_dir = ref.path
        vocab = int(model.config.vocab_size)
        meta = {
            "arch": checkpoint.arch_of(cfg),
            "model_type": cfg["model_type"],
            "pad_token_id": int(cfg.get("pad_token_id") or 0),
            **dims,
        }
        check_feeds = inputs.sample_inputs(tok_dir, vocab, opts.seq_len, N_CHECK_TEXT, N_CHECK_RANDOM, seed=1)
        step("exporting ONNX (torch.export) and checking it against torch")
        res = export.export_and_check(
            model, onnx_path, opts.seq_len, _feeds_for(export.model_input_names(model), check_feeds)
        )
        checks["onnx_vs_torch_max_abs"] = res.max_abs
        ort_out = res.ort_output  # onnxruntime on check_feeds: the golden check below reuses it
        del model
    else:
        shutil.copy(ref.path, onnx_path)
        meta = {"arch": "onnx", "model_type": "unknown"}
        ort_out = None
    clock.lap("export")

    step("importing ONNX into the IR")
    import onnx

    try:
        onnx_model = onnx.load(str(onnx_path))
    except Exception as e:
        raise UserError(
            f"{ref.path if ref.kind == 'onnx' else onnx_path.name} is not a readable ONNX model ({str(e).splitlines()[0][:100]})"
        ) from None
    graph = import_onnx(onnx_model, {**meta, "block": opts.block, "seq_len": opts.seq_len})
    graph = _complete_meta(graph, onnx_model, opts)
    check_block_fits(graph, opts.block)
    verify(graph)
    seq = int(graph.meta["seq_len"])  # an .onnx model fixes its own sequence length
    if ref.kind == "onnx":
        vocab = int(graph.params[graph.nodes[0].params["word"]].shape[0])
    if ref.kind == "onnx":
        check_feeds = inputs.random_inputs(
            N_CHECK_TEXT + N_CHECK_RANDOM, graph.meta["seq_len"], vocab, seed=1
        )
    if ort_out is None:
        sess = export.ort_session(onnx_path)
        ort_out = export.ort_forward(sess, _feeds_for(tuple(i.name for i in sess.get_inputs()), check_feeds))
    gold = interpreter.run(graph, _feeds_for(graph.inputs, check_feeds))[graph.outputs[0]]
    checks["golden_float_vs_onnx_max_abs"] = float(np.max(np.abs(gold - ort_out)))
    if not checks["golden_float_vs_onnx_max_abs"] <= GOLDEN_TOL:
        raise UserError(
            f"the IR's float golden model differs from onnxruntime by {checks['golden_float_vs_onnx_max_abs']:.3g} (> {GOLDEN_TOL}): an import pattern is wrong for this model"
        )
    clock.lap("import")

    step("running structure passes")
    dense = graph
    pass_checks = {}
    before = gold  # the float golden output of the imported graph, computed above
    for p in STRUCTURE_PASSES:
        new, changed = p(graph)
        verify(new)
        after = (
            interpreter.run(new, _feeds_for(new.inputs, check_feeds))[new.outputs[0]]
            if new is not graph
            else before
        )
        diff = float(np.max(np.abs(before - after)))
        pass_checks[p.name] = diff
        if not diff <= PASS_TOL:
            raise UserError(
                f"pass {p.name} changed the model's outputs by {diff:.3g} (> {PASS_TOL}): refusing to continue"
            )
        graph = new
    checks["passes_max_abs"] = pass_checks
    clock.lap("passes")

    step(f"calibrating on {opts.calib} inputs and quantizing")
    n_text = opts.calib if tok_dir is not None else 0
    calib_feeds = inputs.sample_inputs(tok_dir, vocab, seq, n_text, opts.calib - n_text, seed=2, offset=0)
    q = quantize(graph, _feeds_for(graph.inputs, calib_feeds), opts.percentile)
    verify(q)
    eval_feeds = inputs.sample_inputs(
        tok_dir, vocab, seq, N_EVAL_TEXT, N_EVAL_RANDOM, seed=3, offset=opts.calib
    )
    fid = int_fidelity(graph, q, _feeds_for(q.inputs, eval_feeds))
    checks["golden_int_vs_float_cosine"] = fid["mean"]
    checks["golden_int_vs_float_cosine_min"] = fid["min"]
    checks["golden_int_vs_float_inputs"] = fid["n"]
    checks["golden_int_vs_float_inputs_are_text"] = tok_dir is not None
    clock.lap("quantize")

    from compiler.perf.schedule import schedule_project

    step(f"scheduling for {opts.board}")
    q, estimate = schedule_project(q, tmp, opts.board)  # attrs/meta only; writes schedule.json
    clock.lap("schedule")

    step("saving IR and golden data")
    save_graph(q, tmp / "ir")
    golden_feeds = _feeds_for(
        q.inputs, inputs.sample_inputs(tok_dir, vocab, seq, 6, 2, seed=4, offset=opts.calib + N_EVAL_TEXT)
    )
    np.savez(tmp / "golden_inputs.npz", **golden_feeds)  # type: ignore[arg-type]
    golden_outputs = interpreter.run(q, golden_feeds, mode="int")
    np.savez(tmp / "golden_outputs.npz", **golden_outputs)  # type: ignore[arg-type]
    if tok_dir is not None:
        _copy_tokenizer(tok_dir, tmp / "tokenizer")
    stats = stats_report(q)
    clock.lap("save")
    report: dict[str, Any] = {
        "sparsehls_version": _version(),
        "model": {
            "name": ref.name,
            "arch": q.meta.get("arch"),
            "layers": int(dense.meta["layers"]),
            "hidden": int(q.meta["hidden"]),
            "heads": int(dense.meta["heads"]),
            "seq_len": int(q.meta["seq_len"]),
            "block": list(opts.block),
        },
        "checks": checks,
        "sparsity": stats["sparsity"],
        "matrices": stats.get("matrices", []),
        "quantization": {"percentile": opts.percentile, "calib_inputs": opts.calib},
        "timing": timing,
        "board": opts.board,
        "estimate": estimate,
        "schedule": q.meta["schedule"],
    }
    update_report(tmp, report)
    if opts.hls:
        _backends(q, tmp, opts, step, report, golden_feeds, clock, golden_outputs)
    return report


def _backends(
    q: Graph,
    tmp: Path,
    opts: CompileOptions,
    step: Progress,
    report: dict[str, Any],
    feeds: dict[str, np.ndarray],
    clock: StageClock,
    golden: dict[str, np.ndarray],
) -> None:
    """HLS project generation and C simulation (``golden``: the integer outputs on ``feeds``)."""
    from compiler.backends.hls.command import generate_hls, run_csim

    step(f"generating the HLS project for {opts.board}")
    report.update(generate_hls(q, tmp, opts.board))  # the fragment is {"hls": {...}}
    clock.lap("hls")
    if opts.csim:
        step("C simulation (g++) against the integer golden model")
        report["csim"] = run_csim(tmp, q, feeds, golden)
        clock.lap("csim")
    update_report(tmp, report)


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
