"""The pipeline's seams without a model: Query, Response, and the backend registry."""
from __future__ import annotations

import sys

import pytest

from rag.backends import Draft, build_registry
from rag.errors import ConfigError, QueryError, SanadError
from rag.query import make_query
from rag.response import Response
from rag.settings import Settings
from rag.types import Answer

pytestmark = pytest.mark.fast


def test_query_is_checked_once_and_keeps_both_languages():
    s = Settings()
    q = make_query("  من هو المبعوث الأممي إلى سوريا؟ ", s, language="en", history=[{"role": "user", "content": "x"}])
    assert (q.text, q.lang, q.answer_lang) == ("من هو المبعوث الأممي إلى سوريا؟", "ar", "en")
    assert q.backend == s.backend and q.top_k == s.top_k and q.history == ({"role": "user", "content": "x"},)
    assert q.search_text == q.text and q.rewritten("y").search_text == "y"
    assert make_query("Who is the envoy?", s).answer_lang == "en"
    for bad in ("", "   ", "x" * (s.max_question_chars + 1)):
        with pytest.raises(QueryError):
            make_query(bad, s)
    with pytest.raises(QueryError, match="answer language"):
        make_query("Who?", s, language="fr")
    with pytest.raises(QueryError, match="top_k"):
        make_query("Who?", s, top_k=0)


def test_response_streams_text_then_holds_the_answer():
    final = Answer(text="ab", language="en")
    r = Response(iter(["a", "", "b", final]))
    assert list(r) == ["a", "b"]
    assert r.answer is final and r.streamed == "ab"
    assert Response(iter(["x", final])).answer is final  # reading .answer alone drains the stream
    with pytest.raises(SanadError, match="without a result"):
        list(Response(iter(["x"])))


def test_builtin_backends_register_through_the_plugin_hook(tmp_path, monkeypatch):
    plugin = tmp_path / "sanad_echo_plugin.py"
    plugin.write_text(
        "from rag.backends import Draft\n"
        "class Echo:\n"
        "    name = 'echo'\n"
        "    heavy = False\n"
        "    def available(self, settings): return True\n"
        "    def rewrite(self, query, res): return None\n"
        "    def generate(self, query, hits, res): return Draft(hits, iter([query.text]))\n"
        "def register_backends(register):\n"
        "    register(Echo())\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = build_registry(Settings(plugins="sanad_echo_plugin"))
    assert reg.names == ["extractive", "llamacpp", "openai", "echo"]
    assert "echo" in reg.available(Settings()) and "extractive" in reg.available(Settings())
    draft = reg.get("echo").generate(make_query("Who?", Settings()), [], None)
    assert isinstance(draft, Draft) and list(draft.chunks) == ["Who?"]
    with pytest.raises(QueryError, match="unknown backend 'nope'"):
        reg.get("nope")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        build_registry(Settings(plugins="no_such_sanad_plugin"))
    sys.modules.pop("sanad_echo_plugin", None)
