"""Locating the C++ toolchain for C simulation: g++ and the ap_types headers.

The Apache-2.0 ``ap_int.h`` / ``hls_stream.h`` headers ship inside the PyPI
``hls4ml`` package (``hls4ml/templates/vivado/ap_types``); they are found at
run time and never copied into the repository or the generated project.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from pathlib import Path

from compiler.errors import UserError

# g++ does not know `#pragma HLS` (-Wno-unknown-pragmas), and loop labels only name loops
# in HLS reports (-Wno-unused-label); every other warning is an error.
CXXFLAGS = ("-std=c++14", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-unused-label")


@functools.cache
def ap_types_dir() -> Path:
    """Folder holding ap_int.h and hls_stream.h (from the installed hls4ml package)."""
    env = os.environ.get("SPARSEHLS_AP_TYPES")
    if env:
        cand = Path(env)
    else:
        spec = importlib.util.find_spec("hls4ml")
        if spec is None or spec.origin is None:
            raise UserError(
                "ap_types headers not found: install hls4ml (pip install hls4ml) or set SPARSEHLS_AP_TYPES"
            )
        cand = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    if not (cand / "ap_int.h").is_file() or not (cand / "hls_stream.h").is_file():
        raise UserError(f"ap_types headers not found in {cand} (need ap_int.h and hls_stream.h)")
    return cand


def gxx() -> str:
    """Path of the C++ compiler (``$CXX`` or g++)."""
    name = os.environ.get("CXX", "g++")
    path = shutil.which(name)
    if path is None:
        raise UserError(f"C++ compiler {name!r} not found on PATH (install g++ or set CXX)")
    return path


def have_toolchain() -> bool:
    try:
        gxx()
        ap_types_dir()
    except UserError:
        return False
    return True
