"""CPU baselines measured in the same run: torch fp32, onnxruntime fp32 / int8 (dynamic), torch sparse CSR."""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def timeit(fn: Callable[[], Any], reps: int = 10, warmup: int = 3, label: str = "") -> dict[str, Any]:
    from compiler.bench.progress import track

    for _ in range(warmup):
        fn()
    ts = []
    for _ in track(range(reps), f"timing {label}".strip(), reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return {
        "median_ms": statistics.median(ts),
        "min_ms": min(ts),
        "max_ms": max(ts),
        "reps": reps,
        "warmup": warmup,
    }


def feeds(seq: int, vocab: int, names: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = {
        "input_ids": rng.integers(5, vocab, size=(1, seq), dtype=np.int64),
        "attention_mask": np.ones((1, seq), np.int64),
    }
    f["token_type_ids"] = np.zeros((1, seq), np.int64)
    return {k: f[k] for k in names}


def _ort(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.log_severity_level = 3
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def bench_onnx(onnx_path: Path, seq: int, vocab: int, threads: int, reps: int) -> dict[str, dict[str, Any]]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out: dict[str, dict[str, Any]] = {}
    sess = _ort(onnx_path, threads)
    names = [i.name for i in sess.get_inputs()]
    f = feeds(seq, vocab, names)
    out["onnxruntime fp32"] = timeit(lambda: sess.run(None, f), reps, label="onnxruntime fp32")
    with tempfile.TemporaryDirectory(prefix="sparsehls-q-") as tmp:
        q = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(onnx_path), str(q), weight_type=QuantType.QInt8)
        qs = _ort(q, threads)
        out["onnxruntime int8 (dynamic)"] = timeit(lambda: qs.run(None, f), reps, label="onnxruntime int8")
    return out


def bench_torch(ckpt: Path, seq: int, threads: int, reps: int) -> dict[str, dict[str, Any]]:
    """torch fp32 dense, and torch with every pruned linear as a sparse CSR matmul (the best sparse CPU path found)."""
    import torch

    from compiler.checkpoint import load_hf_model
    from compiler.frontend.export import model_input_names

    torch.set_num_threads(threads)
    model = _stock_model(ckpt)
    if model is None:
        model = load_hf_model(ckpt).eval()
    names = list(model_input_names(model))
    f = {k: torch.from_numpy(v) for k, v in feeds(seq, int(model.config.vocab_size), names).items()}
    out: dict[str, dict[str, Any]] = {}
    with torch.inference_mode():
        out["torch fp32"] = timeit(lambda: model(**f), reps, label="torch fp32")
        best: tuple[str, dict[str, Any]] | None = None
        for fmt in ("csr", "bsr"):
            sparse = _sparsify(model, fmt)
            if sparse is None:
                continue
            try:
                r = timeit(partial(sparse, **f), reps, label=f"torch sparse {fmt}")
            except Exception as e:  # a torch build without the kernel for this layout
                log.info("torch sparse %s failed: %s", fmt, e)
                continue
            r["format"] = fmt
            if best is None or r["median_ms"] < best[1]["median_ms"]:
                best = (fmt, r)
        if best is not None:
            out[f"torch sparse {best[0]} fp32"] = best[1]
    return out


def _stock_model(ckpt: Path) -> Any:
    """The checkpoint as stock transformers loads it (default attention kernel): the fair torch baseline.

    ``compiler.checkpoint.load_hf_model`` forces eager attention (needed for a
    correct ONNX export); timed here it was about 10x slower than this.
    """
    try:
        import transformers

        from compiler.checkpoint import quiet_transformers

        quiet_transformers()
        cfg = transformers.AutoConfig.from_pretrained(str(ckpt), local_files_only=True)
        arch = (getattr(cfg, "architectures", None) or ["AutoModel"])[0]
        cls = getattr(transformers, arch, transformers.AutoModel)
        return cls.from_pretrained(str(ckpt), local_files_only=True).eval()
    except Exception as e:  # an architecture stock transformers cannot load by name
        log.info("stock load of %s failed (%s); using load_hf_model", ckpt, e)
        return None


def _sparsify(model: Any, fmt: str) -> Any:
    import copy

    import torch

    class SparseLinear(torch.nn.Module):
        def __init__(self, lin: torch.nn.Linear) -> None:
            super().__init__()
            w = lin.weight.detach()
            self.w = (
                w.to_sparse_csr()
                if fmt == "csr"
                else w.to_sparse_bsr((16, 16))
                if w.shape[0] % 16 == 0 and w.shape[1] % 16 == 0
                else w.to_sparse_csr()
            )
            self.b = lin.bias.detach() if lin.bias is not None else None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            shp = x.shape
            y = (self.w @ x.reshape(-1, shp[-1]).T).T
            if self.b is not None:
                y = y + self.b
            return y.reshape(*shp[:-1], -1)

    m = copy.deepcopy(model)
    for _name, mod in list(m.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, torch.nn.Linear) and float((child.weight == 0).float().mean()) > 0.3:
                setattr(mod, cname, SparseLinear(child))
    return m


def threads_default() -> int:
    return int(os.environ.get("SPARSEHLS_BENCH_THREADS", os.cpu_count() or 1))
