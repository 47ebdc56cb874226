"""Deep no-reference baselines trained under the harness's engine (ERM's sampling, crops,
image budget and backbone initialisation rules): WaDIQaM-NR, HyperIQA and DBCNN, one module
each; importing this package registers them."""
from . import dbcnn, hyperiqa, wadiqam  # noqa: F401  (registers the methods)
