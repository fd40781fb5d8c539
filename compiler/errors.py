"""User-facing errors: one line, exit code 2, no traceback (see compiler.cli)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad path, bad checkpoint, unsupported op...).

    The CLI prints ``sparsehls: error: <message>`` and exits with code 2.
    """

    exit_code = 2
