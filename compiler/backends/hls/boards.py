"""Alveo cards that sparsehls targets: part, Vitis platform and off-chip memory.

Platform names are the Xilinx platform releases in common use for Vitis
2022.x/2023.x (checked against public build scripts that name them).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import UserError


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    platform: str
    memory: str  # "DDR" or "HBM"
    channels: int  # DDR banks or HBM pseudo-channels usable by kernels
    clock_mhz: int = 300

    def bank(self, i: int) -> str:
        """Connectivity name of memory channel i (wraps around)."""
        return f"{self.memory}[{i % self.channels}]"


BOARDS: dict[str, Board] = {
    "u200": Board("u200", "xcu200-fsgd2104-2-e", "xilinx_u200_gen3x16_xdma_2_202110_1", "DDR", 4),
    "u250": Board("u250", "xcu250-figd2104-2L-e", "xilinx_u250_gen3x16_xdma_4_1_202210_1", "DDR", 4),
    "u280": Board("u280", "xcu280-fsvh2892-2L-e", "xilinx_u280_gen3x16_xdma_1_202211_1", "HBM", 32),
    "u55c": Board("u55c", "xcu55c-fsvh2892-2L-e", "xilinx_u55c_gen3x16_xdma_3_202210_1", "HBM", 32),
}


def get_board(name: str) -> Board:
    key = name.strip().lower()
    if key not in BOARDS:
        raise UserError(f"unknown board {name!r}: choose one of {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
