"""Answer generators: the `Backend` interface, the registry, and Sanad's own backends."""
from rag.backends.base import Backend, Draft, Resources
from rag.backends.registry import Registry, build_registry

__all__ = ["Backend", "Draft", "Resources", "Registry", "build_registry"]
