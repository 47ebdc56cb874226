"""Loaders of the public datasets in their official layouts (docs/design.md).

Importing this package imports every loader module, and each registers itself with
:func:`bench.data.registry.register_dataset`. Shared parsing helpers live in
:mod:`._common`.
"""
from . import cid2013, kadid10k, koniq10k, livec, metainfo, mlive, tid2013

__all__ = ["cid2013", "kadid10k", "koniq10k", "livec", "metainfo", "mlive", "tid2013"]
