"""Causal-IQA (Zhong et al., ICML 2024): the counterfactual division's settings, the Reptile
meta step and the shared base of the serial (CIS) and parallel (CIP) paradigms, with the
paper's ablations. Importing the package registers cis, cip and their ablations."""
from . import cip, cis  # noqa: F401  (they register themselves)
