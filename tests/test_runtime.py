"""The Accelerator interface: golden and csim backends agree; xrt explains itself when absent."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls import toolchain
from compiler.backends.hls.command import generate_hls
from compiler.errors import UserError
from compiler.passes.quantize import quantize
from runtime.accelerator import open_accelerator
from tests.irfactory import make_bert_graph, random_feeds, zero_blocks


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    g = make_bert_graph(1, 32, 2, 64, 8, seed=21, classifier=True, block=(4, 8))
    g = zero_blocks(g, 0.5, seed=22)
    return quantize(g, random_feeds(g, 3, seed=23))


def test_unknown_backend_and_missing_project(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match="unknown backend"):
        open_accelerator("fpga", tmp_path, graph)
    with pytest.raises(UserError, match="no generated HLS project"):
        open_accelerator("csim", tmp_path)
    with pytest.raises(UserError, match="needs the quantized graph"):
        open_accelerator("golden")


@pytest.mark.skipif(importlib.util.find_spec("pyxrt") is not None, reason="pyxrt is installed here")
def test_xrt_backend_without_pyxrt(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    generate_hls(graph, tmp_path, "u280")
    with pytest.raises(UserError, match="pyxrt"):
        open_accelerator("xrt", tmp_path)


@pytest.mark.csim
@pytest.mark.skipif(not toolchain.have_toolchain(), reason="needs g++ and the hls4ml ap_types headers")
def test_golden_and_csim_agree(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    generate_hls(graph, tmp_path, "u55c")
    feeds = random_feeds(graph, 3, seed=24)
    with open_accelerator("golden", graph=graph) as gold, open_accelerator("csim", tmp_path) as sim:
        want, got = gold.run(feeds), sim.run(feeds)
    assert set(want) == set(got) == {"logits"}
    assert np.array_equal(want["logits"], got["logits"])


def test_host_sources_present() -> None:
    """The native host cannot be compiled here (no XRT headers); check it names the XRT API it needs."""
    host = Path(__file__).resolve().parents[1] / "runtime" / "host"
    src = (host / "sparsehls_host.cpp").read_text()
    for api in (
        "xrt::device",
        "xrt::kernel",
        "xrt::bo",
        "load_xclbin",
        "group_id",
        "XCL_BO_SYNC_BO_TO_DEVICE",
    ):
        assert api in src
    assert "xrt_coreutil" in (host / "CMakeLists.txt").read_text()
