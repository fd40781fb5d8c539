"""Resource cost of one unit of each kind of hardware the scheduler instantiates.

Linear engines (the RTL ``sparse_linear.sv``): taken from Yosys
(``bench/results/rtl_synth.json``, ``synth_xilinx -family xcup``) when that
file has the block size; otherwise from the formulas below, which are
assumptions, labelled as such in every report (``UnitCosts.source``).  The
as-built RTL maps one int8 MAC to one DSP48E2 (docs/rtl.md); a design that
packs two int8 MACs per DSP (WP486) halves the MAC DSPs: ``mac_per_dsp``.

Attention lanes, GELU and LayerNorm units are not in RTL yet: their costs are
estimates from the HLS kernels' arithmetic (docs/hls_kernels.md: i-exp 2
multipliers + 1 divider, i-GELU 3 multipliers, LayerNorm isqrt + 2 dividers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.perf.boards import BRAM36_BYTES

ROOT = Path(__file__).resolve().parents[2]
SYNTH_JSON = ROOT / "bench" / "results" / "rtl_synth.json"

REQUANT_DSP_PER_LANE = 4  # 32x31-bit multiply on 27x18 DSP48E2s
DSP_32X32 = 4


@dataclass(frozen=True)
class Cost:
    dsp: float = 0.0
    lut: float = 0.0
    ff: float = 0.0
    bram: float = 0.0
    uram: float = 0.0

    def __add__(self, o: Cost) -> Cost:
        return Cost(
            self.dsp + o.dsp, self.lut + o.lut, self.ff + o.ff, self.bram + o.bram, self.uram + o.uram
        )

    def __mul__(self, k: float) -> Cost:
        return Cost(self.dsp * k, self.lut * k, self.ff * k, self.bram * k, self.uram * k)

    __rmul__ = __mul__

    def as_dict(self) -> dict[str, int]:
        return {k: int(round(v + 0.4999)) for k, v in self.__dict__.items()}


def brams(nbytes: float, width_bytes: int = 1) -> float:
    """BRAM36 for a buffer (at least one per 72-bit-wide slice)."""
    if nbytes <= 0:
        return 0.0
    return max(-(-nbytes // BRAM36_BYTES), -(-width_bytes // 9))


@dataclass(frozen=True)
class UnitCosts:
    mac_per_dsp: int = 2
    synth: dict[str, dict[str, float]] = field(default_factory=dict)  # "BMxBN" -> Yosys LUT/FF/DSP/BRAM
    source: str = "formula"
    requant_lanes: int | None = None  # per engine; None = BM, as built (one requant pipeline per output lane)
    ln_width: int = 1  # LayerNorm elements per cycle per unit; 1 = as built (int_layernorm.sv)

    def engine(self, bm: int, bn: int, max_kb: int, max_nb: int, tt: int = 4) -> Cost:
        """One sparse_linear engine (BM x BN MACs) with its tile buffers; weights not included."""
        macs = bm * bn
        lanes = bm if self.requant_lanes is None else min(bm, self.requant_lanes)
        dsp = macs / self.mac_per_dsp + lanes * REQUANT_DSP_PER_LANE
        key = f"{bm}x{bn}"
        if key in self.synth:
            s = self.synth[key]
            lut, ff = float(s["LUT"]), float(s["FF"])
            yosys_req = max(float(s["DSP"]) - macs, 0.0) / bm  # requant DSPs per lane as built
            dsp = macs / self.mac_per_dsp + lanes * yosys_req
        else:
            # adder tree (BN-1 adds of 16..20 bits per row), requant lanes (64-bit round/shift), control
            lut = macs * 14 + bm * 250 + 1500
            ff = macs * 20 + bm * 300 + 2000
        if self.mac_per_dsp == 2:
            lut += macs * 2  # packing correction (sign fix of the low product)
        xbuf = 2 * tt * max_kb * bn
        ybuf = 2 * tt * max_nb * bm * 4
        return Cost(dsp, lut, ff, brams(xbuf, bn) + brams(ybuf, bm * 4))

    def softmax_unit(self) -> Cost:
        """int_softmax.sv: i-exp (2 multipliers), divider, requant, a row buffer of LMAX int32."""
        return Cost(2 + DSP_32X32, 3500, 4000, 1)

    def attention_lane(self, head_dim: int, seq: int, softmax_units: int = 3) -> Cost:
        """QK dot (head_dim MACs) + PV (head_dim MACs) + softmax units + a score row buffer."""
        macs = 2 * head_dim
        own = Cost(macs / self.mac_per_dsp + DSP_32X32, macs * 10 + 1500, macs * 16 + 2000, brams(seq * 4, 4))
        return own + softmax_units * self.softmax_unit()

    def gelu_lane(self) -> Cost:
        """int_gelu.sv: i-GELU, 3 multipliers, one element per cycle."""
        return Cost(3 * DSP_32X32, 900, 1400)

    def layernorm_lane(self) -> Cost:
        """int_layernorm.sv unit: squares, normalize, gamma and requant multipliers, isqrt, divider, row buffer."""
        w = self.ln_width
        return Cost(4 * DSP_32X32 * w, 6000 + 1500 * (w - 1), 7000 + 2000 * (w - 1), 2 * w)

    def fixed(self) -> Cost:
        """Controller, AXI masters, embedding gather, residual adders: one of each."""
        return Cost(16, 30000, 45000, 16)


def load_synth(path: Path = SYNTH_JSON) -> dict[str, dict[str, float]]:
    if not path.exists():
        return {}
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    out = {}
    for c in doc.get("cases", []):
        b = c.get("block")
        if b and all(k in c for k in ("LUT", "FF", "DSP")):
            out[f"{b[0]}x{b[1]}"] = {k: float(c[k]) for k in ("LUT", "FF", "DSP", "BRAM")}
    return out


def unit_costs(
    mac_per_dsp: int = 2, use_synth: bool = True, requant_lanes: int | None = None, ln_width: int = 1
) -> UnitCosts:
    synth = load_synth() if use_synth else {}
    src = (
        "Yosys rtl_synth.json (linear engines) + formulas (attention/GELU/LayerNorm)"
        if synth
        else "formulas (no rtl_synth.json)"
    )
    if mac_per_dsp == 2:
        src += "; 2 int8 MACs per DSP (packing, not in the RTL)"
    if requant_lanes is not None:
        src += f"; {requant_lanes} shared requant lanes per engine (not in the RTL)"
    if ln_width != 1:
        src += f"; {ln_width}-wide LayerNorm units (not in the RTL)"
    return UnitCosts(mac_per_dsp, synth, src, requant_lanes, ln_width)


#: Unit designs the bench reports side by side.
VARIANTS: dict[str, dict[str, Any]] = {
    "as built": {"mac_per_dsp": 1},
    "packed": {"mac_per_dsp": 2},
    "proposed": {"mac_per_dsp": 2, "requant_lanes": 4, "ln_width": 16},
}
