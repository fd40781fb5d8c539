"""The unit builds: one frozen dataclass per kind of unit, each knob a field with one default.

The scheduler writes a :class:`Builds` into the schedule (``schedule.json`` ``builds``); the
cost model (:mod:`compiler.hw.costs`), the performance model, the generators, the simulator
and the bench read the same object.  A new knob is a new field here, nowhere else.

Every default is a build that exists in RTL and is simulated bit-exact (docs/rtl.md):

* engine (``sparse_linear.sv``): PACK = 2 (two int8 MACs per DSP48E2, WP486; even block
  heights only), REQ_LANES = 4 shared requant pipelines, XW = 2 X words per input beat,
  RQ_FABRIC = 2 (each requant product on 2 DSPs + LUT adds), TT = 2 tokens per tile;
* LayerNorm (``int_layernorm.sv``): W = 4 elements per beat (the scheduler picks one of
  :data:`LN_WIDTHS` unless told);
* residual adder (``int_add.sv``): FABRIC = 1 (its multipliers in LUTs: the DSPs go to
  engines and lanes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

#: int_layernorm.sv widths that are built, tested bit-exact and synthesized: the scheduler picks one
LN_WIDTHS = (1, 4, 16)


@dataclass(frozen=True)
class EngineBuild:
    """``sparse_linear.sv`` parameters (BM x BN come from the model's block size)."""

    pack: int = 2  # PACK: int8 MACs per DSP48E2 (2 needs an even block height)
    requant_lanes: int | None = 4  # REQ_LANES: shared requant pipelines (None: one per output row)
    xw: int = 2  # XW: X words (BN int8 each) per input beat
    rq_fabric: int = 2  # RQ_FABRIC: requant products on DSPs (0), in LUTs (1), split (2)
    token_tile: int = 2  # TT: tokens per tile

    def for_block(self, bm: int) -> EngineBuild:
        """This build as the RTL makes it for block height ``bm``: PACK = 1 where ``bm`` is odd."""
        return replace(self, pack=1) if bm % 2 == 1 and self.pack != 1 else self

    def lanes(self, bm: int) -> int:
        """Requant pipelines of an engine of block height ``bm``."""
        return bm if self.requant_lanes is None else max(1, min(bm, self.requant_lanes))

    def rtl_parameters(self, bm: int) -> dict[str, int]:
        """The SystemVerilog parameters of this build for block height ``bm``."""
        return {
            "PACK": self.for_block(bm).pack,
            "REQ_LANES": self.lanes(bm),
            "XW": self.xw,
            "RQ_FABRIC": self.rq_fabric,
            "TT": self.token_tile,
        }


@dataclass(frozen=True)
class LayerNormBuild:
    """``int_layernorm.sv`` parameters."""

    width: int = 4  # W: elements per beat


@dataclass(frozen=True)
class AddBuild:
    """``int_add.sv`` parameters."""

    fabric: bool = True  # FABRIC: the requant multipliers in LUTs (HLS: the add_fabric kernel)


@dataclass(frozen=True)
class Builds:
    """The builds of every unit kind of one design."""

    engine: EngineBuild = EngineBuild()
    layernorm: LayerNormBuild = LayerNormBuild()
    add: AddBuild = AddBuild()

    def with_ln_width(self, width: int) -> Builds:
        return replace(self, layernorm=LayerNormBuild(width))

    def with_pack(self, pack: int | None) -> Builds:
        return self if pack is None else replace(self, engine=replace(self.engine, pack=pack))

    def for_block(self, block: tuple[int, int]) -> Builds:
        """These builds as the RTL makes them for ``block`` (see :meth:`EngineBuild.for_block`)."""
        return replace(self, engine=self.engine.for_block(block[0]))

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Builds:
        """The builds a schedule recorded (:meth:`to_meta`); defaults for what it does not name."""
        return cls(
            EngineBuild(**meta.get("engine", {})),
            LayerNormBuild(**meta.get("layernorm", {})),
            AddBuild(**meta.get("add", {})),
        )


DEFAULT_BUILDS = Builds()

#: The engine build of an RTL plan that names no other, such as the chained RTL encoder layer of
#: ``sparsehls rtlsim``: sparse_linear.sv's own parameter defaults, with a token tile of 4 (the
#: planner always sets TT)
RTL_ENGINE = EngineBuild(pack=1, requant_lanes=None, xw=1, rq_fabric=0, token_tile=4)

#: Unit designs the bench reports side by side (every one is built in RTL).
VARIANTS: dict[str, Builds] = {
    "unpacked (PACK=1, a requant lane per row, LayerNorm W=1)": Builds(
        EngineBuild(pack=1, requant_lanes=None, xw=1, rq_fabric=0), LayerNormBuild(1), AddBuild(False)
    ),
    "packed (PACK=2, a requant lane per row, W=1)": Builds(
        EngineBuild(pack=2, requant_lanes=None, xw=1, rq_fabric=0), LayerNormBuild(1), AddBuild(False)
    ),
    "requant on 4 DSPs (default with RQ_FABRIC=0)": replace(
        DEFAULT_BUILDS, engine=replace(DEFAULT_BUILDS.engine, rq_fabric=0)
    ),
    "default (PACK=2, REQ_LANES=4, W=4, XW=2, adders in LUTs, split requant)": DEFAULT_BUILDS,
    "wide LayerNorm (default with W=16)": DEFAULT_BUILDS.with_ln_width(16),
}
