"""Plug-ins are visible (issue 19, item 10): a plug-in replacing a built-in name is
announced (its module and the replaced entry), a plug-in calling sys.exit at import is
named and skipped, and every run's identity and record carry where its method and protocol
came from (module, distribution, version). The plug-ins are tiny packages under
tests/plugins/, installed through real package metadata on a subprocess's PYTHONPATH."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.core.config import resolve
from bench.core.registry import METHODS, OWN_DISTRIBUTION, PROTOCOLS
from bench.core.version import __version__
from bench.engine.protocol import Fold
from bench.engine.session import fold_config, provenance

ROOT = Path(__file__).resolve().parents[1]


def install(site: Path, package: str, entry_points: str) -> None:
    """tests/plugins/<package> copied into ``site`` with a dist-info declaring ``entry_points``."""
    shutil.copytree(ROOT / "tests" / "plugins" / package, site / package)
    info = site / f"{package}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(entry_points)


def run_python(site: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "BENCH_CACHE": str(site.parent / "cache")}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


PROBE = """
import json
from bench.core.config import resolve
from bench.core.registry import METHODS, PROTOCOLS
from bench.engine.protocol import Fold
from bench.engine.session import fold_config, provenance
cfg = resolve("smoke", method="cis")
cfg["protocol"] = PROTOCOLS.get("lodo").resolve_options("lodo", {}, False)
print(json.dumps({"method": METHODS.origin("cis"), "protocol": PROTOCOLS.origin("lodo"),
                  "erm": METHODS.origin("erm"), "n": len(METHODS.names()),
                  "plugins": fold_config(cfg, Fold("GB")).get("plugins"),
                  "headline": PROTOCOLS.get("lodo").headline}))
"""


def test_replacing_a_built_in_is_announced_and_recorded(tmp_path):
    site = tmp_path / "site"
    install(site, "replacecis", "[bench.methods]\nnotcis = replacecis\n"
                                "[bench.protocols]\nplcclodo = replacecis\n")
    proc = run_python(site, PROBE)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert any("method 'cis'" in w and "bench.methods.causal.cis" in w
               and "plug-in module 'replacecis'" in w for w in warnings), proc.stderr
    assert any("protocol 'lodo'" in w and "plug-in module 'replacecis'" in w for w in warnings)
    got = json.loads(proc.stdout)
    assert got["headline"] == "plcc"                      # it did replace lodo...
    assert got["method"] == {"module": "replacecis", "object": "NotCIS",
                             "distribution": "replacecis", "version": "0.3"}
    assert got["protocol"]["distribution"] == "replacecis"   # ...and says so
    assert got["erm"]["distribution"] == OWN_DISTRIBUTION
    # its runs are never the built-in's: the identity names the plug-in
    assert got["plugins"]["method"]["distribution"] == "replacecis"
    assert got["plugins"]["protocol"]["version"] == "0.3"


def test_a_plugin_calling_sys_exit_is_named_and_skipped(tmp_path):
    site = tmp_path / "site"
    install(site, "exitplug", "[bench.methods]\nquits = exitplug\n")
    code = ("from bench.core.registry import METHODS\n"
            "print('cis' in METHODS.names(), 'erm' in METHODS.names())\n")
    proc = run_python(site, code)
    assert proc.returncode == 0 and proc.stdout.split() == ["True", "True"], proc.stderr
    assert "'quits = exitplug'" in proc.stderr and "SystemExit" in proc.stderr
    listing = run_python(site, "import sys\nfrom bench.cli import main\nsys.exit(main(['list']))\n")
    assert listing.returncode == 0 and "cis-c" in listing.stdout and "exitplug" in listing.stderr


def test_built_ins_are_recorded_as_the_harness_and_add_nothing_to_the_identity():
    cfg = resolve("smoke", method="cis")
    cfg["protocol"] = PROTOCOLS.get("lodo").resolve_options("lodo", {}, False)
    got = provenance(cfg)
    assert got["method"] == {"module": "bench.methods.causal.cis", "object": "CIS",
                             "distribution": OWN_DISTRIBUTION, "version": __version__}
    assert got["protocol"]["module"] == "bench.protocols.lodo"
    assert "plugins" not in fold_config(cfg, Fold("GB"))
    assert METHODS.origin("pyiqa:piqe")["distribution"] == OWN_DISTRIBUTION    # a family's
    assert METHODS.origin("nosuch") == {}
