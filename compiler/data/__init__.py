"""Offline text corpus for pruning calibration and fidelity checks.

``corpus.txt`` holds 238 short English sentences written for this project
(no third-party text; released under the project's Apache-2.0 license).
Lines come mostly in paraphrase pairs (line 2k and 2k+1 say nearly the same
thing), so pairwise similarities have structure worth preserving.
"""

from __future__ import annotations

from importlib import resources


def default_corpus() -> list[str]:
    """All sentences of the shipped corpus, in file order."""
    text = resources.files(__package__).joinpath("corpus.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_corpus(sentences: list[str], every: int = 4) -> tuple[list[str], list[str]]:
    """Split into (calibration, held_out): every ``every``-th line pair is held out.

    Pairs are kept together so that the held-out set still contains paraphrases.
    """
    calib: list[str] = []
    held: list[str] = []
    for i, s in enumerate(sentences):
        (held if (i // 2) % every == every - 1 else calib).append(s)
    return calib, held
