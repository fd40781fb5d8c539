"""Run a list of tasks on an executor: skip the stored ones, store each as it finishes, count and show progress."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from compiler.scale.executor import Executor
from compiler.scale.store import TaskStore
from compiler.scale.tasks import Outcome, Task

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    total: int = 0
    skipped: int = 0  # stored by an earlier run
    done: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)  # {key, inputs, error, traceback}

    @property
    def ok(self) -> bool:
        return not self.failed


def run_tasks(
    tasks: Sequence[Task],
    executor: Executor,
    store: TaskStore | None = None,
    on_outcome: Callable[[Task, Outcome], None] | None = None,
    label: str = "tasks",
    show: bool = True,
) -> RunSummary:
    """Run the tasks not already in ``store``; each outcome is stored (and passed to ``on_outcome``)
    as it arrives, so a stopped run loses only the tasks in flight.  A task that raised is counted,
    logged with its inputs and kept in the summary; the others run on."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys are not unique")
    todo = [t for t in tasks if not (store and store.is_done(t))]
    summary = RunSummary(total=len(tasks), skipped=len(tasks) - len(todo))
    by_key = {t.key: t for t in todo}
    with _progress(label, len(tasks), summary.skipped, executor.workers, show and bool(todo)) as tick:
        for out in executor.run(todo):
            task = by_key[out.key]
            if store is not None:
                store.put(task, out)
            if out.ok:
                summary.done += 1
            else:
                summary.failed.append(
                    {"key": out.key, "inputs": task.inputs(), "error": out.error, "traceback": out.traceback}
                )
                log.warning("task %s failed: %s (inputs %s)", out.key, out.error, task.inputs())
            if on_outcome is not None:
                on_outcome(task, out)
            tick(summary)
    return summary


@contextmanager
def _progress(
    label: str, total: int, skipped: int, workers: int, show: bool
) -> Iterator[Callable[[RunSummary], None]]:
    """A rich bar on a terminal: done / total, failed, running; nothing when not a terminal."""
    if not (show and sys.stderr.isatty()):
        yield lambda s: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def text(s: RunSummary) -> str:
        left = s.total - s.skipped - s.done - len(s.failed)
        return f"{label}: [red]{len(s.failed)} failed[/red], {min(workers, left)} running" + (
            f", {s.skipped} stored before" if s.skipped else ""
        )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as p:
        first = RunSummary(total=total, skipped=skipped)
        bar = p.add_task(text(first), total=total, completed=skipped)

        def tick(s: RunSummary) -> None:
            p.update(bar, completed=s.skipped + s.done + len(s.failed), description=text(s))

        yield tick
