"""Fan-out of independent tasks: in this process (the default) or on Ray (``--ray``, ``--ray-address``).

A :class:`~compiler.scale.tasks.Task` is a pure function of JSON-ready inputs
(with its own seed where it draws random numbers); :func:`~compiler.scale.run.run_tasks`
runs a list of them on an executor, stores each result as it finishes
(:class:`~compiler.scale.store.TaskStore`, one JSON file per task, written
atomically), skips the ones already stored, reports a task that raised with its
inputs and carries on with the rest.  Nothing here imports Ray until a Ray
executor is asked for (docs/scale.md).
"""

from __future__ import annotations

from compiler.scale.executor import Executor, InProcessExecutor, make_executor
from compiler.scale.run import RunSummary, run_tasks
from compiler.scale.store import TaskStore
from compiler.scale.tasks import Outcome, Task, task_seed

__all__ = [
    "Executor",
    "InProcessExecutor",
    "Outcome",
    "RunSummary",
    "Task",
    "TaskStore",
    "make_executor",
    "run_tasks",
    "task_seed",
]
