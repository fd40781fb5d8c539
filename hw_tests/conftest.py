"""Shared fixtures of the RTL tests: tool detection and one build folder per engine shape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.backends.rtl.verilate import INSTALL_HINT, OPT_ENV, verilator_root

# the units' simulations here are short: C++ -O0 builds in about half the time of the default -Os
os.environ.setdefault(OPT_ENV, "-O0")

BUILD_ROOT = Path(__file__).resolve().parent / "sim_build"


def _have_sim() -> bool:
    try:
        import cocotb  # noqa: F401
        import cocotbext.axi  # noqa: F401
    except ImportError:
        return False
    return verilator_root() is not None


HAVE_SIM = _have_sim()
needs_sim = pytest.mark.skipif(not HAVE_SIM, reason=f"Verilator/cocotb missing: {INSTALL_HINT}")


@pytest.fixture(scope="session")
def build_root() -> Path:
    BUILD_ROOT.mkdir(exist_ok=True)
    return BUILD_ROOT
