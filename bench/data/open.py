"""Open a dataset by name: the synthetic suite, or a release found under --data-root or
given one by one (``--set data.livec=PATH``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from ..core.errors import DataError
from .records import Dataset
from .registry import find_release, get_spec


def release_folder(name: str, data_root: Optional[str], paths: dict) -> Path:
    """The folder of release ``name``: ``paths[name]`` if given, else found under
    ``data_root`` by its aliases. DataError saying what to do when neither works."""
    spec = get_spec(name)
    if paths.get(name):
        folder = Path(paths[name]).expanduser()
        if not folder.is_dir():
            raise DataError(f"data.{name}={folder} is not a directory")
        return folder
    if not data_root:
        raise DataError(
            f"dataset '{name}' is a public release that must be on disk: pass --data-root DIR "
            f"(holding a folder named one of: {', '.join((spec.name,) + spec.aliases)}) or "
            f"--set data.{name}=PATH; without data the synthetic sets syn-kadid, syn-wild and "
            "syn-mlive are used")
    folder = find_release(spec, Path(data_root).expanduser())
    if folder is None:
        raise DataError(
            f"no folder for '{name}' under {data_root}; expected one named "
            f"{' or '.join((spec.name,) + spec.aliases)} (case-insensitive)")
    return folder


def open_dataset(name: str, data_root: Optional[str] = None, paths: Optional[dict] = None,
                 synthetic_seed: int = 0, log: Callable[[str], None] = print) -> Dataset:
    """Load dataset ``name`` (records only; images are decoded later by the cache)."""
    spec = get_spec(name)
    if spec.synthetic:
        from .synthetic.domains import ensure_domain_set, is_domain_set
        from .synthetic.suite import ensure_suite

        if is_domain_set(name):  # generated apart, only when asked for
            root = ensure_domain_set(name, synthetic_seed, log=log)
        else:
            root = ensure_suite(synthetic_seed, log=log) / name
    else:
        root = release_folder(name, data_root, paths or {})
    ds = spec.load(root)
    if not ds.records:
        raise DataError(f"dataset '{name}' at {root} has no images listed in its score file")
    return ds


def label_source(name: str) -> tuple[str, ...]:
    """The full-reference metrics dataset ``name``'s scores were computed from: ('gmsd',
    'nlpd', 'fsim', 'ciede2000') for the synthetic sets (their pseudo-MOS), () for human
    scores. Nothing is generated or read from disk."""
    return tuple(get_spec(name).extra.get("label_source", ()))
