"""Hardware-aware block pruning of BERT-family encoders (``sparsehls prune``).

Entry point: :func:`compiler.prune.command.run_prune`.  Methods: magnitude,
balanced, block-lasso, pgb, obert, ae (see docs/pruning.md).
"""
