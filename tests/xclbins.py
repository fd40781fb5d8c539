"""Small ``.xclbin`` files for tests: the axlf header, EMBEDDED_METADATA XML and IP_LAYOUT, no bitstream.

The layout follows XRT 2.13's ``xclbin.h`` (see ``runtime/xclbin.py``); XRT's own
parser (``xrt::xclbin``, used by the C++ host) reads these files, which
``tests/test_runtime.py`` checks where libxrt-dev is installed.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from runtime.xclbin import (
    EMBEDDED_METADATA,
    HEADER_BYTES,
    IP_KERNEL,
    IP_LAYOUT,
    MAGIC,
    NUM_SECTIONS_AT,
    SECTION_BYTES,
    SECTIONS_AT,
    VBNV_AT,
)


def _register_offsets(args: list[dict[str, Any]]) -> list[int]:
    """Vitis HLS's control map: arguments from 0x10, a 64-bit pointer takes 0xc, a scalar 0x8."""
    out, at = [], 0x10
    for a in args:
        out.append(at)
        at += 0xC if a["kind"] == "m_axi" else 0x8
    return out


def metadata_xml(kernel: str, args: list[dict[str, Any]]) -> bytes:
    rows = []
    for i, (a, off) in enumerate(zip(args, _register_offsets(args), strict=True)):
        ptr = a["kind"] == "m_axi"
        port = f"M_AXI_{a.get('bundle', 'gmem').upper()}" if ptr else "S_AXI_CONTROL"
        size = "0x8" if ptr else "0x4"
        ctype = f"{a.get('ctype', 'int')}*" if ptr else a.get("ctype", "int")
        rows.append(
            f'<arg name="{a["name"]}" addressQualifier="{int(ptr)}" id="{i}" port="{port}" size="{size}" '
            f'offset="0x{off:x}" hostOffset="0x0" hostSize="{size}" type="{escape(ctype)}"/>'
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<project name="sparsehls"><platform vendor="xilinx" '
        'boardid="test" name="test" featureRomTime="0"><version major="1" minor="0"/><device name="fpga0" '
        'fpgaDevice="test" addrWidth="0"><core name="OCL_REGION_0" target="hw" type="clc_region" '
        'clockFreq="0MHz" numComputeUnits="1">'
        f'<kernel name="{kernel}" language="c" vlnv="xilinx.com:hls:{kernel}:1.0" preferredWorkGroupSizeMultiple="0" '
        'workGroupSize="1" interrupt="true" hwControlProtocol="ap_ctrl_chain">'
        + "".join(rows)
        + f'<instance name="{kernel}_1"><addrRemap base="0x800000" port="S_AXI_CONTROL"/></instance>'
        "</kernel></core></device></platform></project>\n"
    )
    return xml.encode()


def ip_layout(kernel: str) -> bytes:
    name = f"{kernel}:{kernel}_1".encode()[:63]
    return struct.pack("<i4x", 1) + struct.pack("<IIQ64s", IP_KERNEL, 0, 0x800000, name)


def make_xclbin(
    path: Path, kernel: str, args: list[dict[str, Any]], platform: str, metadata: bool = True
) -> Path:
    """An xclbin naming ``kernel`` (with ``args`` as interface.json lists them) for ``platform``."""
    sections = [(IP_LAYOUT, "ip_layout", ip_layout(kernel))]
    if metadata:
        sections.insert(0, (EMBEDDED_METADATA, "metadata", metadata_xml(kernel, args)))
    at = SECTIONS_AT + SECTION_BYTES * len(sections)
    table, bodies = b"", b""
    for kind, name, body in sections:
        table += struct.pack("<I16s4xQQ", kind, name.encode(), at + len(bodies), len(body))
        bodies += body + b"\0" * (-len(body) % 8)
    head = bytearray(SECTIONS_AT)
    head[:8] = MAGIC
    struct.pack_into("<i", head, 8, -1)
    total = SECTIONS_AT + len(table) + len(bodies)
    struct.pack_into("<Q", head, 304, total)  # m_header.m_length
    head[VBNV_AT : VBNV_AT + len(platform)] = platform.encode()
    struct.pack_into("<I", head, NUM_SECTIONS_AT, len(sections))
    data = bytes(head) + table + bodies
    assert len(data) >= HEADER_BYTES
    Path(path).write_bytes(data)
    return Path(path)
