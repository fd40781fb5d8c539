"""Packing every constant array of the design into one binary weight image.

Sections are 64-byte aligned (one AXI beat of the 512-bit weight port) and
little endian.  The top reads the image as beats and copies each op's run of
sections into two on-chip views of the same bytes, ``wb8`` (int8) and ``wb32``
(int32); a section's int32 index is its byte offset / 4.
int64 arrays (LayerNorm beta) are stored as (low, high) int32 word pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALIGN = 64

_DTYPES: dict[str, np.dtype[Any]] = {
    "int8": np.dtype("<i1"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}


@dataclass
class Section:
    name: str
    offset: int  # bytes
    nbytes: int
    dtype: str
    shape: tuple[int, ...]

    @property
    def index32(self) -> int:
        return self.offset // 4


@dataclass
class WeightImage:
    sections: list[Section] = field(default_factory=list)
    _chunks: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, name: str, array: np.ndarray, dtype: str) -> Section:
        a = np.asarray(array)
        info = np.iinfo(_DTYPES[dtype])
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise ValueError(f"{name}: values do not fit {dtype}")
        data = np.ascontiguousarray(a, dtype=_DTYPES[dtype]).tobytes()
        pad = (-self.size) % ALIGN
        if pad:
            self._chunks.append(b"\0" * pad)
            self.size += pad
        sec = Section(name, self.size, len(data), dtype, tuple(int(d) for d in a.shape))
        self.sections.append(sec)
        self._chunks.append(data)
        self.size += len(data)
        return sec

    def tobytes(self) -> bytes:
        tail = (-self.size) % ALIGN
        return b"".join(self._chunks) + b"\0" * tail

    def manifest(self) -> dict[str, Any]:
        return {
            "align": ALIGN,
            "bytes": len(self.tobytes()),
            "endianness": "little",
            "sections": [
                {
                    "name": s.name,
                    "offset": s.offset,
                    "bytes": s.nbytes,
                    "dtype": s.dtype,
                    "shape": list(s.shape),
                }
                for s in self.sections
            ],
        }
