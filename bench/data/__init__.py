"""Datasets: records, the loader registry, the official-layout loaders, the synthetic
suite, the decoded-image cache and the image banks, and the guard that keeps pyiqa offline
and its loads weights-only (the synthetic pseudo-MOS needs it). This package imports
nothing of ``bench`` but ``bench.core`` (tests/test_import_contract.py)."""
