"""The chat UI in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

It types questions, waits for the streamed answers, checks citations, sources and text direction, then
uploads an article carrying `<script>` and HTML through the upload box and checks that it shows as text
and never runs. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ARGS, CHROMIUM, FINAL

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

AR_QUESTION = "من هو ممثل روسيا الدائم لدى مقر الأمم المتحدة في جنيف؟"
AR_ARTICLE = "001_1b6062e7aa3d011d.txt"  # where the gold answer lives (eval/gold/seeds.jsonl ar-016)
EN_QUESTION = "How did Putin describe the chemical attack in Khan Shaykhun?"
EN_ARTICLE = "003_f40381fade25cb38.txt"

XSS_TITLE = "مهرجان الخط العربي في حمص"
XSS_ARTICLE = f"""{XSS_TITLE}

افتتح في مدينة حمص يوم الخميس مهرجان الخط العربي السنوي بمشاركة ستين خطاطا من سبع دول عربية.
وقالت اللجنة المنظمة إن جائزة المهرجان الكبرى <script>window.__pwned=1</script> ذهبت هذا العام إلى الخطاط <b>bold</b> يوسف الحلبي عن لوحته بخط الثلث.
وتستمر المعارض المرافقة للمهرجان حتى نهاية الشهر في قاعات المركز الثقافي.
"""
XSS_QUESTION = "إلى من ذهبت جائزة مهرجان الخط العربي الكبرى في حمص؟"



@pytest.fixture(scope="module")
def page(ui_url):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install-browser.sh` (apt-installs Debian chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900}, locale="ar")
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        outside: list[str] = []  # the UI must work offline: no fonts or scripts from the internet
        pg.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
              else outside.append(r.url))
        pg.goto(ui_url, wait_until="domcontentloaded")
        pg.wait_for_selector("#sanad-question textarea", timeout=60_000)
        pg.errors = errors  # type: ignore[attr-defined]
        pg.outside = outside  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _title_of(settings, source_file: str) -> str:
    from rag.sanad import sanad_for

    return next(a.title for a in sanad_for(settings).retriever.index.articles if a.source == source_file)


def ask(page, question: str):
    """Type the question, press Enter, wait for the streamed answer to be final; the last message."""
    before = page.locator(FINAL).count()
    box = page.locator("#sanad-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length > {before}", timeout=90_000)
    return page.locator(FINAL).last


def _direction(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).direction")


def test_arabic_answer_is_cited_sourced_and_right_to_left(page, ui_settings):
    msg = ask(page, AR_QUESTION)
    assert "sanad-answer" in msg.get_attribute("class")
    assert _direction(msg) == "rtl"
    assert _direction(msg.locator(".sanad-body p").first) == "rtl"
    user = page.locator(".sanad-user").last
    assert _direction(user) == "rtl"
    cite = msg.locator("a.sanad-cite").first
    assert cite.is_visible() and cite.inner_text().strip().isdigit()
    target = cite.get_attribute("href").removeprefix("#")
    card = page.locator(f"#{target}")
    title = _title_of(ui_settings, AR_ARTICLE)
    cited_titles = [t.inner_text().strip() for t in msg.locator(".sanad-src.sanad-cited .sanad-src-title").all()]
    assert title in cited_titles
    assert card.locator(".sanad-src-title").inner_text().strip() in cited_titles
    assert card.locator("mark").count() >= 1 and card.locator("mark").first.is_visible()
    cite.click()
    page.wait_for_function(f"document.getElementById({target!r}).classList.contains('sanad-flash')")
    assert card.evaluate("el => { const r = el.getBoundingClientRect(); "
                         "return r.bottom > 0 && r.top < window.innerHeight; }")
    page.screenshot(path=str(ARTIFACTS / "ui-arabic.png"), full_page=True)
    assert not page.errors
    assert not page.outside, f"requests left the machine: {page.outside[:3]}"
    label = page.locator("[data-testid=bot]").last.get_attribute("aria-label") or ""
    assert "<div" not in label and "sanad" not in label  # screen readers get the text, not our markup


def test_english_answer_is_left_to_right(page, ui_settings):
    msg = ask(page, EN_QUESTION)
    assert _direction(msg) == "ltr"
    assert _direction(page.locator(".sanad-user").last) == "ltr"
    if "sanad-answer" in msg.get_attribute("class"):
        assert msg.locator("a.sanad-cite").count() >= 1
        assert _title_of(ui_settings, EN_ARTICLE) in msg.locator(".sanad-sources").inner_text()
    else:  # a refusal is acceptable only when labelled as one
        assert "sanad-refusal" in msg.get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "ui-english.png"), full_page=True)


def test_uploaded_script_is_shown_as_text_and_never_runs(page, tmp_path):
    path = tmp_path / "calligraphy.txt"
    path.write_text(XSS_ARTICLE, encoding="utf-8")
    page.locator("#sanad-files input[type=file]").set_input_files(str(path))
    page.wait_for_function("(document.querySelector('#sanad-upload-status')?.innerText || '').includes('✅')",
                           timeout=120_000)
    msg = ask(page, XSS_QUESTION)
    assert "sanad-answer" in msg.get_attribute("class"), msg.inner_text()
    cited = msg.locator(".sanad-src.sanad-cited").filter(has_text=XSS_TITLE)
    assert cited.count() >= 1
    text = cited.first.locator(".sanad-src-text")
    assert "<script>window.__pwned=1</script>" in text.inner_text()
    assert "<b>bold</b>" in text.inner_text()
    assert text.locator("script, b").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.screenshot(path=str(ARTIFACTS / "ui-escaped.png"), full_page=True)
    assert not page.errors


def test_example_question_is_asked_in_one_click(page):
    from ui.examples import EXAMPLES

    before = page.locator(FINAL).count()
    page.locator("#sanad-examples").get_by_text(EXAMPLES[1], exact=True).click()
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length > {before}", timeout=90_000)
    assert EXAMPLES[1] in page.locator(".sanad-user").last.inner_text()
    assert _direction(page.locator(FINAL).last) == "rtl"


def test_oversized_upload_is_refused_with_a_message(page, ui_settings, tmp_path):
    from rag.sanad import sanad_for
    from ui.uploads import MAX_UPLOAD_BYTES

    before = len(sanad_for(ui_settings).retriever.index.articles)
    big = tmp_path / "huge.txt"
    big.write_bytes(b"news " * (MAX_UPLOAD_BYTES // 5 + 1000))
    page.locator("#sanad-files input[type=file]").set_input_files(str(big))
    page.get_by_text("exceed the maximum allowed size").first.wait_for(timeout=30_000)
    assert len(sanad_for(ui_settings).retriever.index.articles) == before
    page.screenshot(path=str(ARTIFACTS / "ui-oversized.png"))
