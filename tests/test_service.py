"""The served app as a service: LLM answers cannot starve extractive ones, a password guards any wider
address, and uploads stay off unless enabled. Real launched servers (in-process and `sanad serve` in a
subprocess), real index and embedding model; the LLM is a loopback OpenAI-compatible stand-in that holds
its answer until released (bench/fair_bench.py `StubLLM`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is not a package of the install
from bench.fair_bench import LLM_QUESTION, StubLLM  # noqa: E402


def _content(message) -> str:
    content = message["content"] if isinstance(message, dict) else message
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _last(job) -> str:
    outs = job.outputs()
    return _content(outs[-1][1][-1]) if outs else ""


@pytest.fixture
def launched():
    """Launch `build_app(...)` on a loopback port; yields a function returning the URL; closes them all."""
    from rag.sanad import sanad_for
    from ui.app import build_app

    apps = []

    def launch(settings, **kwargs) -> str:
        app = build_app(sanad_for(settings), **kwargs)
        port = free_port()
        app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
        apps.append(app)
        return f"http://127.0.0.1:{port}/"

    yield launch
    for app in apps:
        app.close()


def test_extractive_answers_while_llm_requests_hold_the_model(ui_settings, launched):
    from gradio_client import Client

    from rag.sanad import sanad_for
    from ui.gate import LLMGate

    sanad_for(ui_settings).retriever
    with StubLLM(hold=True) as llm:
        settings = replace(ui_settings, llm_base_url=llm.base_url, llm_concurrency=1, llm_queue=2)
        gate = LLMGate(settings.llm_concurrency, settings.llm_queue)
        url = launched(settings, gate=gate)
        jobs = [Client(url, verbose=False).submit(question=LLM_QUESTION, chat=[], backend="openai", top_k=5,
                                                  language="auto", api_name="/ask") for _ in range(4)]
        deadline = time.time() + 60
        while time.time() < deadline and not (llm.active == 1 and gate.stats() == (1, 2)
                                              and sum(j.done() for j in jobs) == 1):
            time.sleep(0.1)
        assert llm.active == 1 and gate.stats() == (1, 2), (llm.active, gate.stats())
        busy = [j for j in jobs if j.done()]
        assert len(busy) == 1 and "busy" in _content(busy[0].result()[1][-1])  # beyond the line: told at once
        deadline = time.time() + 10
        while time.time() < deadline and not any("position 2" in _last(j) for j in jobs):
            time.sleep(0.1)
        assert any("position 2" in _last(j) for j in jobs), [_last(j)[:200] for j in jobs]

        t = time.perf_counter()
        out = Client(url, verbose=False).predict(question=LLM_QUESTION, chat=[], backend="extractive", top_k=5,
                                                 language="auto", api_name="/ask")
        elapsed = time.perf_counter() - t
        assert "sanad-final" in _content(out[1][-1]) and "بورودافكين" in _content(out[1][-1])
        assert elapsed < 5, f"extractive answer took {elapsed:.1f} s behind blocked LLM requests"
        assert llm.requests == 1  # the waiting ones never reached the model

        llm.release()
        waited = [j for j in jobs if j not in busy]
        for job in waited:
            final = _content(job.result(timeout=120)[1][-1])
            assert "Waiting" not in final and "busy" not in final
        assert llm.requests == 3 and gate.stats() == (0, 0)


def test_uploads_are_absent_unless_enabled(ui_settings, launched):
    def config(url: str) -> dict:
        return httpx.get(url + "config", timeout=30).json()

    def has_upload(cfg: dict) -> bool:
        ids = {c.get("props", {}).get("elem_id") for c in cfg["components"]}
        apis = {d.get("api_name") for d in cfg["dependencies"]}
        return "sanad-files" in ids or "add_articles" in apis

    assert not has_upload(config(launched(replace(ui_settings, uploads=False))))
    assert has_upload(config(launched(replace(ui_settings, uploads=True))))


def test_password_guards_a_wider_address(ui_settings, tmp_path):
    """`sanad serve --host 0.0.0.0` with SANAD_AUTH: starts, and refuses requests until logged in."""
    index_dir = tmp_path / "index"
    shutil.copytree(ui_settings.index_path, index_dir / ui_settings.index_name)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANAD_INDEX_DIR": str(index_dir),
           "SANAD_AUTH": "alice:s3cret,bob:pw2", "SANAD_ALLOW_NO_AUTH": ""}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                assert time.time() < deadline, "sanad serve did not come up"
                time.sleep(0.5)
        call = {"data": [LLM_QUESTION, [], [], "extractive", 5, "auto"]}
        assert httpx.get(base + "/config", timeout=10).status_code == 401
        assert httpx.post(base + "/gradio_api/call/ask", json=call, timeout=10).status_code == 401
        assert httpx.post(base + "/login", data={"username": "alice", "password": "wrong"},
                          timeout=10).status_code >= 400
        with httpx.Client(base_url=base, timeout=30) as logged:
            assert logged.post("/login", data={"username": "bob", "password": "pw2"}).status_code == 200
            assert logged.get("/config").status_code == 200
            assert logged.post("/gradio_api/call/ask", json=call).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_browser_shows_the_place_in_line(ui_settings, launched):
    """In a real browser: an LLM question behind a busy model shows "position 1", then its answer."""
    from gradio_client import Client
    from helpers import ARGS, CHROMIUM, FINAL
    from playwright.sync_api import sync_playwright

    from ui.gate import LLMGate

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install-browser.sh`")
    with StubLLM(hold=True) as llm:
        settings = replace(ui_settings, llm_base_url=llm.base_url, backend="openai", uploads=False)
        url = launched(settings, gate=LLMGate(1, 8))
        first = Client(url, verbose=False).submit(question=LLM_QUESTION, chat=[], backend="openai", top_k=5,
                                                  language="auto", api_name="/ask")
        deadline = time.time() + 60
        while llm.active < 1 and time.time() < deadline:
            time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="ar")
            page.goto(url, wait_until="domcontentloaded")
            box = page.locator("#sanad-question textarea")
            box.wait_for(timeout=60_000)
            box.fill(LLM_QUESTION)
            box.press("Enter")
            waiting = page.locator(".sanad-waiting").last
            waiting.wait_for(timeout=30_000)
            assert "position 1" in waiting.inner_text() and "دورك: 1" in waiting.inner_text()
            assert page.locator("#sanad-files").count() == 0  # uploads are off by default
            llm.release()
            page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length > 0", timeout=120_000)
            assert page.locator(".sanad-waiting").count() == 0
            browser.close()
        first.result(timeout=60)
