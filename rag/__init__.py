"""Sanad: question answering over Arabic news with verified inline citations.

    from rag import answer
    a = answer("ما موقف واشنطن من استقالة الأسد؟")
    print(a.text, a.citations)
"""
from rag.types import Answer, Article, Citation, Hit, Passage

__all__ = ["answer", "answer_stream", "Answer", "Article", "Citation", "Hit", "Passage"]


def __getattr__(name: str):
    # The answering pipeline (LangChain prompts and all) loads on first use: `sanad search` never pays for it.
    if name in ("answer", "answer_stream"):
        from rag.answering import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
