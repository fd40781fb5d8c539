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
PAUSE_S = 0.05


def timeit(fn: Callable[[], Any], reps: int = 10, warmup: int = 3) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
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
    # no busy-waiting after a run: spinning pool threads would steal the cores from the
    # next backend timed in the same process (seen: torch 10x slower beside a spinning session)
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def onnx_backends(
    onnx_path: Path, seq: int, vocab: int, threads: int, tmp: Path
) -> dict[str, Callable[[], Any]]:
    """onnxruntime fp32 and int8 (dynamic quantization of the same graph), ready to call."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sess = _ort(onnx_path, threads)
    f = feeds(seq, vocab, [i.name for i in sess.get_inputs()])
    q = tmp / "int8.onnx"
    quantize_dynamic(str(onnx_path), str(q), weight_type=QuantType.QInt8)
    qs = _ort(q, threads)
    return {
        "onnxruntime fp32": partial(sess.run, None, f),
        "onnxruntime int8 (dynamic)": partial(qs.run, None, f),
    }


def torch_backends(ckpt: Path, seq: int, threads: int) -> dict[str, Callable[[], Any]]:
    """Stock transformers fp32, and the same model with pruned linears as torch sparse CSR and BSR matmuls."""
    import torch

    from compiler.checkpoint import load_hf_model
    from compiler.frontend.export import model_input_names

    torch.set_num_threads(threads)
    model = stock_model(ckpt)
    if model is None:
        model = load_hf_model(ckpt).eval()
    names = list(model_input_names(model))
    f = {k: torch.from_numpy(v) for k, v in feeds(seq, int(model.config.vocab_size), names).items()}

    def run(m: Any) -> Any:
        with torch.inference_mode():
            return m(**f)

    out: dict[str, Callable[[], Any]] = {"torch fp32": partial(run, model)}
    for fmt in ("csr", "bsr"):
        sparse = _sparsify(model, fmt)
        if sparse is None:
            continue
        try:
            run(sparse)
        except Exception as e:  # a torch build without the kernel for this layout
            log.info("torch sparse %s failed: %s", fmt, e)
            continue
        out[f"torch sparse {fmt} fp32"] = partial(run, sparse)
    return out


def measure(backends: dict[str, Callable[[], Any]], reps: int, warmup: int = 3) -> dict[str, dict[str, Any]]:
    """Median of ``reps`` runs per backend, the backends timed in turn (round-robin).

    Interleaving matters on a shared machine: a burst of load from other jobs
    hits every backend alike instead of one of them.
    """
    from compiler.bench.progress import track

    for fn in backends.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in backends}
    for _ in track(range(reps), "timing CPU backends (round-robin)", reps):
        for k, fn in backends.items():
            time.sleep(PAUSE_S)  # let the previous backend's worker threads go idle
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {
        k: {
            "median_ms": statistics.median(v),
            "min_ms": min(v),
            "max_ms": max(v),
            "reps": reps,
            "warmup": warmup,
        }
        for k, v in times.items()
    }


def best_sparse(res: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Keep only the faster torch sparse layout (the 'best sparse CPU path')."""
    sp = [k for k in res if k.startswith("torch sparse")]
    if len(sp) > 1:
        keep = min(sp, key=lambda k: res[k]["median_ms"])
        for k in sp:
            if k != keep:
                res[k]["dropped_as_slower_sparse_path"] = True
    return res


def measure_all(
    onnx_path: Path | None, ckpt: Path | None, seq: int, vocab: int, threads: int, reps: int
) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="sparsehls-q-") as tmp:
        fns: dict[str, Callable[[], Any]] = {}
        if ckpt is not None:
            fns.update(torch_backends(ckpt, seq, threads))
        if onnx_path is not None and onnx_path.exists():
            fns.update(onnx_backends(onnx_path, seq, vocab, threads, Path(tmp)))
        return best_sparse(measure(fns, reps))


def stock_model(ckpt: Path) -> Any:
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
