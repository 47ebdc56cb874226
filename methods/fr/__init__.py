"""Full-reference methods (issue 13): the training-free pyiqa metrics (``pyiqa-fr:NAME``),
the trainable Siamese feature-difference baseline (``fr-siamese``) and any other module of
this package. Importing the package imports every module in it (each registers itself);
a module that fails to import is named in a one-line warning and skipped, so the others
still register."""
from __future__ import annotations

import importlib
import pkgutil
import sys


def _import_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken module must not hide the rest
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"bench: warning: method plug-in module '{__name__}.{info.name}' could not "
                  f"be loaded and is skipped ({reason})", file=sys.stderr)


_import_all()
