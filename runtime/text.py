"""`sparsehls run PROJECT --text ...`: tokenize, run one backend, print its outputs."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.frontend.inputs import encode, load_tokenizer
from compiler.ir.graph import Graph
from compiler.ir.io import load_graph
from compiler.ir.pooling import host_outputs
from compiler.project import check_project
from runtime.accelerator import BACKENDS, open_accelerator

log = logging.getLogger(__name__)


def valid_utf8(text: str) -> str:
    """``text`` from the command line with undecodable bytes replaced (U+FFFD), and a warning if any were."""
    try:
        raw = text.encode("utf-8", "surrogateescape")  # how Python keeps argv bytes that are not UTF-8
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    clean = raw.decode("utf-8", "replace")
    if clean != text:
        log.warning("--text is not valid UTF-8: undecodable bytes were replaced with U+FFFD")
    return clean


def run_text_outputs(
    project: Path, text: str, backend: str, **xrt: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(feeds, integer outputs) for one sentence; ``xrt``: xclbin, board, device for the xrt backend."""
    project = Path(project)
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    xrt = {k: v for k, v in xrt.items() if v is not None}
    if xrt and backend != "xrt":
        raise UserError(f"--{'/--'.join(xrt)} apply to --backend xrt only, not {backend}")
    check_project(project, hls=backend != "golden")
    graph = load_graph(project / "ir")
    tok = load_tokenizer(project / "tokenizer")
    if tok is None:
        raise UserError(
            f"{project} has no tokenizer (compiled from a model without tokenizer.json); --text needs one"
        )
    text = valid_utf8(text)
    if not text.strip():
        raise UserError("--text is empty")
    seq = int(graph.meta["seq_len"])
    tok.no_truncation()
    n_tokens = len(tok.encode(text).ids)
    if n_tokens > seq:
        log.warning(
            "--text is %d tokens long; only the first %d (the project's sequence length) are used",
            n_tokens,
            seq,
        )
    feeds = encode(tok, [text], seq)
    feeds = {k: feeds[k] for k in graph.inputs}
    with open_accelerator(backend, project=project, graph=graph, **xrt) as acc:
        out = acc.run(feeds)
    return feeds, out


def file_outputs(graph: Graph, out: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """What the compiled file computes: the dequantized output, pooled on the host where the
    file carried a pooling tail (``meta["host_outputs"]``: file output -> pooling)."""
    name = graph.outputs[0]
    real = np.asarray(out[name]).astype(np.float64) * np.asarray(graph.meta["tensor_scales"][name])
    kinds = graph.meta.get("host_outputs") or {name: "none"}
    return host_outputs(kinds, real, mask)


def run_text(project: Path, text: str, backend: str = "golden", **xrt: Any) -> str:
    """Human-readable summary: integer output digest and values, plus the dequantized result."""
    feeds, out = run_text_outputs(project, text, backend, **xrt)
    graph = load_graph(Path(project) / "ir")
    name = graph.outputs[0]
    y = np.asarray(out[name]).astype(np.int64)
    digest = hashlib.sha256(y.tobytes()).hexdigest()[:16]
    scale = np.asarray(graph.meta["tensor_scales"][name], dtype=np.float64)
    real = y * scale
    n = int(feeds["attention_mask"].sum())
    lines = [f"backend {backend}: {name} int8 shape {list(y.shape)}, sha256 {digest}, {n} real tokens"]
    if y.ndim == 3:
        lines.append("token 0 (int8), first 16: " + " ".join(str(v) for v in y[0, 0, :16]))
        emb = real[0, :n].mean(axis=0)
        lines.append(
            "sentence embedding (mean pooled, dequantized), first 8: "
            + " ".join(f"{v:+.4f}" for v in emb[:8])
        )
    else:
        lines.append("logits (int8): " + " ".join(str(v) for v in y[0]))
        lines.append("logits (dequantized): " + " ".join(f"{v:+.4f}" for v in real[0]))
    for o, kind in (graph.meta.get("host_outputs") or {}).items():
        v = file_outputs(graph, out, feeds["attention_mask"])[o]
        lines.append(
            f"{o} (host pooling {kind}), first 8: " + " ".join(f"{x:+.4f}" for x in v.reshape(-1)[:8])
        )
    return "\n".join(lines)
