"""Helpers several methods share: the one package a method may import besides its own
(tests/test_import_contract.py). The counterfactual division and its per-subset batches
(:mod:`.division`, :mod:`.subsets`: the causal methods, MetaIQA's tasks), the Reptile meta
step and its inner Adam (:mod:`.reptile`), BatchNorm utilities (:mod:`.batchnorm`) and the
pieces of a method that trains no network (:mod:`.no_network`). It registers no method."""
