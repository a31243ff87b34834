"""Fit the span reader (rag/answering/reader.py) on ARCD train's answer spans — nothing else.

    SANAD_HOME=/tmp/x python scripts/fit_reader.py ../shared/data/arcd-train \
        [--questions-en eval/gold/arcd_en.jsonl] [--folds 5] [--write]

Each question (Arabic as written, and its hand translation into English) with the context sentence that holds its
gold answer: the embedder reads "query: <question> passage: <sentence>" once; the start/end heads over its word
states and the span cues' weights are fitted together by a conditional logit over the sentence's windows (target:
the windows with the best token F1 against the gold span; English questions' cues see their words translated
through the ARCD index's lexicon, as at answer time). Prints held-out span F1 (folds by article) for the span cues
alone and with the reader, per language; `--write` then fits on everything and writes rag/answering/reader.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering import reader as readers  # noqa: E402
from rag.answering import span  # noqa: E402
from rag.evaluation.metrics import token_f1  # noqa: E402


def examples(folder: Path, questions_en: Path | None) -> tuple[list[dict], object]:
    from rag.evaluation.squad import answer_sentences, clean_question, dataset_index, load_arcd
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    ds = load_arcd(folder, questions_en)
    dataset_index(ds, settings)
    sanad = Sanad(replace(settings, index_name=ds.name))
    en = {}
    if questions_en:
        for line in questions_en.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                en[r["id"]] = r["question"]
    rows = []
    for r, sent, gold in answer_sentences(folder):
        for lang, q in (("ar", clean_question(r["question"])), ("en", en.get(r["id"]))):
            if not q:
                continue
            translated = sanad.translated_terms(q) if lang == "en" else []
            keys = (span.question_keys(q) | set(translated)) if translated else None
            tokens, wins, x = span.candidate_matrix(q, sent, span.answer_type(q, lang), keys)
            f1 = np.array([token_f1(sent[tokens[i].start:tokens[j - 1].end], gold) for i, j in wins])
            if wins and f1.max() > 0:
                rows.append({"group": r["context_id"].split("-p")[0], "lang": lang, "question": q, "sentence": sent,
                             "words": [(t.start, t.end) for t in tokens], "wins": wins, "x": x, "f1": f1})
    heads = [readers.QUERY + d["question"] + readers.PASSAGE for d in rows]
    states = sanad.embedder.token_states([h + d["sentence"] for h, d in zip(heads, rows)])
    for d, h, (offsets, st) in zip(rows, heads, states):
        d["q"], d["w"] = readers.word_states(offsets, st, len(h), d["words"])
    return rows, sanad.embedder


def fit(rows: list[dict], with_heads: bool = True, epochs: int = 150, l2: float = 1e-3, lr: float = 1e-2):
    """Adam on the conditional logit over each question's windows; returns (start, end, window) weights."""
    import torch

    torch.manual_seed(0)
    data = []
    for d in rows:
        wins = np.asarray(d["wins"])
        target = (d["f1"] >= d["f1"].max() - 1e-9).astype(np.float32)
        data.append((torch.tensor(np.concatenate([d["w"], d["w"] * d["q"]], 1)), torch.tensor(wins[:, 0]),
                     torch.tensor(wins[:, 1] - 1), torch.tensor(d["x"], dtype=torch.float32),
                     torch.tensor(target / target.sum())))
    dim = data[0][0].shape[1]
    a, b = torch.zeros(dim, requires_grad=True), torch.zeros(dim, requires_grad=True)
    w = torch.zeros(data[0][3].shape[1], requires_grad=True)
    opt = torch.optim.Adam([a, b, w] if with_heads else [w], lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        loss = sum(-(t * torch.log_softmax((p @ a)[s] + (p @ b)[e] + x @ w, 0)).sum() for p, s, e, x, t in data)
        (loss / len(data) + l2 * (a.pow(2).sum() + b.pow(2).sum()) + 1e-3 * w.pow(2).sum()).backward()
        opt.step()
    return a.detach().numpy(), b.detach().numpy(), w.detach().numpy()


def picked_f1(rows: list[dict], weights, model_id: str) -> list[float]:
    r = readers.Reader(*(np.asarray(v, np.float32) for v in weights), model_id)
    return [d["f1"][span.best_window(d["wins"], readers.window_scores(r, d["x"], d["wins"],
                                                                        readers.heads(r, d["q"], d["w"])))]
            for d in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("arcd", type=Path)
    ap.add_argument("--questions-en", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="fit on everything and write rag/answering/reader.json")
    args = ap.parse_args()
    rows, embedder = examples(args.arcd, args.questions_en)
    print(f"{len(rows)} questions with their answer sentence")
    groups = sorted({d["group"] for d in rows})
    held: dict[tuple[str, str], list[float]] = {}
    for k in range(args.folds):
        test = {g for i, g in enumerate(groups) if i % args.folds == k}
        train = [d for d in rows if d["group"] not in test]
        for name, heads in (("span cues", False), ("reader", True)):
            weights = fit(train, with_heads=heads)
            for d, f in zip([d for d in rows if d["group"] in test],
                            picked_f1([d for d in rows if d["group"] in test], weights, embedder.model_id)):
                held.setdefault((name, d["lang"]), []).append(f)
    for (name, lang), v in sorted(held.items()):
        print(f"held-out span F1 given the answer sentence, {name:9s} {lang}: {np.mean(v):.3f} ({len(v)})")
    if args.write:
        weights = fit(rows)
        readers.save(readers.Reader(*(np.asarray(v, np.float32) for v in weights), embedder.model_id))
        print(f"in-sample span F1: {np.mean(picked_f1(rows, weights, embedder.model_id)):.3f}; "
              f"wrote {readers.READER_FILE}")


if __name__ == "__main__":
    main()
