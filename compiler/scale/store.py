"""One JSON file per finished task, written atomically (temp file + rename) as each finishes.

A run that stops (crash, Ctrl-C, a lost node) leaves only whole files; the next
run with the same folder skips every task whose stored inputs equal its own and
which succeeded, and runs the rest (failed ones included) again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.outputs import write_json
from compiler.scale.tasks import Outcome, Task


class TaskStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: run the task again
        return doc if isinstance(doc, dict) else None

    def is_done(self, task: Task) -> bool:
        rec = self.get(task.key)
        return bool(rec and rec.get("ok") and rec.get("inputs") == task.inputs())

    def put(self, task: Task, outcome: Outcome) -> dict[str, Any]:
        rec: dict[str, Any] = {"key": task.key, "inputs": task.inputs(), "ok": outcome.ok}
        rec["seconds"] = outcome.seconds  # wall time of the task on its worker
        if outcome.ok:
            rec["result"] = outcome.result
        else:
            rec["error"] = outcome.error
            rec["traceback"] = outcome.traceback
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.path(task.key), rec)
        return rec
