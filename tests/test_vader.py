"""The VADER data module: file format, the fixed split rule, offline behaviour (no network in tests)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from compiler.data import vader
from compiler.errors import UserError


def fake_cache(folder: Path, n: int = 40) -> Path:
    """Four ground-truth files in the real format (id TAB score TAB text, CRLF, no header)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in vader.FILES.items():
        rows = [
            f"{i}\t{(-1) ** i * (i % 5) / 1.5:.4f}\t{source} sentence number {i} is fine"
            for i in range(1, n + 1)
        ]
        (folder / name).write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return folder


def test_load_and_split_rule(tmp_path: Path) -> None:
    d = fake_cache(tmp_path / "v")
    rows = vader.load(d)
    assert len(rows) == 160
    assert rows[0] == vader.Sentence("movie", "1", -0.6667, "movie sentence number 1 is fine")
    for r in rows:  # the documented rule, recomputed
        m = zlib.crc32(f"{r.source}/{r.id}".encode()) % 10
        assert r.split == ("distill" if m < 6 else "probe_train" if m < 8 else "probe_test")
    parts = [vader.load(d, s) for s in vader.SPLITS]
    assert sum(map(len, parts)) == len(rows) and all(parts)
    assert not {r.text for r in parts[1]} & {r.text for r in parts[2]}


def test_missing_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="make data") as e:
        vader.load(tmp_path / "none")
    assert "\n" not in str(e.value)


def test_offline_fetch_is_skipped_not_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``make data`` without PyPI: pip fails, the step says 'skipped' and exits 0; nothing is left."""
    fake_py = tmp_path / "python"
    fake_py.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found' >&2\nexit 1\n")
    fake_py.chmod(0o755)
    with pytest.raises(RuntimeError, match="No matching distribution"):
        vader.fetch(tmp_path / "cache", python=str(fake_py))
    assert not (tmp_path / "cache").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["python"]


def test_main_reports_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = fake_cache(tmp_path / "v")
    assert vader.main([str(d)]) == 0
    assert "present" in capsys.readouterr().out


def test_main_offline_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(dest: Path | None = None, python: str | None = None) -> Path:
        raise RuntimeError("pip download vaderSentiment==3.3.2 failed: network unreachable")

    monkeypatch.setattr(vader, "fetch", offline)
    assert vader.main([str(tmp_path / "v")]) == 0
    assert "skipped" in capsys.readouterr().out
