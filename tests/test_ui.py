"""The chat UI over its HTTP API: the app is launched in-process on a loopback port and driven with
`gradio_client`, as another program (or a browser) would. Extractive backend, real index and model.

The module works on its own copy of the test index, so the articles it uploads never reach other tests.
"""
from __future__ import annotations

import re
import time
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from helpers import free_port

AR_QUESTION = "من هو ممثل روسيا الدائم لدى مقر الأمم المتحدة في جنيف؟"
EN_QUESTION = "Which Russian diplomat said Moscow believes Washington no longer demands Assad's immediate resignation?"

NEW_ARTICLE_TITLE = "بلدية طرطوس تفتتح مكتبة عامة جديدة"
NEW_ARTICLE = f"""{NEW_ARTICLE_TITLE}

افتتحت بلدية طرطوس يوم الأحد مكتبة عامة جديدة تضم أربعين ألف كتاب ومخطوطة في وسط المدينة القديمة.
وقال رئيس البلدية سامر الخطيب إن المكتبة ستفتح أبوابها يوميا من الثامنة صباحا حتى العاشرة مساء، وإن الدخول إليها مجاني لجميع السكان.
وأضاف أن المكتبة تضم قاعة للأطفال وأخرى للمطالعة الهادئة، وأن كلفة المشروع بلغت مليوني ليرة.
"""
NEW_QUESTION = "كم كتابا تضم المكتبة العامة الجديدة التي افتتحتها بلدية طرطوس؟"


@pytest.fixture(scope="module")
def client(ui_url):
    from gradio_client import Client

    return Client(ui_url, verbose=False)


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of the answer body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _content(message) -> str:
    content = message["content"] if isinstance(message, dict) else message
    if isinstance(content, list):  # a list of parts in some Gradio versions
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return content if isinstance(content, str) else str(content)


def ask(client, question: str, language: str = "auto", chat=None):
    out = client.predict(question=question, chat=chat or [], backend="extractive", top_k=5, language=language,
                         api_name="/ask")
    cleared, chat = out[0], out[1]
    assert cleared == ""
    assert chat[-1]["role"] == "assistant"
    return chat, _content(chat[-1])


def check_citations(html_text: str) -> dict[int, dict[str, str]]:
    """Every [n] link points at a source card present in the same message; returns the cited cards."""
    parser = _Tags()
    parser.feed(html_text)
    cites = [a for t, a in parser.tags if t == "a" and "sanad-cite" in a.get("class", "")]
    cards = {a["id"]: a for t, a in parser.tags if t == "div" and "sanad-src" in a.get("class", "").split()}
    assert cites, f"no citation links in: {html_text[:500]}"
    assert "sanad-cite-missing" not in html_text, "a [n] without a source"
    cited = {}
    for a in cites:
        target = a["href"].removeprefix("#")
        assert target in cards, f"citation {a['href']} has no source card"
        assert "sanad-cited" in cards[target]["class"]
        cited[int(target.rsplit("-", 1)[1])] = cards[target]
    return cited


def test_arabic_question_gets_a_cited_answer(client):
    t = time.perf_counter()
    chat, html_text = ask(client, AR_QUESTION)
    assert time.perf_counter() - t < 60
    assert 'class="sanad-msg sanad-answer sanad-final"' in html_text and 'dir="rtl"' in html_text
    cited = check_citations(html_text)
    assert 1 <= len(cited) <= 5
    assert "<mark>" in html_text  # the supporting sentence is highlighted in its passage
    assert "بورودافكين" in html_text
    user = _content(chat[-2])
    assert chat[-2]["role"] == "user" and "جنيف" in user and 'dir="rtl"' in user


def test_english_question_gets_a_cited_answer(client):
    chat, html_text = ask(client, EN_QUESTION)
    assert 'dir="ltr"' in html_text.split(">", 1)[0]
    check_citations(html_text)


def test_follow_up_keeps_the_conversation(client):
    chat, first = ask(client, AR_QUESTION)
    chat2, second = ask(client, "وماذا قال عن الولايات المتحدة؟", chat=chat)
    assert len(chat2) == len(chat) + 2
    # "he" is the Russian representative of the first question: the answer cites what he said about the US.
    assert "sanad-final" in second, second[:300]
    assert "بورودافكين" in second and "الولايات المتحدة" in second


def test_empty_question_is_a_short_message_not_a_traceback(client):
    chat, html_text = ask(client, "   ")
    assert "sanad-error" in html_text
    assert "Traceback" not in html_text and len(re.sub(r"<[^>]+>", "", html_text)) < 300


def _articles(settings) -> int:
    from rag.sanad import sanad_for

    return len(sanad_for(settings).retriever.index.articles)


def test_upload_refuses_wrong_type_and_bad_encoding(client, ui_settings, tmp_path):
    from gradio_client import handle_file

    before = _articles(ui_settings)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 not an article")
    latin = tmp_path / "old.txt"
    latin.write_bytes("مقالة".encode("cp1256") * 50)
    status, _, _ = client.predict(files=[handle_file(str(pdf)), handle_file(str(latin))], api_name="/add_articles")
    assert "report.pdf" in status and "unsupported type" in status
    assert "old.txt" in status and "UTF-8" in status
    assert _articles(ui_settings) == before  # nothing lost, nothing added
    chat, html_text = ask(client, AR_QUESTION)  # the index still answers
    check_citations(html_text)


def test_uploaded_article_is_answerable_at_once(client, ui_settings, tmp_path):
    from gradio_client import handle_file

    before = _articles(ui_settings)
    path = tmp_path / "tartus-library.txt"
    path.write_text(NEW_ARTICLE, encoding="utf-8")
    status, _, info = client.predict(files=[handle_file(str(path))], api_name="/add_articles")
    assert "✅" in status, status
    assert _articles(ui_settings) == before + 1
    assert str(before + 1) in info
    chat, html_text = ask(client, NEW_QUESTION)
    cited = check_citations(html_text)
    assert NEW_ARTICLE_TITLE in html_text
    assert "أربعين ألف كتاب" in html_text
    assert cited


# ---------------------------------------------------------------- errors and concurrency, with a test backend
# These drive the real app and pipeline with a scripted backend (tests/scripted_backend.py), registered through
# the same plugin hook as Sanad's own: one answer that blocks until released, one that raises a user-facing
# error, one that crashes. Its relevance bar is off so that every question reaches it.

@pytest.fixture(scope="module")
def scripted(ui_settings):
    import scripted_backend

    from rag.sanad import Sanad
    from ui.app import build_app

    settings = replace(ui_settings, plugins="scripted_backend", min_score=-1.0, min_score_cross=-1.0)
    app = build_app(Sanad(settings))
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", scripted_backend.RELEASE, scripted_backend.CALLS
    finally:
        scripted_backend.RELEASE.set()
        app.close()


def _ask_scripted(url: str, question: str):
    from gradio_client import Client

    return Client(url, verbose=False).submit(question=question, chat=[], backend="scripted", top_k=5,
                                             language="auto", api_name="/ask")


def test_one_slow_answer_does_not_block_another_user(scripted):
    url, gate, _ = scripted
    slow = _ask_scripted(url, "slow")
    deadline = time.time() + 30
    while time.time() < deadline and not slow.status().code.name == "ITERATING":
        time.sleep(0.1)
    t = time.perf_counter()
    fast = _ask_scripted(url, "quick question").result(timeout=30)
    assert time.perf_counter() - t < 10
    assert "sanad-final" in _content(fast[1][-1])
    assert not slow.done()  # still streaming while the other user got their answer
    gate.set()
    final = slow.result(timeout=30)
    check_citations(_content(final[1][-1]))


def test_errors_are_one_line_messages(scripted):
    url, _, _ = scripted
    down = _content(_ask_scripted(url, "llm down").result(timeout=30)[1][-1])
    assert "sanad-error" in down and "unreachable" in down
    crash = _content(_ask_scripted(url, "crash").result(timeout=30)[1][-1])
    assert "sanad-error" in crash and "Something went wrong" in crash
    assert "internal detail" not in crash and "Traceback" not in crash


# ---------------------------------------------------------------- the HTML itself (no server)

def _answer(refused: bool = False):
    from rag.types import Answer, Citation, Hit, Passage

    text = 'جملة أولى.\nوقال الوزير إن <script>alert(1)</script> الاتفاق "قريب".\nجملة <b>ثالثة</b>.'
    quote = 'وقال الوزير إن <script>alert(1)</script> الاتفاق "قريب".'
    p1 = Passage(id="p1", article_id="a1", title='عنوان <img src=x onerror="alert(2)">\nثان', text=text, ordinal=0,
                 start=0, end=len(text), source="x<y>.txt")
    p2 = Passage(id="p2", article_id="a2", title="Other", text="Not cited & fine.", ordinal=0, start=0, end=17)
    cits = [] if refused else [Citation(1, "p1", p1.title, quote, text.index(quote), text.index(quote) + len(quote))]
    return Answer(text="لا تحتوي المقالات على إجابة." if refused else "الاتفاق قريب [1]. ولا شيء [3].",
                  language="ar", citations=cits, passages=[Hit(p1, 1.0), Hit(p2, 0.5)], refused=refused)


def test_rendered_answer_escapes_every_article_text_and_links_citations():
    from ui.render import render_answer

    out = render_answer(_answer(), "m1")
    assert "\n" not in out
    assert "<script>" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;img src=x" in out and "&lt;b&gt;" in out
    assert "x&lt;y&gt;.txt" in out
    assert '<a class="sanad-cite" href="#src-m1-1"' in out and 'id="src-m1-1"' in out
    assert '<mark>وقال الوزير إن &lt;script&gt;alert(1)&lt;/script&gt; الاتفاق &quot;قريب&quot;.</mark>' in out
    assert "sanad-cite-missing" not in out and "[3]" in out  # [3] is no verified citation: plain text, no link
    assert out.index("<details") < out.index('id="src-m1-2"')  # the uncited passage is collapsed
    assert 'dir="rtl"' in out.split(">", 1)[0]


def test_short_answer_is_rendered_above_the_body_with_its_citation_linked():
    from ui.render import render_answer

    a = replace(_answer(), text="الاتفاق <قريب> [1]\n\nبحسب المقالات: الاتفاق قريب [1].", short="الاتفاق <قريب> [1]")
    out = render_answer(a, "m3")
    short = out[out.index('class="sanad-short"'):out.index('class="sanad-body"')]
    assert "الاتفاق &lt;قريب&gt;" in short and '<a class="sanad-cite" href="#src-m3-1"' in short
    body = out[out.index('class="sanad-body"'):]
    assert "&lt;قريب&gt;" not in body.split("sanad-sources")[0]  # not repeated in the body


def test_refusal_is_labelled_and_has_no_citations():
    from ui.render import render_answer

    out = render_answer(_answer(refused=True), "m2")
    assert "sanad-refusal" in out and "لا تحتوي المقالات على إجابة" in out
    assert "sanad-cite" not in out and "sanad-final" not in out


def test_message_direction_follows_the_text():
    from ui.render import first_strong_direction, render_error, render_user

    assert first_strong_direction("ما رأي NATO؟") == "rtl"
    assert first_strong_direction("What did «بوتين» say?") == "ltr"
    assert 'dir="ltr"' in render_user("Who is <Lavrov>?") and "&lt;Lavrov&gt;" in render_user("Who is <Lavrov>?")
    assert "&lt;b&gt;" in render_error("<b>x</b>", "en")


def test_upload_checks(tmp_path):
    from ui.uploads import MAX_UPLOAD_BYTES, check_file

    ok = tmp_path / "a.jsonl"
    ok.write_text('{"text": "نص"}\n', encoding="utf-8")
    assert check_file(ok) is None
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (MAX_UPLOAD_BYTES + 1))
    assert "larger than 10 MB" in check_file(big)[1]
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    assert "empty" in check_file(empty)[1]
    assert "unsupported" in check_file(tmp_path / "x.docx")[1]


def test_settings_and_conversation_reach_the_chain(scripted):
    from gradio_client import Client

    url, _, calls = scripted
    client = Client(url, verbose=False)
    first = client.predict(question="first question", chat=[], backend="scripted", top_k=3, language="en",
                           api_name="/ask")
    client.predict(question="and a follow-up?", chat=first[1], backend="scripted", top_k=7, language="ar",
                   api_name="/ask")
    assert calls[-2] == {"question": "first question", "history": None, "top_k": 3, "backend": "scripted",
                         "language": "en"}
    last = calls[-1]
    assert (last["top_k"], last["language"]) == (7, "ar")
    said = last["history"]
    assert said[0] == {"role": "user", "content": "first question"}
    assert said[1]["role"] == "assistant" and said[1]["content"].endswith("[1].")  # the verified answer text
