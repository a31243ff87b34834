"""`sanad eval ...` commands. Module-level imports stay light: each command imports its work lazily."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

eval_app = typer.Typer(help="Evaluate retrieval and answers against gold Q&A pairs.", no_args_is_help=True)

DEFAULT_GOLD = Path("eval/gold/seeds.jsonl")
DEFAULT_ARCD_EN = Path("eval/gold/arcd_en20.jsonl")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)  # tables stay one row a line when piped


def _fail(msg: str, code: int = 2) -> None:
    _console(True).print(f"[red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


@contextlib.contextmanager
def _bar(description: str, total: int):
    """A rich progress bar on stderr; yields a tick() function."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_console(True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def _settings():
    from rag.settings import get_settings

    return get_settings()


def _load_gold(path: Path):
    from rag.evaluation.gold import load_gold

    return _read_gold(path, load_gold)


def _load_news(path: Path) -> list[dict]:
    from rag.evaluation.news import load_news_gold

    return _read_gold(path, load_news_gold)


def _read_gold(path: Path, loader):
    """A gold file read by `loader`; a missing or malformed file is one line, exit 2."""
    from rag.evaluation.gold import GoldError

    if not path.exists():
        _fail(f"{path}: no such gold file")
    try:
        return loader(path)
    except GoldError as exc:
        _fail(str(exc))


def news_dataset(news: Path, settings):
    """The news gold set over the CURRENT index (SANAD_INDEX_NAME): only questions with a relevant article in it."""
    from rag.evaluation.news import questions_for_index
    from rag.sanad import sanad_for
    from rag.search.retrieval import Retriever

    rows = _load_news(news)
    sanad = sanad_for(settings)
    retriever = Retriever(sanad.retriever.index, sanad.embedder, settings.dense_weight)
    cov = questions_for_index(rows, ((a.id, a.url) for a in retriever.index.articles))
    answerable = len(cov.questions) + len(cov.not_indexed)
    note = (f"news gold: {cov.gold_articles_missing} of the {cov.gold_articles} gold articles are not in index "
            f"'{settings.index_name}'; evaluating the {len(cov.questions)} of {answerable} answerable questions "
            f"with a relevant article indexed ({cov.unanswerable} unanswerable questions are for answer evaluation "
            "and not ranked)")
    _console(True).print(note, highlight=False, markup=False)
    if not cov.questions:
        _fail(f"no news gold question has a relevant article in index '{settings.index_name}'")
    return news.stem, cov.questions, retriever, settings.index_path, [note, *cov.not_indexed]


def _dataset(gold: Path | None, squad: Path | None, questions: Path | None, arcd: Path | None,
             questions_en: Path | None, settings, progress_label: str = "indexing", news: Path | None = None):
    """(dataset name, questions, retriever, index path, notes) for the chosen source."""
    chosen = [x for x in (gold, squad, arcd, news) if x is not None]
    if len(chosen) > 1:
        _fail("give only one of --gold, --squad, --arcd, --news")
    if news is not None:
        return news_dataset(news, settings)
    if squad or arcd:
        from rag.evaluation.squad import dataset_index, load_arcd, load_squad

        src = squad or arcd
        if not Path(src).exists():
            _fail(f"{src}: not found")
        if squad:
            ds = load_squad(squad, questions)
        else:
            if questions_en is not None and not questions_en.exists():
                _fail(f"{questions_en}: not found")
            ds = load_arcd(arcd, questions_en)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn(f"[bold]{progress_label} {ds.name}"), BarColumn(), MofNCompleteColumn(),
                      console=_console(True), transient=True) as bar:
            task = bar.add_task("", total=None)
            retriever, notes = dataset_index(ds, settings,
                                             progress=lambda d, t: bar.update(task, completed=d, total=t))
        if notes:
            _console(True).print(f"[yellow]{len(notes)} questions have no indexed context (dropped as duplicates?): "
                                 f"{notes[:5]}")
        return ds.name, ds.questions, retriever, retriever.index.path, notes
    from rag.sanad import sanad_for
    from rag.search.retrieval import Retriever

    gold = gold or DEFAULT_GOLD
    questions_ = _load_gold(gold)
    sanad = sanad_for(settings)
    # A retriever of its own over the same index, without the query cache: latencies include embedding.
    retriever = Retriever(sanad.retriever.index, sanad.embedder, settings.dense_weight)
    return gold.stem, questions_, retriever, settings.index_path, []


@eval_app.command("check-gold")
def check_gold_cmd(
    file: Annotated[Path, typer.Argument(help="Gold JSONL file")] = DEFAULT_GOLD,
    seeds: Annotated[Path | None, typer.Option(help="Folder of the articles (default: the bundled seeds)")] = None,
) -> None:
    """Validate a gold file: every field present, every evidence quote found in its cleaned article."""
    from rag.evaluation.gold import check_gold

    if not file.exists():
        _fail(f"{file}: no such gold file")
    count, problems = check_gold(file, seeds)
    con = _console()
    for p in problems:
        con.print(f"[red]✗[/] {p}", highlight=False)
    if problems:
        con.print(f"{len(problems)} problem(s) in {count} pairs")
        raise typer.Exit(1)
    con.print(f"[green]✓[/] {file}: {count} pairs, all fields present, every evidence quote found in its article")


@eval_app.command("retrieval")
def retrieval_cmd(
    gold: Annotated[Path | None, typer.Option(help="Gold JSONL (default eval/gold/seeds.jsonl)")] = None,
    squad: Annotated[Path | None, typer.Option(help="SQuAD-format JSON file (contexts become passages)")] = None,
    questions: Annotated[Path | None, typer.Option(help="With --squad: the same questions in another language, "
                                                   "aligned by id (SQuAD JSON or JSONL id/question)")] = None,
    arcd: Annotated[Path | None, typer.Option(help="ARCD jsonl folder (qa.jsonl + passages.jsonl)")] = None,
    questions_en: Annotated[Path | None, typer.Option(help="With --arcd: translated questions JSONL "
                                                      "(e.g. eval/gold/arcd_en20.jsonl)")] = None,
    news: Annotated[Path | None, typer.Option(help="News gold JSONL (eval/gold/news.jsonl), judged by article over "
                                              "the current index (SANAD_INDEX_NAME)")] = None,
    methods: Annotated[str, typer.Option(help="Comma-separated: bm25,dense,fused")] = "bm25,dense,fused",
    k: Annotated[int, typer.Option("--k", help="Depth ranked per question")] = 20,
    dense_weight: Annotated[float | None, typer.Option(help="Override the fused dense weight")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions (quick runs)")] = None,
    cache_queries: Annotated[bool, typer.Option(help="Embed each question once, cached beside a --squad/--arcd "
                                                "index (latencies then exclude query embedding)")] = False,
    out: Annotated[Path | None, typer.Option(help="Run folder (default eval/reports/<time>-retrieval-<set>)")] = None,
) -> None:
    """Recall@1/5/10/20, MRR@10 and nDCG@10 (ranx) per method and question language; writes a report."""
    from rag.evaluation.report import default_run_dir, retrieval_table, write_report
    from rag.evaluation.runner import evaluate_retrieval, latency_summary
    from rag.search.retrieval import METHODS

    ms = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in ms if m not in METHODS]
    if bad or not ms:
        _fail(f"unknown method(s) {bad}; use {','.join(METHODS)}")
    settings = _settings()
    name, qs, retriever, index_path, notes = _dataset(gold, squad, questions, arcd, questions_en, settings,
                                                      news=news)
    if dense_weight is not None:
        retriever.dense_weight = dense_weight
    qs = qs[:limit] if limit else qs
    cache = None
    if cache_queries:
        from rag.evaluation.tuning import CachedQueries, query_cache_path

        cache = CachedQueries(retriever, query_cache_path(retriever) if (squad or arcd) else None)
    try:
        with _bar(f"retrieval {name}", len(qs)) as tick:
            result = evaluate_retrieval(qs, retriever, ms, k=k, tick=tick)
    finally:
        if cache:
            cache.save()
    result["latency"] = latency_summary(result)
    out = out or default_run_dir("retrieval", name)
    meta = {"dataset": name, "index": str(index_path), "passages": retriever.size,
            "dense_weight": retriever.dense_weight, "model": retriever.embedder.model_id,
            "questions_without_context": notes,
            "latency_note": "each question embedded once (cached): only the first dense/fused search of a question pays for it" if cache_queries else "includes query embedding"}
    write_report(result, out, meta)
    con = _console()
    con.print(retrieval_table(result), markup=False, highlight=False)
    for m, v in result["latency"].items():
        con.print(f"{m}: latency p50 {v['p50_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms")
    con.print(f"report: {out}/summary.md")


@eval_app.command("answers")
def answers_cmd(
    backend: Annotated[str | None, typer.Option(help="extractive | llamacpp | openai (default: settings)")] = None,
    gold: Annotated[Path, typer.Option(help="Gold JSONL")] = DEFAULT_GOLD,
    arcd: Annotated[Path | None, typer.Option(help="ARCD jsonl folder (qa.jsonl + passages.jsonl): answer its "
                                              "questions over its own index instead of the gold set")] = None,
    news: Annotated[Path | None, typer.Option(help="News gold JSONL: its questions over the current index "
                                              "(answerable ones whose article is indexed, and every unanswerable "
                                              "one, where a refusal is right)")] = None,
    top_k: Annotated[int | None, typer.Option(help="Passages shown to the generator")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions (quick runs)")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default eval/reports/<time>-answers-<set>)")] = None,
    unanswerable_arcd: Annotated[int, typer.Option(help="With --arcd: also ask N of its questions with their own "
                                                   "paragraph masked out of retrieval (unanswerable twins)")] = 0,
    split: Annotated[str, typer.Option(help="With --arcd: all | fit | heldout (articles held out from fitting "
                                       "the refusal gate)")] = "all",
    extra: Annotated[list[Path] | None, typer.Option(help="More gold JSONL to ask too (e.g. "
                                                       "eval/gold/seeds_unanswerable.jsonl)")] = None,
    questions_en: Annotated[Path | None, typer.Option(help="With --arcd: English translations of its questions "
                                                      "(e.g. eval/gold/arcd_en.jsonl), asked too")] = None,
) -> None:
    """Short answer (EM/F1, first-line hit), citation validity and precision, evidence recall, answer
    correctness, refusals (unanswerable F1), latency — per question language."""
    from rag.evaluation.report import answers_table, default_run_dir, write_report
    from rag.evaluation.runner import evaluate_answers

    settings = _settings()
    if arcd is not None:
        from dataclasses import replace

        from rag.evaluation.unanswerable import excluding, leaks, removed_twin, split_of
        from rag.sanad import Sanad

        if split not in ("all", "fit", "heldout"):
            _fail(f"--split must be all, fit or heldout, not {split!r}")
        name, qs, _, index_path, _ = _dataset(None, None, None, arcd, questions_en, settings)
        settings = replace(settings, index_name=index_path.name)  # the dataset's own index, built by _dataset
        sanad = Sanad(settings)
        answer_fn = sanad.answer
        qs = [q for q in qs if split == "all" or split_of(q) == split]
        qs = qs[:limit] if limit else qs
        twins = []
        for q in qs[:unanswerable_arcd] if unanswerable_arcd else []:
            t = removed_twin(q)
            with excluding(sanad.retriever, set(t.evidence)):
                hits = sanad.search(q.question, top_k, lang=q.lang)
            if not leaks(q.answers, [h.passage.text for h in hits]):  # the answer is written elsewhere too
                twins.append(t)
        qs = qs + twins
        name = f"{name}-{split}" if split != "all" else name

        def ask(q, plain):
            if not q.kind.endswith("-removed"):
                return plain()
            with excluding(sanad.retriever, set(q.evidence)):
                return plain()
    elif news is not None:
        from rag import answer as answer_fn
        from rag.evaluation.news import unanswerable_questions

        name, qs, _, index_path, _ = news_dataset(news, settings)
        qs = qs + unanswerable_questions(_load_news(news))
        qs = qs[:limit] if limit else qs
        ask = None
    else:
        from rag import answer as answer_fn

        ask = None
        name, qs, index_path = gold.stem, _load_gold(gold), settings.index_path
        qs = qs[:limit] if limit else qs
    for path in extra or []:
        qs = qs + _load_gold(path)
    with _bar(f"answers ({backend or settings.backend})", len(qs)) as tick:
        result = evaluate_answers(qs, answer_fn, backend=backend, top_k=top_k, tick=tick, ask=ask)
    out = out or default_run_dir("answers", f"{name}-{backend or settings.backend}")
    meta = {"dataset": name, "backend": backend or settings.backend, "top_k": top_k or settings.top_k,
            "index": str(index_path), "min_score": settings.min_score}
    write_report(result, out, meta)
    con = _console()
    con.print(answers_table(result), markup=False, highlight=False)
    con.print(f"report: {out}/summary.md")


@eval_app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Earlier run folder (or its results.json)")],
    run_b: Annotated[Path, typer.Argument(help="Later run folder")],
) -> None:
    """Print, question by question, what got better and what got worse from RUN_A to RUN_B."""
    from rag.evaluation.report import compare_runs, load_run

    try:
        diff = compare_runs(load_run(run_a), load_run(run_b))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    con = _console()
    what = "rank of first relevant" if diff["kind"] == "retrieval" else "answer"
    con.print(f"{diff['common']} questions in both runs; {len(diff['better'])} better, {len(diff['worse'])} worse "
              f"({what}: A → B)")
    for label, rows, colour in (("better", diff["better"], "green"), ("worse", diff["worse"], "red")):
        if not rows:
            continue
        con.print(f"[bold {colour}]{label}[/]")
        for r in rows:
            m = f" [{r['method']}]" if "method" in r else ""
            a = "none" if r["a"] is None else r["a"]
            b = "none" if r["b"] is None else r["b"]
            con.print(f"  {r['id']} ({r['lang']}){m}: {a} → {b}  {r['question']}", highlight=False, markup=False)
    for label in ("only_a", "only_b"):
        if diff[label]:
            con.print(f"{len(diff[label])} questions only in {label[-1].upper()}")


@eval_app.command("fusion")
def fusion_cmd(
    arcd: Annotated[Path, typer.Option(help="ARCD jsonl folder (tune on the train split only)")] =
        Path("../shared/data/arcd-train"),
    questions_en: Annotated[Path | None, typer.Option(help="Translated questions (reported, not tuned)")] =
        DEFAULT_ARCD_EN,
    weights: Annotated[str, typer.Option(help="Dense weights to try")] = "0.4,0.5,0.6,0.7",
    k: Annotated[int, typer.Option("--k")] = 20,
    out: Annotated[Path | None, typer.Option(help="Run folder")] = None,
) -> None:
    """Sweep the fused dense weight on ARCD train and report Recall@k / MRR@10 per weight and language."""
    import json

    from rag.evaluation.report import default_run_dir
    from rag.evaluation.tuning import sweep_dense_weight

    ws = [float(w) for w in weights.split(",") if w.strip()]
    settings = _settings()
    name, qs, retriever, index_path, _ = _dataset(None, None, None, arcd, questions_en, settings)
    with _bar("dense-weight sweep", len(qs) * len(ws)) as tick:
        results = sweep_dense_weight(qs, retriever, ws, k=k, tick=tick)
    con = _console()
    rows = []
    con.print("| dense_weight | questions | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |")
    con.print("|---|---|---|---|---|---|---|---|")
    for w, res in results.items():
        for g, v in res["summary"]["fused"].items():
            rows.append({"dense_weight": w, "group": g, **v})
            con.print(f"| {w} | {g} | {v['n']} | {v['R@1']:.3f} | {v['R@5']:.3f} | {v['R@10']:.3f} | "
                      f"{v['MRR@10']:.3f} | {v['nDCG@10']:.3f} |")
    ar = [r for r in rows if r["group"] == "ar"]
    best = max(ar, key=lambda r: (r["MRR@10"], r["R@5"])) if ar else None
    if best:
        con.print(f"best for Arabic questions by MRR@10: dense_weight={best['dense_weight']} "
                  f"(MRR@10 {best['MRR@10']:.3f}, R@5 {best['R@5']:.3f}); settings default is {settings.dense_weight}")
    out = out or default_run_dir("fusion", name)
    out.mkdir(parents=True, exist_ok=True)
    from rag.evaluation.report import provenance

    (out / "fusion.json").write_text(json.dumps({"index": str(index_path), "code": provenance(), "rows": rows,
                                                 "best_ar": best},
                                                ensure_ascii=False, indent=1), encoding="utf-8")
    con.print(f"written: {out}/fusion.json")


@eval_app.command("threshold")
def threshold_cmd(
    gold: Annotated[Path, typer.Option(help="Gold JSONL with unanswerable questions")] = DEFAULT_GOLD,
    out: Annotated[Path | None, typer.Option(help="Run folder")] = None,
) -> None:
    """Top dense score (rank 1 of the fused search) for answerable vs unanswerable questions, per language,
    and the refusal threshold that separates them best."""
    import json

    from rag.evaluation.report import default_run_dir
    from rag.evaluation.tuning import (
        at_threshold,
        describe,
        suggest_threshold,
        top_dense_scores,
    )
    from rag.sanad import sanad_for

    settings = _settings()
    qs = _load_gold(gold)
    retriever = sanad_for(settings).retriever
    with _bar("top dense scores", len(qs)) as tick:
        rows = top_dense_scores(qs, retriever, tick=tick)
    con = _console()
    cross = settings.min_score_cross
    report = {"min_score": settings.min_score, "min_score_cross": cross, "groups": {}}
    con.print("| questions | answerable: n / min / p10 / median / max | unanswerable: n / min / median / p90 / max "
              "| suggested cut | balanced acc. |")
    con.print("|---|---|---|---|---|")
    for g in ["all", *sorted({r["lang"] for r in rows})]:
        sub = [r for r in rows if g == "all" or r["lang"] == g]
        pos = describe([r["top_dense"] for r in sub if r["answerable"]])
        neg = describe([r["top_dense"] for r in sub if not r["answerable"]])
        best = suggest_threshold(sub)
        report["groups"][g] = {"answerable": pos, "unanswerable": neg, "suggested": best,
                               "at_current": at_threshold(sub, settings.min_score, cross)}
        con.print(f"| {g} | {pos.get('n')} / {pos.get('min')} / {pos.get('p10')} / {pos.get('median')} / "
                  f"{pos.get('max')} | {neg.get('n')} / {neg.get('min')} / {neg.get('median')} / {neg.get('p90')} / "
                  f"{neg.get('max')} | {best['threshold']} | {best['balanced_accuracy']} |")
    for g, v in report["groups"].items():
        cur = v["at_current"]
        con.print(f"{g}: at min_score {settings.min_score} (same language) / min_score_cross {cross} (across): "
                  f"{cur['answerable_refused']}/{cur['answerable']} answerable refused, "
                  f"{cur['unanswerable_refused']}/{cur['unanswerable']} unanswerable refused")
    con.print("the top passage is in another language than the question for: "
              + ", ".join(f"{g} {sum(r['cross'] for r in rows if r['lang'] == g)}/{sum(r['lang'] == g for r in rows)}"
                          for g in sorted({r['lang'] for r in rows})))
    out = out or default_run_dir("threshold", gold.stem)
    out.mkdir(parents=True, exist_ok=True)
    from rag.evaluation.report import provenance

    report["rows"] = rows
    report["code"] = provenance()
    (out / "threshold.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    _plot_threshold(rows, {"ar": settings.min_score, "en": cross},
                    {g: v["suggested"]["threshold"] for g, v in report["groups"].items()}, out / "top_dense.png")
    con.print(f"written: {out}/threshold.json, {out}/top_dense.png")


def _plot_threshold(rows, current: dict, suggested: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted({r["lang"] for r in rows})
    fig, axes = plt.subplots(1, len(langs), figsize=(5 * len(langs), 3.6), squeeze=False)
    for ax, lang in zip(axes[0], langs):
        for ans, colour in ((True, "tab:blue"), (False, "tab:red")):
            vals = [r["top_dense"] for r in rows if r["lang"] == lang and r["answerable"] == ans]
            ax.hist(vals, bins=20, alpha=0.6, color=colour, label="answerable" if ans else "unanswerable")
        cur = current.get(lang, current["ar"])
        ax.axvline(cur, color="grey", linestyle="--", label=f"current {cur}")
        ax.axvline(suggested[lang], color="black", label=f"suggested {suggested[lang]}")
        ax.set_title(f"{lang}: top dense score")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@eval_app.command("claims")
def claims_cmd(
    claims: Annotated[Path, typer.Option(help="Labelled claim set (JSONL)")] = Path("eval/gold/claims.jsonl"),
    split: Annotated[str, typer.Option(help="dev, test or all")] = "all",
    out: Annotated[Path | None, typer.Option(help="Run folder for claims.json")] = None,
) -> None:
    """Verification on the labelled claim set: does it keep true claims (English or Arabic, against an Arabic
    source sentence) and drop false ones? Recall, precision, F1 per language, split and kind."""
    import json

    from rag.answering.evidence import SentenceVectors
    from rag.evaluation.claims import ClaimsError, load_claims, run, verify_decider
    from rag.evaluation.report import default_run_dir, provenance
    from rag.sanad import sanad_for

    if split not in ("dev", "test", "all"):
        _fail(f"--split must be dev, test or all, not {split!r}")
    try:
        rows = load_claims(claims)
    except ClaimsError as exc:
        _fail(str(exc))
    rows = [c for c in rows if split == "all" or c.split == split]
    decide = verify_decider(SentenceVectors(sanad_for(_settings()).embedder))
    with _bar("verifying claims", len(rows)) as tick:
        result = run(rows, decide, tick=tick)
    con = _console()
    con.print("| group | n | recall | precision | F1 | accuracy |\n|---|---|---|---|---|---|")
    for name, m in [("all", result["all"]), *result["groups"].items()]:
        con.print(f"| {name} | {m['n']} | {m['recall']} | {m['precision']} | {m['f1']} | {m['accuracy']} |")
    con.print("\n| kind | n | supported | accepted |\n|---|---|---|---|")
    for kind, m in result["kinds"].items():
        con.print(f"| {kind} | {m['n']} | {'yes' if m['supported'] else 'no'} | {m['accepted']} |")
    out = out or default_run_dir("claims", f"{claims.stem}-{split}")
    out.mkdir(parents=True, exist_ok=True)
    result.update(split=split, claims=str(claims), code=provenance())
    (out / "claims.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    con.print(f"written: {out}/claims.json ({len(result['errors'])} errors listed)")
