"""Errors a user can act on. Each carries a one-line message; front ends show it instead of a traceback."""
from __future__ import annotations


class SanadError(Exception):
    """Base class: `str(exc)` is a complete, one-line message for the user."""


class UserError(SanadError):
    """A front end used wrongly (e.g. a path that does not exist)."""


class QueryError(SanadError, ValueError):
    """A question that cannot be asked: empty, too long, or in no language we can tell."""


class CorpusError(SanadError, ValueError):
    """A file that cannot be ingested; the message names it."""


class IndexProblem(SanadError, RuntimeError):
    """A missing, corrupt or mismatched index; the message names the path and how to rebuild it."""


class LLMError(SanadError, RuntimeError):
    """The language model is unreachable, timed out, missing, or answered nothing usable."""


class ConfigError(SanadError, ValueError):
    """A setting (SANAD_* variable, option or plugin) that cannot be used; the message names it."""
