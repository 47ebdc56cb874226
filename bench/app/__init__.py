"""The application layer: what uses the engine for a purpose. Reading finished runs into
a table (:mod:`~bench.app.results`), planning sweeps (:mod:`~bench.app.sweep`) and running
them (:mod:`~bench.app.launchers`, :mod:`~bench.app.fold_workers`), scoring outside
predictions (:mod:`~bench.app.scoring`, :mod:`~bench.app.submission`), the checks before a
run (:mod:`~bench.app.environment`), the listing of what is registered
(:mod:`~bench.app.listing`) and the speed measurement (:mod:`~bench.app.speed`).
``bench/commands/`` only parses options into these and prints."""
