"""RTL simulation of the non-linear integer units against the golden, element by element.

One Verilator build per unit (int_gelu, int_add, int_layernorm, int_softmax);
each test runs several calls back to back in one simulation: full-rate runs
(their ap_start -> ap_done cycles are checked against
``nonlinear.unit_cycles``, the measured formulas in docs/rtl.md) and runs with
30 % random input idle cycles and output backpressure.  Random vectors plus
edge values (zero, int8/int32 extremes, saturating outputs, masked keys,
constant rows, single elements).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from conftest import needs_sim

from compiler.backends.rtl import nonlinear
from compiler.errors import UserError
from compiler.golden import intops
from compiler.golden.intops import IDENTITY
from compiler.golden.ops import gelu as gelu_op
from compiler.hw import timing

pytestmark = [pytest.mark.sim, needs_sim]

I32 = (intops.INT32_MIN, intops.INT32_MAX)


def qm(m: float) -> tuple[int, int]:
    return intops.quantize_multiplier(m)


def check(
    unit: str, case: dict, runs: list[dict], tmp_path, build_root, mems=None, lanes: int = 1, params=None
) -> dict:
    """Run, then: no mismatch, every output word compared, full-rate cycles = the formula
    (``params``: build parameter overrides, e.g. int_add's FABRIC)."""
    params = {**({"W": lanes} if lanes != 1 else {}), **(params or {})} or None
    res = nonlinear.run_unit(unit, case, runs, tmp_path, build_root, mems, params)
    assert res["passed"] and res["mismatches"] == 0, f"{res['mismatches']} differ; see {tmp_path}/sim.log"
    main = nonlinear_main(unit)
    # every output word: rows padded to whole beats of `lanes` (pad lanes must be 0)
    words = [np.asarray(r[main]).shape for r in runs]
    want_words = sum(s[0] * -(-s[1] // lanes) * lanes if lanes > 1 else int(np.prod(s)) for s in words)
    assert res["compared"] == want_words
    for run, got in zip(runs, res["runs"], strict=True):
        if run["pause"] < 0:
            arr = np.asarray(run[main])
            rows, width = (arr.shape[0], arr.shape[1]) if arr.ndim > 1 else (1, arr.size)
            if unit == "attention":  # rows of S keys, one per token
                width = rows
            want = nonlinear.unit_cycles(unit, arr.size, rows, width, lanes)
            assert got["cycles"] == want, f"{unit}: RTL {got['cycles']} cycles, formula {want} ({run})"
            if unit != "softmax":  # the first unit of output (perf.model's fills), from the beats
                first = first_unit(unit, got["beats"], rows, width, lanes)
                want = timing.first_unit_cycles(unit, arr.size, rows, width, lanes)
                assert first == want, f"{unit}: first unit {first} cycles, formula {want} ({rows}x{width})"
    return res


def first_unit(unit: str, beats: dict[str, list[int]], rows: int, width: int, lanes: int) -> int:
    """Measured: the first input beat to the last output beat of the first unit, both counted."""
    ends = {"gelu": ("x_in", "y_out"), "add": ("a_in", "r_out"), "layernorm": ("x_in", "y_out")}
    src, sink = ends.get(unit, ("q_in", "o_out"))  # attention: the first query row's beat
    last = {"layernorm": -(-width // lanes) - 1, "attention": 0}.get(unit, rows * width - 1)
    return beats[sink][last] - beats[src][0] + 1


def nonlinear_main(unit: str) -> str:
    return {"gelu": "x", "add": "a", "layernorm": "r", "softmax": "s", "attention": "q"}[unit]


def test_gelu_matches_golden(build_root, tmp_path):
    rng = np.random.default_rng(1)
    edges = np.array([0, 1, -1, 7246, -7246, 10247, -10247, 2**20 - 1, -(2**20), *I32, 4096, -4096])
    fx = np.concatenate([edges, rng.integers(-(2**20), 2**20, size=200)])  # FX(12) from an int32 linear
    int8 = np.arange(-128, 128)
    out_m, out_s = qm(2.0**-12 / 0.021)
    quantized = dict(out_mult=out_m, out_shift=out_s, out_offset=696, out_zero=-128)  # the quantizer's form
    runs = [
        dict(x=fx, pause=-1, in_mult=2**30, in_shift=30, **quantized),
        dict(x=int8, pause=3, in_mult=qm(0.05 * 4096)[0], in_shift=qm(0.05 * 4096)[1], **quantized),
        # plain symmetric int8 output (offset/zero 0), an input scale < 1 and saturation at both ends
        dict(
            x=rng.integers(*I32, size=120),
            pause=-1,
            in_mult=qm(0.001)[0],
            in_shift=qm(0.001)[1],
            out_mult=qm(0.5)[0],
            out_shift=qm(0.5)[1],
            out_offset=0,
            out_zero=0,
        ),
        # huge in_mult (wraps in int64: the RTL agrees with NumPy there too), backpressure
        dict(
            x=rng.integers(*I32, size=60),
            pause=8,
            in_mult=2**31 - 1,
            in_shift=3,
            out_mult=3,
            out_shift=62,
            out_offset=-5,
            out_zero=17,
        ),
        dict(x=np.array([-3]), pause=-1, in_mult=2**30, in_shift=30, **quantized),
    ]
    check("gelu", {}, runs, tmp_path, build_root)


def test_gelu_in_identity_matches_golden(build_root, tmp_path, monkeypatch):
    """IN_IDENTITY = 1 (no input requant; the quantizer's IDENTITY for fc1's FX(F_GELU) int32 output):
    every output word equals run_int with in_mult/in_shift = IDENTITY, full-rate cycles = the formula.
    Some runs drive other values on the in_mult/in_shift ports (run_unit's check switched off):
    the build ignores them, so it is the IN_IDENTITY build that ran."""
    rng = np.random.default_rng(5)
    im, ish = IDENTITY
    edges = np.array([0, 1, -1, 2, -2, 7246, -7246, 10247, 10248, -10247, -10248, 4096, -4096])
    edges = np.concatenate([edges, [*I32, I32[0] + 1, I32[1] - 1, 2**30, -(2**30), 2**20 - 1, -(2**20)]])
    fx = np.concatenate([edges, rng.integers(-(2**20), 2**20, size=200)])
    out_m, out_s = qm(2.0**-12 / 0.021)
    quantized = dict(out_mult=out_m, out_shift=out_s, out_offset=696, out_zero=-128)
    extreme = dict(out_mult=2**32 - 1, out_shift=1, out_offset=I32[1], out_zero=-128)
    runs = [
        dict(x=fx, pause=-1, **quantized),
        dict(x=rng.integers(*I32, size=150, endpoint=True), pause=-1, **quantized),
        dict(x=rng.integers(*I32, size=80, endpoint=True), pause=4, **quantized),  # stalls
        dict(x=fx, pause=-1, in_mult=qm(0.05 * 4096)[0], in_shift=qm(0.05 * 4096)[1], **quantized),
        dict(x=fx, pause=-1, in_mult=2**31 - 1, in_shift=3, **quantized),
        # the wrapped top bits of y reach an unsaturated output; output extremes
        dict(
            x=np.concatenate([edges, rng.integers(*I32, size=60)]),
            pause=-1,
            **{**quantized, "out_mult": 1, "out_shift": 45, "out_offset": 0, "out_zero": 0},
        ),
        dict(x=np.concatenate([edges, rng.integers(*I32, size=40)]), pause=7, **extreme),
        dict(x=np.array([-3]), pause=-1, **quantized),
    ]
    for run in runs:  # the golden, computed here: ops/gelu.py run_int with IDENTITY input params
        attrs = {k: run[k] for k in ("out_mult", "out_shift", "out_offset", "out_zero")}
        node = types.SimpleNamespace(attrs={**attrs, "in_mult": im, "in_shift": ish})
        run["want"] = gelu_op.run_int(node, [np.asarray(run["x"], dtype=np.int64)], None)
    case = {"in_mult": im, "in_shift": ish}
    monkeypatch.setattr(nonlinear, "_check_gelu_identity", lambda case, runs: None)
    res = nonlinear.run_unit("gelu", case, runs, tmp_path, build_root, None, {"IN_IDENTITY": 1})
    assert res["passed"] and res["mismatches"] == 0, f"{res['mismatches']} differ; see {tmp_path}/sim.log"
    assert res["compared"] == sum(np.asarray(r["x"]).size for r in runs)
    for run, got in zip(runs, res["runs"], strict=True):
        if run["pause"] < 0:
            want = nonlinear.unit_cycles("gelu", np.asarray(run["x"]).size)
            assert got["cycles"] == want, f"gelu IN_IDENTITY: RTL {got['cycles']} cycles, formula {want}"


def test_gelu_in_identity_only_for_identity(build_root, tmp_path):
    """An IN_IDENTITY build refuses other input multipliers; node_case picks it only for IDENTITY."""
    run = dict(x=np.arange(4), pause=-1)
    with pytest.raises(UserError, match="IN_IDENTITY"):
        nonlinear.run_unit(
            "gelu", {"in_mult": 2**30, "in_shift": 29}, [run], tmp_path, build_root, None, {"IN_IDENTITY": 1}
        )
    out = dict(out_mult=2**30, out_shift=40, out_offset=0, out_zero=0)
    for (im, ish), want in [(IDENTITY, {"IN_IDENTITY": 1}), (qm(0.05 * 4096), {})]:
        node = types.SimpleNamespace(
            op="gelu", name="g", inputs=("a",), outputs=("b",), attrs={"in_mult": im, "in_shift": ish, **out}
        )
        nc = nonlinear.node_case(None, node, {"a": np.arange(6), "b": np.zeros(6)})
        assert nc.parameters == want


@pytest.mark.parametrize("fabric", [0, 1], ids=["dsp", "fabric"])
@pytest.mark.parametrize("variant", ["per_channel_two_inputs", "per_tensor_one_input"])
def test_add_matches_golden(variant, fabric, build_root, tmp_path):
    """Both builds of int_add (FABRIC = 0: multipliers on DSPs; 1: in LUTs, the scheduler's default)."""
    rng = np.random.default_rng(2)
    h = 48
    if variant == "per_channel_two_inputs":
        # a: LayerNorm int8 output (per-channel scales), b: int32 FX from a linear (identity), const_q
        a_ms = tuple(
            np.array(v) for v in zip(*(qm(s * 1024) for s in rng.uniform(0.001, 0.2, h)), strict=True)
        )
        b_ms = (2**30, 30)
        const_q = rng.integers(-(2**20), 2**20, size=h)
        a_ms[0][3], a_ms[1][3] = 0, 1  # a zero multiplier
        case = dict(
            use_b=1, a_mult=a_ms[0], a_shift=a_ms[1], b_mult=b_ms[0], b_shift=b_ms[1], const_q=const_q
        )
        b = rng.integers(-(2**24), 2**24, size=(7, h))
        b[0, :4] = [intops.INT32_MAX, intops.INT32_MIN, intops.INT32_MAX, intops.INT32_MIN]  # sat32
    else:
        a_ms, b_ms, const_q = qm(0.07 * 1024), None, None
        case = dict(use_b=0, a_mult=a_ms[0], a_shift=a_ms[1])
        b = None
    a = rng.integers(-128, 128, size=(7, h))
    a[1] = 127
    a[2] = -128
    mems = {"add_params.mem": nonlinear.add_mem(h, a_ms, b_ms, const_q)}
    runs = []
    for i, (rows, pause) in enumerate([(7, -1), (5, 11), (1, -1)]):
        run = dict(a=a[:rows] if i != 1 else -a[:rows], pause=pause)
        if b is not None:
            run["b"] = b[:rows]
        runs.append(run)
    runs.append(
        dict(a=a[:2, :5], pause=-1, **({"b": b[:2, :5]} if b is not None else {}))
    )  # 5 channels of 48
    check("add", case, runs, tmp_path, build_root, mems, params={"FABRIC": fabric} if fabric else None)


def ln_params(
    rng: np.random.Generator, hmax: int, eps_q: int, lanes: int = 1, zero_channel: bool = True
) -> tuple[dict, dict[str, str]]:
    """Random per-channel LayerNorm parameters (the golden case) and their ROM in the W = ``lanes``
    layout; ``zero_channel``: channel 5 gets multiplier 0 (its outputs are all 0)."""
    gamma = rng.integers(-(2**13), 2**13, size=hmax)
    beta = rng.integers(-(2**26), 2**26, size=hmax)
    ms = [qm(float(s)) for s in rng.uniform(0.005, 0.3, size=hmax)]
    mult, shift = np.array([m for m, _ in ms]), np.array([s for _, s in ms])
    if zero_channel:
        mult[5], shift[5] = 0, 1
    case = dict(eps_q=eps_q, gamma_q=gamma, beta_q=beta, mult=mult, shift=shift)
    return case, {"ln_params.mem": nonlinear.layernorm_mem(hmax, gamma, beta, mult, shift, lanes)}


def test_layernorm_matches_golden(build_root, tmp_path):
    rng = np.random.default_rng(3)
    hmax = 40
    case, mems = ln_params(rng, hmax, eps_q=1)
    r = rng.integers(-(2**14), 2**14, size=(8, hmax))  # residuals, FX(10)
    r[1] *= 2000  # wide row (|r| up to 2^25)
    r[2] = -7  # constant row: var 0, std = isqrt(eps) -> max(.,1)
    r[3] = rng.integers(-3, 4, size=hmax)  # tiny variance: saturating outputs
    r[4, :] = rng.integers(-(2**14), 2**14, size=hmax) - 2**20  # negative mean (floor division)
    runs = [
        dict(r=r[:5], pause=-1),
        dict(r=-r[:4], pause=5),
        dict(r=r[5:8, :24], pause=-1),  # h = 24 < HMAX of the ROM
        dict(r=r[:1, :1], pause=-1),  # h = 1
        dict(r=ln_wide_d_rows(), pause=-1),  # |d| > 2^31: the 33-bit d of the unit's products
    ]
    check("layernorm", case, runs, tmp_path, build_root, mems)


def ln_wide_d_rows() -> np.ndarray:
    """h = 8 rows whose outlier is more than 2^31 from the mean (sum of squares still < 2^63)."""
    r = np.full((2, 8), 858993459)
    r[0, 0] = intops.INT32_MIN
    r[1] = -r[0]
    r[1, 0] = intops.INT32_MAX
    return r


@pytest.mark.parametrize("lanes", [4, 16])
def test_wide_layernorm_matches_golden(lanes, build_root, tmp_path):
    """W lanes per beat (HMAX 1024): BERT-base rows (768), 64, rows that end in pad lanes, backpressure."""
    rng = np.random.default_rng(30 + lanes)
    hmax = 768
    case, mems = ln_params(rng, hmax, eps_q=3, lanes=lanes)
    r = rng.integers(-(2**14), 2**14, size=(4, hmax))
    r[1] *= 2000  # wide rows
    r[2, :] = rng.integers(-(2**14), 2**14, size=hmax) - 2**20  # negative mean
    r[3, :64] = -7  # constant row of 64
    tail = 42 if lanes == 4 else 40  # h not a multiple of W: the last beat has pad lanes
    runs = [
        dict(r=r[:3], pause=-1),  # h = 768
        dict(r=r[:4, :64], pause=-1),
        dict(r=r[:3, :tail], pause=-1),
        dict(r=-r[:2], pause=7),  # 30 % idle input beats, output backpressure
        dict(r=r[1:4, :tail] // 3, pause=2),
        dict(r=r[:2, :1], pause=-1),  # h = 1: one real lane
        dict(r=ln_wide_d_rows(), pause=-1),
    ]
    check("layernorm", case, runs, tmp_path, build_root, mems, lanes)


def ln_mixed_rows(rng: np.random.Generator, rows: int, h: int) -> np.ndarray:
    """Rows back to back whose mean, variance and sign all differ from their neighbours'."""
    r = rng.integers(-(2**14), 2**14, size=(rows, h))
    scale = (1, 2000, 0, 3, 50, 1, 700)  # 0: a constant row
    offset = (0, 5, -7, -(2**20), 2**20, -3, 2**12)
    for i in range(rows):
        r[i] = r[i] * scale[i % 7] + offset[i % 7]
    return r


@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_layernorm_overlapped_rows(lanes, build_root, tmp_path):
    """Rows overlap three deep (load k, statistics k-1, output k-2): long calls of unlike rows in
    every regime (row load longer than, equal to, shorter than the statistics), with pad lanes,
    one-beat rows, and idle input beats / output backpressure, which stall the phases."""
    rng = np.random.default_rng(50 + lanes)
    hmax = 1024
    case, mems = ln_params(rng, hmax, eps_q=2, lanes=lanes, zero_channel=False)
    # row lengths around the crossover beats + 2 = statistics (the steady-state period of
    # timing.layernorm_unit_cycles)
    stats = timing.LN_STATS + lanes.bit_length() - 1
    near = [lanes * (stats - 2) - lanes // 2, lanes * (stats - 1)] if lanes < 16 else [1000, 1024]
    runs = [dict(r=ln_mixed_rows(rng, 7, h), pause=-1) for h in near]
    runs += [
        dict(r=ln_mixed_rows(rng, 9, 24 + lanes // 2), pause=-1),  # statistics-bound, pad lanes
        dict(r=ln_mixed_rows(rng, 6, 1), pause=-1),  # one beat per row
        dict(r=ln_mixed_rows(rng, 6, near[0]), pause=11),  # idle input beats, backpressure
        dict(r=ln_mixed_rows(rng, 5, 40), pause=12),
        dict(r=ln_mixed_rows(rng, 2, near[1]), pause=-1),
    ]
    check("layernorm", case, runs, tmp_path, build_root, mems, lanes)


def test_softmax_matches_golden(build_root, tmp_path):
    rng = np.random.default_rng(4)
    m, s = qm(0.003 * 2**14)  # s_q * s_k / sqrt(d_h) * 2^14
    s_rows = rng.integers(-(2**15), 2**15, size=(6, 32))
    v_rows = rng.random((6, 32)) < 0.8
    v_rows[:, 0] = True
    v_rows[1] = False
    v_rows[1, 31] = True  # one valid key (p = 255 after the min)
    s_rows[2, 5] = 2**20  # one dominant key: others clamp at -16 ln2
    v_rows[3] = True  # no mask
    s_rows[4] = 123  # equal scores
    s_rows[5, :4] = [intops.INT32_MAX, intops.INT32_MIN, intops.INT32_MAX, 0]  # extreme scores
    big = rng.integers(-(2**12), 2**12, size=(2, 100))
    runs = [
        dict(s=s_rows, valid=v_rows.astype(np.int64), pause=-1),
        dict(
            s=s_rows[:3],
            valid=v_rows[:3].astype(np.int64),
            pause=6,
            mult=qm(0.05 * 2**14)[0],
            shift=qm(0.05 * 2**14)[1],
        ),
        dict(s=big, valid=np.ones_like(big), pause=-1, mult=qm(2.0**-3)[0], shift=qm(2.0**-3)[1]),
        dict(s=np.array([[-5]]), valid=np.array([[1]]), pause=-1),
    ]
    check("softmax", dict(mult=m, shift=s), runs, tmp_path, build_root)


def test_attention_head_matches_golden(build_root, tmp_path):
    """One head (D = 8): QK^T, softmax, PV, requant; masked keys, backpressure on all four streams."""
    rng = np.random.default_rng(5)
    d = 8
    sm = qm(0.002 * 2**14)
    out = qm(0.4 / 256)
    case = dict(sm_mult=sm[0], sm_shift=sm[1], out_mult=out[0], out_shift=out[1])

    def mk(s: int) -> np.ndarray:
        return rng.integers(-128, 128, size=(s, d))

    padded = np.ones(12, dtype=np.int64)
    padded[9:] = 0
    extreme = np.full((5, d), -128)
    runs = [
        dict(q=mk(12), k=mk(12), v=mk(12), mask=padded, pause=-1),
        dict(q=mk(12), k=mk(12), v=mk(12), mask=padded, pause=2),
        # int8 extremes: the largest scores (|S| = 8 * 128^2) and saturating outputs
        dict(
            q=extreme,
            k=extreme,
            v=-extreme - 1,
            mask=np.ones(5, dtype=np.int64),
            pause=-1,
            out_mult=2**31 - 1,
            out_shift=20,
        ),
        dict(q=mk(1), k=mk(1), v=mk(1), mask=np.ones(1, dtype=np.int64), pause=-1),
        dict(q=mk(33), k=mk(33), v=mk(33), mask=np.ones(33, dtype=np.int64), pause=9),
    ]
    check("attention", case, runs, tmp_path, build_root)


def check_attention(case: dict, runs: list[dict], tmp_path, build_root, d: int, out_lanes: int) -> None:
    """An int_attention_head build (D, OUT_LANES): every o_out word, full-rate cycles = the formula."""
    res = nonlinear.run_unit(
        "attention", case, runs, tmp_path, build_root, None, {"D": d, "OUT_LANES": out_lanes}
    )
    assert res["passed"] and res["mismatches"] == 0, f"{res['mismatches']} differ; see {tmp_path}/sim.log"
    assert res["compared"] == sum(np.asarray(r["q"]).size for r in runs)
    for run, got in zip(runs, res["runs"], strict=True):
        s, beats = np.asarray(run["q"]).shape[0], got["beats"]
        q0, v0, o0 = beats["q_in"][0], beats["v_in"][0], beats["o_out"][0]
        if "delay_v_in" in run:
            # V behind K: q is taken before V's first beat; the first o_out beat leaves a first row
            # after q or, when V's first beat comes later than pv_start after q, the PV pass and
            # the requant (first row - pv_start) after V's first beat
            assert q0 < v0, f"q taken at {q0}, not before V ({v0})"
            first = timing.attention_first_row(s, d, out_lanes)
            pv = timing.attention_pv_start(s, d, out_lanes)
            assert o0 + 1 == max(q0 + first, v0 + first - pv), (s, d, out_lanes, q0, v0, o0)
        elif run["pause"] < 0:
            want = timing.attention_cycles(s, d, out_lanes)
            assert got["cycles"] == want, (
                f"RTL {got['cycles']} cycles, formula {want} (S {s}, D {d}, {out_lanes})"
            )
            # the first row's latency (the phase-B fill of perf.model): q beat to o_out beat
            first = timing.attention_first_row(s, d, out_lanes)
            assert o0 - q0 + 1 == first, f"first row {o0 - q0 + 1} cycles, formula {first} (S {s}, D {d})"


def attention_runs(rng: np.random.Generator, d: int, lengths: list[tuple[int, int]]) -> list[dict]:
    """Random heads of the given (seq_len, pause) plus saturating ones (both ends), masked keys."""
    runs = []
    for s, pause in lengths:
        mask = np.ones(s, dtype=np.int64)
        mask[s - s // 4 :] = 0  # padded keys (none for s < 4)
        runs.append(
            dict(
                q=rng.integers(-128, 128, (s, d)),
                k=rng.integers(-128, 128, (s, d)),
                v=rng.integers(-128, 128, (s, d)),
                mask=mask,
                pause=pause,
            )
        )
    s = 5
    for sign in (1, -1):  # every output saturates: v = 127 -> +127, v = -128 -> -128
        v = np.full((s, d), 127 if sign > 0 else -128)
        v[:, 1] = rng.integers(-3, 4, s)  # one lane in range
        runs.append(
            dict(
                q=np.full((s, d), -128),
                k=np.full((s, d), -128),
                v=v,
                mask=np.ones(s, dtype=np.int64),
                pause=-1,
                out_mult=2**31 - 1,
                out_shift=20,
            )
        )
    # large multiplier: outputs of both signs, some saturating, some not, under backpressure
    runs.append(
        dict(
            q=rng.integers(-128, 128, (9, d)),
            k=rng.integers(-128, 128, (9, d)),
            v=rng.integers(-128, 128, (9, d)),
            mask=np.ones(9, dtype=np.int64),
            pause=4,
            out_mult=2**31 - 1,
            out_shift=16,
        )
    )
    return runs


@pytest.mark.parametrize("d,out_lanes", [(8, 2), (8, 8), (64, 1)], ids=lambda v: str(v))
def test_attention_head_shared_requant(d, out_lanes, build_root, tmp_path):
    """OUT_LANES lanes of output requant per cycle: 1 (D = 64: a row of S < 5 waits for the
    hold register), 2, D (one beat per issue); odd, short and long rows, saturation at both
    ends, output backpressure; every word against the golden, full-rate cycles exact."""
    rng = np.random.default_rng(50 + d + out_lanes)
    sm, out = qm(0.002 * 2**14), qm(0.4 / 256)
    case = dict(sm_mult=sm[0], sm_shift=sm[1], out_mult=out[0], out_shift=out[1])
    lengths = (
        [(1, -1), (2, -1), (4, -1), (3, 5), (7, -1), (12, -1)]
        if d == 64
        else [(1, -1), (13, -1), (6, 3), (41, -1), (64, -1)]
    )
    runs = attention_runs(rng, d, lengths)
    # V offered late (after q is taken): PV waits for V row j at probability j
    # (late: PV waits; S = 2, 60: V comes before the PV pass would take it)
    for s, delay in ((lengths[-1][0], 300), (2, 60)):
        runs.append({**attention_runs(rng, d, [(s, -1)])[0], "delay_v_in": delay})
    check_attention(case, runs, tmp_path, build_root, d, out_lanes)
