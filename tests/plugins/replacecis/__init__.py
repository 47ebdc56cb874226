"""A tiny plug-in that replaces two built-in names on purpose (``override=True``): the
method ``cis`` and the protocol ``lodo``. Installed in tests through real package metadata
(tests/test_plugin_provenance.py); the harness must warn, naming this module and the
replaced entries, and record this distribution as the provenance of their runs."""
from bench.core.registry import METHODS, PROTOCOLS
from bench.methods.erm import ERM
from bench.protocols.lodo import LeaveOneDistortionOut


@METHODS.register("cis", override=True)
class NotCIS(ERM):
    """ERM passing itself off as CIS."""

    display = "CIS"


@PROTOCOLS.register("lodo", override=True)
class PLCCLodo(LeaveOneDistortionOut):
    """LODO ranked by PLCC."""

    headline = "plcc"
