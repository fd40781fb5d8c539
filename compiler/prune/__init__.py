"""Hardware-aware block pruning of BERT-family encoders (``sparsehls prune``).

Entry point: :func:`compiler.prune.command.run_prune`.  Methods: magnitude,
balanced, block-lasso, pgb, obert, ae (see docs/pruning.md).
"""

# the --method names (kept here so the CLI checks them without importing torch)
METHODS = ("magnitude", "balanced", "block-lasso", "pgb", "obert", "ae")
