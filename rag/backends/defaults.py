"""Sanad's own backends, registered through the same hook any plugin uses."""
from __future__ import annotations

from rag.backends.chat import OpenAIBackend
from rag.backends.constrained import ConstrainedLlamaBackend
from rag.backends.extractive import ExtractiveBackend


def register_backends(register) -> None:
    register(ExtractiveBackend())
    register(ConstrainedLlamaBackend())  # `llamacpp`: pick and copy under a grammar
    register(OpenAIBackend())
