"""Fan-out of independent tasks: in this process (the default) or on Ray (``--ray``, ``--ray-address``).

A :class:`~compiler.scale.tasks.Task` is a pure function of JSON-ready inputs
(with its own seed where it draws random numbers); :func:`~compiler.scale.run.run_tasks`
runs a list of them on an executor, stores each result as it finishes
(:class:`~compiler.scale.store.TaskStore`, one JSON file per task, written
atomically), skips the ones already stored, reports a task that raised with its
inputs and carries on with the rest.  Nothing here imports Ray until a Ray
executor is asked for (docs/scale.md).

Import from the modules (``compiler.scale.tasks``, ``.executor``, ``.store``,
``.run``, ``.args``): this file stays empty so that building the CLI's parser
(``compiler.scale.args``) costs nothing at start-up.
"""
