"""One file per IR op: NumPy semantics in float mode and in integer mode.

Each module exposes ``run_float(node, inputs, graph)`` and
``run_int(node, inputs, graph)``.  Activations carry a leading batch axis:
``[B, S, H]``.  Integer mode follows ``compiler/golden/intops.py`` bit for bit.
"""

from compiler.golden.ops import add, attention, embed, gelu, layernorm, linear, take_first, tanh

OP_MODULES = {
    "add": add,
    "attention": attention,
    "embed": embed,
    "gelu": gelu,
    "layernorm": layernorm,
    "linear": linear,
    "take_first": take_first,
    "tanh": tanh,
}
