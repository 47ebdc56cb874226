"""End to end through the command line (`bench.cli.main`) on a tiny on-disk release:
same command and seed -> identical metrics; done folds are skipped and unfinished ones
redone; the run folder's files and columns; a NaN loss stops the run with one clear line
and no done marker. The synthetic suite is never generated (it is patched to fail)."""
from __future__ import annotations

import csv
import shutil
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import bench.engine.models
import bench.engine.engine
from bench.cli import main
from bench.data.records import Dataset, Record
from bench.data.registry import DATASETS, DatasetSpec, dataset_names
from bench.data.synthetic import suite

NAME = "tinyrel"
TYPES = ("A", "B", "C")
LEVELS = (1, 2)
REFS = 4
METRIC_KEYS = {"srocc", "plcc", "krcc", "plcc_logistic", "n", "protocol", "fold", "method",
               "dataset", "seed"}
TIMING_KEYS = {"train_seconds"}


def write_release(root: Path, seed: int = 0) -> Path:
    """A tiny release: 24x24 PNG references and distorted images (types x levels x refs)
    and a labels.csv (image, ref_image, ref, type, level, mos). MOS falls with level."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    rows = []
    for r in range(REFS):
        base = np.kron(rng.uniform(30, 225, size=(3, 3, 3)), np.ones((8, 8, 1)))
        Image.fromarray(base.astype(np.uint8)).save(root / f"ref{r}.png")
        for t in TYPES:
            for lv in LEVELS:
                if t == "A":
                    img = base + rng.normal(0, 25 * lv, base.shape)
                elif t == "B":
                    img = base * (1 - 0.3 * lv)
                else:
                    img = np.floor(base / (32 * lv)) * 32 * lv
                name = f"img_{r}_{t}_{lv}.png"
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / name)
                rows.append({"image": name, "ref_image": f"ref{r}.png", "ref": f"ref{r}",
                             "type": t, "level": lv, "mos": 0.9 - 0.2 * lv + 0.03 * r})
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


def load_release(root: Path) -> Dataset:
    """Loader of the tiny release written by :func:`write_release`."""
    with open(Path(root) / "labels.csv", newline="") as fh:
        records = [Record(image=r["image"], mos=float(r["mos"]), mos_raw=float(r["mos"]),
                          ref=r["ref"], ref_image=r["ref_image"], dist_type=r["type"],
                          level=int(r["level"])) for r in csv.DictReader(fh)]
    return Dataset(NAME, Path(root), records, "synthetic", list(TYPES))


@pytest.fixture()
def release(tmp_path, monkeypatch):
    """Register the tiny release as dataset 'tinyrel' (a real, non-synthetic release read
    from --set data.tinyrel=PATH), point BENCH_CACHE at tmp, forbid the synthetic suite,
    run torch on one thread. Returns the release folder."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    dataset_names()  # import the real loaders first, so the registry is complete
    monkeypatch.setitem(DATASETS, NAME, DatasetSpec(NAME, load_release, kind="synthetic",
                                                    synthetic=False))

    def no_suite(*a, **k):
        raise AssertionError("the synthetic suite must not be generated in these tests")

    monkeypatch.setattr(suite, "ensure_suite", no_suite)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield write_release(tmp_path / "release")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def run_cli(release: Path, out: Path, *extra: str, method: str = "cis", folds: str = "A,B") -> int:
    """`python -m bench run` LODO on the tiny release, smoke profile, seed 3, CPU."""
    return main(["run", "--protocol", "lodo", "--method", method, "--profile", "smoke",
                 "--dataset", NAME, "--folds", folds, "--seed", "3", "--device", "cpu",
                 "--set", f"data.{NAME}={release}", "--out", str(out), "--quiet", *extra])


def run_folders(out: Path) -> dict[str, Path]:
    """Fold name -> its run folder under ``out``."""
    found = {}
    for cfg in sorted(Path(out).glob("*/config.json")):
        found[json.loads(cfg.read_text())["fold"]] = cfg.parent
    return found


def mtimes(folder: Path) -> dict[str, int]:
    """File name -> mtime (ns) of the result files of a run folder."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith(".")}


def metrics_without_timing(folder: Path) -> dict:
    """metrics.json of a run folder less its wall-clock fields."""
    m = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in TIMING_KEYS}


def test_same_command_same_seed_gives_identical_runs(release, tmp_path, capsys):
    assert run_cli(release, tmp_path / "out1") == 0
    assert run_cli(release, tmp_path / "out2") == 0
    one, two = run_folders(tmp_path / "out1"), run_folders(tmp_path / "out2")
    assert set(one) == set(two) == {"A", "B"}
    for fold in ("A", "B"):
        assert one[fold].name == two[fold].name                  # same config hash
        m1, m2 = metrics_without_timing(one[fold]), metrics_without_timing(two[fold])
        assert m1 == m2
        assert np.isfinite(m1["srocc"]) and len(m1["loss_history"]) == 2
        assert (one[fold] / "predictions.csv").read_text() == (two[fold] / "predictions.csv").read_text()
    # the two folds are different runs (different held-out type, different numbers)
    assert metrics_without_timing(one["A"])["loss_history"] != metrics_without_timing(one["B"])["loss_history"]


def test_run_folder_contents(release, tmp_path, capsys):
    assert run_cli(release, tmp_path / "out") == 0
    folders = run_folders(tmp_path / "out")
    for fold, folder in folders.items():
        assert {"config.json", "predictions.csv", "metrics.json", "done"} <= {p.name for p in folder.iterdir()}
        cfg = json.loads((folder / "config.json").read_text())
        assert cfg["fold"] == fold and cfg["method"] == "cis" and cfg["seed"] == 3
        assert cfg["protocol"] == {"name": "lodo", "dataset": NAME, "validation": False}
        m = json.loads((folder / "metrics.json").read_text())
        assert METRIC_KEYS <= set(m)
        assert (m["protocol"], m["fold"], m["method"], m["dataset"], m["seed"]) == ("lodo", fold, "cis", NAME, 3)
        assert m["n"] == len(LEVELS) * REFS                      # the held-out type's images
        with open(folder / "predictions.csv", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == ["target", "image", "mos", "prediction"]
            rows = list(reader)
        assert len(rows) == m["n"]
        assert {r["image"].split("_")[2] for r in rows} == {fold}   # only the held-out type
        preds = [float(r["prediction"]) for r in rows]
        assert all(0.0 <= p <= 1.0 for p in preds)
    out = capsys.readouterr().out
    assert NAME in out and "SROCC" in out                          # the summary table
    assert {line.split()[0] for line in out.splitlines() if line[:2] in ("A ", "B ")} == {"A", "B"}


def test_done_runs_are_skipped_and_unfinished_ones_redone(release, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run_cli(release, out) == 0
    folders = run_folders(out)
    before = {f: mtimes(folder) for f, folder in folders.items()}
    first_metrics = metrics_without_timing(folders["A"])
    capsys.readouterr()

    # both folds done: nothing is trained (building a model would fail) and nothing rewritten
    real_build = bench.engine.models.build_model

    def no_build(*a, **k):
        raise AssertionError("a done fold was trained again")

    monkeypatch.setattr(bench.engine.models, "build_model", no_build)
    assert run_cli(release, out) == 0
    assert capsys.readouterr().err.count("done already") == 2
    assert {f: mtimes(folder) for f, folder in folders.items()} == before

    # fold A loses its done marker: A is redone from scratch, B stays as it was
    monkeypatch.setattr(bench.engine.models, "build_model", real_build)
    (folders["A"] / "done").unlink()
    assert run_cli(release, out) == 0
    assert (folders["A"] / "done").is_file()
    after_a = mtimes(folders["A"])
    assert after_a["metrics.json"] > before["A"]["metrics.json"]
    assert metrics_without_timing(folders["A"]) == first_metrics      # same numbers again
    assert mtimes(folders["B"]) == before["B"]
    assert run_folders(out) == folders                                 # no new folder


def test_nan_loss_stops_with_one_line_and_no_done_marker(release, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(bench.engine.engine.LOSSES, "l1", lambda p, y: (p - y).abs() * float("nan"))
    out = tmp_path / "out"
    assert run_cli(release, out, folds="A") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("bench: error:")]
    assert len(errors) == 1
    assert "training loss became nan" in errors[0] and "without a done marker" in errors[0]
    # the failed run leaves no config-only folder behind (issue 11 item 10)
    assert not out.exists() or list(out.iterdir()) == []


def test_a_done_folder_that_fails_validation_is_redone(release, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(release, out, folds="A") == 0
    folder = run_folders(out)["A"]
    good = metrics_without_timing(folder)
    (folder / "predictions.csv").unlink()                 # 'done' but incomplete
    capsys.readouterr()
    assert run_cli(release, out, folds="A") == 0
    assert "no predictions.csv" in capsys.readouterr().err
    assert (folder / "predictions.csv").is_file()
    assert metrics_without_timing(folder) == good


def test_changed_data_is_a_new_run_not_done_already(release, tmp_path, capsys):
    """Run identity covers the data: the same command on a release with one more image
    of the held-out type trains and tests again (data.root/paths stay out of the hash
    only because the records' fingerprint is in it)."""
    out = tmp_path / "out"
    assert run_cli(release, out, folds="A") == 0
    first = run_folders(out)["A"]
    n_before = json.loads((first / "metrics.json").read_text())["n"]
    bigger = tmp_path / "release2"
    shutil.copytree(release, bigger)
    with open(bigger / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    extra = dict(next(r for r in rows if r["type"] == "A"), image="extra_A.png")
    shutil.copy(bigger / rows[0]["image"], bigger / "extra_A.png")
    with open(bigger / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows + [extra])
    capsys.readouterr()
    assert run_cli(bigger, out, folds="A") == 0
    assert "done already" not in capsys.readouterr().err
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2
    second = next(p for p in folders if p != first)
    assert json.loads((second / "metrics.json").read_text())["n"] == n_before + 1


def test_a_run_restores_torch_threads_and_determinism(release, tmp_path):
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    assert run_cli(release, tmp_path / "out", folds="A") == 0    # smoke: 1 thread, deterministic
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()


def test_interrupted_run_resumes_from_its_checkpoint_to_the_same_result(release, tmp_path,
                                                                         monkeypatch, capsys):
    """Ctrl-C after epoch 1 of 3 (train.checkpoint=true): the folder keeps its checkpoint
    (and config), the rerun resumes from it and ends exactly as an uninterrupted run."""
    import bench.engine.fitting

    args = ("--set", "train.checkpoint=true", "--set", "train.epochs=3")
    assert run_cli(release, tmp_path / "whole", *args, folds="A") == 0
    whole = run_folders(tmp_path / "whole")["A"]
    real = bench.engine.fitting.progress

    def interrupting(desc, epochs):
        bar, history, epoch_done = real(desc, epochs)

        def done(epoch, loss):
            if epoch == 1:
                raise KeyboardInterrupt
            epoch_done(epoch, loss)

        return bar, history, done

    out = tmp_path / "cut"
    monkeypatch.setattr(bench.engine.fitting, "progress", interrupting)
    assert run_cli(release, out, *args, folds="A") == 130
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert (folder / "checkpoint.pt").is_file() and not (folder / "done").exists()
    monkeypatch.setattr(bench.engine.fitting, "progress", real)
    assert run_cli(release, out, *args, folds="A") == 0
    assert not (folder / "checkpoint.pt").exists()
    assert metrics_without_timing(folder) == metrics_without_timing(whole)
    assert (folder / "predictions.csv").read_text() == (whole / "predictions.csv").read_text()
