"""Quantize: calibrate activation ranges and lower the float graph to integer-only arithmetic.

Requires a float graph in the importer's layout (see compiler/ir/graph.py) and
calibration feeds.  Produces a graph with ``meta["quantized"] = True`` whose
nodes carry the integer parameters and attributes read by the golden model's
``run_int`` functions (docs/numerics.md):

* activations between ops are int8 with one calibrated scale per tensor
  (max |x| over the calibration set, or a percentile, / 127), except
  LayerNorm outputs, which get one scale per channel (BERT's hidden states
  have a few outlier dimensions that would crush a per-tensor int8 scale);
  the per-channel scale is folded into the consuming linear's weight columns
  and into the residual add's per-channel multipliers, so no kernel sees it;
* linear outputs that feed GELU or a residual add stay int32 fixed point
  (FX(F_GELU) / FX(F_RES)): the accumulator feeds those units directly;
* residual sums and embedding sums are int32 fixed point FX(F_RES);
* linear weights are int8 with one scale per output row, biases int32 at the
  accumulator scale; every rescale is an integer multiplier and shift.

Does not handle: asymmetric/zero-point quantization, per-token scales, or
weights wider than 8 bits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.errors import UserError
from compiler.golden import interpreter, intops
from compiler.golden.intops import IDENTITY
from compiler.golden.intops import quantize_multiplier as qm
from compiler.ir.graph import Graph, Node

log = logging.getLogger(__name__)

FX_OPS = {"embed", "add"}
# GELU output: value = (q - GELU_ZERO) * s - GELU_SHIFT, q int8 (see golden ops/gelu.py)
GELU_SHIFT = 0.17  # >= -min GELU(x) = 0.16997
GELU_ZERO = -128
# Ranges are the 99.999th percentile of |x| (measured on MiniLM, 32 held-out sentences:
# mean cosine to float 0.9927 vs 0.9928 with max |x| and 0.9893 at 99.99; docs/numerics.md).
DEFAULT_PERCENTILE = 99.999


Scale = float | np.ndarray  # per tensor or per channel (last axis)


def _interp(lo: Any, hi: Any, n: int, percentile: float) -> np.ndarray:
    """``np.percentile`` of n values (along axis 0) from its two neighbouring order statistics.

    NumPy's "linear" method interpolates between the sorted values at
    floor(v) and floor(v) + 1, v = (n - 1) * percentile / 100.  ``np.quantile``
    of the pair [lo, hi] at the fraction of v does the same interpolation with
    the same operations and types, so the result is bit for bit NumPy's.
    """
    v = (n - 1) * np.true_divide(percentile, 100)
    gamma = float(v - np.floor(v)) if v < n - 1 else 0.0
    return np.asarray(np.quantile(np.stack([lo, hi]), gamma, axis=0))


def _order_index(n: int, percentile: float) -> int | None:
    """Index of the lower order statistic NumPy uses (None: the maximum alone)."""
    v = (n - 1) * np.true_divide(percentile, 100)
    return None if v >= n - 1 else int(np.floor(v))


def percentile_all(a: np.ndarray, percentile: float) -> float:
    """``float(np.percentile(a, percentile))``, without sorting all of ``a``.

    Only the top ``n - floor(v)`` values matter: a strided sample gives a
    threshold with (almost always) a few more values above it than that; the
    order statistics are taken among those.  Anything else falls back to NumPy.
    """
    flat = np.asarray(a).ravel()
    n = flat.size
    k = _order_index(n, percentile) if n else None
    mx = flat.max() if n else np.nan
    if n < 1 << 16 or np.isnan(mx) or (k is not None and n - k > n // 64):
        return float(np.percentile(a, percentile))
    if k is None:
        return float(_interp(mx, mx, n, percentile))
    m = n - k  # values needed from the top: sorted[k], sorted[k + 1]
    sample = flat[:: max(1, n >> 16)]
    want = min(sample.size - 1, (4 * m + 64) * sample.size // n)
    thr = np.partition(sample, sample.size - 1 - want)[sample.size - 1 - want]
    cand = flat[flat >= thr]
    c = cand.size
    if c < m:
        return float(np.percentile(a, percentile))
    part = np.partition(cand, [c - m, c - m + 1])
    return float(_interp(part[c - m], part[c - m + 1], n, percentile))


def percentile_cols(a: np.ndarray, percentile: float) -> np.ndarray:
    """``np.percentile(a, percentile, axis=0)`` of a 2-D array: a partial sort of each column."""
    n = a.shape[0]
    k = _order_index(n, percentile) if n else None
    if n < 2 or k is None or np.isnan(a.max()):
        return np.asarray(np.percentile(a, percentile, axis=0))
    cols = np.partition(np.ascontiguousarray(a.T), [k, k + 1], axis=1)
    return _interp(cols[:, k], cols[:, k + 1], n, percentile)


def calibrate(graph: Graph, feeds: Mapping[str, np.ndarray], percentile: float = 100.0) -> dict[str, Scale]:
    """Range (max |x| or a percentile of |x|) of every tensor over the calibration feeds.

    LayerNorm outputs get a range per channel (last axis).
    """
    env = interpreter.run(graph, feeds, mode="float", trace=True)
    ranges: dict[str, Scale] = {}
    for node in graph.nodes:
        t = node.outputs[0]
        a = np.abs(env[t])
        if node.op == "layernorm":
            flat = a.reshape(-1, a.shape[-1])
            r = percentile_cols(flat, percentile) if percentile < 100 else flat.max(axis=0)
            ranges[t] = np.maximum(r, 1e-3 * max(float(r.max()), 1e-6)).astype(np.float64)
        else:
            v = percentile_all(a, percentile) if percentile < 100 else float(a.max())
            ranges[t] = max(v, 1e-6)
    return ranges


def _wide_output(node: Node, graph: Graph) -> int | None:
    """Fraction bits of a linear's int32 output if it feeds GELU or a residual add alone."""
    cons = graph.consumers(node.outputs[0])
    if len(cons) == 1 and cons[0].op == "gelu":
        return intops.F_GELU
    if len(cons) == 1 and cons[0].op == "add":
        return intops.F_RES
    return None


def _q8_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8: returns (weight_q, row_scale)."""
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    wq = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return wq, scale


def _q8_table(t: np.ndarray) -> tuple[np.ndarray, float]:
    amax = float(np.abs(t).max())
    scale = amax / 127.0 if amax > 0 else 1.0
    return np.clip(np.rint(t / scale), -127, 127).astype(np.int8), scale


@dataclass
class Quantize:
    """The quantization pass: ``Quantize(calib_feeds)(graph) -> graph``."""

    feeds: Mapping[str, np.ndarray]
    percentile: float = DEFAULT_PERCENTILE
    name: str = "quantize"

    def __call__(self, graph: Graph) -> tuple[Graph, bool]:
        return quantize(graph, self.feeds, self.percentile), True


def quantize(graph: Graph, feeds: Mapping[str, np.ndarray], percentile: float = DEFAULT_PERCENTILE) -> Graph:
    if graph.quantized:
        raise UserError("graph is already quantized")
    ranges = calibrate(graph, feeds, percentile)
    scales: dict[str, Scale] = {}
    for node in graph.nodes:
        t = node.outputs[0]
        wide = _wide_output(node, graph) if node.op == "linear" else None
        if node.op in FX_OPS:
            scales[t] = 2.0**-intops.F_RES
        elif wide is not None:
            scales[t] = 2.0**-wide
        elif node.op == "take_first":
            scales[t] = scales[node.inputs[0]]
        elif node.op == "gelu":
            scales[t] = (float(ranges[t]) + GELU_SHIFT) / 255.0
        else:
            scales[t] = ranges[t] / 127.0

    new_nodes: list[Node] = []
    new_params: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        fn = _QUANTIZERS.get(node.op)
        if fn is None:
            new_nodes.append(node)
            continue
        n2, p2 = fn(node, graph, scales)  # type: ignore[operator]
        new_nodes.append(n2)
        new_params.update(p2)
    g = graph.with_nodes(new_nodes).with_params(new_params)
    return g.with_meta(
        quantized=True,
        tensor_scales={k: (v.tolist() if isinstance(v, np.ndarray) else float(v)) for k, v in scales.items()},
        calibration={"samples": int(next(iter(feeds.values())).shape[0]), "percentile": percentile},
    )


def _pkey(node: Node, role: str) -> str:
    base = (
        node.params.get("weight")
        or node.params.get("gamma")
        or node.params.get("word")
        or node.params.get("const")
        or node.name
    )
    return base.rsplit(".", 1)[0] + "." + role


def _linear(node: Node, g: Graph, scales: dict[str, Scale]) -> tuple[Node, dict[str, np.ndarray]]:
    s_x = scales[node.inputs[0]]
    s_y = scales[node.outputs[0]]
    # a per-channel input scale is folded into the weight columns: the
    # accumulator scale of row n is then s_w[n] alone
    w = (
        g.param(node, "weight").astype(np.float64) * np.asarray(s_x)[None, ...]
        if not np.isscalar(s_x)
        else g.param(node, "weight").astype(np.float64)
    )
    n_out, k = w.shape
    wq, s_w = _q8_weights(w)
    acc_scale = s_w if not np.isscalar(s_x) else s_w * float(s_x)  # type: ignore[arg-type]
    b = g.param(node, "bias").astype(np.float64) if "bias" in node.params else np.zeros(n_out)
    prod = g.producer(node.inputs[0])
    shifted = prod is not None and prod.op == "gelu"
    if shifted:  # input = (q - ZERO) * s - SHIFT: fold -SHIFT*W into the bias, ZERO below
        b = b - GELU_SHIFT * g.param(node, "weight").astype(np.float64).sum(axis=1)
    bq = np.rint(b / acc_scale)
    if shifted:
        bq = bq - GELU_ZERO * wq.astype(np.int64).sum(axis=1)
    if k * 127 * 128 + np.abs(bq).max(initial=0) >= 2**31:
        raise UserError(f"linear {node.name}: accumulator could overflow int32 (K={k})")
    mults, shifts = zip(*(qm(float(a) / float(s_y)) for a in acc_scale), strict=True)
    wide = _wide_output(node, g)
    p = {
        _pkey(node, "weight_q"): wq,
        _pkey(node, "bias_q"): bq.astype(np.int32),
        _pkey(node, "mult"): np.asarray(mults, dtype=np.int32),
        _pkey(node, "shift"): np.asarray(shifts, dtype=np.int32),
        _pkey(node, "w_scale"): s_w.astype(np.float64),
    }
    n2 = node.with_params(**{r: _pkey(node, r) for r in ("weight_q", "bias_q", "mult", "shift", "w_scale")})
    if wide is not None:
        n2 = n2.with_attrs(out_bits=32, out_frac=wide)
    return n2.with_attrs(per_channel_input=not np.isscalar(s_x)), p


def _attention(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    s_q, s_k, s_v = (scales[t] for t in node.inputs[:3])
    s_o = scales[node.outputs[0]]
    sm_mult, sm_shift = qm(s_q * s_k * float(node.attrs["scale"]) * 2.0**intops.F_EXP)
    out_mult, out_shift = qm(s_v / 2.0**intops.SOFTMAX_OUT_BITS / s_o)
    return node.with_attrs(sm_mult=sm_mult, sm_shift=sm_shift, out_mult=out_mult, out_shift=out_shift), {}


def _layernorm(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    if scales[node.inputs[0]] != 2.0**-intops.F_RES:
        raise UserError(f"layernorm {node.name}: input is not a residual sum (FX) — unsupported layout")
    gamma = g.param(node, "gamma").astype(np.float64)
    beta = g.param(node, "beta").astype(np.float64)
    gq = np.rint(gamma * 2**intops.F_GAMMA)
    if np.abs(gq).max() >= 2**24:
        raise UserError(f"layernorm {node.name}: gamma too large for the integer LayerNorm")
    bq = np.rint(beta * 2 ** (intops.F_LN + intops.F_GAMMA))
    eps_q = int(round(float(node.attrs["eps"]) * 2 ** (2 * intops.F_RES)))
    s_o = np.asarray(scales[node.outputs[0]], dtype=np.float64)
    mults, shifts = zip(
        *(qm(2.0**-intops.F_LN / float(s)) for s in np.broadcast_to(s_o, gamma.shape)), strict=True
    )
    keys = {r: _pkey(node, r) for r in ("gamma_q", "beta_q", "mult", "shift")}
    p = {
        keys["gamma_q"]: gq.astype(np.int32),
        keys["beta_q"]: bq.astype(np.int64),
        keys["mult"]: np.asarray(mults, dtype=np.int32),
        keys["shift"]: np.asarray(shifts, dtype=np.int32),
    }
    return node.with_params(**keys).with_attrs(eps_q=eps_q), p


def _gelu(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    s_i, s_o = float(scales[node.inputs[0]]), float(scales[node.outputs[0]])
    im, ish = IDENTITY if s_i == 2.0**-intops.F_GELU else qm(s_i * 2.0**intops.F_GELU)
    om, osh = qm(2.0**-intops.F_GELU / s_o)
    off = round(GELU_SHIFT * 2**intops.F_GELU)
    return node.with_attrs(
        in_mult=im, in_shift=ish, out_mult=om, out_shift=osh, out_offset=off, out_zero=GELU_ZERO
    ), {}


def _tanh(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    s_i, s_o = float(scales[node.inputs[0]]), float(scales[node.outputs[0]])
    im, ish = qm(s_i * 2.0**intops.F_TANH)
    om, osh = qm(2.0**-intops.F_TANH / s_o)
    return node.with_attrs(in_mult=im, in_shift=ish, out_mult=om, out_shift=osh), {}


def _add(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    attrs: dict[str, int] = {}
    p: dict[str, np.ndarray] = {}
    n2 = node
    for t, tag in zip(node.inputs, ("a", "b"), strict=False):
        sc = scales[t]
        if isinstance(sc, np.ndarray):
            ms = [qm(float(x) * 2.0**intops.F_RES) for x in sc]
            km, ks = _pkey(node, f"{tag}_mult"), _pkey(node, f"{tag}_shift")
            p[km] = np.asarray([m for m, _ in ms], dtype=np.int32)
            p[ks] = np.asarray([s for _, s in ms], dtype=np.int32)
            n2 = n2.with_params(**{f"{tag}_mult": km, f"{tag}_shift": ks})
        else:
            m, s = IDENTITY if sc == 2.0**-intops.F_RES else qm(float(sc) * 2.0**intops.F_RES)
            attrs[f"{tag}_mult"], attrs[f"{tag}_shift"] = m, s
    if "const" in node.params:
        key = _pkey(node, "const_q")
        p[key] = np.rint(g.param(node, "const").astype(np.float64) * 2**intops.F_RES).astype(np.int32)
        n2 = n2.with_params(const_q=key)
    return n2.with_attrs(**attrs), p


def _embed(node: Node, g: Graph, scales: dict[str, float]) -> tuple[Node, dict[str, np.ndarray]]:
    attrs: dict[str, float | int] = {}
    p: dict[str, np.ndarray] = {}
    n2 = node
    for role in ("word", "pos", "type"):
        if role not in node.params:
            continue
        tq, s = _q8_table(g.param(node, role).astype(np.float64))
        m, sh = qm(s * 2.0**intops.F_RES)
        key = _pkey(node, f"{role}_q")
        p[key] = tq
        n2 = n2.with_params(**{f"{role}_q": key})
        attrs[f"{role}_mult"], attrs[f"{role}_shift"], attrs[f"{role}_scale"] = m, sh, s
    return n2.with_attrs(**attrs), p


_QUANTIZERS = {
    "linear": _linear,
    "attention": _attention,
    "layernorm": _layernorm,
    "gelu": _gelu,
    "tanh": _tanh,
    "add": _add,
    "embed": _embed,
}
