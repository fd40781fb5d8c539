"""The board table (compiler/hw/boards.py) against the cards' data sheets."""

from __future__ import annotations

import pytest

from compiler.errors import UserError
from compiler.hw.boards import BOARDS, get_board
from compiler.perf.model import physical_limit
from compiler.perf.workload import from_shape

# DS962 (U200, U250), DS963 (U280), DS978 (U55C): DSP slices, LUTs, FFs, BRAM36, URAM, off-chip GB/s
DATA_SHEETS = {
    "u200": (6840, 1_182_240, 2_364_480, 2160, 960, 77.0),
    "u250": (12288, 1_728_000, 3_456_000, 2688, 1280, 77.0),
    "u280": (9024, 1_303_680, 2_607_360, 2016, 960, 460.0),
    "u55c": (9024, 1_303_680, 2_607_360, 2016, 960, 460.0),
}


@pytest.mark.parametrize("name", sorted(DATA_SHEETS))
def test_totals_are_the_data_sheets(name: str) -> None:
    b = get_board(name.upper())
    dsp, lut, ff, bram, uram, gbs = DATA_SHEETS[name]
    assert b.totals() == {"dsp": dsp, "lut": lut, "ff": ff, "bram": bram, "uram": uram}
    assert b.bandwidth_gbs == gbs
    assert b.part.startswith(f"xc{name}") and b.platform.startswith(f"xilinx_{name}_")
    assert b.bank(b.channels) == b.bank(0) == f"{b.memory}[0]"


def test_every_board_has_a_data_sheet_row_and_unknown_boards_are_refused() -> None:
    assert set(BOARDS) == set(DATA_SHEETS)
    with pytest.raises(UserError, match="unknown board 'u9000'"):
        get_board("u9000")


def test_compute_limit_hand_worked() -> None:
    """2 dense layers of hidden 256, 4 heads, FFN 1024 at 128 tokens, by hand:
    linears 128 x (4 x 256 x 256 + 2 x 256 x 1024) = 100,663,296 MACs a layer, attention
    2 x 4 x 128 x 128 x 64 = 8,388,608; the U250's 12,288 DSPs x 2 MACs x 300 MHz = 7.3728e12 MAC/s."""
    wl = from_shape(2, 256, 4, 1024, 128, (16, 16), 0.0)
    lim = physical_limit(wl, get_board("u250"), 300.0)
    macs = 2 * (100_663_296 + 8_388_608)
    assert lim["macs"] == macs == 218_103_808
    assert lim["compute_ms"] == pytest.approx(218_103_808 / 7.3728e12 * 1e3, rel=1e-12)
    assert lim["compute_ms"] == pytest.approx(0.029582, abs=1e-6)
    assert lim["bound"] == "compute"
