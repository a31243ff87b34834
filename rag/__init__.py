"""Sanad: question answering over Arabic news with verified inline citations.

    from rag import answer
    a = answer("ما موقف واشنطن من استقالة الأسد؟")
    print(a.text, a.citations)
"""
from .types import Answer, Article, Citation, Hit, Passage

__all__ = ["Answer", "Article", "Citation", "Hit", "Passage"]
