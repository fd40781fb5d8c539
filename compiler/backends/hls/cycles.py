"""Expected cycles of the generated HLS C++ design, from its own loop structure and pragmas.

Not synthesized here (no Vitis HLS): these are the trip counts of the loops in
``hls_templates/kernels/*.h`` and the top times the II their pragmas ask for, for
one sequence of ``max_seq`` tokens, with the ops run one after another as the
top runs them.  They are *not* the RTL accelerator's cycles (``compiler/perf``,
measured by Verilator) and not what Vitis would report; docs/hls_kernels.md,
"Expected cycles", gives every formula and what it leaves out.

Per op: ``weight_load`` (the top's burst read of the op's image into the on-chip
``wb8``/``wb32``: one beat of 64 bytes per cycle plus one memory latency, the
bursts of up to 64 beats overlapping with ``num_read_outstanding`` reads in flight),
``kernel`` (the kernel's loops), ``store`` (the top's copy of a graph output to
its port) and ``total``; one more entry, ``inputs``, is the top's input loads.
"""

from __future__ import annotations

from typing import Any

from compiler.backends.hls.plan import BEAT_BYTES, DesignPlan, OpPlan
from compiler.perf.model import DDR_LATENCY

BASIS = "from the generated C++ loop structure and pragmas; not synthesized here (no Vitis HLS)"
# Assumed, not measured (Vitis reports the real values after csynth):
LOOP_FILL = 10  # cycles to drain one pipelined loop nest (a multiply-add chain; the doc's T)
DIV_LATENCY = 36  # a 32-step integer divider, + a few cycles (the doc's T_div)
ISQRT_STEPS = 32  # isqrt: bit by bit, one step per cycle (sparsehls_prims.h)


def weight_load_cycles(nbytes: int) -> int:
    """The top's ``load_weights`` of an ``nbytes`` image: ceil(nbytes / 64) beats at II=1, one latency."""
    if nbytes <= 0:
        return 0
    return -(-nbytes // BEAT_BYTES) + DDR_LATENCY


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def linear_cycles(op: OpPlan, rows: int) -> int:
    """``bsr_linear``: the copy of x (R*TG > 1), then per round of R block rows the accumulator clear,
    one step per kept block of the fullest row (max of the on-chip block load, R * ceil(BM*BN/64)
    beats, and the MAC's ceil(rows/TG) token slots) and the rows out; the requant process overlaps."""
    c = op.const
    r, tg, bm, bn = c["ROW_GROUPS"], c["TOKEN_GROUPS"], c["BM"], c["BN"]
    xcopy = rows * c["K"] // bn if r * tg > 1 else 0
    step = max(r * _cdiv(bm * bn, BEAT_BYTES), _cdiv(rows, tg))
    tpe = _cdiv(c["MAX_ROWS"], tg)
    blocks = list(op.row_blocks)
    total = xcopy
    for r0 in range(0, len(blocks), r):
        most = max(blocks[r0 : r0 + r])
        total += 2 * r + tpe + most * step + rows  # PTR loop at II=2, clear, steps, rows out
    return total + LOOP_FILL


def attention_cycles(op: OpPlan, rows: int) -> int:
    """Mask copy, then per head and group of L query rows: QK (1 per key), 3 softmax passes, AV (1 per key),
    L rows in and out, one division per softmax row."""
    c = op.const
    lanes = c["LANES"]
    return rows + c["HEADS"] * _cdiv(rows, lanes) * (5 * rows + 2 * lanes + DIV_LATENCY)


def layernorm_cycles(op: OpPlan, rows: int) -> int:
    """Parameters (H), then the reader (1 element per cycle) against L lanes of 3 passes + isqrt + 2 divisions."""
    c = op.const
    h, lanes = c["H"], c["LANES"]
    return h + max(rows * h, _cdiv(rows, lanes) * (5 * h + ISQRT_STEPS + DIV_LATENCY)) + LOOP_FILL


def embed_cycles(op: OpPlan, rows: int) -> int:
    """Per token: each table's row as a burst from the port (+ the memory latency), then H elements
    at II=1.  A row is H/64 beats when H is a multiple of 64, 1 when H divides 64 (tables start on a
    beat, so rows never straddle one), else at most ceil(H/64) + 1 (the bound is taken)."""
    c = op.const
    h = c["H"]
    if h % BEAT_BYTES == 0:
        beats = h // BEAT_BYTES
    else:
        beats = 1 if BEAT_BYTES % h == 0 else _cdiv(h, BEAT_BYTES) + 1
    tables = 3 if c["HAS_TYPE"] else 2
    return rows * (tables * (DDR_LATENCY + beats) + h) + LOOP_FILL


def kernel_cycles(op: OpPlan, rows: int) -> int:
    """The kernel of ``op`` on ``rows`` tokens (1 for a ``take_first`` output)."""
    c = op.const
    if op.op == "linear":
        return linear_cycles(op, rows)
    if op.op == "attention":
        return attention_cycles(op, rows)
    if op.op == "layernorm":
        return layernorm_cycles(op, rows)
    if op.op == "embed":
        return embed_cycles(op, rows)
    if op.op in ("gelu", "tanh"):
        return _cdiv(rows * c["COLS"], c["LANES"]) + LOOP_FILL
    if op.op == "add":
        return c["COLS"] + rows * c["COLS"] + LOOP_FILL  # parameters, then 1 element per cycle
    return c["COLS"]  # take_first: one row copied


def _rows(plan: DesignPlan, op: OpPlan) -> int:
    c = op.const
    return int(c.get("MAX_ROWS", plan.max_seq)) if op.op != "take_first" else 1


def expected_cycles(plan: DesignPlan) -> dict[str, Any]:
    """``hls.expected_cycles`` of report.json: per op and in total, one sequence of ``max_seq`` tokens."""
    out_cols = {p.tensor: (plan.max_seq if p.rows == "seq" else 1) * p.cols for p in plan.outputs}
    ops: list[dict[str, Any]] = []
    for op in plan.ops:
        load = weight_load_cycles(op.image.nbytes) if op.image.onchip else 0
        kernel = kernel_cycles(op, _rows(plan, op))
        store = out_cols.get(op.output.name, 0)
        ops.append(
            {
                "index": op.index,
                "name": op.name,
                "op": op.op,
                "weight_bytes": op.image.nbytes,
                "weight_beats": op.image.beats,
                "weight_load": load,
                "kernel": kernel,
                "store": store,
                "total": load + kernel + store,
            }
        )
    inputs = len(plan.inputs) * plan.max_seq
    total = inputs + sum(o["total"] for o in ops)
    return {
        "basis": BASIS,
        "seq": plan.max_seq,
        "inputs": inputs,
        "total": total,
        "weight_load": sum(o["weight_load"] for o in ops),
        "assumed": {
            "memory_latency": DDR_LATENCY,
            "loop_fill": LOOP_FILL,
            "div_latency": DIV_LATENCY,
        },
        "ops": ops,
    }


def expected_latency_ms(cycles: int, clock_mhz: float) -> float:
    return round(cycles / (clock_mhz * 1e3), 4)
