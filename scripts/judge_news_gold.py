"""Judge the news gold set over the whole SaudiNewsNet archive, once, and write the result into the gold file.

    python scripts/judge_news_gold.py [eval/gold/news.jsonl] [--archive ../shared/data/saudinewsnet/articles.jsonl.gz]

Every evidence quote must be in its own article (Arabic-normalised, whitespace-folded); every archive article
holding it becomes relevant (the same story in other outlets counts). Unanswerable rows get the archive articles
holding all their check keys. Any failure is printed and the file is left as it was (exit 1).

    python scripts/judge_news_gold.py --write-slice /tmp/slice.jsonl.gz [--others 3000]

writes instead an archive slice for a quick build (never into the repo): every article relevant to a gold
question plus N other archive articles drawn at random (seed 7), for `sanad index build /tmp/slice.jsonl.gz
--name newsslice`.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.evaluation.gold import GoldError
from rag.evaluation.news import judge, read_archive, read_rows, write_rows

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gold", nargs="?", type=Path, default=ROOT / "eval/gold/news.jsonl")
    ap.add_argument("--archive", type=Path, default=ROOT.parent / "shared/data/saudinewsnet/articles.jsonl.gz")
    ap.add_argument("--write-slice", type=Path, help="write a .jsonl.gz slice: gold articles + --others others")
    ap.add_argument("--others", type=int, default=3000)
    args = ap.parse_args(argv)
    if args.write_slice:
        return write_slice(args.gold, args.archive, args.write_slice, args.others)
    for p in (args.gold, args.archive):
        if not p.exists():
            print(f"error: {p}: not found", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        rows = judge(read_rows(args.gold), read_archive(args.archive))
    except GoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_rows(rows, args.gold)
    ans = [r for r in rows if r["answerable"]]
    langs = Counter(r["lang"] for r in rows)
    multi = sum(len(r["relevant_article_ids"]) > 1 for r in ans)
    print(f"{args.gold}: {len(rows)} questions ({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))}), "
          f"{len(rows) - len(ans)} unanswerable; every evidence quote found in its article; "
          f"{multi} answerable questions have the same evidence in more than one article "
          f"(max {max((len(r['relevant_article_ids']) for r in ans), default=0)}); "
          f"{sum(bool(r['check_hits']) for r in rows if not r['answerable'])} unanswerable rows have keyword hits, "
          f"each with a check_note; {time.perf_counter() - t0:.0f} s")
    return 0


def write_slice(gold: Path, archive: Path, out: Path, others: int) -> int:
    import gzip
    import json
    import random

    rows = read_rows(gold)
    need = {r["article_id"] for r in rows} | {a for r in rows for a in r.get("relevant_article_ids", [])}
    with gzip.open(archive, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    keep = [ln for ln in lines if ln.strip() and json.loads(ln)["id"] in need]
    rest = [ln for ln in lines if ln.strip() and json.loads(ln)["id"] not in need]
    random.Random(7).shuffle(rest)
    pick = keep + rest[:others]
    random.Random(8).shuffle(pick)
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.write("\n".join(pick) + "\n")
    print(f"{out}: {len(keep)} gold-relevant articles + {min(others, len(rest))} others")
    return 0


if __name__ == "__main__":
    sys.exit(main())
