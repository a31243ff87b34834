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

from rag.answering import answerable  # noqa: E402
from rag.answering import reader as readers  # noqa: E402
from rag.answering import span  # noqa: E402
from rag.evaluation.metrics import token_f1  # noqa: E402

# An adapter on the top 8 of e5's 12 layers (one fold, span F1 Arabic / English: linear heads on the frozen
# encoder 0.455 / 0.511, adapter on the top 2 layers 0.461 / 0.567, top 4 0.547 / 0.596, top 8 0.617 / 0.694).
LAYERS, RANK = 8, 16
EPOCHS, LR, BATCH = 6, 1e-3, 16
# The sentence cues' weights start where the backend's ranking stands (relevance 1, W_KIND for the answer kind).
SENTENCE_START = [1.0, 0.5, 0.5, 1.0, 0.0]


def examples(folder: Path, questions_en: Path | None, twins: float = 0.0) -> list[dict]:
    """One group per question: its SPAN_CANDIDATES best-ranked sentences as the extractive backend ranks them over
    the ARCD index (the reader chooses among them), or, when none of them holds the gold answer, the gold
    sentence alone (it then teaches the words only). `twins`: the share of questions also asked with their own
    paragraph masked out of retrieval (as `sanad eval answers --unanswerable-arcd` does), whose answer is "none" —
    unless the gold answer is still written in its candidates (a share chosen by hash, so both languages agree)."""
    import hashlib

    from rag.answering import extractive
    from rag.evaluation.unanswerable import excluding, leaks
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
            hits = sanad.search(q, settings.top_k, "fused", lang=lang)
            ranked = extractive.rank(q, lang, sanad.embed_query(q)[0], hits, sanad.sentences, translated)
            kind = span.answer_type(q, lang)
            cands = [candidate(q, s.text, rel, kind, translated, gold)
                     for s, rel in ranked[:extractive.SPAN_CANDIDATES]]
            cands = [c for c in cands if c["wins"]]
            # A choice only where a candidate holds the whole gold answer: partial overlaps elsewhere would teach
            # the words of a sentence that does not answer.
            choice = leaks([gold], [c["sentence"] for c in cands])
            if not choice:
                cands = [candidate(q, sent, 0.0, kind, translated, gold)]
                if not cands[0]["wins"] or cands[0]["f1"].max() <= 0:
                    continue
            group = r["context_id"].split("-p")[0]
            rows.append({"group": group, "lang": lang, "question": q, "gold": gold, "choice": choice, "null": False,
                         "cands": cands})
            if int(hashlib.sha1(str(r["id"]).encode()).hexdigest(), 16) % 1000 >= twins * 1000:
                continue
            with excluding(sanad.retriever, {r["context_id"]}):
                hits = sanad.search(q, settings.top_k, "fused", lang=lang)
            ranked = extractive.rank(q, lang, sanad.embed_query(q)[0], hits, sanad.sentences, translated)
            cands = [candidate(q, s.text, rel, kind, translated, gold)
                     for s, rel in ranked[:extractive.SPAN_CANDIDATES]]
            cands = [c for c in cands if c["wins"]]
            if cands and not leaks([gold], [c["sentence"] for c in cands]):
                rows.append({"group": group, "lang": lang, "question": q, "gold": gold, "choice": False,
                             "null": True, "cands": cands})
    return rows


def candidate(q: str, sentence: str, rel: float, kind: str, translated: list[str], gold: str) -> dict:
    """A candidate sentence's windows, their span cues and token F1 against the gold span, and its sentence cues."""
    keys = (span.question_keys(q) | set(translated)) if translated else None
    tokens, wins, x = span.candidate_matrix(q, sentence, kind, keys)
    f1 = np.array([token_f1(sentence[tokens[i].start:tokens[j - 1].end], gold) for i, j in wins])
    return {"sentence": sentence, "words": [(t.start, t.end) for t in tokens], "wins": wins, "x": x, "f1": f1,
            "s": readers.sentence_cues(rel, kind, sentence, len(wins))}


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
    """e5's top layers with adapters, the heads, the window and the sentence weights, over frozen lower-layer
    states. A question's candidate sentences run as one padded batch."""

    def __init__(self, folder: Path, rows: list[dict]):
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(2)
        self.rows = rows
        self.model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        tok = AutoTokenizer.from_pretrained(str(folder))
        self.inputs = []  # per row: padded frozen states below the adapter, attention mask, per candidate pooling
        with torch.no_grad():
            for d in rows:
                head = readers.QUERY + d["question"] + readers.PASSAGE
                states, pools = [], []
                for c in d["cands"]:
                    enc = tok(head + c["sentence"], return_offsets_mapping=True, truncation=True, max_length=512,
                              return_tensors="pt")
                    offsets = enc["offset_mapping"][0].numpy()
                    pool = np.stack([readers.token_weights(offsets, s + len(head), e + len(head))
                                     for s, e in c["words"]])
                    q = readers.token_weights(offsets, 0, len(head))
                    hidden = self.model(input_ids=enc["input_ids"], output_hidden_states=True).hidden_states
                    states.append(hidden[12 - LAYERS][0].clone())
                    pools.append((torch.tensor(pool), torch.tensor(q)))
                longest = max(len(h) for h in states)
                padded = torch.zeros(len(states), longest, states[0].shape[1])
                mask = torch.full((len(states), 1, 1, longest), torch.finfo(torch.float32).min)
                for k, h in enumerate(states):
                    padded[k, :len(h)] = h
                    mask[k, ..., :len(h)] = 0
                self.inputs.append((padded, mask, pools))

    def fit(self, train: list[int], seed: int = 0):
        import copy

        torch.manual_seed(seed)
        cues = fit_window([c for i in train for c in self.rows[i]["cands"] if c["f1"].max() > 0])
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
        sentence = torch.nn.Parameter(torch.tensor(SENTENCE_START, dtype=torch.float32))
        null = None
        if any(self.rows[i]["null"] for i in train):  # starts level with a question's windows taken together
            start = np.mean([math.log(sum(len(c["wins"]) for c in self.rows[i]["cands"])) for i in train])
            null = torch.nn.Parameter(torch.tensor(float(start)))
        opt = torch.optim.AdamW([{"params": [p for p in layers.parameters() if p.requires_grad], "lr": LR},
                                 {"params": list(heads.parameters()) + [window, sentence], "lr": 3e-3}]
                                + ([{"params": [null], "lr": 3e-2, "weight_decay": 0.0}] if null is not None else []),
                                weight_decay=0.01)
        steps = EPOCHS * math.ceil(len(train) / BATCH)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps))
        model = (layers, heads, window, sentence, null, adapted)
        rng = np.random.default_rng(seed)
        for _ in range(EPOCHS):
            order = rng.permutation(train)
            for b in range(0, len(order), BATCH):
                loss = 0
                for i in order[b:b + BATCH]:
                    # One softmax over the windows of all the question's candidates: choosing the sentence and
                    # its words is one decision (log P(window) = log P(sentence) + log P(window | sentence)).
                    # With a "none" option (SQuAD 2.0's): a removed twin's target is it, alone.
                    f1 = np.concatenate([c["f1"] for c in self.rows[i]["cands"]])
                    target = (f1 >= f1.max() - 1e-9).astype(np.float32)
                    scores = torch.cat(self.scores(model, i))
                    if null is not None:
                        target = np.append(0 * target, 1.0) if self.rows[i]["null"] else np.append(target, 0.0)
                        scores = torch.cat([scores, null[None]])
                    target = torch.tensor(target)
                    loss = loss - (target / target.sum() * torch.log_softmax(scores, 0)).sum()
                opt.zero_grad()
                (loss / len(order[b:b + BATCH])).backward()
                opt.step()
                sched.step()
        layers.eval()
        return model

    def scores(self, model, i: int) -> list:
        """Each candidate's window scores, its sentence term included."""
        layers, heads, window, sentence, _, _ = model
        h, mask, pools = self.inputs[i]
        for layer in layers:
            out = layer(h, attention_mask=mask)
            h = out[0] if isinstance(out, tuple) else out
        out = []
        for k, (c, (pool, q)) in enumerate(zip(self.rows[i]["cands"], pools)):
            hk = h[k, :pool.shape[1]]
            words = pool @ hk
            se = heads(torch.cat([words, words * (q @ hk)], 1))
            wins = np.asarray(c["wins"])
            out.append(se[wins[:, 0], 0] + se[wins[:, 1] - 1, 1] + torch.tensor(c["x"]) @ window
                       + torch.tensor(c["s"]) @ sentence)
        return out

    def picked(self, model, idx: list[int]) -> list[tuple[float, float, float]]:
        """Per question: F1 of the words the reader picks in the sentence the backend's ranking chooses (rel and
        answer kind, as before the reader chose), and in the sentence the reader chooses; and P(none)."""
        null = model[4]
        out = []
        with torch.no_grad():
            for i in idx:
                cands = self.rows[i]["cands"]
                scores = [s.numpy().astype(np.float64) for s in self.scores(model, i)]
                ranked = int(np.argmax([ranking_score(c) for c in cands]))
                chosen = readers.choose_sentence(scores)
                p_null = readers.none_probability(scores, None if null is None else float(null))
                out.append(tuple(float(cands[k]["f1"][span.best_window(cands[k]["wins"], scores[k])])
                                 for k in (ranked, chosen)) + (p_null,))
        return out

    def save(self, model, base_sha: str) -> None:
        _, heads, window, sentence, null, adapted = model
        w = heads.weight.detach().numpy()
        # The heads' biases shift every window alike: the logit ignores them.
        readers.save(readers.Reader(w[0].astype(np.float32), w[1].astype(np.float32),
                                    window.detach().numpy().astype(np.float32), base_sha,
                                    sentence.detach().numpy().astype(np.float32),
                                    # every window carries the heads' two biases once: "none" stands against them
                                    None if null is None else float(null - heads.bias.sum())))
        pairs = {}
        for name, lora in adapted.items():
            pairs[name + ".a"] = lora.a.detach().numpy().astype(np.float16)
            pairs[name + ".b"] = lora.b.detach().numpy().astype(np.float16)
        np.savez_compressed(readers.ADAPTER_FILE, **pairs)


def ranking_score(c: dict) -> float:
    """How the backend ranked a candidate before the reader chose: its relevance plus W_KIND for the answer kind."""
    from rag.answering import extractive

    return float(c["s"] @ np.array([1.0] + [extractive.W_KIND[k] for k in readers.KIND_CUES] + [0.0]))


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
    """F1 of the span cues' words (weights `w`) in the sentence the backend's ranking chooses."""
    out = []
    for d in rows:
        c = max(d["cands"], key=ranking_score)
        out.append(float(c["f1"][span.best_window(c["wins"], (c["x"] @ w).astype(np.float64))]))
    return out


def onnx_picked(rows: list[dict], encoder) -> list[float]:
    """F1 of the words the reader picks in the sentence it chooses, run as answers run it (merged weights on ONNX)."""
    reader = readers.load()
    out = []
    for d in rows:
        words = readers.word_scores(encoder, d["question"], [c["sentence"] for c in d["cands"]])
        scores = [readers.candidate_scores(reader, c["x"], c["wins"], w, c["s"]) for c, w in zip(d["cands"], words)]
        k = readers.choose_sentence(scores)
        out.append(float(d["cands"][k]["f1"][span.best_window(d["cands"][k]["wins"], scores[k])]))
    return out


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
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--twins", type=float, default=0.0,
                    help='fit a "none" option on this share of the questions asked with their own paragraph masked out')
    args = ap.parse_args()
    globals()["EPOCHS"] = args.epochs
    rows = examples(args.arcd, args.questions_en, args.twins)
    print(f"{len(rows)} questions, {sum(d['choice'] for d in rows)} with a candidate holding the answer, "
          f"{sum(d['null'] for d in rows)} removed twins", flush=True)
    settings = get_settings()
    folder = ensure_e5_folder(settings.models_dir)
    tuner = Tuner(folder, rows)
    fold = [article_fold(d["group"]) for d in rows]  # fold HELD_OUT_FOLD is the evaluation's held-out split
    held: dict[tuple[str, str, str], list[float]] = {}
    models = {}
    only = {int(k) for k in args.only_folds.split(",") if k.isdigit()} if args.only_folds else set(range(FOLDS))
    for k in sorted(only):
        test = [i for i, f in enumerate(fold) if f == k]
        train = [i for i, f in enumerate(fold) if f != k]
        base = cues_f1([rows[i] for i in test], fit_window([c for i in train for c in rows[i]["cands"]
                                                            if c["f1"].max() > 0]))
        models[k] = tuner.fit(train)
        read = tuner.picked(models[k], test)
        for i, b, (r, c, p_null) in zip(test, base, read):
            d = rows[i]
            if d["null"]:
                held.setdefault(("twin", "P(none)", d["lang"]), []).append(p_null)
                continue
            held.setdefault(("answerable", "P(none)", d["lang"]), []).append(p_null)
            part = "choice" if d["choice"] else "gold only"
            for name, v in (("span cues, ranked sentence", b), ("reader, ranked sentence", r),
                            ("reader, its own sentence", c)):
                held.setdefault((part, name, d["lang"]), []).append(v)
        ans = [x for x, i in zip(read, test) if not rows[i]["null"]]
        base = [b for b, i in zip(base, test) if not rows[i]["null"]]
        print(f"fold {k}: span cues {np.mean(base):.3f}, reader in the ranked sentence "
              f"{np.mean([r for r, _, _ in ans]):.3f}, in its own {np.mean([c for _, c, _ in ans]):.3f}", flush=True)
        if any(rows[i]["null"] for i in test):
            for lang in ("ar", "en"):
                p = np.array([x[2] for x, i in zip(read, test) if rows[i]["lang"] == lang])
                y = np.array([not rows[i]["null"] for i in test if rows[i]["lang"] == lang], float)
                for t in (0.3, 0.5, 0.7, 0.9):
                    refuse = p >= t
                    print(f"  {lang} refuse at P(none) >= {t}: unanswerable F1 "
                          f"{answerable.refusal_f1(refuse, y):.3f}, answerable refused "
                          f"{(refuse & (y == 1)).sum() / max(1, y.sum()):.3f}")
    for (part, name, lang), v in sorted(held.items()):
        print(f"held-out span F1, {part:9s} {name:27s} {lang}: {np.mean(v):.3f} ({len(v)})")
    if args.write or args.write_fit_split:
        model = models.get(HELD_OUT_FOLD) if args.write_fit_split else None  # fitted on the same questions
        model = model or tuner.fit([i for i, f in enumerate(fold) if args.write or f != HELD_OUT_FOLD])
        base_sha = json.loads((folder / "sanad_source.json").read_text())["sha256"]
        tuner.save(model, base_sha)
        readers.load.cache_clear()
        answered = [i for i, d in enumerate(rows) if not d["null"]]
        print(f"in-sample span F1: {np.mean([c for _, c, _ in tuner.picked(model, answered)]):.3f}; "
              f"wrote {readers.READER_FILE} and {readers.ADAPTER_FILE}")
        encoder = readers.encoder(settings.models_dir)  # what answers will run
        print(f"in-sample span F1 through the ONNX encoder: "
              f"{np.mean(onnx_picked([rows[i] for i in answered], encoder)):.3f}")


if __name__ == "__main__":
    main()
