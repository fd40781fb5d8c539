"""GPU rows of the bench: measured where this machine has a CUDA GPU, else NVIDIA's published figures.

What a user would run instead of an FPGA is a GPU.  Where ``torch.cuda.is_available()``
the bench times torch fp16 and onnxruntime's CUDA provider on the model itself (batch 1,
the project's sequence length).  Elsewhere it quotes the NVIDIA TensorRT demoBERT
README (BERT-base, seq 128, batch 1, average latency, dense weights): those rows are
labelled ``published`` and compared with the FPGA estimate only when the workload is
BERT-base shaped (12 layers, hidden 768, seq 128); for another model they are shown
for scale and the bench says the model differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PUBLISHED_SOURCE = "published (NVIDIA TensorRT demoBERT, BERT-base seq 128 batch 1 INT8, dense)"
PUBLISHED_FP16_SOURCE = "published (NVIDIA TensorRT demoBERT, BERT-base seq 128 batch 1 FP16, dense)"
#: demoBERT README, average latency in ms (INT8, FP16) per GPU
PUBLISHED_MS: dict[str, tuple[float, float]] = {"A100": (0.58, 0.67), "A30": (0.63, 0.89), "T4": (1.69, 1.95)}
#: the workload the published figures are for
REFERENCE = {"layers": 12, "hidden": 768, "seq_len": 128}


def comparability(model: dict[str, Any], seq: int) -> tuple[bool, str]:
    """Whether published BERT-base figures may be set against this model's, and a sentence saying so."""
    got = {"layers": model.get("layers"), "hidden": model.get("hidden"), "seq_len": seq}
    if got == REFERENCE:
        return True, (
            "the model is BERT-base shaped (12 layers, hidden 768, seq 128) like the published workload; "
            "the GPU figures are for dense BERT-base, the FPGA runs the pruned model"
        )
    diff = ", ".join(f"{k} {got[k]} (BERT-base {v})" for k, v in REFERENCE.items() if got[k] != v)
    return False, (
        f"the published GPU figures are for BERT-base, seq 128; this model differs ({diff}): "
        "they are shown for scale only and not compared"
    )


def published_rows() -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for gpu, (int8, fp16) in PUBLISHED_MS.items():
        rows[f"{gpu} TensorRT INT8"] = {
            "source": "published",
            "label": PUBLISHED_SOURCE,
            "gpu": gpu,
            "precision": "int8",
            "latency_ms": int8,
        }
        rows[f"{gpu} TensorRT FP16"] = {
            "source": "published",
            "label": PUBLISHED_FP16_SOURCE,
            "gpu": gpu,
            "precision": "fp16",
            "latency_ms": fp16,
        }
    return rows


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def cuda_backends(
    onnx_path: Path | None, ckpt: Path | None, seq: int, vocab: int
) -> dict[str, Callable[[], Any]]:
    """torch fp16 and onnxruntime CUDA on this machine's GPU, each call synchronized, batch 1."""
    import torch

    from compiler.bench import cpu

    out: dict[str, Callable[[], Any]] = {}
    if ckpt is not None:
        from compiler.checkpoint import load_hf_model
        from compiler.frontend.export import model_input_names

        model = cpu.stock_model(ckpt) or load_hf_model(ckpt)
        model = model.eval().half().cuda()
        names = list(model_input_names(model))
        f = {k: torch.from_numpy(v).cuda() for k, v in cpu.feeds(seq, vocab, names).items()}

        def run_torch() -> Any:
            with torch.inference_mode():
                y = model(**f)
            torch.cuda.synchronize()
            return y

        out["torch fp16 (CUDA)"] = run_torch
    if onnx_path is not None and onnx_path.exists():
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            sess = ort.InferenceSession(str(onnx_path), providers=["CUDAExecutionProvider"])
            f_np = cpu.feeds(seq, vocab, [i.name for i in sess.get_inputs()])
            out["onnxruntime fp32 (CUDA)"] = partial(
                sess.run, None, f_np
            )  # run() returns host arrays: synced
    return out


def measured_rows(
    onnx_path: Path | None, ckpt: Path | None, seq: int, vocab: int, reps: int
) -> dict[str, dict[str, Any]]:
    import torch

    from compiler.bench import cpu

    name = torch.cuda.get_device_name(0)
    res = cpu.measure(cuda_backends(onnx_path, ckpt, seq, vocab), reps)
    return {
        k: {
            "source": "measured",
            "label": f"measured in this run on {name}, batch 1, seq {seq}",
            "gpu": name,
            "precision": "fp16" if "fp16" in k else "fp32",
            "latency_ms": v["median_ms"],
            **v,
        }
        for k, v in res.items()
    }


def gpu_section(
    model: dict[str, Any], seq: int, onnx_path: Path | None, ckpt: Path | None, vocab: int, reps: int
) -> dict[str, Any]:
    """bench.json's ``gpu``: ``rows`` (each with ``source``: measured | published) and comparability."""
    rows: dict[str, dict[str, Any]] = {}
    if cuda_available():
        rows = measured_rows(onnx_path, ckpt, seq, vocab, reps)
    if rows:
        return {
            "source": "measured",
            "comparable": True,
            "note": "measured on this machine's GPU on the same model and sequence length",
            "rows": rows,
        }
    return gpu_section_published(model, seq)


def gpu_section_published(model: dict[str, Any], seq: int) -> dict[str, Any]:
    """The ``gpu`` section from NVIDIA's published figures alone (no GPU timed)."""
    ok, note = comparability(model, seq)
    return {"source": "published", "comparable": ok, "note": note, "rows": published_rows()}


def ratios(gpu: dict[str, Any], fpga: dict[str, Any]) -> dict[str, dict[str, float]]:
    """GPU latency / FPGA estimate per board, only where the GPU rows are for this workload."""
    if not gpu.get("comparable"):
        return {}
    return {
        b: {f"{k} / fpga": r["latency_ms"] / e["latency_ms"] for k, r in gpu["rows"].items()}
        for b, e in fpga.items()
    }
