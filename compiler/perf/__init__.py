"""Estimate and schedule: the analytical performance model of a scheduled design and the
board-aware scheduler that sizes it (reads the hardware contract in :mod:`compiler.hw`)."""
