"""Classical no-reference quality methods: the feature API (:mod:`.api`: ``extract``,
``fit_codebook``, ``fit``, ``predict``, ``fit_pristine``, ``score``), the per-dataset feature
cache (:mod:`.cache`), and the harness methods registered from them (:mod:`.registered`:
brisque, niqe, cornia, hosa, bliinds2).

Importing this package registers the methods; the heavy imports (pyiqa, scikit-learn) wait
until a method is used, so the method registry's discovery of ``methods.*`` stays cheap.
"""
from . import registered  # noqa: F401  (registers the methods)
