"""Sanad's own backends, registered through the same hook any plugin uses."""
from __future__ import annotations

from .chat import LlamaCppBackend, OpenAIBackend
from .extractive import ExtractiveBackend


def register_backends(register) -> None:
    register(ExtractiveBackend())
    register(LlamaCppBackend())
    register(OpenAIBackend())
