"""Hardware-aware block pruning of BERT-family encoders (``sparsehls prune``).

Entry point: :func:`compiler.prune.command.run_prune`.  Methods: magnitude,
balanced, block-lasso, pgb, obert, ae (see docs/pruning.md).
"""

# the --method names (kept here so the CLI checks them without importing torch)
METHODS = ("magnitude", "balanced", "block-lasso", "pgb", "obert", "ae")


#: the methods that prune gradually (``--pruning-steps``)
GRADUAL = ("pgb", "obert")


def check_recovery_args(
    steps: int | None,
    batch: int,
    time_budget: float | None,
    lr: float | None = None,
    pruning_steps: int | None = None,
    method: str = "",
) -> None:
    """``--steps``, ``--batch``, ``--time-budget``, ``--lr``, ``--pruning-steps``: refused in one
    line before torch loads."""
    from compiler.errors import UserError

    if steps is not None and steps < 0:
        raise UserError(f"--steps {steps} must be >= 0")
    if batch < 1:
        raise UserError(f"--batch {batch} must be >= 1")
    if time_budget is not None and not time_budget > 0:
        raise UserError(f"--time-budget {time_budget} must be a positive number of seconds")
    if lr is not None and not 0 < lr <= 1:
        raise UserError(f"--lr {lr} must be a learning rate in (0, 1]")
    if pruning_steps is not None:
        if pruning_steps < 1:
            raise UserError(f"--pruning-steps {pruning_steps} must be >= 1")
        if method not in GRADUAL:
            raise UserError(f"--pruning-steps applies to {' and '.join(GRADUAL)}, not {method}")
