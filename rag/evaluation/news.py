"""The news gold set (eval/gold/news.jsonl): questions written from specific SaudiNewsNet articles, judged over
the whole archive.

A row holds `id, question, lang, article_id, evidence, answer, answerable, outlet, date` — ids, questions and a
short evidence quote only; the articles stay in ../shared. `scripts/judge_news_gold.py` adds, once, what needs an
archive scan: `relevant_article_ids` (every archive article whose normalised text holds the evidence: the same
story in other outlets counts) and `relevant_urls` (their URLs, in the same order), and for unanswerable rows `check_hits` (archive
articles holding all of the row's `check_keys`, read by a person; `check_note` says why they do not answer it).
Evaluation then needs no archive: a retrieved passage is a hit when its article is one of the relevant ones,
matched by archive id or by URL (an index may give articles ids of its own).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.evaluation.gold import GoldError, GoldQuestion, fold, json_lines, words

FIELDS = ("id", "question", "lang", "article_id", "evidence", "answer", "answerable", "outlet", "date")
JUDGED = ("relevant_article_ids", "relevant_urls")
MIN_EVIDENCE_WORDS = 4


@dataclass(frozen=True)
class ArchiveArticle:
    """What judging needs of one archive article."""

    id: str
    url: str
    text: str


def read_rows(path: Path) -> list[dict]:
    """The gold rows, schema-checked; GoldError names the line and id of every malformed row."""
    rows, problems, seen = [], [], set()
    for n, row, problem in json_lines(path):
        if problem:
            problems.append(f"{path.name}:{n}: {problem}")
            continue
        where = f"{path.name}:{n} ({row.get('id', '?') if isinstance(row, dict) else '?'})"
        for p in row_problems(row):
            problems.append(f"{where}: {p}")
        if isinstance(row, dict):
            if row.get("id") in seen:
                problems.append(f"{where}: duplicate id")
            seen.add(row.get("id"))
            rows.append(row)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise GoldError("; ".join(problems[:5]) + more)
    return rows


def row_problems(row: object) -> list[str]:
    """What is wrong with one row's fields (not its evidence: that needs the archive)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    missing = [f"missing field '{k}'" for k in FIELDS if k not in row]
    if missing:
        return missing
    out = []
    if not isinstance(row["question"], str) or not row["question"].strip():
        out.append("empty question")
    if row["lang"] not in ("ar", "en"):
        out.append(f"lang must be 'ar' or 'en', not {row['lang']!r}")
    if not isinstance(row["answerable"], bool):
        out.append("answerable must be true or false")
    elif row["answerable"]:
        if not isinstance(row["evidence"], str) or len(words(row["evidence"])) < MIN_EVIDENCE_WORDS:
            out.append(f"answerable but the evidence quote has under {MIN_EVIDENCE_WORDS} words")
        if not isinstance(row["answer"], str) or not row["answer"].strip():
            out.append("answerable but no answer")
    elif not row.get("check_keys"):
        out.append("unanswerable without check_keys (the key terms its archive check searched for)")
    if not isinstance(row["article_id"], str) or not row["article_id"]:
        out.append("no article_id")
    return out


# ---------------------------------------------------------------- judging (needs the archive, done once)

def read_archive(path: Path) -> Iterator[ArchiveArticle]:
    """Stream a SaudiNewsNet-style JSONL(.gz) archive (fields id, url, text)."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                yield ArchiveArticle(str(r["id"]), r.get("url") or "", r.get("text") or "")


def judge(rows: list[dict], archive: Iterable[ArchiveArticle]) -> list[dict]:
    """Rows with `relevant_article_ids`/`relevant_urls` (answerable) or `check_hits` (unanswerable) filled in
    from one pass over the archive. Raises GoldError when an evidence quote is not in its own article, when a
    row's article is not in the archive, or when an unanswerable row's keys hit articles and no `check_note`
    says why those do not answer it."""
    quotes = {r["id"]: fold(r["evidence"]) for r in rows if r["answerable"]}
    keys = {r["id"]: [fold(k) for k in r["check_keys"]] for r in rows if not r["answerable"]}
    found: dict[str, list[ArchiveArticle]] = {r["id"]: [] for r in rows}
    own: dict[str, bool] = {}
    wanted = {r["article_id"] for r in rows}
    for art in archive:
        text = fold(art.text)
        if art.id in wanted:
            own[art.id] = True
        for qid, quote in quotes.items():
            if quote in text:
                found[qid].append(art)
        for qid, ks in keys.items():
            if all(k in text for k in ks):
                found[qid].append(art)
    problems, out = [], []
    for r in rows:
        r = {k: v for k, v in r.items() if k not in (*JUDGED, "check_hits")}
        hits = found[r["id"]]
        if r["article_id"] not in own:
            problems.append(f"{r['id']}: article {r['article_id']} is not in the archive")
        elif r["answerable"]:
            if r["article_id"] not in {a.id for a in hits}:
                problems.append(f"{r['id']}: evidence not found in its article {r['article_id']}: "
                                f"{r['evidence'][:60]!r}")
            hits = sorted(hits, key=lambda a: a.id)
            r["relevant_article_ids"] = [a.id for a in hits]
            r["relevant_urls"] = [a.url for a in hits]  # aligned with the ids
        else:
            r["check_hits"] = sorted(a.id for a in hits)
            if hits and not r.get("check_note"):
                problems.append(f"{r['id']}: unanswerable, but its check keys {r['check_keys']} hit "
                                f"{len(hits)} article(s) {r['check_hits'][:3]} and no check_note says why "
                                "they do not answer it")
        out.append(r)
    if problems:
        raise GoldError(f"{len(problems)} gold row(s) fail: " + "; ".join(problems))
    return out


def write_rows(rows: list[dict], path: Path) -> None:
    """Atomic write: a temporary file beside the target, fsynced, then renamed over it."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- evaluation (no archive needed)

def load_news_gold(path: Path) -> list[dict]:
    """Judged gold rows; GoldError when the file was never judged (run scripts/judge_news_gold.py)."""
    rows = read_rows(path)
    unjudged = [r["id"] for r in rows if r["answerable"] and not r.get("relevant_article_ids")]
    if unjudged:
        raise GoldError(f"{path}: {len(unjudged)} answerable row(s) have no relevant_article_ids (e.g. "
                        f"{unjudged[0]}); judge the file first: python scripts/judge_news_gold.py {path}")
    return rows


@dataclass
class Coverage:
    """Which gold questions an index can be judged on."""

    questions: list[GoldQuestion]  # answerable, with at least one relevant article in the index
    unanswerable: int
    not_indexed: list[str]  # answerable question ids none of whose relevant articles is indexed
    gold_articles: int  # distinct articles the gold questions were written from (answerable rows)
    gold_articles_missing: int  # of those, how many the index lacks


def questions_for_index(rows: list[dict], indexed) -> Coverage:
    """Answerable rows as `GoldQuestion`s judged by article, with `relevant_articles` the index's own article
    ids of the relevant archive articles. `indexed` is an iterable of (index article id, url)."""
    by_id, by_url = {}, {}
    for aid, url in indexed:
        by_id[aid] = aid
        if url:
            by_url[url] = aid
    qs, missing = [], []
    for r in rows:
        if not r["answerable"]:
            continue
        rel = {by_id[a] for a in r["relevant_article_ids"] if a in by_id}
        rel |= {by_url[u] for u in r.get("relevant_urls", []) if u and u in by_url}
        if not rel:
            missing.append(r["id"])
            continue
        qs.append(GoldQuestion(id=r["id"], question=r["question"], lang=r["lang"], answerable=True,
                               answers=[r["answer"]], evidence=[r["evidence"]], article=r["article_id"],
                               kind="news", relevant_articles=rel))
    own = {(r["article_id"], _own_url(r)) for r in rows if r["answerable"]}
    lacking = sum(1 for aid, url in own if aid not in by_id and (not url or url not in by_url))
    return Coverage(qs, sum(not r["answerable"] for r in rows), missing, len(own), lacking)


def _own_url(row: dict) -> str:
    """The URL of the row's own article (`relevant_urls` is aligned with `relevant_article_ids`)."""
    ids, urls = row.get("relevant_article_ids", []), row.get("relevant_urls", [])
    return urls[ids.index(row["article_id"])] if len(ids) == len(urls) and row["article_id"] in ids else ""


def unanswerable_questions(rows: list[dict]) -> list[GoldQuestion]:
    """The unanswerable rows, for answer evaluation (a refusal is the right reply)."""
    return [GoldQuestion(id=r["id"], question=r["question"], lang=r["lang"], answerable=False, kind="news",
                         article=r["article_id"]) for r in rows if not r["answerable"]]
