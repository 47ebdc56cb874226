"""Name registries for methods, protocols, backbones and datasets.

A plug-in registers itself with a decorator (``@METHODS.register("cis")``), the way timm
registers models. The engine discovers plug-ins by importing every module of the
``methods`` and ``protocols`` packages and the entry points of the groups
``bench.methods`` / ``bench.protocols`` of any installed package, so nothing in ``bench``
imports a specific method or protocol.
"""
from __future__ import annotations

import importlib
import pkgutil
from importlib import metadata
from typing import Callable, Dict, Generic, Iterable, TypeVar

from .errors import unknown_choice

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from name to object, filled by a ``register`` decorator.

    ``package`` and ``entry_point_group`` say where :meth:`discover` looks for plug-ins.
    """

    def __init__(self, kind: str, package: str | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self.package = package
        self.entry_point_group = entry_point_group
        self._items: Dict[str, T] = {}
        self._discovered = False

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator recording ``obj`` under ``name`` (and optional aliases)."""

        def deco(obj: T) -> T:
            for key in (name, *aliases):
                if key in self._items and self._items[key] is not obj:
                    raise ValueError(f"{self.kind} '{key}' is registered twice")
                self._items[key] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name)(obj)

    def discover(self) -> None:
        """Import every module of the plug-in package and the installed entry points, once."""
        if self._discovered:
            return
        self._discovered = True
        if self.package:
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
        if self.entry_point_group:
            for ep in metadata.entry_points(group=self.entry_point_group):
                ep.load()

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; a UsageError listing choices otherwise."""
        self.discover()
        if name not in self._items:
            raise unknown_choice(self.kind, name, self._items)
        return self._items[name]

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self.discover()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._items

    def items(self) -> Iterable[tuple[str, T]]:
        self.discover()
        return sorted(self._items.items())


METHODS: Registry = Registry("method", package="methods", entry_point_group="bench.methods")
PROTOCOLS: Registry = Registry("protocol", package="protocols", entry_point_group="bench.protocols")
