"""ONNX files from other exporters -> the graph the pattern importer reads.

Our own exporter (torch.export, fixed batch 1 and sequence length) writes graphs the importer
reads directly.  Files from the wild differ in two ways, handled here before the import:

* **dynamic axes** (the TorchScript exporter with ``dynamic_axes``, optimum): shape arithmetic
  as Shape/Gather/Unsqueeze/Concat chains, masks built with Where/Expand/ConstantOfShape.  The
  batch and sequence dims are fixed (1, the sequence length) and onnxscript's optimizer (shape
  inference + constant folding, a kept library rather than a folder of our own) folds the
  arithmetic into constants;
* **a pooling tail** (sentence-embedding exports): mean / CLS / max pooling over the attention
  mask, optionally L2-normalized, possibly next to the hidden state as a second output.  The
  tail is cut at the encoder's last LayerNormalization; each output of the file is recognised
  as one of :data:`compiler.ir.pooling.POOLINGS` of the encoder output, numerically, by running
  the file in onnxruntime and comparing (the tail may depend only on the encoder output, the
  attention mask and constants).  The pooling then runs on the host.

An output that is neither (e.g. BERT's pooler next to the hidden state) is refused in one line
naming the first node of its tail that no pattern covers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.pooling import POOLINGS, host_pool

log = logging.getLogger(__name__)

SHAPE_OPS = ("Shape", "Size", "ConstantOfShape", "Range")  # shape arithmetic left to fold
HEAD_OPS = {"MatMul", "Gemm", "Tanh", "Softmax", "LayerNormalization", "Erf", "Gelu"}
RECOGNISE_TOL = 1e-4  # relative to the output's largest magnitude
N_PROBE = 6


@dataclass(frozen=True)
class PreparedOnnx:
    """The encoder graph to import and how the file's outputs follow from it on the host."""

    model: Any  # onnx.ModelProto at batch 1 / seq_len, shape arithmetic folded
    seq_len: int
    host_outputs: Mapping[str, str] = field(default_factory=dict)  # file output -> pooling; {} = none cut
    folded: bool = False


def prepare(model: Any, seq_len: int) -> PreparedOnnx:
    """Fix the input dims, fold the shape arithmetic, cut a pooling tail (see the module doc)."""
    seq, dynamic = _fix_input_dims(model, seq_len)
    folded = dynamic or any(n.op_type in SHAPE_OPS for n in model.graph.node)
    if folded:
        model = _fold(model)
    if dynamic:
        _check_shapes(model, seq)
    tail = _cut_tail(model, seq)
    if tail is None:
        return PreparedOnnx(model, seq, {}, folded)
    cut, kinds = tail
    return PreparedOnnx(cut, seq, kinds, folded)


def _fix_input_dims(model: Any, seq_len: int) -> tuple[int, bool]:
    """Batch 1, sequence ``seq_len`` where the file leaves them open; (the sequence length, was any open)."""
    inputs = [i for i in model.graph.input if len(i.type.tensor_type.shape.dim) == 2]
    fixed = [int(i.type.tensor_type.shape.dim[1].dim_value) for i in inputs]
    seq = next((s for s in fixed if s > 0), seq_len)
    dynamic = False
    for i in inputs:
        d0, d1 = i.type.tensor_type.shape.dim
        for d, value in ((d0, 1), (d1, seq)):
            if d.dim_value <= 0:
                d.Clear()
                d.dim_value = value
                dynamic = True
    if dynamic:  # shapes the exporter wrote with symbolic dims are inferred again
        del model.graph.value_info[:]
        for o in model.graph.output:
            for d in o.type.tensor_type.shape.dim:
                if d.dim_param:
                    d.Clear()
    return seq, dynamic


def _fold(model: Any) -> Any:
    """Shape inference and constant folding by onnxscript's optimizer.  Its default leaves
    ConstantOfShape alone (it can make big constants); here the shapes are batch 1 by the
    sequence length, and the TorchScript exporter builds masks and token-type ids with it."""
    import onnxscript.optimizer
    from onnxscript import ir

    def should_fold(node: Any) -> bool | None:
        return True if node.op_type == "ConstantOfShape" else None

    try:
        m = ir.serde.deserialize_model(model)
        for _ in range(2):
            onnxscript.optimizer.fold_constants(m, onnx_shape_inference=True, should_fold=should_fold)
            onnxscript.optimizer.optimize(m)
        return ir.serde.serialize_model(m)
    except Exception as e:  # the optimizer's own error, on a graph it cannot fold
        raise UserError(
            f"cannot fold the ONNX file's shape arithmetic at batch 1: {str(e).splitlines()[0][:160]}"
        ) from None


def _check_shapes(model: Any, seq: int) -> None:
    """Strict shape inference at the fixed dims: a sequence longer than the position table shows here."""
    import onnx

    try:
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as e:
        detail = str(e).strip().splitlines()[-1][:160] if str(e).strip() else type(e).__name__
        raise UserError(
            f"the ONNX file does not run at batch 1, sequence length {seq} ({detail}); "
            "is --seq-len above the model's position embeddings?"
        ) from None


class _Dag:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.producer = {o: n for n in model.graph.node for o in n.output}
        self.inputs = [i.name for i in model.graph.input]

    def ancestors(self, t: str, stop: str) -> tuple[list[Any], set[str]]:
        """Nodes computing ``t`` (not past ``stop``) in graph order, and the graph inputs reached."""
        seen: set[int] = set()
        reached: set[str] = set()
        todo = [t]
        while todo:
            x = todo.pop()
            if x == stop:
                reached.add(x)
                continue
            n = self.producer.get(x)
            if n is None:
                if x in self.inputs:
                    reached.add(x)
                continue
            if id(n) not in seen:
                seen.add(id(n))
                todo.extend(i for i in n.input if i)
        return [n for n in self.model.graph.node if id(n) in seen], reached

    def tail(self, t: str, enc: str) -> tuple[list[Any], set[str]]:
        """The nodes between ``enc`` and ``t`` in graph order, and the graph inputs ``t`` reads."""
        nodes, reached = self.ancestors(t, enc)
        down = {enc}
        tail = []
        for n in nodes:  # graph order is topological: one forward sweep marks what enc reaches
            if any(i in down for i in n.input):
                down.update(n.output)
                tail.append(n)
        return tail, reached


def _cut_tail(model: Any, seq: int) -> tuple[Any, dict[str, str]] | None:
    """(the encoder model, output -> pooling), or None when the file has no pooling tail."""
    lns = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    outs = [o.name for o in model.graph.output]
    if not lns:
        return None
    enc = lns[-1].output[0]
    dag = _Dag(model)
    pooled: list[str] = []
    heads: list[tuple[str, Any]] = []
    for o in outs:
        if o == enc:
            continue
        tail, reached = dag.tail(o, enc)
        heavy = [n for n in tail if n.op_type in HEAD_OPS]
        if enc not in reached or heavy:
            heads.append((o, heavy[0] if heavy else None))
            continue
        others = reached - {enc, "attention_mask"}
        if others:
            first = tail[0] if tail else dag.producer[o]
            raise UserError(
                f"unsupported op {first.op_type} at node '{first.name}': output '{o}' is computed from "
                f"the encoder and {sorted(others)[0]}, not a pooling over the attention mask"
            )
        pooled.append(o)
    if not pooled and not (heads and enc in outs):
        return None  # the hidden state or head(s) alone: the importer's patterns
    if heads:
        o, node = heads[0]
        where = f" {node.op_type} at node '{node.name}'" if node is not None else f" at output '{o}'"
        raise UserError(
            f"unsupported op{where}: output '{o}' is a head after the encoder next to "
            f"{'a pooled output' if pooled else 'the hidden state'}; export the encoder output "
            "(with or without pooling) or one head"
        )
    kinds = _recognise(model, dag, enc, pooled, seq)
    kinds = {o: ("none" if o == enc else kinds[o]) for o in outs}
    return _encoder_only(model, enc, outs), kinds


def _recognise(model: Any, dag: _Dag, enc: str, pooled: list[str], seq: int) -> dict[str, str]:
    """Which :data:`POOLINGS` of ``enc`` each output in ``pooled`` is, by running the file."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(enc))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 2
    try:
        sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise UserError(f"onnxruntime cannot load the ONNX file: {str(e).splitlines()[0][:160]}") from None
    feeds = _probe_feeds(model, seq)
    names = [o.name for o in sess.get_outputs()]
    runs = [dict(zip(names, sess.run(None, f), strict=True)) for f in feeds]
    y = np.concatenate([r[enc] for r in runs])
    mask = np.concatenate([f["attention_mask"] for f in feeds])
    kinds = {}
    for o in pooled:
        want = np.concatenate([r[o] for r in runs]).astype(np.float64)
        kinds[o] = _match(o, y, mask, want, dag.tail(o, enc)[0])
    return kinds


def _match(o: str, y: np.ndarray, mask: np.ndarray, want: np.ndarray, tail: list[Any]) -> str:
    scale = max(float(np.max(np.abs(want))), 1e-6)
    for kind in POOLINGS:
        got = host_pool(kind, y, mask)
        if got.shape == want.shape and float(np.max(np.abs(got - want))) <= RECOGNISE_TOL * scale:
            return kind
    where = f" {tail[0].op_type} at node '{tail[0].name}'" if tail else ""
    raise UserError(
        f"unsupported op{where}: output '{o}' is not a pooling of the encoder output that "
        f"sparsehls knows ({', '.join(POOLINGS[1:])})"
    )


def _probe_feeds(model: Any, seq: int) -> list[dict[str, np.ndarray]]:
    from onnx import numpy_helper

    vocab = 2
    tables = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:  # the word table: the constant gathered by input_ids
        if n.op_type == "Gather" and n.input[1] == "input_ids" and n.input[0] in tables:
            vocab = int(numpy_helper.to_array(tables[n.input[0]]).shape[0])
    rng = np.random.default_rng(7)
    feeds = []
    for i in range(N_PROBE):
        length = seq if i == 0 else int(rng.integers(1, seq + 1))
        mask = np.zeros((1, seq), dtype=np.int64)
        mask[0, :length] = 1
        f = {
            "input_ids": rng.integers(0, vocab, size=(1, seq), dtype=np.int64) * mask,
            "attention_mask": mask,
            "token_type_ids": np.zeros((1, seq), dtype=np.int64),
        }
        feeds.append({i.name: f[i.name] for i in model.graph.input if i.name in f})
    return feeds


def _encoder_only(model: Any, enc: str, outs: list[str]) -> Any:
    """The model up to ``enc``, with ``enc`` as its one output (named last_hidden_state if free)."""
    import onnx.utils

    inputs = [i.name for i in model.graph.input]
    try:
        cut = onnx.utils.Extractor(model).extract_model(inputs, [enc])
    except Exception as e:
        raise UserError(f"cannot cut the ONNX file at '{enc}': {str(e).splitlines()[0][:160]}") from None
    new = "last_hidden_state"
    if enc == new or any(new in (*n.input, *n.output) for n in cut.graph.node) or new in outs and new != enc:
        return cut
    for n in cut.graph.node:
        for i, t in enumerate(n.output):
            if t == enc:
                n.output[i] = new
    cut.graph.output[0].name = new
    return cut
