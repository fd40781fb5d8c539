"""Read what an ``.xclbin`` says about itself, and refuse one built for another design or board.

An xclbin (XRT's ``axlf`` container, ``xrt/xclbin.h``) starts with the magic
``xclbin2``, a fixed header that names the platform (``m_platformVBNV``) and a
table of sections.  Two sections say which kernel the bitstream implements:

* ``EMBEDDED_METADATA`` (kind 2): XML with ``<kernel name=...>`` and its
  ``<arg name= id= addressQualifier= offset=...>`` list (the register map);
* ``IP_LAYOUT`` (kind 8): the compute units, named ``kernel:instance``.

Offsets below are those of the C structs in XRT 2.13's ``xclbin.h`` (checked with
``offsetof`` against Debian's libxrt-dev): ``sizeof(axlf)`` 496, header at 304,
platform name at 352 (64 bytes), section count at 448, section table at 456
(40 bytes per entry: kind u32, name[16], offset u64 at 24, size u64 at 32);
``ip_data`` entries of 80 bytes start 8 bytes into ``IP_LAYOUT``, the name at 16.

Nothing here needs XRT or a card, so ``run --backend xrt`` refuses a wrong xclbin
with one line before it opens the device.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.errors import UserError

MAGIC = b"xclbin2\0"
HEADER_BYTES = 496
VBNV_AT, VBNV_BYTES = 352, 64
NUM_SECTIONS_AT = 448
SECTIONS_AT, SECTION_BYTES = 456, 40
EMBEDDED_METADATA, IP_LAYOUT = 2, 8
IP_DATA_AT, IP_DATA_BYTES, IP_NAME_AT, IP_KERNEL = 8, 80, 16, 1


@dataclass(frozen=True)
class KernelArg:
    name: str
    index: int
    pointer: bool  # addressQualifier 1 (global memory) rather than 0 (scalar)
    offset: int | None  # its register offset in the control interface, when the metadata says


@dataclass(frozen=True)
class Xclbin:
    path: Path
    platform: str
    kernels: dict[str, tuple[KernelArg, ...]] = field(default_factory=dict)


def _bad(path: Path, why: str) -> UserError:
    return UserError(
        f"{path} is not a readable xclbin ({why}): rebuild it with `make xclbin` in the project's hls/"
    )


def read_xclbin(path: Path) -> Xclbin:
    """The platform and kernels of ``path``; ``UserError`` when it is missing or not an xclbin."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"xclbin not found: {path} (build it with `make -C PROJECT/hls xclbin`)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise _bad(path, e.strerror or "cannot read it") from None
    if len(data) < HEADER_BYTES or data[:8] != MAGIC:
        raise _bad(path, "no xclbin2 header")
    platform = data[VBNV_AT : VBNV_AT + VBNV_BYTES].split(b"\0")[0].decode("ascii", "replace")
    (count,) = struct.unpack_from("<I", data, NUM_SECTIONS_AT)
    if SECTIONS_AT + count * SECTION_BYTES > len(data):
        raise _bad(path, f"{count} sections do not fit in {len(data)} bytes")
    kernels: dict[str, tuple[KernelArg, ...]] = {}
    ip_names: list[str] = []
    for i in range(count):
        at = SECTIONS_AT + i * SECTION_BYTES
        kind = struct.unpack_from("<I", data, at)[0]
        offset, size = struct.unpack_from("<QQ", data, at + 24)
        if offset + size > len(data):
            raise _bad(path, f"section {i} runs past the end of the file")
        body = data[offset : offset + size]
        if kind == EMBEDDED_METADATA:
            kernels.update(_metadata_kernels(path, body))
        elif kind == IP_LAYOUT:
            ip_names += _ip_kernels(body)
    for name in ip_names:  # compute units without metadata: the name is known, the arguments not
        kernels.setdefault(name, ())
    return Xclbin(path, platform, kernels)


def _metadata_kernels(path: Path, xml: bytes) -> dict[str, tuple[KernelArg, ...]]:
    try:
        root = ET.fromstring(xml.rstrip(b"\0"))
    except ET.ParseError as e:
        raise _bad(path, f"its metadata is not XML: {e}") from None
    out: dict[str, tuple[KernelArg, ...]] = {}
    for k in root.iter("kernel"):
        args: list[KernelArg] = []
        for a in k.iter("arg"):
            off = a.get("offset")
            args.append(
                KernelArg(
                    name=a.get("name", ""),
                    index=int(a.get("id", len(args))),
                    pointer=a.get("addressQualifier", "0") != "0",
                    offset=int(off, 0) if off else None,
                )
            )
        out[k.get("name", "")] = tuple(sorted(args, key=lambda x: x.index))
    return out


def _ip_kernels(body: bytes) -> list[str]:
    if len(body) < 4:
        return []
    (count,) = struct.unpack_from("<i", body, 0)
    names = []
    for i in range(max(count, 0)):
        at = IP_DATA_AT + i * IP_DATA_BYTES
        if at + IP_DATA_BYTES > len(body):
            break
        if struct.unpack_from("<I", body, at)[0] == IP_KERNEL:
            raw = body[at + IP_NAME_AT : at + IP_DATA_BYTES].split(b"\0")[0].decode("ascii", "replace")
            names.append(raw.split(":")[0])
    return names


def check_xclbin(xb: Xclbin, interface: dict[str, Any], board: str | None) -> None:
    """Refuse an xclbin whose kernel, argument list (register map) or platform is not this project's.

    ``interface``: the project's ``hls/interface.json`` (top name, argument list and,
    where the generator records one, ``register_map``: argument name -> offset).
    ``board``: the board the project was compiled for (its platform name must name it).
    """
    top = interface["top"]
    if top not in xb.kernels:
        held = ", ".join(sorted(xb.kernels)) or "none"
        raise UserError(
            f"{xb.path} holds kernel(s) [{held}], not this project's {top}: it was built for another design"
        )
    if board and xb.platform and f"_{board.lower()}_" not in f"_{xb.platform.lower().replace(':', '_')}_":
        raise UserError(
            f"{xb.path} was built for platform {xb.platform}, but the project for {board.upper()}: "
            "rebuild the xclbin for this board or recompile the project with --board"
        )
    got = xb.kernels[top]
    if not got:
        return  # no metadata: only the kernel name could be checked
    want = interface["args"]
    if [a.name for a in got] != [a["name"] for a in want]:
        raise UserError(
            f"{xb.path}: kernel {top} takes ({', '.join(a.name for a in got)}), this project's takes "
            f"({', '.join(a['name'] for a in want)}): it was built for another design"
        )
    for g, w in zip(got, want, strict=True):
        if g.pointer != (w["kind"] == "m_axi"):
            raise UserError(
                f"{xb.path}: argument {g.name} of {top} is a {'pointer' if g.pointer else 'scalar'} there "
                f"and a {'pointer' if w['kind'] == 'm_axi' else 'scalar'} in this project: another design"
            )
    regs = interface.get("register_map") or {}
    for g in got:
        if g.name in regs and g.offset is not None and int(regs[g.name]) != g.offset:
            raise UserError(
                f"{xb.path}: argument {g.name} of {top} sits at register 0x{g.offset:x}, this project's at "
                f"0x{int(regs[g.name]):x}: the register map differs, another design"
            )
