"""The Alveo cards sparsehls targets: one table of part, Vitis platform, fabric resources and memory.

Read by the scheduler and the performance model (resources, bandwidth), the HLS and Vitis
backends (part, platform, memory connectivity) and the bench.

Platform names are the Xilinx platform releases in common use for Vitis 2022.x/2023.x
(checked against public build scripts that name them).

Sources (Xilinx/AMD public data sheets):

* DS962 "Alveo U200 and U250 Data Center Accelerator Cards Data Sheet" (v1.x):
  U200 = XCU200 (VU9P class, 3 SLRs): 1,182K LUTs, 2,364K FFs, 6,840 DSP slices,
  2,160 BRAM36 (75.9 Mb), 960 URAM (270 Mb); 4x DDR4-2400 16 GB, 77 GB/s total.
  U250 = XCU250 (VU13P class, 4 SLRs): 1,728K LUTs, 3,456K FFs, 12,288 DSP,
  2,688 BRAM36 (94.5 Mb), 1,280 URAM (360 Mb); 4x DDR4-2400 16 GB, 77 GB/s total.
* DS963 "Alveo U280 Data Center Accelerator Card Data Sheet": XCU280 (3 SLRs):
  1,304K LUTs, 2,607K FFs, 9,024 DSP, 2,016 BRAM36, 960 URAM; 8 GB HBM2 in 32
  pseudo-channels, 460 GB/s (plus 2x DDR4 32 GB, 38 GB/s, not used here).
* DS978 "Alveo U55C Data Center Accelerator Card Data Sheet": XCU55C (3 SLRs),
  same fabric totals as the U280; 16 GB HBM2 in 32 pseudo-channels, 460 GB/s.
* UG579 "UltraScale Architecture DSP Slice": DSP48E2 = 27x18 multiplier; WP486
  "Deep Learning with INT8 Optimization on Xilinx Devices": two int8 products
  sharing one operand per DSP48E2 per cycle (the packing the physical limit assumes).

Per-SLR numbers are the totals divided by the SLR count (the parts are built
from identical SLRs).  The platform shell takes part of one SLR; the 80 % fit
budget of the scheduler leaves room for it.  Default kernel clock: 300 MHz.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import UserError

RESOURCES = ("dsp", "lut", "ff", "bram", "uram")
BRAM36_BYTES = 36 * 1024 // 8  # 36 Kb
URAM_BYTES = 288 * 1024 // 8  # 288 Kb
INT8_MACS_PER_DSP_PEAK = 2  # WP486 packing: the physical limit
#: share of every resource a design may use (the rest: the platform shell, routing, timing closure)
FIT_BUDGET = 0.8


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    platform: str
    slrs: int
    dsp_per_slr: int
    lut_per_slr: int
    ff_per_slr: int
    bram_per_slr: int  # BRAM36
    uram_per_slr: int
    memory: str  # "DDR" or "HBM": the Vitis connectivity name of its channels
    memory_kind: str  # "DDR4" or "HBM2" (data sheet)
    channels: int  # DDR banks or HBM pseudo-channels usable by kernels
    bandwidth_gbs: float  # peak off-chip bandwidth, GB/s (1e9 bytes/s)
    clock_mhz: int = 300  # default kernel clock (v++ --hls.clock takes whole MHz)

    def bank(self, i: int) -> str:
        """Connectivity name of memory channel i (wraps around)."""
        return f"{self.memory}[{i % self.channels}]"

    def total(self, res: str) -> int:
        return self.slrs * int(getattr(self, f"{res}_per_slr"))

    def totals(self) -> dict[str, int]:
        return {r: self.total(r) for r in RESOURCES}

    @property
    def onchip_bytes(self) -> int:
        return self.total("bram") * BRAM36_BYTES + self.total("uram") * URAM_BYTES

    def peak_macs_per_s(self, clock_mhz: float | None = None) -> float:
        """Peak int8 MACs/s: every DSP48E2 doing 2 packed int8 MACs per cycle."""
        return self.total("dsp") * INT8_MACS_PER_DSP_PEAK * (clock_mhz or self.clock_mhz) * 1e6


# fmt: off
BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        # name   part                    Vitis platform                          SLRs DSP/SLR LUT/SLR FF/SLR BRAM URAM  memory        ch  GB/s
        Board("u200", "xcu200-fsgd2104-2-e", "xilinx_u200_gen3x16_xdma_2_202110_1", 3, 2280, 394080, 788160, 720, 320, "DDR", "DDR4", 4, 77.0),
        Board("u250", "xcu250-figd2104-2L-e", "xilinx_u250_gen3x16_xdma_4_1_202210_1", 4, 3072, 432000, 864000, 672, 320, "DDR", "DDR4", 4, 77.0),
        Board("u280", "xcu280-fsvh2892-2L-e", "xilinx_u280_gen3x16_xdma_1_202211_1", 3, 3008, 434560, 869120, 672, 320, "HBM", "HBM2", 32, 460.0),
        Board("u55c", "xcu55c-fsvh2892-2L-e", "xilinx_u55c_gen3x16_xdma_3_202210_1", 3, 3008, 434560, 869120, 672, 320, "HBM", "HBM2", 32, 460.0),
    )
}
# fmt: on


def get_board(name: str) -> Board:
    key = name.strip().lower()
    if key not in BOARDS:
        raise UserError(f"unknown board {name!r}: choose one of {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
