"""Fit the short-answer span weights (rag/answering/span.py) on ARCD train's answer spans — nothing else.

    python scripts/fit_span.py ../shared/data/arcd-train [--folds 5]

For each question, the windows of the context sentence that holds its gold answer are scored by a conditional
logit (softmax over the question's windows); the target spreads over the windows with the best token F1 against
the gold span. Prints held-out F1 (folds split by article) and the in-sample F1, then the weights to paste into
span.py's `_FITTED`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering import span  # noqa: E402
from rag.evaluation.metrics import token_f1  # noqa: E402


def examples(folder: Path):
    from rag.evaluation.squad import answer_sentences, clean_question

    out = []
    for r, sent, gold in answer_sentences(folder):
        q = clean_question(r["question"])
        tokens, wins, x = span.candidate_matrix(q, sent)
        if not wins:
            continue
        f1 = np.array([token_f1(sent[tokens[i].start:tokens[j - 1].end], gold) for i, j in wins])
        out.append((r["context_id"].split("-p")[0], x, f1, wins))
    return out


def fit(data, l2: float = 1e-2, steps: int = 300, lr: float = 0.5) -> np.ndarray:
    """Gradient descent on the conditional logit, all questions stacked (segment-wise softmax)."""
    data = [d for d in data if d[2].max() > 0]
    x = np.concatenate([d[1] for d in data]).astype(np.float64)
    sizes = np.array([len(d[1]) for d in data])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    seg = np.repeat(np.arange(len(data)), sizes)
    target = np.concatenate([(f >= f.max() - 1e-9) / (f >= f.max() - 1e-9).sum() for _, _, f, _ in data])
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        s = x @ w
        s -= np.maximum.reduceat(s, starts)[seg]
        e = np.exp(s)
        p = e / np.add.reduceat(e, starts)[seg]
        w -= lr * (x.T @ (p - target) / len(data) + l2 * w)
    return w


def picked_f1(data, w) -> float:
    return float(np.mean([f1[span.best_window(wins, x @ w)] for _, x, f1, wins in data]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("arcd", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    import os
    import pickle

    cache = os.environ.get("FIT_SPAN_CACHE")  # reuse the windows while trying weights
    if cache and os.path.exists(cache):
        data = pickle.loads(Path(cache).read_bytes())
    else:
        data = examples(args.arcd)
        if cache:
            Path(cache).write_bytes(pickle.dumps(data))
    print(f"{len(data)} questions; best window F1 (oracle) {np.mean([f.max() for _, _, f, _ in data]):.3f}")
    groups = sorted({g for g, _, _, _ in data})
    held = []
    for k in range(args.folds):
        test = {g for i, g in enumerate(groups) if i % args.folds == k}
        w = fit([d for d in data if d[0] not in test])
        held += [f1[span.best_window(wins, x @ w)] for g, x, f1, wins in data if g in test]
    print(f"held-out span F1 ({args.folds} folds by article, given the answer sentence): {np.mean(held):.3f}")
    w = fit(data)
    print(f"in-sample span F1: {picked_f1(data, w):.3f}")
    print("_FITTED = {" + ", ".join(f'"{f}": {v:.3f}' for f, v in zip(span.FEATURES, w) if abs(v) >= 5e-4) + "}")


if __name__ == "__main__":
    main()
