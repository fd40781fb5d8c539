"""`compile MODEL.onnx` on files from other exporters: the TorchScript exporter with dynamic axes,
sentence-embedding exports with a pooling tail (mean over the mask, L2 normalize, CLS), extra
outputs; and a one-line refusal naming the node no pattern covers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clihelp import assert_user_error, run_cli

from compiler.cli import main
from compiler.frontend.inputs import random_inputs
from compiler.ir.io import load_graph

SEQ = 8
NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def _model(family: str, classifier: bool = False) -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    common = dict(vocab_size=100, max_position_embeddings=64, num_labels=3)
    if family == "bert":
        cfg = transformers.BertConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, **common
        )
        cls = transformers.BertForSequenceClassification if classifier else transformers.BertModel
    elif family == "distilbert":
        cfg = transformers.DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64, **common)
        cls = transformers.DistilBertModel
    else:
        common["max_position_embeddings"] = 66
        cfg = transformers.RobertaConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, **common
        )
        cls = transformers.RobertaModel
    cfg._attn_implementation = "eager"
    return cls(cfg).eval()


class _Tail:
    """A wrapper module: the encoder plus a pooling tail, as sentence-transformers exports it."""

    @staticmethod
    def make(model: Any, pooling: str, names: list[str]) -> Any:
        import torch

        class W(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = model

            def forward(self, *args: Any) -> Any:
                kw = dict(zip(names, args, strict=True))
                res = self.m(**kw)
                if pooling == "logits":
                    return res.logits
                if pooling == "pooler":
                    return res.last_hidden_state, res.pooler_output
                h = res.last_hidden_state
                if pooling == "none":
                    return h
                if pooling == "sum":  # no pattern: a sum, not a mean
                    return (h * kw["attention_mask"].unsqueeze(-1).float()).sum(1)
                if pooling.startswith("cls"):
                    e = h[:, 0]
                elif pooling == "max":
                    me = kw["attention_mask"].unsqueeze(-1).expand(h.size())
                    e = torch.where(me > 0, h, torch.full_like(h, -1e9)).max(1).values
                else:
                    me = kw["attention_mask"].unsqueeze(-1).expand(h.size()).float()
                    e = torch.sum(h * me, 1) / torch.clamp(me.sum(1), min=1e-9)
                if pooling.endswith("+l2"):
                    e = torch.nn.functional.normalize(e, p=2, dim=1)
                return (h, e) if pooling.startswith("both") else e

        return W()


def _export(path: Path, family: str, pooling: str, dynamo: bool = False) -> Path:
    import contextlib
    import io
    import warnings

    import torch

    model = _model(family, classifier=pooling == "logits")
    names = NAMES if family == "bert" else NAMES[:2]
    outs = {
        "none": ["last_hidden_state"],
        "logits": ["logits"],
        "pooler": ["last_hidden_state", "pooler_output"],
    }
    out_names = outs.get(
        pooling,
        ["last_hidden_state", "sentence_embedding"] if pooling.startswith("both") else ["sentence_embedding"],
    )
    args = tuple(
        torch.ones((1, SEQ), dtype=torch.long)
        if n == "attention_mask"
        else torch.zeros((1, SEQ), dtype=torch.long) + (n == "input_ids") * 5
        for n in names
    )
    kw: dict[str, Any] = {"input_names": names, "output_names": out_names}
    if dynamo:
        kw.update(dynamo=True, opset_version=18)
    else:
        kw.update(dynamo=False, opset_version=17, dynamic_axes={n: {0: "batch", 1: "seq"} for n in names})
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        res = torch.onnx.export(_Tail.make(model, pooling, names), args, None if dynamo else str(path), **kw)
        if dynamo:
            res.save(str(path))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wild")


def _compile(src: Path, out: Path, *extra: str) -> dict[str, Any]:
    args = [
        "compile",
        str(src),
        "-o",
        str(out),
        "--seq-len",
        str(SEQ),
        "--block",
        "4x4",
        "--calib",
        "4",
        "-q",
    ]
    assert main([*args, *extra]) == 0
    return json.loads((out / "report.json").read_text())


def _ort_outputs(src: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    rows = [sess.run(None, {k: feeds[k][i : i + 1] for k in names}) for i in range(len(feeds["input_ids"]))]
    return {o.name: np.concatenate([r[j] for r in rows]) for j, o in enumerate(sess.get_outputs())}


def _check_int_golden(src: Path, project: Path, min_cos: float = 0.98) -> None:
    """The compiled (integer) golden model, dequantized and pooled on the host, against the file."""
    from compiler.golden import interpreter
    from runtime.text import file_outputs

    graph = load_graph(project / "ir")
    feeds = random_inputs(4, SEQ, 100, seed=11)
    want = _ort_outputs(src, feeds)
    got = file_outputs(
        graph,
        interpreter.run(graph, {k: feeds[k] for k in graph.inputs}, mode="int"),
        feeds["attention_mask"],
    )
    assert set(got) == set(want)
    for o in want:
        a, b = got[o].reshape(len(feeds["input_ids"]), -1), want[o].reshape(len(feeds["input_ids"]), -1)
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() >= min_cos, (o, cos)


@pytest.mark.csim
def test_torchscript_dynamic_axes_mean_l2_compiles_and_simulates(files: Path) -> None:
    src = _export(files / "ts_mean_l2.onnx", "bert", "mean+l2")
    r = _compile(src, files / "p_ts_mean_l2")
    assert r["model"]["host_outputs"] == {"sentence_embedding": "mean+l2"}
    assert r["model"]["seq_len"] == SEQ
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    assert r["csim"]["passed"] and r["csim"]["mismatches"] == 0
    _check_int_golden(src, files / "p_ts_mean_l2")


@pytest.mark.parametrize(
    "family,pooling,dynamo,host",
    [
        ("bert", "none", False, None),
        ("bert", "logits", False, None),
        ("bert", "both+l2", False, {"last_hidden_state": "none", "sentence_embedding": "mean+l2"}),
        ("bert", "mean", True, {"sentence_embedding": "mean"}),
        ("distilbert", "cls+l2", False, {"sentence_embedding": "cls+l2"}),
        ("roberta", "mean+l2", False, {"sentence_embedding": "mean+l2"}),
        ("bert", "max", False, {"sentence_embedding": "max"}),
    ],
)
def test_exports_in_the_wild_compile(files: Path, family: str, pooling: str, dynamo: bool, host: Any) -> None:
    tag = f"{family}_{pooling}_{'dyn' if dynamo else 'ts'}"
    src = _export(files / f"{tag}.onnx", family, pooling, dynamo)
    r = _compile(src, files / f"p_{tag}", "--no-hls")
    assert r["model"].get("host_outputs") == host
    assert r["checks"]["golden_float_vs_onnx_max_abs"] <= 1e-4
    _check_int_golden(src, files / f"p_{tag}")


@pytest.mark.parametrize(
    "pooling,needles",
    [
        ("pooler", ("Gemm", "pooler_output")),  # BERT's pooler next to the hidden state
        ("sum", ("Mul", "sentence_embedding", "not a pooling")),  # no host pooling covers a sum
    ],
)
def test_uncovered_tail_is_refused_in_one_line(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], pooling: str, needles: tuple[str, ...]
) -> None:
    src = _export(files / f"bad_{pooling}.onnx", "bert", pooling)
    code, err = run_cli(
        capsys, "compile", str(src), "-o", str(tmp_path / "p"), "--seq-len", str(SEQ), "--no-hls", "-q"
    )
    assert_user_error(code, err, *needles)
    assert not (tmp_path / "p").exists()


def test_unsupported_op_in_the_middle_is_refused(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnx

    src = _export(files / "mid.onnx", "bert", "none")
    m = onnx.load(str(src))
    ln = next(n for n in m.graph.node if n.op_type == "LayerNormalization")
    t = ln.output[0]
    for n in m.graph.node:  # every reader of the embeddings' LayerNorm reads Abs(it) instead
        for i, x in enumerate(n.input):
            if x == t:
                n.input[i] = "abs_out"
    m.graph.node.insert(
        list(m.graph.node).index(ln) + 1, onnx.helper.make_node("Abs", [t], ["abs_out"], name="odd_abs")
    )
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    code, err = run_cli(
        capsys, "compile", str(bad), "-o", str(tmp_path / "p"), "--seq-len", str(SEQ), "--no-hls", "-q"
    )
    assert_user_error(code, err, "Abs", "odd_abs")


def test_seq_len_above_the_position_table_is_refused(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _export(files / "long.onnx", "bert", "mean")
    code, err = run_cli(capsys, "compile", str(src), "-o", str(tmp_path / "p"), "--seq-len", "100", "-q")
    assert_user_error(code, err, "sequence length 100", "--seq-len")
