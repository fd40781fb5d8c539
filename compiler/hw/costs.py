"""Resource cost of one unit of each kind of hardware the scheduler instantiates.

Linear engines (the RTL ``sparse_linear.sv``): taken from Yosys
(``compiler/hw/data/rtl_synth.json``, ``synth_xilinx -family xcup``) when that
file has the exact configuration (block, PACK = ``mac_per_dsp``, REQ_LANES =
``requant_lanes``); else scaled from the file's default engine of that block
size (PACK = 1, one requant lane per output lane); otherwise from the
formulas below, which are assumptions, labelled as such in every report
(``UnitCosts.source``).  The RTL packs two int8 MACs per DSP48E2 with PACK = 2
(WP486; even block heights only) and shares REQ_LANES requant pipelines among
the BM output lanes (docs/rtl.md, "DSP packing and shared requant").

Attention lanes (``int_attention_head.sv`` with its ``int_softmax.sv``), GELU
(``int_gelu.sv``) and LayerNorm (``int_layernorm.sv``, W lanes): Yosys numbers
from ``compiler/hw/data/rtl_synth_units.json`` (``bench/rtl_synth_units.py``) when
it has that unit and size, else formulas from the kernels' arithmetic
(labelled in ``UnitCosts.source``).

The knobs of each unit (PACK, REQ_LANES, XW, RQ_FABRIC, TT, LayerNorm W, adder FABRIC) are the
fields of :class:`compiler.hw.builds.Builds`; ``UnitCosts.builds`` holds them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.hw.boards import BRAM36_BYTES
from compiler.hw.builds import DEFAULT_BUILDS, Builds

#: Yosys numbers shipped with the package (written by bench/rtl_synth.py and bench/rtl_synth_units.py)
DATA = Path(__file__).resolve().parent / "data"
SYNTH_JSON = DATA / "rtl_synth.json"

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


#: RQ_FABRIC build -> (rtl_synth_units.json unit of one lane's product, formula without it)
RQ_BUILDS: dict[int, tuple[str, Cost]] = {
    1: ("rq_mul_fabric", Cost(0, 1000, 64)),
    2: ("rq_mul_split", Cost(2, 300, 64)),
}


@dataclass(frozen=True)
class UnitCosts:
    """The resources of each unit of a design with these ``builds``."""

    builds: Builds = DEFAULT_BUILDS
    # Yosys LUT/FF/DSP/BRAM: "BMxBN-pP-rqR" per synthesized case (:func:`synth_key`), "BMxBN" for the default engine
    synth: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = "formula"

    @property
    def mac_per_dsp(self) -> int:
        return self.builds.engine.pack

    @property
    def requant_lanes(self) -> int | None:
        return self.builds.engine.requant_lanes

    @property
    def xw(self) -> int:
        return self.builds.engine.xw

    @property
    def rq_fabric(self) -> int:
        return self.builds.engine.rq_fabric

    @property
    def ln_width(self) -> int:
        return self.builds.layernorm.width

    @property
    def add_fabric(self) -> bool:
        return self.builds.add.fabric

    def engine(self, bm: int, bn: int, max_kb: int, max_nb: int, tt: int = 4) -> Cost:
        """One sparse_linear engine (BM x BN MACs) with its tile buffers; weights not included.

        PACK = ``mac_per_dsp``, REQ_LANES = ``requant_lanes``, XW = ``xw``: the Yosys
        numbers of that configuration when synthesized, else scaled from the block's
        default engine, else formulas.  The X tile buffer is XW banks of BN bytes
        (one word of each bank written per beat).
        """
        macs = bm * bn
        lanes = bm if self.requant_lanes is None else min(bm, self.requant_lanes)
        xbank = 2 * tt * -(-max_kb // self.xw) * bn
        buffers = self.xw * brams(xbank, bn) + brams(2 * tt * max_nb * bm * 4, bm * 4)
        # an XW > 1 engine not synthesized is costed as its XW = 1 build (the X banks are in `buffers`)
        built = self.synth.get(synth_key(bm, bn, self.mac_per_dsp, lanes, self.xw)) or self.synth.get(
            synth_key(bm, bn, self.mac_per_dsp, lanes)
        )
        if built is not None:  # this very engine was synthesized
            return self._requant_build(Cost(built["DSP"], built["LUT"], built["FF"], buffers), lanes)
        dsp = macs / self.mac_per_dsp + lanes * REQUANT_DSP_PER_LANE
        base = self.synth.get(f"{bm}x{bn}")
        if base is not None:
            lut, ff = float(base["LUT"]), float(base["FF"])
            yosys_req = max(float(base["DSP"]) - macs, 0.0) / bm  # requant DSPs per lane as built
            dsp = macs / self.mac_per_dsp + lanes * yosys_req
        else:
            # adder tree (BN-1 adds of 16..20 bits per row), requant lanes (64-bit round/shift), control
            lut = macs * 14 + bm * 250 + 1500
            ff = macs * 20 + bm * 300 + 2000
        if self.mac_per_dsp == 2:
            lut += macs * 2  # packing correction (sign fix of the low product)
        return self._requant_build(Cost(dsp, lut, ff, buffers), lanes)

    def _requant_build(self, engine: Cost, lanes: int) -> Cost:
        """``engine`` (requant products on DSPs, as synthesized) as built with ``rq_fabric``: each of
        its ``lanes`` requant products is replaced by the Yosys numbers of one lane's product in that
        build (rtl_synth_units.json ``rq_mul`` -> ``rq_mul_fabric`` for 1, ``rq_mul_split`` for 2;
        without them the formulas 4 DSPs -> 1,000 LUTs, or -> 2 DSPs + 300 LUTs)."""
        if not self.rq_fabric:
            return engine
        name, formula = RQ_BUILDS[self.rq_fabric]
        on, off = unit_synth_cost("rq_mul"), unit_synth_cost(name)
        if on is None or off is None:
            on, off = Cost(REQUANT_DSP_PER_LANE, 0, 64), formula
        d = off + on * -1.0
        return Cost(
            max(0.0, engine.dsp + lanes * d.dsp),
            engine.lut + lanes * d.lut,
            engine.ff + lanes * d.ff,
            engine.bram,
        )

    def attention_mac_per_dsp(self, head_dim: int, seq: int) -> int:
        """int8 MACs per DSP in an attention lane: the RTL head packs two per DSP48E2 whatever the
        engines' PACK (its Yosys numbers, when :meth:`attention_lane` uses them), else the formula's."""
        return 2 if _attention_built(head_dim, seq) is not None else self.mac_per_dsp

    def softmax_unit(self) -> Cost:
        """int_softmax.sv: i-exp (2 multipliers), divider, requant, NBUF = 4 row buffers of LMAX.

        Yosys (``rtl_synth_units.json``, LMAX 128) when present, else the formula.
        """
        y = unit_synth_cost("softmax")
        return y if y is not None else Cost(2 + DSP_32X32, 3500, 4000, 1)

    def attention_lane(self, head_dim: int, seq: int) -> Cost:
        """int_attention_head.sv: QK dot (head_dim MACs), PV (head_dim MACs), its row-pipelined
        int_softmax, the K/V row buffers.

        Yosys when ``rtl_synth_units.json`` has the head at this head_dim with SMAX >= seq (its
        MACs packed as far as the RTL packs them).  Else the formula.
        """
        macs = 2 * head_dim
        y = _attention_built(head_dim, seq)
        if y is not None:
            return y
        own = Cost(macs / self.mac_per_dsp + DSP_32X32, macs * 10 + 1500, macs * 16 + 2000, brams(seq * 4, 4))
        return own + self.softmax_unit()

    def gelu_lane(self) -> Cost:
        """int_gelu.sv: i-GELU, one element per cycle (Yosys when present, else the formula).

        The modelled GELU follows fc1, whose wide int32 output is already FX(F_GELU): the
        quantizer sets in_mult/in_shift = IDENTITY, so the unit is the IN_IDENTITY = 1 build
        without the input requant (Yosys ``gelu_id``); falls back to ``gelu`` (with it)."""
        y = unit_synth_cost("gelu_id")
        if y is None:
            y = unit_synth_cost("gelu")
        return y if y is not None else Cost(3 * DSP_32X32, 900, 1400)

    def add_lane(self) -> Cost:
        """int_add.sv: residual add of two requantized inputs, one element per cycle, with its
        per-channel parameter ROM (Yosys when present, else the formula).  ``add_fabric``: the
        FABRIC = 1 build, its two requant multipliers in LUTs (Yosys ``add_fabric``, i.e.
        ``synth_xilinx -nodsp``; Vivado: the USE_DSP = "no" attribute the RTL then carries)."""
        if self.add_fabric:
            y = unit_synth_cost("add_fabric")
            return y if y is not None else Cost(0, 2600, 650, 3)
        y = unit_synth_cost("add")
        return y if y is not None else Cost(2 * DSP_32X32, 700, 650, 3)

    def layernorm_lane(self) -> Cost:
        """int_layernorm.sv unit of ``ln_width`` lanes (W): squares, normalize, gamma and requant
        multipliers, isqrt, divider, row buffer.  Yosys when ``rtl_synth_units.json`` has this W
        (HMAX 1024), else the formula."""
        y = unit_synth_cost(f"layernorm_w{self.ln_width}")
        if y is not None:
            return y
        w = self.ln_width
        return Cost(4 * DSP_32X32 * w, 6000 + 1500 * (w - 1), 7000 + 2000 * (w - 1), 2 * w)

    def fixed(self) -> Cost:
        """Controller, AXI masters, embedding gather: one of each."""
        return Cost(16, 30000, 45000, 16)


def _read_json(path: Path) -> dict[str, Any]:
    """A results file, or {} when it is absent or unreadable (costs then fall back to formulas)."""
    if not path.exists():
        return {}
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return doc


def load_synth(path: Path = SYNTH_JSON) -> dict[str, dict[str, float]]:
    out = {}
    for c in _read_json(path).get("cases", []):
        b = c.get("block")
        if b and all(k in c for k in ("LUT", "FF", "DSP")):
            row = {k: float(c[k]) for k in ("LUT", "FF", "DSP", "BRAM")}
            pack, lanes, xw = int(c.get("pack", 1)), int(c.get("req_lanes", b[0])), int(c.get("xw", 1))
            out[synth_key(b[0], b[1], pack, lanes, xw)] = row
            if pack == 1 and lanes == b[0] and xw == 1:
                out[f"{b[0]}x{b[1]}"] = row  # the default engine: the base for scaled estimates
    return out


def synth_key(bm: int, bn: int, pack: int, req_lanes: int, xw: int = 1) -> str:
    """Key of one synthesized engine configuration (block, PACK, REQ_LANES[, XW when not 1])."""
    return f"{bm}x{bn}-p{pack}-rq{min(req_lanes, bm)}" + (f"-xw{xw}" if xw != 1 else "")


def unit_costs(builds: Builds, block: tuple[int, int] | None = None, use_synth: bool = True) -> UnitCosts:
    """Unit costs of a design with ``builds``; ``block`` (optional) names the engine source in ``source``."""
    synth = load_synth() if use_synth else {}
    return UnitCosts(builds, synth, _source(builds, synth, block))


def _source(builds: Builds, synth: dict[str, dict[str, float]], block: tuple[int, int] | None) -> str:
    """Where each unit's cost comes from, for ``UnitCosts.source`` (reported with every estimate)."""
    eng = builds.engine
    src = "linear engines: Yosys rtl_synth.json" if synth else "linear engines: formulas (no rtl_synth.json)"
    odd = block is not None and block[0] % 2 == 1
    if eng.pack == 2:
        src += (
            f"; 2 int8 MACs per DSP (packing, not in the RTL for {block[0]}x{block[1]} blocks: odd height)"
            if odd and block is not None
            else "; 2 int8 MACs per DSP (RTL PACK=2)"
        )
    if eng.requant_lanes is not None:
        src += f"; {eng.requant_lanes} shared requant lanes per engine (RTL REQ_LANES)"
    if block is not None:
        bm, bn = block
        key = synth_key(bm, bn, eng.pack, eng.lanes(bm), eng.xw)
        if key in synth:
            src += f"; engine {key}: Yosys"
        elif eng.xw != 1 and synth_key(bm, bn, eng.pack, eng.lanes(bm)) in synth:
            src += f"; engine {key}: Yosys of its XW=1 build (XW={eng.xw} not synthesized)"
        elif f"{bm}x{bn}" in synth:
            src += f"; engine {key}: scaled from Yosys {bm}x{bn}-p1-rq{bm}"
        else:
            src += f"; engine {key}: formula"
    if eng.xw != 1:
        src += f"; engine X port {eng.xw} words per beat (sparse_linear.sv XW={eng.xw})"
    if builds.layernorm.width != 1:
        src += (
            f"; {builds.layernorm.width}-wide LayerNorm units (int_layernorm.sv W={builds.layernorm.width})"
        )
    if builds.add.fabric:
        src += "; residual adders in LUTs (int_add.sv FABRIC=1)"
    if eng.rq_fabric == 1:
        src += (
            "; engine requant products in LUTs (sparse_linear.sv RQ_FABRIC=1, Yosys rq_mul_fabric per lane)"
        )
    elif eng.rq_fabric == 2:
        src += "; engine requant products split, 2 DSPs + LUT adds (sparse_linear.sv RQ_FABRIC=2, Yosys rq_mul_split)"
    return src + "; non-linear units: " + unit_synth_source()


UNITS_SYNTH_JSON = DATA / "rtl_synth_units.json"


def load_unit_synth(path: Path = UNITS_SYNTH_JSON) -> dict[str, dict[str, float]]:
    """Yosys numbers of the non-linear RTL units (``bench/rtl_synth_units.py``) by unit name.

    Names: gelu, add, softmax, attention_d<D>, layernorm_w<W>; values LUT (with
    the LUTs of LUTRAM/SRL primitives), FF, DSP, BRAM and the build parameters.
    {} when the file is absent or unreadable (the costs fall back to formulas).
    """
    out = {}
    for name, u in _read_json(path).get("units", {}).items():
        if all(k in u for k in ("LUT", "FF", "DSP", "BRAM")):
            row = {k: float(u[k]) for k in ("FF", "DSP", "BRAM")}
            row["LUT"] = float(u.get("LUT_TOTAL", u["LUT"]))
            row.update({k: float(v) for k, v in u.get("parameters", {}).items()})
            out[name] = row
    return out


@functools.cache
def _unit_synth_cached() -> dict[str, dict[str, float]]:
    return load_unit_synth()


def unit_synth(name: str) -> dict[str, float] | None:
    """One unit's Yosys numbers (cached read of ``rtl_synth_units.json``), or None."""
    return _unit_synth_cached().get(name)


def unit_synth_cost(name: str) -> Cost | None:
    u = unit_synth(name)
    return None if u is None else Cost(u["DSP"], u["LUT"], u["FF"], u["BRAM"])


def _attention_built(head_dim: int, seq: int) -> Cost | None:
    """Yosys cost of the RTL attention head at ``head_dim`` when synthesized with SMAX >= ``seq``, else None."""
    head, y = unit_synth(f"attention_d{head_dim}"), unit_synth_cost(f"attention_d{head_dim}")
    return y if head is not None and y is not None and seq <= head.get("SMAX", 0) else None


def unit_synth_source() -> str:
    """For ``UnitCosts.source``: where the non-linear units' costs come from."""
    names = sorted(_unit_synth_cached())
    if not names:
        return "formulas (attention/GELU/LayerNorm/softmax; no rtl_synth_units.json)"
    return f"Yosys rtl_synth_units.json ({', '.join(names)}; formulas for other sizes)"


def design_costs(block: tuple[int, int], builds: Builds = DEFAULT_BUILDS) -> UnitCosts:
    """Costs of ``builds`` (the default design unless given) as the RTL builds them for ``block``:
    PACK = 2 needs an even block height, so odd heights get PACK = 1."""
    return unit_costs(builds.for_block(block), block)
