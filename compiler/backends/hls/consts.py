"""The numeric constants of the integer contract, rendered as a C++ header.

Every value is read from :mod:`compiler.golden.intops` at render time, so the
HLS kernels (which ``#include "sparsehls_consts.h"``) cannot drift from the
golden model.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.backends.hls.render import render_template
from compiler.golden import intops


@dataclass(frozen=True)
class Const:
    name: str
    value: int
    doc: str


# (C++ name, intops attribute, comment)
_TABLE = (
    ("F_RES", "F_RES", "residual stream fraction bits"),
    ("F_EXP", "F_EXP", "softmax exponent fraction bits"),
    ("F_GELU", "F_GELU", "GELU domain fraction bits"),
    ("F_TANH", "F_TANH", "tanh domain fraction bits"),
    ("F_LN", "F_LN", "normalised LayerNorm value fraction bits"),
    ("F_GAMMA", "F_GAMMA", "LayerNorm gamma fraction bits"),
    ("EXP_MIN_Q", "EXP_MIN_Q", "largest shift of iexp"),
    ("EXP_LN2", "EXP_LN2", "ln2 in FX(F_EXP)"),
    ("EXP_QA", "EXP_QA", "i-exp A in FX(F_EXP)"),
    ("EXP_QB", "EXP_QB", "i-exp B in FX(F_EXP)"),
    ("EXP_QC", "EXP_QC", "i-exp C in FX(3*F_EXP)"),
    ("EXP_CLAMP", "EXP_CLAMP", "iexp input clamp"),
    ("GELU_INV_SQRT2", "GELU_INV_SQRT2", "1/sqrt(2) in FX(15)"),
    ("GELU_QA", "GELU_QA", "i-GELU erf A in FX(F_GELU)"),
    ("GELU_QB", "GELU_QB", "i-GELU erf B in FX(F_GELU)"),
    ("GELU_ONE", "GELU_ONE", "1.0 in FX(F_GELU)"),
    ("TANH_ONE", "TANH_ONE", "1.0 in FX(F_TANH)"),
    ("SOFTMAX_OUT_BITS", "SOFTMAX_OUT_BITS", "probability bits (uint8, scale 1/256)"),
    ("INT8_MIN_V", "INT8_MIN", "int8 range"),
    ("INT8_MAX_V", "INT8_MAX", "int8 range"),
    ("INT32_MIN_V", "INT32_MIN", "int32 range"),
    ("INT32_MAX_V", "INT32_MAX", "int32 range"),
    ("UINT8_MAX_V", "UINT8_MAX", "uint8 range"),
)


def constants() -> list[Const]:
    return [Const(cname, int(getattr(intops, attr)), doc) for cname, attr, doc in _TABLE]


def consts_header() -> str:
    """Text of ``sparsehls_consts.h``."""
    return render_template("sparsehls_consts.h.j2", consts=constants())
