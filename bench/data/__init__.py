"""Datasets: records, the loader registry, the official-layout loaders, the synthetic
suite and the decoded-image cache. This package imports nothing from the rest of
``bench`` except the leaf module :mod:`bench.core.errors`."""
