"""Answer generators: the `Backend` interface, the registry, and Sanad's own backends."""
from .base import Backend, Draft, Resources
from .registry import Registry, build_registry

__all__ = ["Backend", "Draft", "Resources", "Registry", "build_registry"]
