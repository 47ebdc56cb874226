"""Classical no-reference quality features and their regressors (issue 12 groundwork).

Independent of the harness's method contract: nothing here registers a method. The API is
in :mod:`methods.classical.api` (``extract``, ``fit_codebook``, ``fit``, ``predict``,
``fit_pristine``, ``score``); this package file imports nothing, so the method registry's
discovery of ``methods.*`` stays cheap.
"""
