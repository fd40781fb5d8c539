"""ONNX -> IR by graph patterns (not module names).

Recognised patterns (each checked structurally; elementwise subgraphs such as
GELU are also checked numerically against the function they claim to be):

* embeddings: ``Gather(table, ids)`` sums (word, position, token type);
* ``LayerNormalization``;
* linear: ``MatMul(x, W)`` with a constant W, optionally ``+ b`` (constant);
* self-attention: ``Softmax(scale * (Q' @ K'^T) [+ mask])`` where Q', K', V'
  reach linear outputs through Reshape/Transpose only, followed by
  ``MatMul(P, V')`` and Transpose/Reshape back to ``[B, S, H]``;
* GELU: the erf form, the tanh form, or the ONNX ``Gelu`` op;
* residual ``Add`` of two activations; ``Tanh``; first-token selection.

Subgraphs that only depend on ``attention_mask`` (the additive mask) or on
constants are folded away; the mask semantics are then checked end to end by
the float golden vs onnxruntime comparison.  Any other op is an error naming
its type and node.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.ir.graph import Graph, Node, frozen

LAYOUT_OPS = {"Reshape", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Flatten"}
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Erf", "Tanh", "Pow", "Sqrt", "Neg", "Identity", "Cast"}


def _np_ops() -> dict[str, Callable[..., np.ndarray]]:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return {
        "Add": np.add,
        "Sub": np.subtract,
        "Mul": np.multiply,
        "Div": np.divide,
        "Erf": erf,
        "Tanh": np.tanh,
        "Pow": np.power,
        "Sqrt": np.sqrt,
        "Neg": np.negative,
        "Identity": lambda x: x,
        "Cast": lambda x: x,
    }


@dataclass
class _Onnx:
    model: Any
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    producer: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, model: Any) -> _Onnx:
        from onnx import numpy_helper

        self = cls(model)
        g = model.graph
        for init in g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        for n in g.node:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        for n in g.node:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.consts[n.output[0]] = numpy_helper.to_array(a.t)
                    elif a.name in ("value_float", "value_int"):
                        self.consts[n.output[0]] = np.array(a.f if a.name == "value_float" else a.i)
                    elif a.name in ("value_floats", "value_ints"):
                        self.consts[n.output[0]] = np.array(
                            list(a.floats) if a.name == "value_floats" else list(a.ints)
                        )
        return self

    def attr(self, node: Any, name: str, default: Any = None) -> Any:
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def const(self, t: str) -> np.ndarray | None:
        return self.consts.get(t)

    def prod(self, t: str) -> Any:
        return self.producer.get(t)


class _Importer:
    def __init__(self, model: Any, meta: dict[str, Any]) -> None:
        self.o = _Onnx.load(model)
        self.meta = dict(meta)
        self.nodes: list[Node] = []
        self.params: dict[str, np.ndarray] = {}
        self.tmap: dict[str, str] = {}  # onnx tensor -> IR tensor
        self.absorbed: set[str] = set()  # onnx node names consumed by a pattern
        self.graph_inputs = [i.name for i in model.graph.input]
        for i in model.graph.input:
            dims = i.type.tensor_type.shape.dim
            if i.name == "input_ids" and len(dims) == 2 and dims[1].dim_value > 0:
                self.meta["seq_len"] = int(dims[1].dim_value)
        self.graph_outputs = [o.name for o in model.graph.output]
        self.mask_derived: set[str] = set()
        self.ids_derived: set[str] = set()
        self.counter = 0
        self.deferred: list[Any] = []

    # ---------------------------------------------------------------- helpers
    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}_{self.counter}"

    def add_param(self, name: str, value: np.ndarray) -> str:
        key = name
        i = 1
        while key in self.params:
            i += 1
            key = f"{name}.{i}"
        self.params[key] = np.ascontiguousarray(value)
        return key

    def emit(
        self,
        op: str,
        onnx_out: str,
        inputs: list[str],
        attrs: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> str:
        out = self.fresh(op)
        self.nodes.append(
            Node(
                op=op,
                name=out,
                inputs=tuple(inputs),
                outputs=(out,),
                attrs=frozen(attrs),
                params=frozen(params),
            )
        )
        self.tmap[onnx_out] = out
        return out

    def through_layout(self, t: str) -> tuple[str, list[Any]]:
        """Walk back through Reshape/Transpose/...; return the source tensor and the layout nodes."""
        chain: list[Any] = []
        while True:
            n = self.o.prod(t)
            if n is None or n.op_type not in LAYOUT_OPS:
                return t, chain
            chain.append(n)
            t = n.input[0]

    def ir(self, t: str, where: Any) -> str:
        if t in self.tmap:
            return self.tmap[t]
        if t in self.graph_inputs:
            return t
        n = self.o.prod(t)
        op = n.op_type if n is not None else "?"
        raise UserError(
            f"unsupported pattern: tensor '{t}' produced by {op} node '{getattr(n, 'name', '?')}' feeds {where.op_type} node '{where.name}'"
        )

    # ------------------------------------------------------------- analysis
    def propagate_derived(self) -> None:
        """Mark tensors computed only from attention_mask (or input_ids) and constants."""
        for n in self.o.model.graph.node:
            ins = [i for i in n.input if i and i not in self.o.consts]
            if not ins:
                if n.op_type not in ("Constant", "Gather"):
                    for out in n.output:  # foldable constant computation
                        self.mask_derived.add(out)
                continue
            if all(i in self.mask_derived or i == "attention_mask" for i in ins):
                self.mask_derived.update(n.output)
            elif n.op_type != "Gather" and all(i in self.ids_derived or i == "input_ids" for i in ins):
                self.ids_derived.update(n.output)

    # -------------------------------------------------------------- patterns
    def run(self) -> Graph:
        self.propagate_derived()
        for n in self.o.model.graph.node:
            if n.name in self.absorbed or n.op_type == "Constant":
                continue
            feeds_output = any(o in self.graph_outputs for o in n.output)
            if not feeds_output and (
                all(o in self.mask_derived for o in n.output) or all(o in self.ids_derived for o in n.output)
            ):
                continue
            if (
                n.op_type in LAYOUT_OPS
                or n.op_type in ("Mul", "Div", "Sub", "Pow", "Sqrt", "Neg", "Cast")
                or (n.op_type == "MatMul" and self.o.const(n.input[1]) is None)
            ):
                self.deferred.append(n)  # absorbed later by the attention pattern, or an error
                continue
            handler = getattr(self, f"on_{n.op_type}", None)
            if handler is None:
                raise UserError(f"unsupported op {n.op_type} at node '{n.name}'")
            handler(n)
        for n in self.deferred:
            if n.name not in self.absorbed:
                raise UserError(
                    f"unsupported op {n.op_type} at node '{n.name}' (not part of a recognised pattern)"
                )
        outputs = []
        for o in self.graph_outputs:
            if o not in self.tmap:
                raise UserError(f"graph output '{o}' is not produced by a recognised pattern")
            outputs.append(self.tmap[o])
        nodes = _rename_outputs(self.nodes, dict(zip(outputs, self.graph_outputs, strict=True)))
        g = Graph(
            nodes=tuple(nodes),
            inputs=tuple(i for i in self.graph_inputs),
            outputs=tuple(self.graph_outputs),
            params=frozen(self.params),
            meta=frozen(self.meta),
        )
        return assign_layers(g)

    def on_Gather(self, n: Any) -> None:
        table = self.o.const(n.input[0])
        idx = n.input[1]
        if table is not None and table.ndim == 2:
            # embedding lookup: handled when the sum reaches its consumer
            self.tmap[n.output[0]] = f"__gather__:{n.name}"
            return
        # first-token selection: Gather(x, 0, axis=1)
        c = self.o.const(idx)
        if c is not None and c.size == 1 and int(c.reshape(-1)[0]) == 0 and self.o.attr(n, "axis", 0) == 1:
            self.emit("take_first", n.output[0], [self.ir(n.input[0], n)])
            return
        raise UserError(f"unsupported Gather pattern at node '{n.name}'")

    def on_Slice(self, n: Any) -> None:
        # x[:, 0] written as Slice(start 0, end 1, axis 1) then Squeeze
        starts, ends = self.o.const(n.input[1]), self.o.const(n.input[2])
        axes = self.o.const(n.input[3]) if len(n.input) > 3 else None
        cons = self.o.consumers.get(n.output[0], [])
        if (
            starts is not None
            and ends is not None
            and axes is not None
            and list(axes.reshape(-1)) == [1]
            and int(starts.reshape(-1)[0]) == 0
            and int(ends.reshape(-1)[0]) == 1
            and len(cons) == 1
            and cons[0].op_type in ("Squeeze", "Reshape")
        ):
            self.absorbed.add(cons[0].name)
            self.emit("take_first", cons[0].output[0], [self.ir(n.input[0], n)])
            return
        raise UserError(f"unsupported Slice pattern at node '{n.name}'")

    def _embedding_terms(self, t: str) -> list[Any] | None:
        """Gather nodes summed into t by Adds, or None if t is not such a sum."""
        n = self.o.prod(t)
        if n is not None and n.op_type == "Gather":
            table = self.o.const(n.input[0])
            return [n] if table is not None and table.ndim == 2 else None
        c = self.o.const(t)
        if c is not None and c.ndim >= 2 and c.shape[-2] == self.meta.get("seq_len", -1):
            return [t]  # position rows already gathered and constant-folded by the exporter
        if n is None or n.op_type != "Add":
            return None
        a, b = (self._embedding_terms(i) for i in n.input)
        if a is None or b is None:
            return None
        return a + b

    def _uniform_index(self, idx: str) -> int | None:
        """The one value of an index tensor gathered from a constant that holds a single value
        (RoBERTa's buffered token-type ids, gathered by position in the TorchScript export)."""
        p = self.o.prod(idx)
        if p is None or p.op_type not in ("Gather", "GatherElements", "Expand"):
            return None
        data = self.o.const(p.input[0])
        if data is None or data.size == 0 or not np.all(data == data.reshape(-1)[0]):
            return None
        return int(data.reshape(-1)[0])

    def _embed(self, n: Any, terms: list[Any]) -> None:
        params, attrs, inputs = {}, {"position_mode": "arange", "position_offset": 0}, ["input_ids"]
        const_rows: list[np.ndarray] = []  # embedding rows every token gets: folded into pos
        for g in terms:
            if isinstance(g, str):  # folded position rows [.., S, H]: positions 0..S-1
                rows = self.o.consts[g]
                params["pos"] = self.add_param(
                    "embeddings.pos", rows.reshape(rows.shape[-2], rows.shape[-1]).astype(np.float32)
                )
                continue
            table, idx = self.o.consts[g.input[0]], g.input[1]
            if idx == "input_ids":
                params["word"] = self.add_param("embeddings.word", table)
            elif idx == "token_type_ids":
                params["type"] = self.add_param("embeddings.type", table)
                inputs.append("token_type_ids")
            elif (v := self._uniform_index(idx)) is not None and 0 <= v < table.shape[0]:
                const_rows.append(table[v].astype(np.float32))
            else:
                params["pos"] = self.add_param("embeddings.pos", table)
                pos = self.o.const(idx)
                if pos is not None:
                    flat = pos.reshape(-1).astype(np.int64)
                    if not np.array_equal(flat, np.arange(flat.size) + flat[0]):
                        raise UserError(f"position ids at node '{g.name}' are not a contiguous range")
                    attrs["position_offset"] = int(flat[0])
                elif idx in self.ids_derived:
                    attrs["position_mode"] = "roberta"
                    attrs["padding_idx"] = int(self.meta.get("pad_token_id", 1))
                else:
                    raise UserError(f"unsupported position-id computation feeding node '{g.name}'")
        if "word" not in params or "pos" not in params:
            raise UserError(f"embedding sum at node '{n.name}' lacks word or position embeddings")
        for row in const_rows:
            params["pos"] = self.add_param("embeddings.pos", self.params[params["pos"]] + row)
        self.emit("embed", n.output[0], inputs, attrs, params)

    def on_Add(self, n: Any) -> None:
        terms = self._embedding_terms(n.output[0])
        if terms is not None:
            # consumed later, when the sum is complete (its consumer is not an Add of gathers)
            cons = self.o.consumers.get(n.output[0], [])
            if any(c.op_type == "Add" and self._embedding_terms(c.output[0]) is not None for c in cons):
                self.tmap[n.output[0]] = "__partial__"
                return
            self._embed(n, terms)
            return
        a, b = n.input
        ca, cb = self.o.const(a), self.o.const(b)
        if ca is not None or cb is not None:
            x = b if ca is not None else a
            raise UserError(f"unsupported Add of a constant at node '{n.name}' (input '{x}' is not a MatMul)")
        if a in self.mask_derived or b in self.mask_derived:
            self.deferred.append(n)  # must be absorbed by the Softmax pattern
            return
        self.emit("add", n.output[0], [self.ir(a, n), self.ir(b, n)])

    def on_LayerNormalization(self, n: Any) -> None:
        axis = self.o.attr(n, "axis", -1)
        if axis not in (-1, 2):
            raise UserError(f"LayerNormalization over axis {axis} at node '{n.name}' is not supported")
        gamma = self.o.const(n.input[1])
        beta = self.o.const(n.input[2]) if len(n.input) > 2 and n.input[2] else np.zeros_like(gamma)
        if gamma is None or beta is None:
            raise UserError(f"LayerNormalization at node '{n.name}' has non-constant scale or bias")
        eps = float(self.o.attr(n, "epsilon", 1e-5))
        x = self.ir(n.input[0], n)
        base = f"ln{len([m for m in self.nodes if m.op == 'layernorm'])}"
        params = {
            "gamma": self.add_param(f"{base}.gamma", gamma.astype(np.float32)),
            "beta": self.add_param(f"{base}.beta", beta.astype(np.float32)),
        }
        self.emit("layernorm", n.output[0], [x], {"eps": eps}, params)

    def on_MatMul(self, n: Any) -> None:
        w = self.o.const(n.input[1])
        if w is None:
            # attention matmuls are absorbed by the Softmax pattern
            raise UserError(
                f"unsupported MatMul of two activations at node '{n.name}' (not part of a recognised attention)"
            )
        if w.ndim != 2:
            raise UserError(f"MatMul at node '{n.name}' has a {w.ndim}-D weight")
        x = self.ir(n.input[0], n)
        out = n.output[0]
        bias = None
        cons = self.o.consumers.get(out, [])
        if len(cons) == 1 and cons[0].op_type == "Add":
            other = [i for i in cons[0].input if i != out]
            b = self.o.const(other[0]) if other else None
            if b is not None and b.size == w.shape[1]:
                bias = b.reshape(-1)
                self.absorbed.add(cons[0].name)
                out = cons[0].output[0]
        k = len([m for m in self.nodes if m.op == "linear"])
        params = {"weight": self.add_param(f"linear{k}.weight", np.ascontiguousarray(w.T.astype(np.float32)))}
        if bias is not None:
            params["bias"] = self.add_param(f"linear{k}.bias", bias.astype(np.float32))
        self.emit("linear", out, [x], {"block": tuple(self.meta.get("block", (16, 16)))}, params)

    def on_Gemm(self, n: Any) -> None:
        w = self.o.const(n.input[1])
        if (
            w is None
            or self.o.attr(n, "transA", 0)
            or self.o.attr(n, "alpha", 1.0) != 1.0
            or self.o.attr(n, "beta", 1.0) != 1.0
        ):
            raise UserError(
                f"unsupported Gemm form at node '{n.name}' (needs a constant B, no transA, alpha = beta = 1)"
            )
        weight = w if self.o.attr(n, "transB", 0) else w.T  # [N, K]
        x = self.ir(n.input[0], n)
        k = len([m for m in self.nodes if m.op == "linear"])
        params = {
            "weight": self.add_param(f"linear{k}.weight", np.ascontiguousarray(weight.astype(np.float32)))
        }
        if len(n.input) > 2 and n.input[2]:
            b = self.o.const(n.input[2])
            if b is None:
                raise UserError(f"Gemm at node '{n.name}' has a non-constant bias")
            params["bias"] = self.add_param(
                f"linear{k}.bias", np.broadcast_to(b.reshape(-1), (weight.shape[0],)).astype(np.float32)
            )
        self.emit("linear", n.output[0], [x], {"block": tuple(self.meta.get("block", (16, 16)))}, params)

    # ---- attention ------------------------------------------------------
    def _scale_chain(self, t: str) -> tuple[str, float]:
        """Strip Mul/Div by constants (and layout ops); return source and the product."""
        scale = 1.0
        while True:
            n = self.o.prod(t)
            if n is None:
                return t, scale
            if n.op_type in ("Mul", "Div"):
                c0, c1 = self.o.const(n.input[0]), self.o.const(n.input[1])
                if c1 is not None and c1.size == 1:
                    scale = scale * float(c1) if n.op_type == "Mul" else scale / float(c1)
                    self.absorbed.add(n.name)
                    t = n.input[0]
                    continue
                if c0 is not None and c0.size == 1 and n.op_type == "Mul":
                    scale *= float(c0)
                    self.absorbed.add(n.name)
                    t = n.input[1]
                    continue
            return t, scale

    def _linear_source(self, t: str, where: Any) -> tuple[str, list[Any]]:
        src, chain = self.through_layout(t)
        if src not in self.tmap:
            raise UserError(f"attention operand at node '{where.name}' does not come from a linear layer")
        for c in chain:
            self.absorbed.add(c.name)
        return self.tmap[src], chain

    def on_Softmax(self, n: Any) -> None:
        t = n.input[0]
        p = self.o.prod(t)
        has_mask = False
        if p is not None and p.op_type == "Add":
            a, b = p.input
            if b in self.mask_derived or a in self.mask_derived:
                has_mask = True
                self.absorbed.add(p.name)
                t = a if b in self.mask_derived else b
        t, scale = self._scale_chain(t)
        mm = self.o.prod(t)
        if mm is None or mm.op_type != "MatMul":
            raise UserError(f"Softmax at node '{n.name}' is not applied to a Q @ K^T product")
        self.absorbed.add(mm.name)
        qt, s1 = self._scale_chain(mm.input[0])
        kt, s2 = self._scale_chain(mm.input[1])
        scale *= s1 * s2
        q, qchain = self._linear_source(qt, mm)
        k, _ = self._linear_source(kt, mm)
        cons = self.o.consumers.get(n.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "MatMul":
            raise UserError(f"Softmax at node '{n.name}' is not followed by P @ V")
        av = cons[0]
        self.absorbed.add(av.name)
        v, _ = self._linear_source(av.input[1], av)
        # heads / head_dim from the Reshape on the Q path
        shape = None
        for c in qchain:
            if c.op_type == "Reshape":
                shape = self.o.const(c.input[1])
        if shape is None or shape.size != 4:
            raise UserError(
                f"cannot find the head split (Reshape to [B, S, heads, head_dim]) for Softmax '{n.name}'"
            )
        heads, head_dim = int(shape[2]), int(shape[3])
        if heads <= 0 or head_dim <= 0:
            width = self.params[self.nodes_by_out(q).params["weight"]].shape[0]
            if heads <= 0:
                heads = width // head_dim
            else:
                head_dim = width // heads
        # walk forward from AV through Transpose/Reshape to [B, S, H]
        out = av.output[0]
        while True:
            cs = self.o.consumers.get(out, [])
            if len(cs) == 1 and cs[0].op_type in LAYOUT_OPS:
                self.absorbed.add(cs[0].name)
                out = cs[0].output[0]
            else:
                break
        if not has_mask:
            raise UserError(f"attention at Softmax '{n.name}' has no attention mask input")
        self.emit(
            "attention",
            out,
            [q, k, v, "attention_mask"],
            {"heads": heads, "head_dim": head_dim, "scale": scale},
        )

    def nodes_by_out(self, t: str) -> Node:
        for m in self.nodes:
            if t in m.outputs:
                return m
        raise KeyError(t)

    # ---- elementwise: GELU / Tanh ----------------------------------------
    def _elementwise_region(self, x: str, start: Any) -> tuple[list[Any], str]:
        """Nodes reachable from ``start`` whose inputs are x, constants or region outputs."""
        region = [start]
        outs = set(start.output)
        changed = True
        while changed:
            changed = False
            for t in list(outs) + [x]:
                for c in self.o.consumers.get(t, []):
                    if c in region or c.op_type not in ELEMENTWISE:
                        continue
                    if all(i == x or i in outs or i in self.o.consts for i in c.input):
                        region.append(c)
                        outs.update(c.output)
                        changed = True
        # the result is the region output not consumed inside the region
        inner = {i for r in region for i in r.input}
        final = [o for r in region for o in r.output if o not in inner]
        if len(final) != 1:
            raise UserError(f"cannot delimit the elementwise function around node '{start.name}'")
        return region, final[0]

    def _eval_region(self, region: list[Any], x: str, xv: np.ndarray, out: str) -> np.ndarray:
        ops = _np_ops()
        env = {x: xv}
        pending = list(region)
        while pending:
            for r in list(pending):
                if all(i in env or i in self.o.consts for i in r.input):
                    args = [env[i] if i in env else self.o.consts[i].astype(np.float64) for i in r.input]
                    env[r.output[0]] = ops[r.op_type](*args)
                    pending.remove(r)
        return env[out]

    def _find_x(self, n: Any) -> str:
        """Input of an elementwise function: the non-constant tensor produced outside it."""
        t = n.input[0]
        while True:
            p = self.o.prod(t)
            if p is None or p.op_type not in ELEMENTWISE or t in self.tmap:
                return t
            nonconst = [i for i in p.input if i not in self.o.consts]
            if len(nonconst) != 1:
                return t
            t = nonconst[0]

    def on_Erf(self, n: Any) -> None:
        self._gelu_like(n, "none")

    def on_Tanh(self, n: Any) -> None:
        x = self._find_x(n)
        if x in self.tmap and self.nodes_by_out(self.tmap[x]).op == "linear" and self._is_gelu_tanh(n, x):
            self._gelu_like(n, "tanh")
            return
        if n.input[0] not in self.tmap:
            raise UserError(f"unsupported Tanh pattern at node '{n.name}'")
        self.emit("tanh", n.output[0], [self.tmap[n.input[0]]])

    def _is_gelu_tanh(self, n: Any, x: str) -> bool:
        try:
            region, out = self._elementwise_region(x, self.o.prod(n.input[0]) or n)
        except UserError:
            return False
        return out != n.output[0]

    def _gelu_like(self, n: Any, approx: str) -> None:
        x = self._find_x(n)
        first = n
        # start the region at the first node after x on the path to n
        t = n.input[0]
        while t != x:
            p = self.o.prod(t)
            first = p
            t = [i for i in p.input if i not in self.o.consts][0]
        region, out = self._elementwise_region(x, first)
        probe = np.linspace(-6, 6, 97)
        got = self._eval_region(region, x, probe, out)
        erf = np.vectorize(math.erf)
        want = 0.5 * probe * (1 + erf(probe / math.sqrt(2)))
        tanh_form = 0.5 * probe * (1 + np.tanh(math.sqrt(2 / math.pi) * (probe + 0.044715 * probe**3)))
        if np.allclose(got, want, atol=1e-6):
            approx = "none"
        elif np.allclose(got, tanh_form, atol=1e-6):
            approx = "tanh"
        else:
            raise UserError(f"elementwise function around node '{n.name}' is not GELU")
        for r in region:
            self.absorbed.add(r.name)
        self.emit("gelu", out, [self.ir(x, n)], {"approximate": approx})

    def on_Gelu(self, n: Any) -> None:
        approx = self.o.attr(n, "approximate", "none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        self.emit("gelu", n.output[0], [self.ir(n.input[0], n)], {"approximate": approx})


def _rename_outputs(nodes: list[Node], mapping: dict[str, str]) -> list[Node]:
    from dataclasses import replace

    out = []
    for n in nodes:
        n = replace(
            n,
            inputs=tuple(mapping.get(t, t) for t in n.inputs),
            outputs=tuple(mapping.get(t, t) for t in n.outputs),
        )
        out.append(n)
    return out


def assign_layers(g: Graph) -> Graph:
    """Give every node its encoder layer index and role, by structure."""
    from dataclasses import replace

    prod = {o: n for n in g.nodes for o in n.outputs}
    roles: dict[str, tuple[int, str]] = {}
    layer = -1
    for n in g.nodes:
        if n.op == "attention":
            layer += 1
            for t, r in zip(n.inputs[:3], ("q", "k", "v"), strict=True):
                roles[prod[t].name] = (layer, r)
            roles[n.name] = (layer, "attn")
    # walk the chain after each attention
    cons: dict[str, list[Node]] = {}
    for n in g.nodes:
        for t in n.inputs:
            cons.setdefault(t, []).append(n)

    def only(t: str, op: str) -> Node | None:
        cs = [c for c in cons.get(t, []) if c.op == op]
        return cs[0] if len(cs) == 1 else None

    for n in g.nodes:
        if n.op != "attention":
            continue
        li = roles[n.name][0]
        chain = [
            ("linear", "o"),
            ("add", "res1"),
            ("layernorm", "ln1"),
            ("linear", "fc1"),
            ("gelu", "gelu"),
            ("linear", "fc2"),
            ("add", "res2"),
            ("layernorm", "ln2"),
        ]
        t = n.outputs[0]
        for op, role in chain:
            nxt = only(t, op)
            if nxt is None:
                raise UserError(
                    f"encoder layer {li}: expected a {op} ({role}) after tensor '{t}' — not a BERT-style post-LN layer"
                )
            roles[nxt.name] = (li, role)
            t = nxt.outputs[0]
    nodes = []
    pooler_done = False
    for n in g.nodes:
        if n.name in roles:
            li, role = roles[n.name]
            n = replace(n, layer=li, role=role)
        elif n.op == "embed":
            n = replace(n, role="embed")
        elif n.op == "layernorm" and n.inputs[0] in prod and prod[n.inputs[0]].op == "embed":
            n = replace(n, role="ln_emb")
        elif n.op == "take_first":
            n = replace(n, role="cls")
        elif n.op == "linear" and not pooler_done and any(p.op == "tanh" for p in cons.get(n.outputs[0], [])):
            n = replace(n, role="pooler")
            pooler_done = True
        elif n.op == "tanh":
            n = replace(n, role="pooler_act")
        elif n.op == "linear":
            n = replace(n, role="classifier")
        nodes.append(n)
    if layer < 0:
        raise UserError("no self-attention found: the model is not a BERT-family encoder")
    return _readable_params(g.with_nodes(nodes).with_meta(layers=layer + 1))


def _readable_params(g: Graph) -> Graph:
    """Rename parameters to ``l{layer}.{role}.{param}`` / ``{role}.{param}``."""
    from dataclasses import replace

    params: dict[str, np.ndarray] = {}
    nodes = []
    for n in g.nodes:
        prefix = f"l{n.layer}.{n.role}" if n.layer >= 0 else (n.role or n.name)
        new = {}
        for role, key in n.params.items():
            name = f"{prefix}.{role}"
            params[name] = g.params[key]
            new[role] = name
        nodes.append(replace(n, params=frozen(new)))
    return replace(g, nodes=tuple(nodes), params=frozen(params))


def import_onnx(model: Any, meta: dict[str, Any]) -> Graph:
    """Import an ONNX ModelProto (exported at batch 1) into the IR."""
    return _Importer(model, meta).run()
