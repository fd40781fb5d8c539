"""Hugging Face checkpoint -> ONNX, checked numerically against torch.

Uses the torch.export-based exporter (``dynamo=True``) at fixed batch 1 and sequence length: the
TorchScript exporter was seen to produce silently wrong graphs for BERT (up to 5.1 off, see
TOOLCHAIN.md).  Every export is run in onnxruntime and compared with torch on real and random
inputs with padding; a difference above ``tol`` stops the compile.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError

log = logging.getLogger(__name__)

EXPORT_TOL = 1e-3


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    input_names: tuple[str, ...]
    output_name: str
    max_abs: float
    ort_output: np.ndarray | None = field(default=None, repr=False, compare=False)  # ORT on the feeds


def model_input_names(model: Any) -> tuple[str, ...]:
    params = inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in params and getattr(model.config, "type_vocab_size", 0) > 0:
        names.append("token_type_ids")
    return tuple(names)


def output_name(model: Any) -> str:
    return "logits" if type(model).__name__.endswith("ForSequenceClassification") else "last_hidden_state"


class _Wrapper:
    """nn.Module wrapper passing keywords (transformers 5 changed positional order)."""

    @staticmethod
    def make(model: Any, names: tuple[str, ...], out: str) -> Any:
        import torch

        class W(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = model

            def forward(self, *args: Any) -> Any:
                res = self.m(**dict(zip(names, args, strict=True)))
                return getattr(res, out)

        return W()


def torch_forward(model: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    names = model_input_names(model)
    out = output_name(model)
    with torch.no_grad():
        res = model(**{k: torch.from_numpy(feeds[k]) for k in names})
    return getattr(res, out).numpy()


def export_onnx(model: Any, path: Path, seq_len: int) -> tuple[tuple[str, ...], str]:
    import torch

    names = model_input_names(model)
    out = output_name(model)
    wrapper = _Wrapper.make(model, names, out)
    args = tuple(
        torch.zeros((1, seq_len), dtype=torch.long)
        if n != "attention_mask"
        else torch.ones((1, seq_len), dtype=torch.long)
        for n in names
    )
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        warnings.simplefilter("ignore")
        for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript"):
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            prog = torch.onnx.export(
                wrapper,
                args,
                dynamo=True,
                input_names=list(names),
                output_names=[out],
                opset_version=18,
                verbose=False,
            )
            if prog is None:
                raise RuntimeError("the exporter returned no program")
            prog.save(str(path))
        except Exception as e:
            raise UserError(f"ONNX export failed: {str(e).splitlines()[0][:200]}") from None
    return names, out


def ort_session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise UserError(f"onnxruntime cannot load {path}: {str(e).splitlines()[0][:200]}") from None


def ort_forward(sess: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Run a batch-1 graph row by row."""
    names = [i.name for i in sess.get_inputs()]
    n = feeds["input_ids"].shape[0]
    outs = []
    for i in range(n):
        outs.append(sess.run(None, {k: feeds[k][i : i + 1].astype(np.int64) for k in names})[0])
    return np.concatenate(outs)


def ort_forward_all(sess: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of a batch-1 graph, run row by row."""
    names = [i.name for i in sess.get_inputs()]
    outs = [o.name for o in sess.get_outputs()]
    rows = [
        sess.run(None, {k: feeds[k][i : i + 1].astype(np.int64) for k in names})
        for i in range(feeds["input_ids"].shape[0])
    ]
    return {o: np.concatenate([r[j] for r in rows]) for j, o in enumerate(outs)}


def export_and_check(
    model: Any, path: Path, seq_len: int, feeds: dict[str, np.ndarray], tol: float = EXPORT_TOL
) -> ExportResult:
    names, out = export_onnx(model, path, seq_len)
    sess = ort_session(path)
    ref = torch_forward(model, feeds)
    got = ort_forward(sess, feeds)
    max_abs = float(np.max(np.abs(ref - got)))
    log.info("onnxruntime vs torch: max abs %.3g on %d inputs", max_abs, len(ref))
    if not max_abs <= tol:
        raise UserError(f"exported ONNX differs from torch by {max_abs:.3g} (> {tol}); refusing to continue")
    return ExportResult(path, names, out, max_abs, got)
