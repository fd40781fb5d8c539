"""Running the CLI in-process and checking the one-line-error promise (shared by the CLI tests)."""

from __future__ import annotations

import pytest

from compiler.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()  # drop what fixtures printed
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    """Exit 2, exactly one line on stderr starting with ``sparsehls: error:``, no traceback."""
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sparsehls: error:"), err
    assert "Traceback" not in err
    for n in needles:
        assert n.lower() in lines[0].lower(), (n, lines[0])
