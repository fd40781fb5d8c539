"""The executor options every fan-out command shares (``--ray``, ``--ray-address``, ``--num-cpus``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.scale.executor import Executor


def add_executor_args(p: Any) -> None:
    g = p.add_argument_group("where tasks run (default: one after another in this process)")
    g.add_argument("--ray", action="store_true", help="start a local Ray on this machine and run tasks on it")
    g.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="join an existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto; docs/scale.md)",
    )
    g.add_argument(
        "--num-cpus", type=int, default=None, help="--ray: CPUs of the local Ray (default: all cores)"
    )
    g.add_argument(
        "--ray-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="--ray-address: seconds to wait for the cluster to answer (default 5)",
    )


def executor_from_args(a: argparse.Namespace) -> Executor:
    from compiler.scale.executor import make_executor

    return make_executor(a.ray, a.ray_address, a.num_cpus, a.ray_timeout)
