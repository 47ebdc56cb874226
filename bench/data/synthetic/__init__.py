"""Synthetic data: the KADID-10k distortions and the embedded suite built from them."""
