"""The backend registry. Sanad's own backends register through the same hook as plugins do.

A plugin is a module with `register_backends(register)` (simonw/llm's pattern): list it in SANAD_PLUGINS
(comma-separated module names) or publish it under the `sanad.backends` entry-point group.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from rag.backends.base import Backend
from rag.errors import ConfigError, QueryError
from rag.settings import Settings

HOOK = "register_backends"
BUILTIN = ("rag.backends.defaults",)
ENTRY_POINT_GROUP = "sanad.backends"


class Registry:
    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}

    def register(self, backend: Backend) -> None:
        if not isinstance(backend, Backend):
            raise ConfigError(f"{backend!r} is not a Sanad backend (needs name, heavy, available, generate, rewrite)")
        self._backends[backend.name] = backend

    @property
    def names(self) -> list[str]:
        return list(self._backends)

    def get(self, name: str) -> Backend:
        try:
            return self._backends[name]
        except KeyError:
            raise QueryError(f"unknown backend {name!r}; use one of {', '.join(self._backends)}") from None

    def available(self, settings: Settings) -> list[str]:
        return [name for name, b in self._backends.items() if b.available(settings)]


def load_plugin(registry: Registry, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
        hook = getattr(module, HOOK)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"plugin {module_name!r} cannot be loaded: {exc}") from None
    hook(registry.register)


def build_registry(settings: Settings) -> Registry:
    registry = Registry()
    for name in BUILTIN:
        load_plugin(registry, name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()(registry.register)
    for name in filter(None, (m.strip() for m in settings.plugins.split(","))):
        load_plugin(registry, name)
    return registry
