"""A task (a pure function of its inputs) and its outcome; :func:`execute` runs one anywhere."""

from __future__ import annotations

import hashlib
import json
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,150}$")


@dataclass(frozen=True)
class Task:
    """``fn(**kwargs)``: ``fn`` a module-level function (workers import it by name), ``kwargs``
    JSON-ready and everything the result depends on; ``key`` names the stored result (a file name)."""

    key: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"task key {self.key!r} is not a plain file name")

    def inputs(self) -> dict[str, Any]:
        """The inputs as stored and compared on resume (JSON round trip: tuples become lists)."""
        out: dict[str, Any] = json.loads(json.dumps(self.kwargs, sort_keys=True))
        return out


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    result: Any = None
    error: str = ""  # "ValueError: message" (first line)
    traceback: str = ""
    seconds: float = 0.0


def execute(fn: Callable[..., Any], kwargs: dict[str, Any], key: str) -> Outcome:
    """Run one task; an exception becomes a failed :class:`Outcome` (Ctrl-C still stops the run)."""
    t0 = time.perf_counter()
    try:
        result = fn(**kwargs)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ""
        return Outcome(
            key,
            False,
            error=f"{type(e).__name__}: {msg}"[:500],
            traceback=traceback.format_exc(limit=8)[-3000:],
            seconds=round(time.perf_counter() - t0, 3),
        )
    return Outcome(key, True, result=result, seconds=round(time.perf_counter() - t0, 3))


def task_seed(key: str, base: int = 0) -> int:
    """A deterministic 31-bit seed for a task, the same on every machine and every run."""
    h = hashlib.sha256(f"{base}:{key}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF
