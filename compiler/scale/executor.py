"""Executors: where tasks run.  In-process (default) or Ray; Ray is imported only by :class:`RayExecutor`."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from compiler.errors import UserError
from compiler.scale.tasks import Outcome, Task, execute

log = logging.getLogger(__name__)
INSTALL_HINT = "install it with: pip install 'sparsehls[scale]'"


class Executor(Protocol):
    name: str
    workers: int

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Run ``tasks``, yielding each outcome as it finishes (any order)."""
        ...

    def close(self) -> None: ...


class InProcessExecutor:
    """One task after another in this process: no start-up cost, no extra dependency."""

    name = "in-process"
    workers = 1

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        for t in tasks:
            yield execute(t.fn, t.kwargs, t.key)

    def close(self) -> None:
        pass


def import_ray(flag: str = "--ray") -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(f"{flag} needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_reachable(address: str, timeout_s: float) -> None:
    """Refuse quickly (one TCP connect) an address nothing listens on; Ray itself retries for minutes."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--ray-address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise UserError(f"cannot reach the Ray cluster at {address} within {timeout_s:g} s ({why})") from None


def source_paths() -> list[str]:
    """This process's import folders that are not the Python installation's: the source tree,
    a script's helpers (bench/fuzz.py imports tests/ckpts.py).  Workers get them first on their
    path, so a checkout at the same path on every node is enough (docs/scale.md)."""
    return [
        p
        for p in sys.path
        if p and os.path.isdir(p) and not p.startswith((sys.prefix, sys.base_prefix, sys.exec_prefix))
    ]


@contextlib.contextmanager
def _worker_pythonpath() -> Iterator[None]:
    """Local workers are started by this process's raylet and inherit its environment."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(source_paths() + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


class RayExecutor:
    """Tasks as Ray tasks (one CPU each): a local Ray started here, or an existing cluster."""

    name = "ray"

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, connect_timeout_s: float = 5.0
    ) -> None:
        self.ray = ray = import_ray("--ray-address" if address else "--ray")
        if address:
            check_reachable(address, connect_timeout_s)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self._owns = not ray.is_initialized()
        if self._owns:
            self._init(address, num_cpus)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.name = f"ray ({address or 'local'}, {self.workers} CPUs)"
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute)

    def _init(self, address: str | None, num_cpus: int | None) -> None:
        kw: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        try:
            if address:
                env = {"env_vars": {"PYTHONPATH": os.pathsep.join(source_paths())}}
                self.ray.init(address=address, runtime_env=env, **kw)
            else:
                with _worker_pythonpath():
                    self.ray.init(
                        address="local",  # always a new local Ray, never one that happens to run here
                        num_cpus=num_cpus,
                        include_dashboard=False,
                        object_store_memory=256 * 1024**2,
                        **kw,
                    )
        except Exception as e:  # ConnectionError, a version mismatch with the cluster, ...
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            if not address:
                raise UserError(f"cannot start a local Ray: {msg}") from None
            hint = (
                ""
                if os.environ.get("RAY_AUTH_MODE")
                else " (a cluster with token authentication: set RAY_AUTH_MODE=token here too, docs/scale.md)"
            )
            raise UserError(f"cannot join the Ray cluster at {address}: {msg}{hint}") from None

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        ray = self.ray
        pending = {self._remote.remote(t.fn, t.kwargs, t.key): t for t in tasks}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    t = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as e:  # the worker died, the task could not be unpickled, ...
                        msg = str(e).strip().splitlines()[-1] if str(e).strip() else ""
                        yield Outcome(t.key, False, error=f"{type(e).__name__}: {msg}"[:500])
        finally:
            for ref in pending:  # stopped early (Ctrl-C): do not leave work running on the cluster
                with contextlib.suppress(Exception):
                    ray.cancel(ref)

    def close(self) -> None:
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()


def make_executor(
    ray: bool = False, address: str | None = None, num_cpus: int | None = None, connect_timeout_s: float = 5.0
) -> Executor:
    """In-process unless ``ray`` or ``address``; bad options are a :class:`UserError`."""
    if num_cpus is not None and num_cpus < 1:
        raise UserError(f"--num-cpus {num_cpus} must be >= 1")
    if not (ray or address):
        if num_cpus is not None:
            raise UserError("--num-cpus is for --ray (a local Ray); without it tasks run in this process")
        return InProcessExecutor()
    if address and num_cpus is not None:
        raise UserError("--num-cpus applies to a local Ray (--ray); a cluster (--ray-address) has its own")
    return RayExecutor(address, num_cpus, connect_timeout_s)
