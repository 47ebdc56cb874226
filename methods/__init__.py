"""Training paradigms, one module each; every module registers its methods on import."""
