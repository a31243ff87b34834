"""Fit the span reader (rag/answering/reader.py) on ARCD train's answer spans — nothing else.

    SANAD_HOME=/tmp/x python scripts/fit_reader.py ../shared/data/arcd-train \
        [--questions-en eval/gold/arcd_en.jsonl] [--only-folds 0,1] [--write | --write-fit-split]

Each question (Arabic as written, and its hand translation into English) with the context sentence that holds its
gold answer. The e5 encoder reads "query: <question> passage: <sentence>"; a low-rank adapter on its top LAYERS
layers, start/end heads over [word state, word state × question state] and the span cues' weights are fitted
together by a conditional logit over the sentence's windows (target: the windows with the best token F1 against
the gold span; English questions' cues see their words translated through the ARCD index's lexicon, as at answer
time). The layers below the adapter are frozen, so their states are computed once. Prints held-out span F1 (5 folds
by article, as `sanad eval answers --split` folds them) for the span cues alone and with the reader, per language;
`--write` then fits on everything (`--write-fit-split`: all but the evaluation's held-out articles), writes
rag/answering/reader.json and reader_adapter.npz, and checks that the ONNX encoder built from them at answer
time scores as the fitted model did.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering import reader as readers  # noqa: E402
from rag.answering import span  # noqa: E402
from rag.evaluation.metrics import token_f1  # noqa: E402

# An adapter on the top 8 of e5's 12 layers (one fold, span F1 Arabic / English: linear heads on the frozen
# encoder 0.455 / 0.511, adapter on the top 2 layers 0.461 / 0.567, top 4 0.547 / 0.596, top 8 0.617 / 0.694).
LAYERS, RANK = 8, 16
EPOCHS, LR, BATCH = 6, 1e-3, 16


def examples(folder: Path, questions_en: Path | None) -> list[dict]:
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
                             "words": [(t.start, t.end) for t in tokens], "wins": wins, "x": x, "f1": f1,
                             "gold": gold})
    return rows


class Lora(torch.nn.Module):
    """nn.Linear plus a trainable low-rank change b @ a (b starts at zero: training starts from e5 itself)."""

    def __init__(self, linear: torch.nn.Linear, rank: int):
        super().__init__()
        self.linear = linear
        self.a = torch.nn.Parameter(torch.randn(rank, linear.in_features) / linear.in_features ** 0.5)
        self.b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))

    def forward(self, x):
        return self.linear(x) + (x @ self.a.T) @ self.b.T


class Tuner:
    """e5's top layers with adapters, the heads and the window weights, over frozen lower-layer states."""

    def __init__(self, folder: Path, rows: list[dict]):
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(2)
        self.rows = rows
        self.model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        tok = AutoTokenizer.from_pretrained(str(folder))
        self.inputs = []  # per row: frozen states below the adapter, word-pooling matrix, question-pooling row
        with torch.no_grad():
            for d in rows:
                head = readers.QUERY + d["question"] + readers.PASSAGE
                enc = tok(head + d["sentence"], return_offsets_mapping=True, truncation=True, max_length=512,
                          return_tensors="pt")
                offsets = enc["offset_mapping"][0].numpy()
                pool = np.stack([readers.token_weights(offsets, s + len(head), e + len(head)) for s, e in d["words"]])
                q = readers.token_weights(offsets, 0, len(head))
                states = self.model(input_ids=enc["input_ids"], output_hidden_states=True).hidden_states
                self.inputs.append((states[12 - LAYERS][0].clone(), torch.tensor(pool), torch.tensor(q)))

    def fit(self, train: list[int], seed: int = 0):
        import copy

        torch.manual_seed(seed)
        cues = fit_window([self.rows[i] for i in train])
        layers = copy.deepcopy(self.model.encoder.layer[12 - LAYERS:]).train()
        for p in layers.parameters():
            p.requires_grad = False
        adapted = {}
        for k, layer in enumerate(layers):
            for parent_name, parent in list(layer.named_modules()):
                for name, child in list(parent.named_children()):
                    if isinstance(child, torch.nn.Linear):
                        setattr(parent, name, Lora(child, RANK))
                        full = ".".join(p for p in (f"encoder.layer.{12 - LAYERS + k}", parent_name, name) if p)
                        adapted[full + ".weight"] = getattr(parent, name)
        dim = self.model.config.hidden_size
        heads = torch.nn.Linear(2 * dim, 2)
        window = torch.nn.Parameter(torch.tensor(cues, dtype=torch.float32))
        opt = torch.optim.AdamW([{"params": [p for p in layers.parameters() if p.requires_grad], "lr": LR},
                                 {"params": list(heads.parameters()) + [window], "lr": 3e-3}], weight_decay=0.01)
        steps = EPOCHS * math.ceil(len(train) / BATCH)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps))
        model = (layers, heads, window, adapted)
        rng = np.random.default_rng(seed)
        for _ in range(EPOCHS):
            order = rng.permutation(train)
            for b in range(0, len(order), BATCH):
                loss = 0
                for i in order[b:b + BATCH]:
                    d = self.rows[i]
                    target = torch.tensor((d["f1"] >= d["f1"].max() - 1e-9).astype(np.float32))
                    loss = loss - (target / target.sum() * torch.log_softmax(self.scores(model, i), 0)).sum()
                opt.zero_grad()
                (loss / len(order[b:b + BATCH])).backward()
                opt.step()
                sched.step()
        layers.eval()
        return model

    def scores(self, model, i: int):
        layers, heads, window, _ = model
        h, pool, q = self.inputs[i]
        h = h[None]
        for layer in layers:
            out = layer(h, attention_mask=None)
            h = out[0] if isinstance(out, tuple) else out
        h = h[0]
        words = pool @ h
        se = heads(torch.cat([words, words * (q @ h)], 1))
        d = self.rows[i]
        wins = np.asarray(d["wins"])
        return se[wins[:, 0], 0] + se[wins[:, 1] - 1, 1] + torch.tensor(d["x"]) @ window

    def picked_f1(self, model, idx: list[int]) -> list[float]:
        with torch.no_grad():
            return [float(self.rows[i]["f1"][span.best_window(self.rows[i]["wins"],
                                                              self.scores(model, i).numpy().astype(np.float64))])
                    for i in idx]

    def save(self, model, base_sha: str) -> None:
        layers, heads, window, adapted = model
        w = heads.weight.detach().numpy()
        # The heads' biases shift every window of a sentence alike: the conditional logit ignores them.
        readers.save(readers.Reader(w[0].astype(np.float32), w[1].astype(np.float32),
                                    window.detach().numpy().astype(np.float32), base_sha))
        pairs = {}
        for name, lora in adapted.items():
            pairs[name + ".a"] = lora.a.detach().numpy().astype(np.float16)
            pairs[name + ".b"] = lora.b.detach().numpy().astype(np.float16)
        np.savez_compressed(readers.ADAPTER_FILE, **pairs)


def fit_window(rows: list[dict], epochs: int = 150) -> np.ndarray:
    """The span cues' weights alone (Adam on the same conditional logit): the baseline, and the reader's start."""
    data = [(torch.tensor(d["x"], dtype=torch.float32),
             torch.tensor((d["f1"] >= d["f1"].max() - 1e-9).astype(np.float32))) for d in rows]
    w = torch.zeros(len(span.FEATURES), requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        loss = sum(-(t / t.sum() * torch.log_softmax(x @ w, 0)).sum() for x, t in data)
        (loss / len(data) + 1e-3 * w.pow(2).sum()).backward()
        opt.step()
    return w.detach().numpy()


def cues_f1(rows: list[dict], w: np.ndarray) -> list[float]:
    return [float(d["f1"][span.best_window(d["wins"], (d["x"] @ w).astype(np.float64))]) for d in rows]


def main() -> None:
    from rag.embedding.e5 import ensure_e5_folder
    from rag.evaluation.unanswerable import FOLDS, HELD_OUT_FOLD, article_fold
    from rag.settings import get_settings

    ap = argparse.ArgumentParser()
    ap.add_argument("arcd", type=Path)
    ap.add_argument("--questions-en", type=Path)
    ap.add_argument("--only-folds", default="", help="comma-separated folds to run (default: all; none: '-')")
    ap.add_argument("--write", action="store_true", help="fit on everything and write the reader's files")
    ap.add_argument("--write-fit-split", action="store_true",
                    help="write a reader fitted on the articles outside `sanad eval answers --split heldout` only")
    args = ap.parse_args()
    rows = examples(args.arcd, args.questions_en)
    print(f"{len(rows)} questions with their answer sentence", flush=True)
    settings = get_settings()
    folder = ensure_e5_folder(settings.models_dir)
    tuner = Tuner(folder, rows)
    fold = [article_fold(d["group"]) for d in rows]  # fold HELD_OUT_FOLD is the evaluation's held-out split
    held: dict[tuple[str, str], list[float]] = {}
    models = {}
    only = {int(k) for k in args.only_folds.split(",") if k.isdigit()} if args.only_folds else set(range(FOLDS))
    for k in sorted(only):
        test = [i for i, f in enumerate(fold) if f == k]
        train = [i for i, f in enumerate(fold) if f != k]
        base = cues_f1([rows[i] for i in test], fit_window([rows[i] for i in train]))
        models[k] = tuner.fit(train)
        read = tuner.picked_f1(models[k], test)
        for i, b, r in zip(test, base, read):
            held.setdefault(("span cues", rows[i]["lang"]), []).append(b)
            held.setdefault(("reader", rows[i]["lang"]), []).append(r)
        print(f"fold {k}: span cues {np.mean(base):.3f}, reader {np.mean(read):.3f}", flush=True)
    for (name, lang), v in sorted(held.items()):
        print(f"held-out span F1 given the answer sentence, {name:9s} {lang}: {np.mean(v):.3f} ({len(v)})")
    if args.write or args.write_fit_split:
        model = models.get(HELD_OUT_FOLD) if args.write_fit_split else None  # fitted on the same questions
        model = model or tuner.fit([i for i, f in enumerate(fold) if args.write or f != HELD_OUT_FOLD])
        base_sha = json.loads((folder / "sanad_source.json").read_text())["sha256"]
        tuner.save(model, base_sha)
        readers.load.cache_clear()
        print(f"in-sample span F1: {np.mean(tuner.picked_f1(model, list(range(len(rows))))):.3f}; wrote "
              f"{readers.READER_FILE} and {readers.ADAPTER_FILE}")
        encoder = readers.encoder(settings.models_dir)  # what answers will run: merged weights on ONNX
        onnx = [float(d["f1"][span.best_window(d["wins"], readers.window_scores(
            readers.load(), d["x"], d["wins"], readers.word_scores(encoder, d["question"], [d["sentence"]])[0]))])
            for d in rows]
        print(f"in-sample span F1 through the ONNX encoder: {np.mean(onnx):.3f}")


if __name__ == "__main__":
    main()
