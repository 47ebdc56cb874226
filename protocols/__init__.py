"""Evaluation protocols, one module each; every module registers itself on import."""
