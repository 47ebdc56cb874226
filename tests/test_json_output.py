"""Machine-readable output (issue 22): `--json` on list, run, check, compare, score and
data list/check/card prints one JSON object on stdout (logs on stderr, NaN as null); a
closed pipe ends quietly; the usage line names the program as it was started."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main as cli_main, program_name
from bench.commands.options import print_json
from bench.core.registry import METHODS, PROTOCOLS

from fake_runs import make_run
from test_run import release, run_cli  # noqa: F401 - the tiny release fixture

ROOT = Path(__file__).resolve().parents[1]


def _json(capsys) -> object:
    out = capsys.readouterr().out
    return json.loads(out)


def test_nan_and_numpy_values_are_written_as_json(capsys):
    print_json({"a": float("nan"), "b": np.float32(0.5), "c": np.arange(2), "d": Path("x"),
                "e": (1, float("inf"))})
    assert _json(capsys) == {"a": None, "b": 0.5, "c": [0, 1], "d": "x", "e": [1, None]}


def test_list_json_names_every_method_protocol_and_family(capsys):
    assert cli_main(["list", "--json"]) == 0
    got = _json(capsys)
    names = {m["name"] for m in got["methods"]}
    assert set(METHODS.names()) <= names
    families = [m for m in got["methods"] if m["family"]]
    assert {f["name"] for f in families} == set(METHODS.families())
    assert all(f["description"] for f in families)
    assert [p["name"] for p in got["protocols"]] == sorted(
        PROTOCOLS.names(), key=lambda n: (PROTOCOLS.get(n).order, n))
    assert {"name", "kind", "description"} <= set(got["datasets"][0])


def test_run_json_is_the_summary(release, tmp_path, capsys):  # noqa: F811
    assert run_cli(release, tmp_path / "out", "--json", method="erm") == 0
    got = _json(capsys)
    assert got["method"] == "erm" and got["protocol"] == "lodo" and got["seed"] == 3
    assert [r["fold"] for r in got["folds"]] == ["A", "B"]
    summary = got["summary"]["tinyrel"]
    assert summary["units"] == 2 and summary["statistic"] == "mean"
    want = np.mean([r["srocc"] for r in got["folds"]])
    assert summary["metrics"]["srocc"]["value"] == pytest.approx(want)


@pytest.fixture()
def pair_runs(tmp_path):
    root = tmp_path / "runs"
    for fold in ("GB", "LB", "MB"):
        make_run(root, "lodo", "cis", fold=fold, noise=0.2)
        make_run(root, "lodo", "erm", fold=fold, noise=0.6)
    return root


def test_compare_json_holds_the_pairs_and_tests(pair_runs, capsys):
    assert cli_main(["compare", "cis", "erm", "--runs", str(pair_runs), "--json"]) == 0
    got = _json(capsys)
    lodo = got["protocols"]["lodo"]
    assert len(lodo["pairs"]) == 3 and lodo["tests"]["n"] == 3
    diffs = [p["a"] - p["b"] for p in lodo["pairs"]]
    assert lodo["tests"]["mean_diff"] == pytest.approx(np.mean(diffs))


def test_check_json_verdict_and_status(pair_runs, tmp_path, capsys):
    base = tmp_path / "base.csv"
    assert cli_main(["check", "--write-baseline", str(base), "--runs", str(pair_runs),
                     "--tolerance", "0"]) == 0
    capsys.readouterr()
    rc = cli_main(["check", "--baseline", str(base), "--runs", str(pair_runs), "--json"])
    got = _json(capsys)
    assert {r["status"] for r in got["rows"]} <= {"ok", "UNVERIFIED", "INCOMPLETE"}
    assert (rc == 0) == (got["verdict"] == "ok")
    text = base.read_text().splitlines()
    head, rows = text[0], text[1:]
    cols = head.split(",")
    bumped = []
    for line in rows:
        cells = line.split(",")
        cells[cols.index("value")] = str(float(cells[cols.index("value")]) + 0.5)
        bumped.append(",".join(cells))
    base.write_text("\n".join([head, *bumped]) + "\n")
    assert cli_main(["check", "--baseline", str(base), "--runs", str(pair_runs), "--json"]) == 1
    got = _json(capsys)
    assert got["verdict"] in ("regressed", "cannot compare")


def test_data_check_json_without_releases(capsys):
    assert cli_main(["data", "check", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": False, "datasets": []}
    assert "no dataset release found" in captured.err


def test_program_name_is_the_console_scripts():
    assert program_name("/venv/bin/iqa-bench") == "iqa-bench"
    assert program_name("/x/bench/__main__.py") == "python -m bench"


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.slow
def test_console_script_usage_says_its_name(tmp_path):
    script = _script(tmp_path, "iqa-bench", """\
        import sys
        from bench.cli import main
        sys.exit(main())
        """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(script), "list", "--help"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("usage: iqa-bench list "), out.stdout
    out = subprocess.run([sys.executable, str(script), "nosuchcommand"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("iqa-bench: error: "), out.stderr


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path):
    """A reader that stops after one line (`| head -1`) leaves exit status 0 and no
    traceback, even when the command still has far more to print than a pipe holds."""
    script = _script(tmp_path, "iqa-bench", """\
        import sys
        import bench.commands.list as cmd
        from bench.cli import main

        def main_printing_a_lot(args):
            for i in range(200000):
                print(f"line {i}")
            return 0

        cmd.main = main_printing_a_lot
        sys.exit(main(["list"]))
        """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
