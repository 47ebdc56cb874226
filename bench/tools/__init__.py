"""The logic behind the commands that are tools rather than the engine: submission scoring
(:mod:`bench.tools.scoring`, :mod:`bench.tools.submission`), environment checks before a run
(:mod:`bench.tools.environment`) and the listing of what is registered
(:mod:`bench.tools.listing`). ``bench/commands/`` only parses options and prints."""
