"""Name registries for every kind of plug-in: methods, protocols and launchers, and
(through the same :class:`Registry` class, filled by the modules that own them) backbones
and losses. Datasets are registered in :mod:`bench.data.registry`, which holds a loader and
the release's expected counts per name.

A plug-in registers itself with a decorator (``@METHODS.register("cis")``), the way timm
registers models. A registry is lazy: the first lookup imports every module of its
package (``bench.methods``, ``bench.protocols``, ``bench.app.launchers``) and loads the
entry points of its group (``bench.methods``, ``bench.protocols``, ``bench.launchers``) of
any installed package, so nothing in ``bench`` imports a specific method or protocol.

A *family* resolves prefixed names on demand: ``METHODS.register_family("pyiqa", factory)``
makes ``get("pyiqa:piqe")`` return ``factory("piqe")`` (made once, then kept), for plug-ins
whose names are open-ended (any pyiqa metric); the factory raises a UsageError for a name it
cannot make.

A plug-in that fails to import (a module raising on import or calling ``sys.exit``, an
entry point naming a missing object) is reported once with a one-line warning naming it,
and skipped: every other plug-in still works. A misspelt name gets a "did you mean"
suggestion.

Every entry knows where it came from (:meth:`Registry.origin`: its module, and the
distribution and version that installed it: the harness's own for the built-ins, the
entry point's for a plug-in), and run records carry it. A plug-in that replaces a built-in
entry (``override=True``) is allowed, with a one-line warning naming the plug-in's module
and the entry it replaces.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
import threading
from importlib import metadata
from typing import Callable, Dict, Generic, Iterable, TypeVar

from .errors import unknown_choice

T = TypeVar("T")


_REQUIRED = object()   # get() without a default: an unknown name is a usage error
OWN_DISTRIBUTION = "iqa-bench"   # the harness's distribution (pyproject.toml), its built-ins'


# What a plug-in may raise while it is imported and still be skipped: any exception, and
# SystemExit (a plug-in calling sys.exit at import must not end the command with status 0).
_PLUGIN_FAULTS = (Exception, SystemExit)
# (distribution, version) of the entry points being loaded, innermost last
_INSTALLER: list[tuple] = []


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict:
    """Top-level package -> the distributions installing it (read once)."""
    return dict(metadata.packages_distributions())


def _distribution_of(module: str) -> tuple:
    """(distribution, version) installing the top-level package of ``module``; (None,
    None) for a module no installed distribution provides (a script, a test)."""
    top = module.split(".", 1)[0]
    try:
        names = _packages_distributions().get(top) or []
        return (names[0], metadata.version(names[0])) if names else (None, None)
    except Exception:  # noqa: BLE001 - provenance is best effort, never fatal
        return None, None


class Registry(Generic[T]):
    """A mapping from name to object, filled by a ``register`` decorator.

    ``package`` and ``entry_point_group`` say where :meth:`discover` looks for plug-ins
    (both optional: a registry filled by its owner's imports alone needs neither).
    ``failures`` maps each plug-in that could not be loaded to the reason.
    """

    def __init__(self, kind: str, package: str | None = None, entry_point_group: str | None = None):
        self.kind = kind
        self.package = package
        self.entry_point_group = entry_point_group
        self._items: Dict[str, T] = {}
        self._discovered = False
        self._discovering = False
        self._lock = threading.RLock()
        self.failures: Dict[str, str] = {}
        self._families: Dict[str, Callable[[str], T]] = {}
        self._made: Dict[str, T] = {}
        self._origins: Dict[str, dict] = {}       # name (or 'prefix:') -> origin
        self._overridden: set = set()             # names registered with override=True

    def register(self, name: str, *aliases: str, override: bool = False) -> Callable[[T], T]:
        """Decorator recording ``obj`` under ``name`` (and optional aliases). Registering a
        different object under a taken name is an error unless ``override=True`` (a plug-in
        deliberately replacing a built-in)."""

        def deco(obj: T) -> T:
            for key in (name, *aliases):
                old, origin = self._items.get(key), self._origin_of(obj)
                if old is not None and old is not obj:
                    if key in self._overridden and not override:
                        # the built-in arrives after a plug-in replaced it: the plug-in stays
                        self._warn_replaced(key, origin, self._origins[key])
                        continue
                    if not override:
                        raise ValueError(f"{self.kind} '{key}' is registered twice "
                                         "(pass override=True to replace it)")
                    self._warn_replaced(key, self._origins.get(key, {}), origin)
                if override:
                    self._overridden.add(key)
                self._items[key] = obj
                self._origins[key] = origin
            return obj

        return deco

    def _origin_of(self, obj) -> dict:
        """{'module', 'object', 'distribution', 'version'} of an object being registered:
        the harness's own for its modules, else the entry point's distribution while one
        loads, else the distribution installing the module's top-level package, if any."""
        from .version import __version__

        module = str(getattr(obj, "__module__", "") or "")
        if module == "bench" or module.startswith("bench."):
            dist, version = OWN_DISTRIBUTION, __version__
        elif _INSTALLER:        # an entry point loading: what it registers, in any registry
            dist, version = _INSTALLER[-1]
        else:
            dist, version = _distribution_of(module)
        return {"module": module, "object": str(getattr(obj, "__qualname__", "") or ""),
                "distribution": dist, "version": version}

    def _warn_replaced(self, key: str, old: dict, new: dict) -> None:
        """One warning line when a plug-in replaces a built-in entry."""
        if old.get("distribution") != OWN_DISTRIBUTION or new.get("distribution") == OWN_DISTRIBUTION:
            return
        by = new.get("distribution") or "no installed distribution"
        print(f"bench: warning: {self.kind} '{key}' ({old.get('module')}.{old.get('object')}) is "
              f"replaced by plug-in module '{new.get('module')}' ({by}); its runs are recorded "
              f"with that provenance", file=sys.stderr)

    def origin(self, name: str) -> dict:
        """Where the entry ``name`` came from: {'module', 'object', 'distribution',
        'version'} (a family member: its family's); {} for a name not registered."""
        self.discover()
        if name in self._origins:
            return dict(self._origins[name])
        prefix, sep, _ = name.partition(":")
        return dict(self._origins.get(prefix + ":", {})) if sep else {}

    def register_family(self, prefix: str, factory: Callable[[str], T], override: bool = False) -> None:
        """Resolve names ``<prefix>:<rest>`` by ``factory(rest)`` (see the module docstring)."""
        if prefix in self._families and self._families[prefix] is not factory and not override:
            raise ValueError(f"{self.kind} family '{prefix}:' is registered twice")
        self._families[prefix] = factory
        self._origins[prefix + ":"] = self._origin_of(factory)

    def families(self) -> list[str]:
        """The registered prefixes, shown as '<prefix>:NAME', sorted."""
        self.discover()
        return sorted(f"{p}:NAME" for p in self._families)

    def _family_member(self, name: str):
        prefix, sep, rest = name.partition(":")
        if not sep or prefix not in self._families:
            return None
        with self._lock:
            if name not in self._made:
                self._made[name] = self._families[prefix](rest)
            return self._made[name]

    def add(self, name: str, obj: T, override: bool = False) -> T:
        """Register ``obj`` under ``name`` without a decorator."""
        return self.register(name, override=override)(obj)

    def _failed(self, what: str, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.failures[what] = reason
        print(f"bench: warning: {self.kind} plug-in {what} could not be loaded and is skipped "
              f"({reason})", file=sys.stderr)

    def _import_package(self) -> None:
        try:
            pkg = importlib.import_module(self.package)
        except _PLUGIN_FAULTS as exc:  # a broken plug-in package must not abort
            self._failed(f"package '{self.package}'", exc)
            return
        for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
            if info.name.startswith("_"):
                continue
            name = f"{self.package}.{info.name}"
            try:
                importlib.import_module(name)
            except _PLUGIN_FAULTS as exc:
                self._failed(f"module '{name}'", exc)

    def _load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=self.entry_point_group):
            dist = getattr(ep, "dist", None)
            _INSTALLER.append((getattr(dist, "name", None), getattr(dist, "version", None)))
            try:
                ep.load()
            except _PLUGIN_FAULTS as exc:  # a broken entry point (even sys.exit) is skipped
                self._failed(f"entry point '{ep.name} = {ep.value}'", exc)
            finally:
                _INSTALLER.pop()

    def discover(self) -> None:
        """Import the plug-in package's modules and the installed entry points, once; a
        plug-in that fails is warned about and skipped. Marked done only after every import
        ran, so a lookup from inside a plug-in's import never sees a half-filled registry
        as final."""
        if self._discovered:
            return
        with self._lock:
            if self._discovered or self._discovering:
                return            # a plug-in looking a name up while it is being imported
            self._discovering = True
            try:
                if self.package:
                    self._import_package()
                if self.entry_point_group:
                    self._load_entry_points()
                self._discovered = True
            finally:
                self._discovering = False

    def get(self, name: str, default=_REQUIRED) -> T:
        """The object registered as ``name``; a UsageError with a suggestion and the valid
        choices otherwise (or ``default`` when one is given, as dict.get)."""
        self.discover()
        if name in self._items:
            return self._items[name]
        made = self._family_member(name)
        if made is None:
            if default is not _REQUIRED:
                return default
            raise unknown_choice(self.kind, name, [*self._items, *(f"{p}:NAME" for p in self._families)])
        return made

    def names(self) -> list[str]:
        """All registered names (aliases included), sorted."""
        self.discover()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self.discover()
        if name in self._items:
            return True
        try:
            return self._family_member(name) is not None
        except Exception:  # noqa: BLE001 - a name the family cannot make is not contained
            return False

    def items(self) -> Iterable[tuple[str, T]]:
        """(name, object) pairs, sorted by name."""
        self.discover()
        return sorted(self._items.items())

    def __iter__(self):
        """The registered names, sorted (so a registry lists itself in usage errors)."""
        return iter(self.names())

    def __getitem__(self, name: str) -> T:
        """``get(name)``: a UsageError with the choices and a suggestion when unknown."""
        return self.get(name)

    def __setitem__(self, name: str, obj: T) -> None:
        """Register ``obj`` as ``name``, replacing what was there (``add(..., override=True)``)."""
        self.add(name, obj, override=True)


METHODS: Registry = Registry("method", package="bench.methods", entry_point_group="bench.methods")
PROTOCOLS: Registry = Registry("protocol", package="bench.protocols", entry_point_group="bench.protocols")
