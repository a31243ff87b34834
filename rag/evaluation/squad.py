"""External QA sets as retrieval benchmarks: SQuAD-format JSON (ARCD, XQuAD, MLQA, ...) and the ARCD jsonl form.

Each context becomes one article (id = a stable context id, title = the SQuAD title, text = the context as
written); the chunker may split it into several passages, so relevance is mapped back by article id:
a retrieved passage is relevant when `passage.article_id` is the question's context.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.evaluation.gold import GoldQuestion
from rag.text.arabic import language_or
from rag.types import Article

_LEADING_DASH = re.compile(r"^\s*[-–—]\s*")


@dataclass
class Dataset:
    name: str
    articles: list[Article] = field(default_factory=list)
    questions: list[GoldQuestion] = field(default_factory=list)


def clean_question(q: str) -> str:
    """ARCD questions sometimes start with '- '; drop it (and surrounding spaces)."""
    return _LEADING_DASH.sub("", q).strip()


def answer_sentences(folder: Path) -> Iterator[tuple[dict, str, str]]:
    """Each ARCD question row with the sentence of its context that holds its first gold answer, and that answer
    (what the span models are fitted on; questions whose answer start falls in no sentence are skipped)."""
    from rag.ingest.chunking import sentence_spans

    texts = {}
    for line in (folder / "passages.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            texts[r["id"]] = r["text"]
    for line in (folder / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        ctx, at = texts[r["context_id"]], r["answer_starts"][0]
        sent = next((ctx[s:e] for s, e in sentence_spans(ctx) if s <= at < e), None)
        if sent is not None:
            yield r, sent, r["answers"][0]


def _context_id(title: str, context: str, a: int, p: int) -> str:
    digest = hashlib.sha1(context.encode()).hexdigest()[:8]
    return f"sq-a{a:04d}-p{p:03d}-{digest}"


def _aligned_questions(path: Path) -> dict[str, str]:
    """id → question from a second file: SQuAD JSON (same ids, other language) or JSONL {id, question}."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return {str(r["id"]): r["question"] for r in rows}
    data = json.loads(text)
    out = {}
    for art in data["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                out[str(qa["id"])] = qa["question"]
    return out


def load_squad(path: Path, questions: Path | None = None, name: str | None = None) -> Dataset:
    """A SQuAD-format file (data → paragraphs → context, qas). With `questions`, a second file of the same
    questions in another language aligned by id (XQuAD-style): those are added with id `<id>:<lang>`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    ds = Dataset(name or Path(path).stem)
    for a, art in enumerate(data["data"]):
        title = art.get("title", "") or ""
        for p, para in enumerate(art["paragraphs"]):
            context = para["context"]
            cid = para.get("id") or _context_id(title, context, a, p)
            ds.articles.append(Article(id=cid, title=title.replace("_", " "), text=context, source=Path(path).name))
            for qa in para["qas"]:
                if qa.get("is_impossible"):
                    continue
                q = clean_question(qa["question"])
                ds.questions.append(GoldQuestion(
                    id=str(qa["id"]), question=q, lang=language_or(q), answers=[x["text"] for x in qa.get("answers", [])],
                    article=cid, kind="squad", relevant_articles={cid}))
    if questions:
        _add_aligned(ds, _aligned_questions(Path(questions)))
    return ds


def _add_aligned(ds: Dataset, other: dict[str, str]) -> None:
    base = {q.id: q for q in ds.questions}
    missing = [qid for qid in other if qid not in base]
    if missing:
        raise ValueError(f"{len(missing)} aligned questions have ids not in the main file, e.g. {missing[:3]}")
    for qid, text in other.items():
        src = base[qid]
        q = clean_question(text)
        lang = language_or(q)
        ds.questions.append(GoldQuestion(id=f"{qid}:{lang}", question=q, lang=lang, answers=list(src.answers),
                                         article=src.article, kind=src.kind + "-aligned",
                                         relevant_articles=set(src.relevant_articles or ())))


def load_arcd(folder: Path, questions_en: Path | None = None, name: str = "arcd-train") -> Dataset:
    """The ARCD jsonl form (`qa.jsonl` + `passages.jsonl`, see ../shared/data/README.md). `questions_en`:
    JSONL of translated questions `{id, question, context_id, answers}` (e.g. eval/gold/arcd_en20.jsonl),
    added with id `<id>:en`."""
    folder = Path(folder)
    ds = Dataset(name)
    for line in (folder / "passages.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            ds.articles.append(Article(id=r["id"], title=r.get("title", ""), text=r["text"], source="arcd"))
    known = {a.id for a in ds.articles}
    for line in (folder / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r["context_id"] not in known:
            raise ValueError(f"{folder / 'qa.jsonl'}: question {r['id']} has unknown context {r['context_id']}")
        q = clean_question(r["question"])
        ds.questions.append(GoldQuestion(id=str(r["id"]), question=q, lang=r.get("lang_question") or language_or(q),
                                         answers=list(r.get("answers", [])), article=r["context_id"],
                                         kind="arcd", relevant_articles={r["context_id"]}))
    if questions_en:
        for line in Path(questions_en).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r["context_id"] not in known:
                raise ValueError(f"{questions_en}: question {r['id']} has unknown context {r['context_id']}")
            q = clean_question(r["question"])
            ds.questions.append(GoldQuestion(id=f"{r['id']}:en", question=q, lang=language_or(q, "en"),
                                             answers=list(r.get("answers", [])), article=r["context_id"],
                                             kind="arcd-en", relevant_articles={r["context_id"]}))
    return ds


def dataset_index(ds: Dataset, settings, *, progress=None):
    """Build (once) and load the dataset's own index at `<index_dir>/<name>`; reused when present and
    holding the same articles. Returns (Retriever, notes).

    The index de-duplicates near-identical articles (ARCD repeats a few paragraphs with small edits): a
    question whose context was dropped as a near-duplicate gets the kept twin added to its relevant
    articles (recorded in `eval-dropped.json`). `notes` lists questions still without an indexed context."""
    from rag.embedding.embedders import get_embedder
    from rag.errors import IndexProblem
    from rag.search.retrieval import Retriever
    from rag.storage.index import build_index, load_index

    embedder = get_embedder(settings)
    if settings.store == "milvus":
        return _milvus_dataset_index(ds, settings, embedder, progress)
    path = settings.index_dir / ds.name
    wanted = {a.id for a in ds.articles}
    index = None
    if (path / "manifest.json").exists():
        try:
            index = load_index(path, embedder.model_id)
        except IndexProblem:  # an older format or another model: this index is ours to rebuild
            index = None
        if index is not None and not {a.id for a in index.articles} <= wanted:
            index = None  # a different dataset under the same name: rebuild
    twins = _dropped(path) if index is not None else {}
    if index is None or not wanted <= {a.id for a in index.articles} | set(twins):
        build_index(path, _load_result(ds), embedder, rebuild=index is None, progress=progress)
        index = load_index(path, embedder.model_id)
        twins = _find_twins(ds, {a.id for a in index.articles})
        (path / "eval-dropped.json").write_text(json.dumps(twins, indent=1))
    indexed = {a.id for a in index.articles}
    for q in ds.questions:
        rel = q.relevant_articles or set()
        q.relevant_articles = rel | {twins[a] for a in rel if twins.get(a)}
    notes = [q.id for q in ds.questions if not (q.relevant_articles or set()) & indexed]
    return Retriever(index, embedder, dense_weight=settings.dense_weight), notes


def _milvus_dataset_index(ds: Dataset, settings, embedder, progress):
    """`dataset_index` for SANAD_STORE=milvus: the same articles, built once into the Milvus index `<name>`."""
    from rag.search.candidates import StoreRetriever
    from rag.storage.milvus import build_milvus, open_store

    store = open_store(settings, ds.name)
    wanted = {a.id for a in ds.articles}
    have = set() if store.empty or store.model_id != embedder.model_id else {a.id for a in store.articles}
    twins = _dropped(store.path) if have and have <= wanted else {}
    if not have or not have <= wanted or not wanted <= have | set(twins):
        build_milvus(store, _load_result(ds), embedder, rebuild=True, progress=progress)
        have = {a.id for a in store.articles}
        twins = _find_twins(ds, have)
        store.path.mkdir(parents=True, exist_ok=True)
        (store.path / "eval-dropped.json").write_text(json.dumps(twins, indent=1))
    for q in ds.questions:
        rel = q.relevant_articles or set()
        q.relevant_articles = rel | {twins[a] for a in rel if twins.get(a)}
    notes = [q.id for q in ds.questions if not (q.relevant_articles or set()) & have]
    return StoreRetriever(store, embedder, dense_weight=settings.dense_weight), notes


def _shingles(text: str) -> set[str]:
    from rag.evaluation.gold import words

    w = words(text)
    return {" ".join(w[i:i + 5]) for i in range(max(1, len(w) - 4))}


def _find_twins(ds: Dataset, indexed: set[str]) -> dict[str, str | None]:
    """For each article not in the index, the indexed article most like it (5-word shingle Jaccard ≥ 0.5)."""
    kept = [(a.id, _shingles(a.text)) for a in ds.articles if a.id in indexed]
    out: dict[str, str | None] = {}
    for a in ds.articles:
        if a.id in indexed:
            continue
        sh = _shingles(a.text)
        score, best = max(((len(sh & o) / max(1, len(sh | o)), i) for i, o in kept), default=(0.0, None))
        out[a.id] = best if score >= 0.5 else None
    return out


def _load_result(ds: Dataset):
    from rag.ingest.corpus import LoadResult

    return LoadResult(articles=list(ds.articles))


def _dropped(path: Path) -> dict[str, str | None]:
    f = path / "eval-dropped.json"
    if not f.exists():
        return {}
    data = json.loads(f.read_text())
    return data if isinstance(data, dict) else {}
