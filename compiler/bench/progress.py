"""Progress bars (rich) for long bench steps; silent when not on a terminal or when quiet."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_QUIET = False


def set_quiet(q: bool) -> None:
    global _QUIET
    _QUIET = q


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if _QUIET or not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as p:
        yield from p.track(items, total=total, description=description)
