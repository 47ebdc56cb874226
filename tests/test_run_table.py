"""`run`'s printed tables, on records written by the one record writer: the summary rows
come from the protocol (every column filled, sample std), say when folds are missing, and
both layouts print SROCC before PLCC."""
from __future__ import annotations

import numpy as np
import pytest

from bench.commands.run import fold_table, target_table
from bench.core.record import RunFolder
from bench.core.registry import PROTOCOLS

from fake_runs import make_run


def _records(folders):
    return [RunFolder(f).read() for f in folders]


def test_fold_table_average_fills_every_column(tmp_path):
    recs = _records([make_run(tmp_path, fold=f, fold_count=3) for f in ("GB", "LB", "MB")])
    text = fold_table(recs, PROTOCOLS.get("lodo"))
    avg = next(line for line in text.splitlines() if line.startswith("AVERAGE"))
    cells = avg.split()
    assert cells[0] == "AVERAGE" and len(cells) == 5                  # SROCC PLCC KRCC n
    assert float(cells[1]) == pytest.approx(np.mean([r.targets["syn-kadid"]["srocc"] for r in recs]), abs=1e-4)
    assert float(cells[3]) == pytest.approx(np.mean([r.targets["syn-kadid"]["krcc"] for r in recs]), abs=1e-4)
    assert int(cells[4]) == 90
    std = next(line for line in text.splitlines() if line.startswith("STD"))
    assert "n=3" in std
    sr = [r.targets["syn-kadid"]["srocc"] for r in recs]
    assert float(std.split(")")[1].split()[0]) == pytest.approx(np.std(sr, ddof=1), abs=1e-4)


def test_fold_table_says_when_folds_are_missing(tmp_path):
    """A worker sharing a run with another prints an AVERAGE over its own folds only."""
    recs = _records([make_run(tmp_path, fold=f, fold_count=25) for f in ("GB", "LB")])
    text = fold_table(recs, PROTOCOLS.get("lodo"))
    assert "AVERAGE over 2 of 25 folds" in text
    one = fold_table(recs[:1], PROTOCOLS.get("lodo"))
    assert "AVERAGE over 1 of 25 folds" in one


def test_cross_and_lodo_print_srocc_before_plcc(tmp_path):
    lodo = fold_table(_records([make_run(tmp_path / "a", fold="GB")]), PROTOCOLS.get("lodo"))
    cross = target_table(_records([make_run(tmp_path / "b", "cross", fold="all", target="syn-wild")]),
                         PROTOCOLS.get("cross"))
    for text in (lodo, cross):
        header = next(line for line in text.splitlines() if "SROCC" in line)
        assert header.index("SROCC") < header.index("PLCC")


def test_finetune_table_summary_is_the_median_over_splits(tmp_path):
    recs = _records([make_run(tmp_path, "finetune", fold=f"syn-wild-s{k}", target="syn-wild",
                              split=k, fold_count=3) for k in range(3)])
    text = target_table(recs, PROTOCOLS.get("finetune"))
    median = next(line for line in text.splitlines() if line.startswith("MEDIAN"))
    sr = [r.targets["syn-wild"]["srocc"] for r in recs]
    assert float(median.split()[1]) == pytest.approx(np.median(sr), abs=1e-4)
    n_row = next(line for line in text.splitlines() if line.startswith("n "))
    assert n_row.split()[1] == "3/3"


def test_run_command_on_the_run_fold_contract(tmp_path, monkeypatch, capsys):
    """run_fold returns (RunFolder, RunRecord), or None while another worker holds the
    folder: `run` prints the short summary (not the config), the table over the folds it
    has, and says the set is incomplete."""
    from types import SimpleNamespace

    import bench.engine.fold
    import bench.engine.session
    from bench.cli import main
    from bench.engine.protocol import Fold
    from bench.engine.stages import Fit

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    made = {f: make_run(tmp_path / "made", fold=f, fold_count=3) for f in ("GB", "LB")}
    folds = [Fold(name, [Fit([("syn-kadid", [])])]) for name in ("GB", "LB", "MB")]
    session = SimpleNamespace(folds=folds, protocol=PROTOCOLS.get("lodo")())
    monkeypatch.setattr(bench.engine.session, "prepare", lambda cfg, log: session)

    def run_fold(s, fold, out, log, position=""):
        if fold.name not in made:
            return None
        run = RunFolder(made[fold.name])
        return run, run.read()

    monkeypatch.setattr(bench.engine.fold, "run_fold", run_fold)
    assert main(["run", "--profile", "smoke", "--method", "cis", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "run: method cis, protocol lodo on syn-kadid, profile smoke, seed 0, 3 fold(s)" in captured.err
    assert "resolved config" not in captured.err and len(captured.err.splitlines()) == 2
    assert "AVERAGE over 2 of 3 folds" in captured.out
    assert "1 of 3 fold(s) are being run by another worker (MB)" in captured.out
