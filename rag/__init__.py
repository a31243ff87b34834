"""Sanad: question answering over Arabic news with verified inline citations.

    from rag import answer
    a = answer("ما موقف واشنطن من استقالة الأسد؟")
    print(a.text, a.citations)
"""
from rag.answering.pipeline import answer, answer_stream
from rag.types import Answer, Article, Citation, Hit, Passage

__all__ = ["answer", "answer_stream", "Answer", "Article", "Citation", "Hit", "Passage"]
