"""Bit-exact unit tests of the HLS kernel library against the integer contract.

A C++ driver (compiler/backends/hls/csim/kernel_tb.cpp) is compiled once per
session with every kernel configuration of this file; each case writes its
random, seeded inputs as text, runs one kernel and compares every output
element with compiler/golden (intops and the ops' run_int).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compiler.backends.hls.consts import consts_header
from compiler.backends.hls.render import KERNELS
from compiler.backends.hls.toolchain import CXXFLAGS, ap_types_dir, gxx, have_toolchain
from compiler.golden import intops
from compiler.golden.ops import add as add_op
from compiler.golden.ops import attention as attention_op
from compiler.golden.ops import embed as embed_op
from compiler.golden.ops import gelu as gelu_op
from compiler.golden.ops import layernorm as layernorm_op
from compiler.golden.ops import linear as linear_op
from compiler.golden.ops import tanh as tanh_op
from compiler.ir.bsr import BSR
from compiler.ir.graph import Graph, Node, frozen

pytestmark = [
    pytest.mark.xdist_group("test_hls_kernels"),  # the kernel driver is built once
    pytest.mark.csim,
    pytest.mark.skipif(not have_toolchain(), reason="needs g++ and the hls4ml ap_types headers"),
]

TB = Path(__file__).resolve().parents[1] / "compiler" / "backends" / "hls" / "csim" / "kernel_tb.cpp"
MAX_ROWS = 16


def qm(m: float) -> tuple[int, int]:
    return intops.quantize_multiplier(m)


@dataclass
class Case:
    op: str
    fn: str  # C++ runner, e.g. run_linear
    consts: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # typedefs of the config struct
    cid: int = -1


# ---- the kernel configurations compiled into the driver ---------------------------------
LINEAR_SHAPES = [  # (N, K, BM, BN, OUT_BITS, ROW_GROUPS, TOKEN_GROUPS): R x TG MAC arrays
    (7, 5, 1, 1, 8, 1, 1),
    (8, 12, 1, 4, 8, 1, 1),
    (16, 24, 4, 4, 8, 1, 1),
    (32, 16, 8, 8, 8, 1, 1),
    (32, 48, 16, 16, 8, 1, 1),
    (12, 16, 4, 8, 8, 1, 1),
    (16, 8, 8, 2, 8, 1, 1),
    (16, 24, 4, 4, 32, 1, 1),
    (8, 16, 8, 16, 32, 1, 1),
    (12, 24, 6, 12, 8, 1, 1),  # 72-byte blocks: the 64-byte-per-cycle load takes 2 beats, the 2nd partial
    # several engines: token groups, row groups (NRB not a multiple of R: a short last round), both
    (7, 5, 1, 1, 8, 3, 2),
    (16, 24, 4, 4, 8, 1, 3),
    (32, 48, 16, 16, 8, 2, 1),
    (12, 16, 4, 8, 32, 2, 5),
    (18, 36, 6, 12, 32, 2, 2),  # 72-byte blocks in R = 2 groups, NRB = 3: a short last round
    (16, 8, 8, 2, 8, 1, 16),
]


def _linear_case(n: int, k: int, bm: int, bn: int, out_bits: int, rg: int, tg: int) -> Case:
    nrb = n // bm
    c = dict(N=n, K=k, BM=bm, BN=bn, OUT_BITS=out_bits, MAX_ROWS=MAX_ROWS, IDX_INDPTR=0, OFF_BLOCKS=0)
    c.update(ENGINES=rg * tg + 1, ROW_GROUPS=rg, TOKEN_GROUPS=tg)  # one scheduled engine left idle
    c["IDX_BIAS"] = nrb + 1
    c["IDX_MULT"] = c["IDX_BIAS"] + n
    c["IDX_SHIFT"] = c["IDX_MULT"] + n
    c["IDX_INDICES"] = c["IDX_SHIFT"] + n
    return Case("linear", "run_linear", c, {"out_t": f"int{out_bits}_t"})


def _attention_case(heads: int, hd: int, sm: float, out: float, lanes: int = 1) -> Case:
    sm_m, sm_s = qm(sm)
    o_m, o_s = qm(out)
    c = dict(HEADS=heads, HD=hd, MAX_ROWS=MAX_ROWS, SM_MULT=sm_m, SM_SHIFT=sm_s, OUT_MULT=o_m, OUT_SHIFT=o_s)
    c["LANES"] = lanes
    return Case("attention", "run_attention", c)


IDENTITY = (1 << 30, 30)  # requant(x, 2**30, 30) == x (an FX int32 input)


def _unary_case(
    op: str,
    cols: int,
    fbits: int,
    s_in: float | None,
    s_out: float,
    offset: int = 0,
    zero: int = 0,
    lanes: int = 1,
) -> Case:
    i_m, i_s = qm(s_in * 2**fbits) if s_in is not None else IDENTITY
    o_m, o_s = qm(2.0**-fbits / s_out)
    c = dict(COLS=cols, MAX_ROWS=MAX_ROWS, IN_MULT=i_m, IN_SHIFT=i_s, OUT_MULT=o_m, OUT_SHIFT=o_s)
    c["LANES"] = lanes
    c.update(OUT_OFFSET=offset, OUT_ZERO=zero)  # used by gelu only
    return Case(op, "run_unary", c, {"in_t": "int8_t" if s_in is not None else "int32_t"})


def _add_case(
    cols: int,
    has_b: bool,
    has_const: bool,
    sa: float | None,
    sb: float | None,
    a_pc: bool = False,
    b_pc: bool = False,
    fabric: bool = False,
) -> Case:
    """A scale of None means an FX(F_RES) int32 input (identity multiplier); ``fabric``: the
    add_fabric kernel (multipliers bound to LUTs) instead of add."""
    a_m, a_s = qm(sa * 2**intops.F_RES) if sa is not None else IDENTITY
    b_m, b_s = qm(sb * 2**intops.F_RES) if sb is not None else IDENTITY
    c = dict(COLS=cols, MAX_ROWS=MAX_ROWS, HAS_B=int(has_b), HAS_CONST=int(has_const), IDX_CONST=0)
    c.update(A_MULT=a_m, A_SHIFT=a_s, B_MULT=b_m, B_SHIFT=b_s, A_PER_CH=int(a_pc), B_PER_CH=int(b_pc))
    c.update(IDX_A_MULT=cols, IDX_A_SHIFT=2 * cols, IDX_B_MULT=3 * cols, IDX_B_SHIFT=4 * cols)
    c["FABRIC"] = int(fabric)
    types = {
        "a_t": "int8_t" if sa is not None else "int32_t",
        "b_t": "int8_t" if sb is not None else "int32_t",
    }
    return Case("add", "run_add", c, types)


def _ln_case(h: int, eps: float, s_out: float, per_ch: bool = False, lanes: int = 1) -> Case:
    m, s = qm(2.0**-intops.F_LN / s_out)
    c = dict(
        H=h,
        MAX_ROWS=MAX_ROWS,
        IDX_GAMMA=0,
        IDX_BETA=h,
        EPS_Q=round(eps * 2 ** (2 * intops.F_RES)),
        MULT=m,
        SHIFT=s,
    )
    c.update(PER_CH=int(per_ch), IDX_MULT=3 * h, IDX_SHIFT=4 * h, LANES=lanes)
    return Case("layernorm", "run_layernorm", c)


def _embed_case(roberta: bool, has_type: bool, offset: int, scales: tuple[float, float, float]) -> Case:
    h, vocab, npos, ntype = 8, 50, 24, 2
    c: dict[str, int] = dict(H=h, MAX_ROWS=MAX_ROWS, VOCAB=vocab, NPOS=npos, NTYPE=ntype)
    c.update(ROBERTA=int(roberta), PADDING_IDX=1, POSITION_OFFSET=offset, HAS_TYPE=int(has_type))
    c.update(OFF_WORD=0, OFF_POS=vocab * h, OFF_TYPE=(vocab + npos) * h)
    for key, sc in zip(("WORD", "POS", "TYPE"), scales, strict=True):
        c[f"{key}_MULT"], c[f"{key}_SHIFT"] = qm(sc * 2**intops.F_RES)
    return Case("embed", "run_embed", c)


CASES: list[Case] = [Case("prim", "run_prim"), Case("softmax", "run_softmax")]
CASES += [_linear_case(*s) for s in LINEAR_SHAPES]
CASES += [
    _attention_case(2, 4, 40.0, 1 / 256 / 0.02),
    _attention_case(3, 8, 3.7, 1 / 256 * 0.5),
    _attention_case(1, 16, 0.9, 1 / 256),
    _attention_case(3, 8, 3.7, 1 / 256 * 0.5, lanes=3),  # rows 1, 7, 16: a short last round
    _attention_case(2, 4, 40.0, 1 / 256 / 0.02, lanes=16),
]
CASES += [_unary_case("gelu", 12, intops.F_GELU, 0.05, 0.03), _unary_case("gelu", 7, intops.F_GELU, 0.5, 0.2)]
CASES += [_unary_case("gelu", 16, intops.F_GELU, None, 0.02, offset=696, zero=-128)]
CASES += [_unary_case("gelu", 7, intops.F_GELU, 0.5, 0.2, lanes=5)]  # 16 * 7 elements: 5 does not divide
CASES += [_unary_case("gelu", 16, intops.F_GELU, None, 0.02, offset=696, zero=-128, lanes=8)]
CASES += [
    _unary_case("tanh", 8, intops.F_TANH, 0.02, 1 / 127),
    _unary_case("tanh", 5, intops.F_TANH, 0.3, 1 / 100),
    _unary_case("tanh", 5, intops.F_TANH, 0.3, 1 / 100, lanes=3),
]
CASES += [
    _add_case(12, True, True, 0.05, 0.11),
    _add_case(9, True, False, 0.3, 7.0),
    _add_case(8, False, True, 0.01, 1.0),
]
CASES += [_add_case(16, True, False, None, 0.05, b_pc=True), _add_case(10, True, True, 0.2, None, a_pc=True)]
# add_fabric: the same cases as add 0 (saturation), 1 and 4 (per-channel a)
CASES += [
    _add_case(12, True, True, 0.05, 0.11, fabric=True),
    _add_case(9, True, False, 0.3, 7.0, fabric=True),
    _add_case(10, True, True, 0.2, None, a_pc=True, fabric=True),
]
CASES += [
    _ln_case(8, 1e-12, 0.05),
    _ln_case(33, 1e-5, 0.02),
    _ln_case(64, 1e-5, 0.2),
    _ln_case(24, 1e-12, 0.05, True),
    _ln_case(33, 1e-5, 0.02, lanes=2),  # 9 rows: lane 0 takes 5, lane 1 takes 4
    _ln_case(24, 1e-12, 0.05, True, lanes=4),
    _ln_case(8, 1e-12, 0.05, lanes=16),  # more lanes than rows
]
CASES += [_embed_case(False, True, 0, (0.02, 0.01, 0.05)), _embed_case(True, True, 0, (0.5, 0.7, 0.1))]
CASES += [_embed_case(False, False, 2, (40.0, 30.0, 1.0))]
for _i, _c in enumerate(CASES):
    _c.cid = _i


def _cases_header() -> str:
    lines = ["// generated by tests/test_hls_kernels.py", "#pragma once"]
    entries = []
    for c in CASES:
        lines.append(f"struct case_{c.cid} {{")
        for k, t in c.types.items():
            lines.append(f"    typedef {t} {k};")
        for k, v in c.consts.items():
            lines.append(
                f"    static const long long {k} = {v}LL;"
                if abs(v) >= 2**31
                else f"    static const int {k} = {v};"
            )
        lines.append("};")
        if c.fn == "run_unary":
            fn = f"run_unary<case_{c.cid}, {'true' if c.op == 'tanh' else 'false'}>"
        elif c.fn in ("run_prim", "run_softmax"):
            fn = c.fn
        else:
            fn = f"{c.fn}<case_{c.cid}>"
        entries.append(f"X({c.cid}, ({fn}))")
    lines.append("#define SPARSEHLS_CASES(X) " + " ".join(entries))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("kernel_tb")
    (d / "sparsehls_consts.h").write_text(consts_header())
    (d / "kernel_cases.h").write_text(_cases_header())
    exe = d / "kernel_tb"
    cmd = [
        gxx(),
        *CXXFLAGS,
        "-O2",
        f"-I{d}",
        f"-I{KERNELS}",
        "-isystem",
        str(ap_types_dir()),
        str(TB),
        "-o",
        str(exe),
    ]
    subprocess.run(cmd, check=True, capture_output=False)
    return exe


def run(driver: Path, case: Case, values: list[Any], tmp_path: Path) -> np.ndarray:
    flat: list[int] = []
    for v in values:
        flat.extend(int(x) for x in np.asarray(v, dtype=np.int64).ravel())
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("\n".join(map(str, flat)) + "\n")
    subprocess.run([str(driver), str(case.cid), str(inp), str(out)], check=True)
    return np.loadtxt(out, dtype=np.int64, ndmin=1)


def case_of(op: str, i: int = 0) -> Case:
    return [c for c in CASES if c.op == op][i]


def assert_exact(got: np.ndarray, want: np.ndarray) -> None:
    want = np.asarray(want, dtype=np.int64).ravel()
    assert got.shape == want.shape
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, f"{bad.size} mismatches, first at {bad[0]}: got {got[bad[0]]} want {want[bad[0]]}"


def _graph(params: dict[str, np.ndarray]) -> Graph:
    return Graph(nodes=(), inputs=(), outputs=(), params=frozen(params), meta=frozen({"quantized": True}))


def _node(op: str, attrs: dict[str, Any], params: dict[str, str]) -> Node:
    return Node(op=op, name=op, inputs=(), outputs=(op,), attrs=frozen(attrs), params=frozen(params))


# ---- primitives ----------------------------------------------------------------------
def _edge_ints(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    edges = np.array([e for e in (lo, lo + 1, -1, 0, 1, hi - 1, hi) if lo <= e <= hi], dtype=np.int64)
    return np.concatenate([edges, rng.integers(lo, hi, size=n, endpoint=True)])


PRIMS = {  # fn id, golden, argument generator
    "sat8": (0, lambda a: intops.sat8(a[0]), lambda r: [_edge_ints(r, 300, -(2**40), 2**40)]),
    "sat32": (1, lambda a: intops.sat32(a[0]), lambda r: [_edge_ints(r, 300, -(2**40), 2**40)]),
    "rshift_round": (
        2,
        lambda a: intops.rshift_round(a[0], a[1]),
        lambda r: [x := _edge_ints(r, 300, -(2**50), 2**50), r.integers(1, 40, size=x.size)],
    ),
    "requant": (
        3,
        lambda a: intops.requant(a[0], a[1], a[2]),
        lambda r: [
            x := _edge_ints(r, 300, -(2**31) + 1, 2**31 - 1),
            r.integers(0, 2**31, size=x.size),
            r.integers(1, 63, size=x.size),
        ],
    ),
    "floor_div": (
        4,
        lambda a: intops.floor_div(a[0], a[1]),
        lambda r: [x := _edge_ints(r, 300, -(2**40), 2**40), r.integers(1, 1000, size=x.size)],
    ),
    "isqrt": (
        5,
        lambda a: intops.isqrt(a[0]),
        lambda r: [
            np.concatenate(
                [
                    _edge_ints(r, 200, 0, 2**62 - 1),
                    np.array(
                        [k * k for k in (1, 2, 3, 46340, 2**31 - 1)] + [k * k - 1 for k in (2, 3, 2**31 - 1)]
                    ),
                    r.integers(0, 1000, size=100),
                ]
            )
        ],
    ),
    "iexp": (6, lambda a: intops.iexp(a[0]), lambda r: [_edge_ints(r, 400, -300000, 0)]),
    "igelu": (7, lambda a: intops.igelu(a[0]), lambda r: [_edge_ints(r, 400, -(2**20) + 1, 2**20 - 1)]),
    "itanh": (8, lambda a: intops.itanh(a[0]), lambda r: [_edge_ints(r, 400, -(2**20), 2**20)]),
}


@pytest.mark.parametrize("name", list(PRIMS))
def test_primitive(driver: Path, tmp_path: Path, name: str) -> None:
    fn, golden, gen = PRIMS[name]
    args = gen(np.random.default_rng(sorted(PRIMS).index(name)))
    n = args[0].size
    tuples = np.stack(args, axis=1)
    got = run(driver, case_of("prim"), [[fn, n], tuples], tmp_path)
    assert_exact(got, golden(args))


@pytest.mark.parametrize("seed", range(4))
def test_softmax_row(driver: Path, tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    rows, n = 6, [1, 7, 64, 200][seed]
    scores = rng.integers(-(2**20), 2**20, size=(rows, n))
    scores[0] = scores[0] * 50  # wide range
    valid = rng.random((rows, n)) < 0.7
    valid[:, 0] = True
    valid[1] = False
    valid[1, n - 1] = True  # all masked but one
    valid[2] = True
    valid[3] = False  # nothing valid: all zeros (NumPy: 2**32 // 0 == 0)
    mult, shift = qm([0.01, 0.3, 5.0, 250.0][seed])
    with np.errstate(divide="ignore"):
        want = intops.softmax_rows(scores, valid, mult, shift)
    got = run(driver, case_of("softmax"), [[rows, n, mult, shift], scores, valid], tmp_path)
    assert_exact(got, want)


# ---- ops --------------------------------------------------------------------------------
def _random_bsr_weight(rng: np.random.Generator, n: int, k: int, bm: int, bn: int) -> np.ndarray:
    w = rng.integers(-128, 128, size=(n, k))
    keep = rng.random((n // bm, k // bn)) < 0.5
    if n // bm > 1:
        keep[rng.integers(n // bm)] = False  # an empty block row
    keep[-1, 0] = True
    w = (w.reshape(n // bm, bm, k // bn, bn) * keep[:, None, :, None]).reshape(n, k)
    w[:bm, :] = np.where(rng.random((bm, k)) < 0.3, -128, w[:bm, :])  # extremes
    return w.astype(np.int8)


@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: "N{}K{}_{}x{}_o{}_r{}t{}".format(*s))
@pytest.mark.parametrize("seed", range(2))
def test_bsr_linear(
    driver: Path, tmp_path: Path, shape: tuple[int, int, int, int, int, int, int], seed: int
) -> None:
    n, k, bm, bn, out_bits = shape[:5]
    rng = np.random.default_rng(seed * 1000 + n * 31 + k)
    rows = [1, 5, 16][(seed + n) % 3]
    w = _random_bsr_weight(rng, n, k, bm, bn)
    x = rng.integers(-128, 128, size=(1, rows, k))
    x[0, 0, :] = -128
    bias = rng.integers(-(2**16), 2**16, size=n)
    lo, hi = (-5, -0.5) if out_bits == 8 else (0, 4.5)
    ms = 10.0 ** rng.uniform(lo, hi, size=n)
    ms[0] = 2.0**20  # row 0 saturates
    mults, shifts = zip(*(qm(m) for m in ms), strict=True)
    bsr = BSR.from_dense(w, (bm, bn))
    assert np.array_equal(bsr.to_dense(), w)
    attrs: dict[str, Any] = {"block": (bm, bn)}
    if out_bits == 32:
        attrs.update(out_bits=32, out_frac=intops.F_GELU)
    node = _node("linear", attrs, {"weight_q": "w", "bias_q": "b", "mult": "m", "shift": "s"})
    g = _graph({"w": w, "b": bias.astype(np.int32), "m": np.array(mults), "s": np.array(shifts)})
    want = linear_op.run_int(node, [x], g)
    vals = [[rows], x, bsr.indptr, [bsr.nnz_blocks], bsr.indices, bsr.data, bias, mults, shifts]
    got = run(driver, case_of("linear", LINEAR_SHAPES.index(shape)), vals, tmp_path)
    lim = 2 ** (out_bits - 1)
    assert np.any(want == lim - 1) or np.any(want == -lim)  # saturation is exercised
    assert_exact(got, want)


@pytest.mark.parametrize("ci", range(5))
@pytest.mark.parametrize("rows", [1, 7, 16])
def test_attention(driver: Path, tmp_path: Path, ci: int, rows: int) -> None:
    case = case_of("attention", ci)
    c = case.consts
    rng = np.random.default_rng(ci * 10 + rows)
    h = c["HEADS"] * c["HD"]
    q, k, v = (rng.integers(-128, 128, size=(1, rows, h)) for _ in range(3))
    mask = (rng.random((1, rows)) < 0.6).astype(np.int64)
    mask[0, 0] = 1
    if rows > 3:
        mask[0, 1:] = 0  # all masked but one
        mask[0, rows - 1] = rng.integers(0, 2)
    attrs = dict(heads=c["HEADS"], head_dim=c["HD"], sm_mult=c["SM_MULT"], sm_shift=c["SM_SHIFT"])
    attrs.update(out_mult=c["OUT_MULT"], out_shift=c["OUT_SHIFT"])
    want = attention_op.run_int(_node("attention", attrs, {}), [q, k, v, mask], _graph({}))
    got = run(driver, case, [[rows], q, k, v, mask], tmp_path)
    assert_exact(got, want)


@pytest.mark.parametrize(
    "op,ci",
    [("gelu", 0), ("gelu", 1), ("gelu", 2), ("gelu", 3), ("gelu", 4), ("tanh", 0), ("tanh", 1), ("tanh", 2)],
)
def test_unary(driver: Path, tmp_path: Path, op: str, ci: int) -> None:
    case = case_of(op, ci)
    c = case.consts
    rng = np.random.default_rng(ci + 7)
    rows = 16 if c["LANES"] == 1 else 13  # lanes: the last step is partly empty
    lim = 128 if case.types["in_t"] == "int8_t" else 2**19  # FX(F_GELU) int32 input
    x = rng.integers(-lim, lim, size=(1, rows, c["COLS"]))
    x[0, 0, :2] = [-lim, lim - 1]
    attrs = dict(
        in_mult=c["IN_MULT"], in_shift=c["IN_SHIFT"], out_mult=c["OUT_MULT"], out_shift=c["OUT_SHIFT"]
    )
    if op == "gelu":
        attrs.update(out_offset=c["OUT_OFFSET"], out_zero=c["OUT_ZERO"])
    mod = gelu_op if op == "gelu" else tanh_op
    want = mod.run_int(_node(op, attrs, {}), [x], _graph({}))
    got = run(driver, case, [[rows], x], tmp_path)
    assert_exact(got, want)


@pytest.mark.parametrize("ci", range(8))
def test_add(driver: Path, tmp_path: Path, ci: int) -> None:
    case = case_of("add", ci)
    c = case.consts
    rng = np.random.default_rng(ci + 20)
    rows, cols = 11, c["COLS"]

    def act(t: str) -> np.ndarray:
        lim = 128 if case.types[t] == "int8_t" else 2**30
        return rng.integers(-lim, lim, size=(1, rows, cols))

    a, b = act("a_t"), act("b_t")
    const = rng.integers(-5000, 5000, size=cols)
    if ci in (0, 5):  # push every element to the int32 limits: saturation
        const = np.where(rng.random(cols) < 0.5, 2**31 - 1, -(2**31))
    attrs = dict(a_mult=c["A_MULT"], a_shift=c["A_SHIFT"], b_mult=c["B_MULT"], b_shift=c["B_SHIFT"])
    params = {"const_q": "c", "const": "c"} if c["HAS_CONST"] else {}
    gp: dict[str, np.ndarray] = {"c": const.astype(np.int32)}
    per_ch: list[Any] = []
    for tag in ("a", "b"):
        if c[f"{tag.upper()}_PER_CH"]:
            ms = [qm(x) for x in 10.0 ** rng.uniform(-1, 2, size=cols)]
            gp[f"{tag}m"] = np.array([m for m, _ in ms], dtype=np.int32)
            gp[f"{tag}s"] = np.array([s for _, s in ms], dtype=np.int32)
            params.update({f"{tag}_mult": f"{tag}m", f"{tag}_shift": f"{tag}s"})
            per_ch += [gp[f"{tag}m"], gp[f"{tag}s"]]
    ins = [a, b] if c["HAS_B"] else [a]
    want = add_op.run_int(_node("add", attrs, params), ins, _graph(gp))
    vals: list[Any] = [[rows], a] + ([b] if c["HAS_B"] else []) + ([const] if c["HAS_CONST"] else []) + per_ch
    got = run(driver, case, vals, tmp_path)
    if ci in (0, 5):
        assert np.any(np.abs(want) == 2**31 - 1) or np.any(want == -(2**31))  # int32 saturation
    assert_exact(got, want)


@pytest.mark.parametrize("ci", range(7))
def test_layernorm(driver: Path, tmp_path: Path, ci: int) -> None:
    case = case_of("layernorm", ci)
    c = case.consts
    rng = np.random.default_rng(ci + 30)
    rows, h = 9, c["H"]
    x = rng.integers(-(2**14), 2**14, size=(1, rows, h)) + rng.integers(-(2**16), 2**16, size=(1, rows, 1))
    x[0, 0, :] = -77  # constant row: variance 0, eps decides
    x[0, 1, :] = rng.integers(-(2**22), 2**22, size=h)  # wide
    gamma = rng.integers(-(2**13), 2**13, size=h)
    beta = rng.integers(-(2**31), 2**31, size=h) * 4  # beyond int32: exercises the word pairs
    params = {"gamma_q": "g", "beta_q": "b"}
    gp = {"g": gamma.astype(np.int32), "b": beta.astype(np.int64)}
    extra: list[Any] = []
    if c["PER_CH"]:
        ms = [qm(x) for x in 10.0 ** rng.uniform(-4, 0, size=h)]
        gp["m"] = np.array([m for m, _ in ms], dtype=np.int32)
        gp["s"] = np.array([s for _, s in ms], dtype=np.int32)
        params.update(mult="m", shift="s")
        extra = [gp["m"], gp["s"]]
    node = _node("layernorm", dict(eps_q=c["EPS_Q"], mult=c["MULT"], shift=c["SHIFT"]), params)
    want = layernorm_op.run_int(node, [x], _graph(gp))
    got = run(driver, case, [[rows], x, gamma, beta, *extra], tmp_path)
    assert_exact(got, want)


@pytest.mark.parametrize("ci", range(3))
def test_embed(driver: Path, tmp_path: Path, ci: int) -> None:
    case = case_of("embed", ci)
    c = case.consts
    rng = np.random.default_rng(ci + 40)
    rows, h = 13, c["H"]
    word = rng.integers(-128, 128, size=(c["VOCAB"], h)).astype(np.int8)
    pos = rng.integers(-128, 128, size=(c["NPOS"], h)).astype(np.int8)
    typ = rng.integers(-128, 128, size=(c["NTYPE"], h)).astype(np.int8)
    ids = rng.integers(0, c["VOCAB"], size=(1, rows))
    ids[0, -3:] = c["PADDING_IDX"]
    ids[0, 4] = c["PADDING_IDX"]
    types = rng.integers(0, c["NTYPE"], size=(1, rows))
    attrs: dict[str, Any] = dict(position_offset=c["POSITION_OFFSET"], padding_idx=c["PADDING_IDX"])
    attrs["position_mode"] = "roberta" if c["ROBERTA"] else "arange"
    for key in ("word", "pos", "type"):
        attrs[f"{key}_mult"], attrs[f"{key}_shift"] = c[f"{key.upper()}_MULT"], c[f"{key.upper()}_SHIFT"]
    params = {"word_q": "w", "pos_q": "p"}
    if c["HAS_TYPE"]:
        params.update(type="t", type_q="t")
    g = _graph({"w": word, "p": pos, "t": typ})
    ins = [ids, types] if c["HAS_TYPE"] else [ids]
    want = embed_op.run_int(_node("embed", attrs, params), ins, g)
    w8 = np.concatenate([word.ravel(), pos.ravel(), typ.ravel()])
    got = run(driver, case, [[rows], ids, types, [w8.size], w8], tmp_path)
    assert_exact(got, want)


def test_consts_header_matches_intops() -> None:
    text = consts_header()
    for name in ("EXP_LN2", "EXP_QA", "EXP_QB", "EXP_QC", "GELU_QA", "GELU_QB", "GELU_INV_SQRT2", "TANH_ONE"):
        assert f"{name} = {getattr(intops, name)}LL;" in text
