"""IQA generalization benchmark: the engine (CLI, config, data, training loop, runs, metrics).

Nothing in this package names a specific method or protocol; they plug in through
the registries in :mod:`bench.registry`.
"""

__version__ = "0.1.0"
