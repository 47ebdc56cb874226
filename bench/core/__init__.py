"""The lowest layer: errors, declared settings, registries, profiles and config resolution,
the run record and its folder, summaries, metrics, atomic files. It imports nothing else
of ``bench``."""
