"""Fairness benchmark (prints figures; not a test): are extractive answers served while LLM answers are busy?

    PYTHONPATH=$PWD .venv/bin/python bench/fair_bench.py                     # 4 LLM requests, 20 extractive
    PYTHONPATH=$PWD .venv/bin/python bench/fair_bench.py --llm 12 --questions 40 --token-delay 0.5

The chat app is launched in this process on a loopback port (the same `build_app` that `sanad serve` runs)
and driven over HTTP with `gradio_client`, as a browser or an API client would. The LLM is a stand-in: an
OpenAI-compatible server on loopback (`StubLLM`) that streams its answer slowly, used through the `openai`
backend (SANAD_LLM_BASE_URL), so no real model is needed and every LLM request stays in flight for the whole
measurement. First the extractive latency on an idle app, then `--llm` LLM requests are fired and, while they
run or wait, `--questions` extractive questions are asked one after another. Target: p95 ≤ 1 s under load.

Uses the configured index (SANAD_INDEX_DIR / SANAD_INDEX_NAME; the default one is built from the bundled
articles if missing).
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "eval" / "gold" / "seeds.jsonl"
STUB_ANSWER = "ممثل روسيا الدائم لدى مقر الأمم المتحدة في جنيف هو أليكسي بورودافكين [1]."
LLM_QUESTION = "من هو ممثل روسيا الدائم لدى مقر الأمم المتحدة في جنيف؟"


class StubLLM:
    """An OpenAI-compatible chat-completions server on loopback that streams `answer` word by word,
    `token_delay` seconds apart. With `hold=True` it stops after the first word until `release()`.

        with StubLLM(token_delay=0.5) as llm:
            settings = replace(settings, llm_base_url=llm.base_url)
    """

    def __init__(self, answer: str = STUB_ANSWER, token_delay: float = 0.0, repeat: int = 1, hold: bool = False):
        self.words = [w + " " for w in answer.split()] * repeat
        self.token_delay = token_delay
        self._go = threading.Event()
        if not hold:
            self._go.set()
        self.requests = 0
        self.active = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def release(self) -> None:
        self._go.set()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": "sanad", "object": "model"}]})

            def _json(self, obj) -> None:
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with stub._lock:
                    stub.requests += 1
                    stub.active += 1
                try:
                    if body.get("stream"):
                        self._stream()
                    else:
                        stub._go.wait()
                        self._json({"id": "stub", "object": "chat.completion", "created": 0, "model": "sanad",
                                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                        "role": "assistant", "content": "".join(stub.words).strip()}}]})
                except (BrokenPipeError, ConnectionResetError):  # the client went away
                    pass
                finally:
                    with stub._lock:
                        stub.active -= 1

            def _chunk(self, delta: dict, finish: str | None = None) -> None:
                obj = {"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": "sanad",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self._chunk({"role": "assistant", "content": ""})
                for i, word in enumerate(stub.words):
                    if i == 1:
                        stub._go.wait()
                    self._chunk({"content": word})
                    time.sleep(stub.token_delay)
                self._chunk({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler

    def __enter__(self) -> "StubLLM":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [r["question"] for r in rows if r.get("answerable")]
    return (qs * (n // max(1, len(qs)) + 1))[:n]


def ask(client, question: str, backend: str):
    return client.submit(question=question, chat=[], backend=backend, top_k=5, language="auto", api_name="/ask")


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def extractive_latencies(url: str, questions: list[str]) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = []
    for q in questions:
        t = time.perf_counter()
        result = ask(client, q, "extractive").result(timeout=120)
        out.append(time.perf_counter() - t)
        assert "sanad-error" not in str(result[1][-1]), result[1][-1]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm", type=int, default=4, help="LLM requests in flight during the measurement")
    ap.add_argument("--questions", type=int, default=20, help="extractive questions asked while they run")
    ap.add_argument("--token-delay", type=float, default=0.5, help="seconds between the stub's streamed words")
    args = ap.parse_args()

    from gradio_client import Client

    from rag.sanad import Sanad
    from rag.settings import get_settings
    from ui.app import CONCURRENCY, build_app

    questions = seed_questions(args.questions)
    with StubLLM(token_delay=args.token_delay, repeat=20) as llm:
        settings = replace(get_settings(), llm_base_url=llm.base_url)
        sanad = Sanad(settings)
        sanad.retriever  # loaded before the measurement
        app = build_app(sanad)
        port = free_port()
        app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        try:
            extractive_latencies(url, questions[:3])  # warm-up
            idle = extractive_latencies(url, questions)
            clients = [Client(url, verbose=False) for _ in range(args.llm)]
            jobs = [ask(c, LLM_QUESTION, "openai") for c in clients]
            deadline = time.time() + 60
            while llm.active < min(args.llm, settings.llm_concurrency) and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # let the others reach the gate's line
            t0 = time.perf_counter()
            loaded = extractive_latencies(url, questions)
            span = time.perf_counter() - t0
            in_flight = sum(not j.done() for j in jobs)
            llm_served = llm.requests
        finally:
            app.close()

    print(f"app: {CONCURRENCY} extractive workers + LLM capacity {settings.llm_concurrency}, "
          f"queue {settings.llm_queue}; stub LLM streams {len(llm.words)} words, {args.token_delay:g} s apart")
    print(f"idle      : extractive n={len(idle)}  p50 {statistics.median(idle):.2f} s  p95 {p95(idle):.2f} s  "
          f"max {max(idle):.2f} s")
    print(f"under load: extractive n={len(loaded)}  p50 {statistics.median(loaded):.2f} s  p95 {p95(loaded):.2f} s  "
          f"max {max(loaded):.2f} s  ({args.llm} LLM requests fired, {in_flight} still in flight after "
          f"{span:.1f} s, {llm_served} reached the LLM)")
    print(f"target p95 ≤ 1 s under load: {'met' if p95(loaded) <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
