"""Does a pruned encoder still do its job?  A sentiment probe, and cosine to the dense model.

Probe (after the usual "linear probe on frozen features" protocol): mean-pooled sentence
embeddings of the VADER probe-train split (compiler/data/vader.py) are standardised and a
ridge regression (closed form) predicts each sentence's mean human rating; the ridge
strength is picked by 5-fold cross-validation on the training split only.  On the probe-test
split we report the Spearman correlation of predicted vs human ratings and the sign accuracy
(sentences rated exactly 0 left out).  The model is never trained on these sentences.

Cosine: mean cosine of each held-out sentence's embedding to the dense model's embedding of
the same sentence, shown beside the dense model's mean cosine between *different* sentences
(each paired with the one half the list away): that is where "broken" lies, since a model
that maps everything to an unrelated direction scores about that.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from compiler.data.vader import Sentence

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
FOLDS = 5
EMBED_BATCH = 64


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Weights and intercept minimising |x w + b - y|^2 + alpha |w|^2 (intercept not penalised)."""
    xm, ym = x.mean(0), float(y.mean())
    xc = x - xm
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - ym))
    return w, ym - float(xm @ w)


def choose_alpha(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = ALPHAS, folds: int = FOLDS) -> float:
    """The ridge strength with the lowest k-fold validation MSE (contiguous folds: deterministic)."""
    idx = np.array_split(np.arange(len(y)), min(folds, len(y)))
    best, best_err = alphas[0], np.inf
    for a in alphas:
        err = 0.0
        for val in idx:
            tr = np.setdiff1d(np.arange(len(y)), val)
            w, b = ridge_fit(x[tr], y[tr], a)
            err += float(((x[val] @ w + b - y[val]) ** 2).sum())
        if err < best_err - 1e-12:
            best, best_err = a, err
    return float(best)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    try:
        from scipy.stats import spearmanr

        return float(spearmanr(a, b).statistic)
    except ImportError:  # pragma: no cover - scipy is a dependency; the NumPy version is equal
        from compiler.prune.objective import spearman as np_spearman

        return np_spearman(np.asarray(a), np.asarray(b))


def probe_scores(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, Any]:
    """Ridge probe: fit on train (features standardised with train statistics), score on test."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-8
    xtr, xte = (x_train - mu) / sd, (x_test - mu) / sd
    alpha = choose_alpha(xtr, y_train)
    w, b = ridge_fit(xtr, y_train, alpha)
    pred = xte @ w + b
    nz = y_test != 0
    return {
        "spearman": spearman(pred, y_test),
        "sign_accuracy": float((np.sign(pred[nz]) == np.sign(y_test[nz])).mean()),
        "alpha": alpha,
        "n_train": len(y_train),
        "n_test": len(y_test),
    }


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of cos(a_i, b_i)."""
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((num / np.maximum(den, 1e-12)).mean())


def unrelated_cosine(e: np.ndarray) -> float:
    """Mean cosine between different sentences: row i against row (i + n/2) mod n."""
    return mean_cosine(e, np.roll(e, len(e) // 2, axis=0))


# -- on a model -------------------------------------------------------------------


def subset(rows: list[Sentence], n: int | None, salt: str) -> list[Sentence]:
    """The first ``n`` rows in a fixed pseudo-random order (crc32 of ``salt/source/id``): all sources mix."""
    order = sorted(rows, key=lambda r: zlib.crc32(f"{salt}/{r.source}/{r.id}".encode()))
    return order if n is None else order[:n]


def embed(model: Any, tokenize: Callable[[list[str]], dict[str, Any]], texts: list[str]) -> np.ndarray:
    """Mean-pooled last hidden states, float64, in text order."""
    import torch

    from compiler.prune.objective import run_model

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), EMBED_BATCH):
            out.append(run_model(model, tokenize(texts[i : i + EMBED_BATCH])).embedding.double().numpy())
    return np.concatenate(out)


class Scorer:
    """The probe as a score of a model on fixed labelled sentences: Spearman on ``test`` of a ridge
    fitted on ``train`` (both tokenized once).  Higher is better.  Used by AE's search."""

    def __init__(
        self,
        tokenize: Callable[[list[str]], dict[str, Any]],
        train: Sequence[tuple[str, float]],
        test: Sequence[tuple[str, float]],
    ) -> None:
        def batches(rows: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
            texts = [t for t, _ in rows]
            return [tokenize(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]

        self.train, self.test = batches(train), batches(test)
        self.y_train = np.array([y for _, y in train], dtype=np.float64)
        self.y_test = np.array([y for _, y in test], dtype=np.float64)

    def __call__(self, model: Any) -> float:
        import torch

        from compiler.prune.objective import run_model

        with torch.no_grad():
            etr, ete = (
                np.concatenate([run_model(model, b).embedding.double().numpy() for b in bs])
                for bs in (self.train, self.test)
            )
        return float(probe_scores(etr, self.y_train, ete, self.y_test)["spearman"])


def vader_scorer(tokenize: Callable[[list[str]], dict[str, Any]], n_train: int, n_test: int) -> Scorer | None:
    """A :class:`Scorer` on fixed subsets of the VADER probe splits; None without the data."""
    from compiler.data import vader

    if not vader.available():
        return None
    train = subset(vader.load(split="probe_train"), n_train, "train")
    test = subset(vader.load(split="probe_test"), n_test, "test")
    return Scorer(tokenize, [(r.text, r.score) for r in train], [(r.text, r.score) for r in test])


def evaluate(
    model: Any,
    tokenize: Callable[[list[str]], dict[str, Any]],
    n_train: int | None = 2000,
    n_test: int | None = 1000,
    dense: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Probe scores of ``model`` on the VADER split; with ``dense`` (the dense model's test
    embeddings) also the mean cosine to it.  Returns (scores, this model's test embeddings)."""
    from compiler.data import vader

    train = subset(vader.load(split="probe_train"), n_train, "train")
    test = subset(vader.load(split="probe_test"), n_test, "test")
    etr = embed(model, tokenize, [r.text for r in train])
    ete = embed(model, tokenize, [r.text for r in test])
    y_tr = np.array([r.score for r in train])
    y_te = np.array([r.score for r in test])
    res = probe_scores(etr, y_tr, ete, y_te)
    res["unrelated_cosine"] = unrelated_cosine(ete if dense is None else dense)
    if dense is not None:
        res["mean_cosine_to_dense"] = mean_cosine(ete, dense)
    return res, ete


# -- python -m compiler.prune.probe DENSE PRUNED: the demo's table --------------------


def _model_and_tokenizer(arg: str, max_len: int) -> tuple[Any, Callable[[list[str]], dict[str, Any]], Any]:
    import json
    from pathlib import Path

    from compiler.checkpoint import load_hf_model, resolve_model
    from compiler.prune.calib import make_tokenizer

    folder = resolve_model(arg).path
    model = load_hf_model(folder).eval()
    rep = Path(folder) / "prune_report.json"
    perm = (
        (json.loads(rep.read_text()).get("method_info") or {}).get("hidden_permutation")
        if rep.is_file()
        else None
    )
    return model, make_tokenizer(folder, int(model.config.vocab_size), max_len), perm


def main(argv: list[str] | None = None) -> int:
    """Probe Spearman, sign accuracy and cosine to dense of a pruned checkpoint next to its dense model."""
    import argparse
    import sys

    import torch

    from compiler.data import vader
    from compiler.errors import UserError

    ap = argparse.ArgumentParser(prog="python -m compiler.prune.probe", description=main.__doc__)
    ap.add_argument("dense")
    ap.add_argument("pruned")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--max-len", type=int, default=64)
    a = ap.parse_args(argv)
    if not vader.available():
        print(
            f"probe: skipped, no VADER sentences in {vader.cache_dir()} ('make data' where PyPI is reachable)"
        )
        return 0
    torch.set_num_threads(1)  # fastest on a shared 2-core machine (docs/pruning.md)
    try:
        dm, dtok, _ = _model_and_tokenizer(a.dense, a.max_len)
        dense, demb = evaluate(dm, dtok, a.n_train, a.n_test)
        pm, ptok, perm = _model_and_tokenizer(a.pruned, a.max_len)
        pruned, pemb = evaluate(pm, ptok, a.n_train, a.n_test)
    except UserError as e:
        print(f"probe: {e}", file=sys.stderr)
        return 2
    if perm is not None:  # pgb with a hidden permutation: back to the dense model's order
        pemb = pemb[:, np.argsort(np.asarray(perm))]
    cos = mean_cosine(pemb, demb)
    print(
        f"sentiment probe (VADER, {a.n_train} train / {a.n_test} test sentences; ridge on mean-pooled embeddings)"
    )
    print(f"  {'model':<10} {'Spearman':>9} {'sign acc':>9} {'cosine to dense':>16}")
    print(f"  {'dense':<10} {dense['spearman']:>9.3f} {dense['sign_accuracy']:>9.3f} {1.0:>16.3f}")
    print(f"  {'pruned':<10} {pruned['spearman']:>9.3f} {pruned['sign_accuracy']:>9.3f} {cos:>16.3f}")
    print(f"  (cosine between unrelated sentences of the dense model: {dense['unrelated_cosine']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
