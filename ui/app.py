"""The chat web UI (Gradio 6): streaming cited answers, right-to-left done right, sources you can check.

    from ui.app import build_app, serve
    serve(host="127.0.0.1", port=7860)    # what `sanad serve` runs

`build_app()` returns the Blocks (queue enabled, styling attached); `serve()` first makes sure the default
index exists (building it from the bundled articles, with progress in the terminal), then launches.
"""
from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import SanadError
from rag.sanad import Sanad, sanad_for
from rag.settings import get_settings

from . import render
from .access import check_exposure, is_loopback, parse_auth
from .examples import EXAMPLES
from .gate import LLMBusy, LLMGate, shared_gate
from .uploads import MAX_UPLOAD_BYTES, add_files

log = logging.getLogger("sanad.ui")

TITLE = "سند · Sanad"
ASSETS = Path(__file__).resolve().parent / "assets"
CSS = (ASSETS / "sanad.css").read_text(encoding="utf-8")
JS = (ASSETS / "sanad.js").read_text(encoding="utf-8")
HEAD = f"<script>{JS}</script>"
CONCURRENCY = 4  # extractive answers served at once; others wait in the queue without freezing anyone's page
LANGUAGES = [("تلقائي · Auto", "auto"), ("العربية", "ar"), ("English", "en")]
GENERIC_ERROR = {
    "ar": "حدث خطأ غير متوقع أثناء الإجابة. حاول مرة أخرى.",
    "en": "Something went wrong while answering. Please try again.",
}



def _theme() -> gr.themes.ThemeClass:
    # Local font stacks only: the default theme fetches Google Fonts, which never arrive offline.
    arabic = ["Noto Naskh Arabic", "Noto Sans Arabic", "Segoe UI", "Geeza Pro", "Tahoma", "Noto Sans",
              "Arial", "sans-serif"]
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.teal,
        secondary_hue=gr.themes.colors.amber,
        neutral_hue=gr.themes.colors.stone,
        font=arabic,
        font_mono=["DejaVu Sans Mono", "Consolas", "monospace"],
    )


class SanadBlocks(gr.Blocks):
    """Blocks that carry their own theme, CSS, head script and upload limit into `launch()`."""

    def launch(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        kwargs.setdefault("theme", _theme())
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("head", HEAD)
        kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
        kwargs.setdefault("footer_links", ["api"])
        return super().launch(*args, **kwargs)


def _index_summary(sanad: Sanad) -> str:
    try:
        r = sanad.retriever
        return (f"📚 المقالات في الفهرس: **{len(r.index.articles)}** · Articles indexed: "
                f"**{len(r.index.articles)}** ({r.size} passages)")
    except SanadError as exc:
        return f"⚠️ {exc}"
    except Exception:
        log.exception("index summary failed")
        return "⚠️ تعذّر تحميل الفهرس · The index could not be loaded"


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


@dataclass(frozen=True)
class Waiting:
    """An LLM request's place in line (1 = next)."""

    position: int


def _through_gate(gate: LLMGate, start: Callable[[], Iterator]) -> Iterator:
    """`start()`'s items once the gate admits us, `Waiting` items before; the slot is given back however we end
    (finished, failed, or closed because the client went away)."""
    ticket = gate.join()
    try:
        last = 0
        while not gate.wait(ticket, 0.5):
            pos = gate.position(ticket)
            if pos and pos != last:
                last = pos
                yield Waiting(pos)
        yield from start()
    finally:
        gate.leave(ticket)


def render_waiting(position: int, lang: str) -> str:
    return (f'<div class="sanad-msg sanad-answer sanad-pending sanad-waiting" dir="{render.direction(lang)}" '
            f'lang="{lang}"><span class="sanad-dots"></span> بانتظار نموذج اللغة، دورك: {position} · '
            f'<span dir="ltr">Waiting for the language model, position {position}</span></div>')


def build_app(sanad: Sanad | None = None, gate: LLMGate | None = None) -> gr.Blocks:
    """The chat UI over `sanad` (default: the shared instance for the SANAD_* settings).

    LLM answers pass `gate` (default: the process-wide one sized by SANAD_LLM_CONCURRENCY / SANAD_LLM_QUEUE);
    the "ask" worker pool has room for all of them plus CONCURRENCY extractive answers, which therefore never
    wait behind a language model."""
    sanad = sanad or sanad_for(get_settings())
    settings = sanad.settings
    gate = gate or shared_gate(settings.llm_concurrency, settings.llm_queue)
    ask_workers = CONCURRENCY + gate.capacity + gate.queue
    backends = sanad.backends.available(settings) or ["extractive"]
    default_backend = settings.backend if settings.backend in backends else backends[0]

    def ask(question: str, chat: list[dict], history: list[dict], backend: str, top_k: float, language: str,
            date_from: str = "", date_to: str = "", outlets: str = ""):
        question = (question or "").strip()
        chat = list(chat or [])
        history = list(history or [])
        lang = language if language in ("ar", "en") else render.guess_language(question)
        if question:
            chat.append(_msg("user", render.render_user(question)))
        chat.append(_msg("assistant", render.render_pending(question, lang=lang)))
        yield "", chat, history
        partial = ""
        try:
            # Checked now (a bad question fails at once); the answer runs as the response is read.
            response = sanad.ask(question, history=history or None, top_k=int(top_k), backend=backend,
                                 language=None if language == "auto" else language, date_from=date_from or None,
                                 date_to=date_to or None, outlets=outlets or None)
            heavy = sanad.backends.get(backend or settings.backend).heavy
            for item in _through_gate(gate, lambda: iter(response)) if heavy else response:
                if isinstance(item, Waiting):
                    chat[-1] = _msg("assistant", render_waiting(item.position, lang))
                    yield gr.skip(), chat, history
                elif item:
                    partial += item
                    chat[-1] = _msg("assistant", render.render_pending(question, partial, lang))
                    yield gr.skip(), chat, history
            final = response.answer
            chat[-1] = _msg("assistant", render.render_answer(final, uuid.uuid4().hex[:8]))
            history = history + [_msg("user", question), _msg("assistant", final.text)]
        except LLMBusy as exc:
            chat[-1] = _msg("assistant", render.render_error(f"نموذج اللغة مشغول الآن؛ حاول بعد قليل أو استخدم "
                                                             f"المولّد الاستخراجي · {exc}", lang))
        except SanadError as exc:
            chat[-1] = _msg("assistant", render.render_error(str(exc), lang))
        except Exception:
            log.exception("answering %r failed", question[:200])
            chat[-1] = _msg("assistant", render.render_error(GENERIC_ERROR[lang], lang))
        yield "", chat, history

    def upload(files, progress=gr.Progress()):
        if not files:
            return gr.skip(), gr.skip(), gr.skip()
        progress(0, desc="فحص الملفات · Checking files")

        def tick(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="تضمين المقاطع · Embedding passages", unit="passages")

        try:
            result = add_files(files, sanad, progress=tick)
            status = result.to_markdown()
        except Exception:
            log.exception("upload failed")
            status = "⚠️ تعذّرت إضافة الملفات؛ الفهرس السابق سليم · Adding the files failed; the index is unchanged"
        return status, None, _index_summary(sanad)

    with SanadBlocks(title=TITLE, fill_width=True, analytics_enabled=False) as app:
        history = gr.State([])
        with gr.Row(elem_id="sanad-header"):
            gr.HTML(
                '<div class="sanad-head" dir="rtl"><div class="sanad-brand"><span class="sanad-logo">سند</span>'
                '<span class="sanad-latin" dir="ltr">Sanad</span></div>'
                '<div class="sanad-tagline"><div dir="rtl">اسأل الأخبار العربية، واحصل على إجابة موثّقة بمصادرها</div>'
                '<div dir="ltr">Ask Arabic news — every answer cites the passage it comes from</div></div></div>',
                elem_id="sanad-title",
            )
        with gr.Row(equal_height=False, elem_id="sanad-main"):
            with gr.Column(scale=3, min_width=420, elem_id="sanad-chat-col"):
                chatbot = gr.Chatbot(
                    value=[],
                    elem_id="sanad-chat",
                    show_label=False,
                    height="68vh",
                    min_height=420,
                    layout="panel",
                    sanitize_html=True,
                    render_markdown=True,
                    line_breaks=False,
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    placeholder=(
                        '<div class="sanad-empty"><div dir="rtl">اطرح سؤالًا عن الأخبار، أو اختر مثالًا</div>'
                        '<div dir="ltr">Ask about the news, or pick an example</div></div>'
                    ),
                )
                with gr.Row(elem_id="sanad-ask-row"):
                    question = gr.Textbox(
                        elem_id="sanad-question",
                        show_label=False,
                        placeholder="اكتب سؤالك هنا… · Type your question…",
                        rtl=True,
                        lines=1,
                        max_lines=6,
                        scale=8,
                        autofocus=True,
                        submit_btn=False,
                    )
                    send = gr.Button("اسأل · Ask", variant="primary", scale=1, min_width=110, elem_id="sanad-send")
                with gr.Row():
                    clear = gr.Button("محادثة جديدة · New chat", size="sm", variant="secondary", elem_id="sanad-clear")
                gr.Markdown("أمثلة · Examples", elem_classes=["sanad-side-h"])
                examples = gr.Dataset(
                    components=[question],
                    samples=[[q] for q in EXAMPLES],
                    show_label=False,
                    elem_id="sanad-examples",
                    samples_per_page=len(EXAMPLES),
                    layout="gallery",
                )
            with gr.Column(scale=1, min_width=280, elem_id="sanad-side"):
                with gr.Accordion("الإعدادات · Settings", open=True, elem_id="sanad-settings"):
                    backend = gr.Dropdown(backends, value=default_backend, label="المولّد · Backend",
                                          interactive=len(backends) > 1, elem_id="sanad-backend")
                    top_k = gr.Slider(1, 12, value=settings.top_k, step=1, label="المقاطع · Passages",
                                      elem_id="sanad-topk")
                    language = gr.Radio(LANGUAGES, value="auto", label="لغة الإجابة · Answer language",
                                        elem_id="sanad-language")
                    # News filters: an inclusive date range (YYYY-MM-DD) and outlets, comma-separated.
                    with gr.Row():
                        date_from = gr.Textbox(value="", label="من · From", placeholder="2015-01-01",
                                               max_lines=1, elem_id="sanad-from")
                        date_to = gr.Textbox(value="", label="إلى · To", placeholder="2015-06-30",
                                             max_lines=1, elem_id="sanad-to")
                    outlets = gr.Textbox(value="", label="المصادر · Outlets", placeholder="okaz, aawsat",
                                         max_lines=1, elem_id="sanad-outlets")
                files = upload_status = None
                if settings.uploads:  # off by default: anyone who reaches the page could add articles
                    with gr.Accordion("إضافة مقالات · Add articles", open=True, elem_id="sanad-upload"):
                        files = gr.File(
                            file_count="multiple",
                            label="ملفات · Files",
                            elem_id="sanad-files",
                            height=120,
                        )
                        gr.Markdown(f"`.txt` `.html` `.jsonl` `.csv` — ≤ {MAX_UPLOAD_BYTES // 2**20} MB",
                                    elem_classes=["sanad-hint"])
                        upload_status = gr.Markdown(elem_id="sanad-upload-status")
                index_info = gr.Markdown(elem_id="sanad-index-info")

        ask_inputs = [question, chatbot, history, backend, top_k, language, date_from, date_to, outlets]
        ask_outputs = [question, chatbot, history]
        # One worker group for every way of asking, sized so that waiting/running LLM answers leave
        # CONCURRENCY workers to extractive ones (the gate turns away LLM requests beyond its line).
        pool = {"concurrency_limit": ask_workers, "concurrency_id": "ask"}
        question.submit(ask, ask_inputs, ask_outputs, api_name="ask", **pool)
        send.click(ask, ask_inputs, ask_outputs, api_name=False, **pool)
        examples.click(lambda sample: sample[0] if isinstance(sample, list) else sample, examples, question,
                       api_name=False, queue=False).then(ask, ask_inputs, ask_outputs, api_name=False, **pool)
        clear.click(lambda: ([], [], ""), None, [chatbot, history, question], api_name=False, queue=False)
        chatbot.clear(lambda: [], None, history, api_name=False, queue=False)  # the chat's own trash button
        if files is not None:
            files.upload(upload, files, [upload_status, files, index_info], api_name="add_articles",
                         concurrency_limit=1)
        app.load(lambda: _index_summary(sanad), None, index_info, api_name=False)
    app.queue(default_concurrency_limit=CONCURRENCY)
    return app


def _terminal_progress() -> Callable[[int, int], None]:
    state = {"last": -1}

    def cb(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        if pct != state["last"] and (pct % 5 == 0 or done == total):
            state["last"] = pct
            print(f"\r  embedding passages: {done}/{total} ({pct}%)", end="", file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)

    return cb


def serve(host: str = "127.0.0.1", port: int = 7860, allow_no_auth: bool = False) -> None:
    """Load (or first build) the default index, then serve the chat UI until interrupted.

    Beyond loopback a password (SANAD_AUTH) is required unless `allow_no_auth` / SANAD_ALLOW_NO_AUTH=1."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sanad").setLevel(logging.INFO)
    settings = get_settings()
    auth = parse_auth(settings.auth)
    allow_no_auth = allow_no_auth or settings.allow_no_auth
    check_exposure(host, auth, allow_no_auth)  # before any slow loading: a refused setup fails at once
    if not auth and not is_loopback(host):
        print(f"WARNING: serving on {host} with no password (--insecure-no-auth): anyone who can reach it may use "
              "it" + (" and add articles" if settings.uploads else ""), file=sys.stderr, flush=True)
    if not (settings.index_path / "manifest.json").exists():
        print(f"Building the index at {settings.index_path} from the bundled articles (first run)…",
              file=sys.stderr, flush=True)
    sanad = sanad_for(settings)
    report = sanad.ensure_index(progress=_terminal_progress())
    if report is not None:
        print(f"  indexed {report.added_articles} articles, {report.added_passages} passages "
              f"in {report.seconds:.1f} s", file=sys.stderr, flush=True)
    retriever = sanad.retriever
    print(f"Index {settings.index_path}: {len(retriever.index.articles)} articles, {retriever.size} passages",
          file=sys.stderr, flush=True)
    app = build_app(sanad)
    print(f"Sanad is at http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    app.launch(server_name=host, server_port=port, show_error=False, quiet=True, auth=auth or None,
               auth_message="سند · Sanad")
