"""Sanad's own backends, registered through the same hook any plugin uses."""
from __future__ import annotations

from rag.backends.chat import LlamaCppBackend, OpenAIBackend
from rag.backends.extractive import ExtractiveBackend


def register_backends(register) -> None:
    register(ExtractiveBackend())
    register(LlamaCppBackend())
    register(OpenAIBackend())
