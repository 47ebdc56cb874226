"""Figure 9 and Table 1: `python -m bench explain RUN IMAGE...` (gradient saliency maps of a
trained model saved in a run folder) and Table 1 (datasets found beside the paper's)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.cli import main as cli_main
from bench.data.records import Dataset, Record
from bench.engine.models import build_model
from bench.core.profiles import profile_config
from bench.reports.render import render_table
from bench.reports.table1 import DatasetFacts, build_table1, collect_datasets, facts_of

from layouts import build_kadid10k


def fake_run(folder: Path, with_model: bool = True) -> Path:
    """A run folder like the runner writes, holding a (random) smoke-profile model."""
    cfg = profile_config("smoke")
    cfg.update(protocol={"name": "lodo", "dataset": "syn-kadid"}, method="cis", fold="GB")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    if with_model:
        torch.manual_seed(0)
        model, _ = build_model(cfg["model"], lambda m: None)
        torch.save(model.state_dict(), folder / "model.pt")
    return folder


def make_image(path: Path, width: int = 61, height: int = 47) -> Path:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 4 % 256, yy * 5 % 256, (xx + yy) * 3 % 256], -1).astype(np.uint8)
    img[10:25, 20:40] = rng.integers(0, 256, (15, 20, 3))       # a noisy patch
    Image.fromarray(img).save(path)
    return path


def test_explain_writes_maps_of_the_image_size(tmp_path, capsys):
    run = fake_run(tmp_path / "runs" / "lodo-cis-GB-abc")
    imgs = [make_image(tmp_path / "a.png"), make_image(tmp_path / "b.png", 40, 40)]
    out = tmp_path / "maps"
    assert cli_main(["explain", str(run), *map(str, imgs), "--out", str(out)]) == 0
    for img in imgs:
        w, h = Image.open(img).size
        for kind in ("saliency", "gradient"):
            path = out / f"{img.stem}_{kind}.png"
            arr = np.asarray(Image.open(path))
            assert Image.open(path).size == (w, h)
            assert arr.std() > 0                                     # not constant
    grad = np.asarray(Image.open(out / "a_gradient.png"), dtype=float)
    assert grad.max() > 128                                          # normalised, then resized
    assert (out / "saliency_panel.png").is_file()
    printed = capsys.readouterr().out
    assert "prediction" in printed and "a_saliency.png" in printed
    assert not list(out.glob(".*"))                                  # atomic: no temp files


def test_gradient_map_is_normalised(tmp_path):
    from bench.reports.saliency import gradient_map, load_model

    model, cfg = load_model(fake_run(tmp_path / "run"))
    crop = cfg["data"]["crop"]
    img = np.random.default_rng(1).integers(0, 256, (crop, crop, 3), dtype=np.uint8)
    sal, pred = gradient_map(model, img)
    assert sal.shape == (crop, crop) and sal.max() == pytest.approx(1.0) and sal.min() >= 0
    with torch.no_grad():
        x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
        assert pred == pytest.approx(float(model(x)[0]), abs=1e-6)


def test_full_image_mode_sees_every_pixel(tmp_path):
    from bench.reports.saliency import explain

    run = fake_run(tmp_path / "run")
    img = make_image(tmp_path / "a.png")
    done = explain(run, [img], tmp_path / "full", full=True)
    grad = np.asarray(Image.open(done[0].gradient), dtype=float)
    assert grad[:3].mean() > 0 and grad[:, :3].mean() > 0            # borders got gradient too
    assert 0.0 <= done[0].prediction <= 1.0


def test_run_without_model_is_a_one_line_error(tmp_path, capsys):
    run = fake_run(tmp_path / "old-run", with_model=False)
    img = make_image(tmp_path / "a.png")
    assert cli_main(["explain", str(run), str(img)]) == 1          # no done marker either
    assert "is not finished" in capsys.readouterr().err
    (run / "metrics.json").write_text(json.dumps({"model_dir": "runs/models/cis-123"}))
    (run / "done").write_text("")
    assert cli_main(["explain", str(run), str(img)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench: error:") and "no saved model" in err and err.count("\n") == 1
    assert "runs/models/cis-123" in err
    assert cli_main(["explain", str(tmp_path / "nope"), str(img)]) == 1
    assert "not a run folder" in capsys.readouterr().err


# --- Table 1 -------------------------------------------------------------------------------

def rows_of(grid) -> dict[str, list[str]]:
    return {r.stubs[0]: [c.text for c in r.cells] for r in grid.rows}


def test_table1_paper_alone_reproduces_the_published_rows():
    grid = build_table1(None)
    rows = rows_of(grid)
    assert rows["TID2013"] == ["3,000", "[0,9]", "Synthetic"]
    assert rows["CID2013"] == ["480", "[0,100]", "Authentic"]
    assert rows["KonIQ-10K"] == ["10,073", "[1,5]", "Authentic"]
    assert len(rows) == 5 and grid.caption.startswith("Table 1.")
    assert "| LIVE-C | 1,162 |" in render_table(grid, "markdown")


def test_table1_found_beside_paper(tmp_path):
    build_kadid10k(tmp_path / "KADID-10k")
    found = collect_datasets(str(tmp_path), synthetic=False)
    assert [f.name for f in found] == ["kadid10k"] and found[0].images == 12
    syn = Dataset("syn-wild", tmp_path, [Record("a.png", 0.2, 0.2), Record("b.png", 0.9, 0.9)],
                  "authentic")
    found.append(facts_of(syn, synthetic=True))
    found.append(DatasetFacts("livec", folder="/x", error="score file missing"))
    grid = build_table1(found)
    rows = rows_of(grid)
    # found / paper pairs: number, MOS range (raw DMOS of the release), distortion type
    assert rows["KADID-10K (kadid10k)"] == ["12", "10,125", "[1.1, 4.67]", "[1,5]", "Synthetic", "Synthetic"]
    assert rows["syn-wild"] == ["2", "-", "[0.2, 0.9]", "-", "Authentic", "-"]
    assert rows["LIVE-C (livec)"][:2] == ["-", "1,162"]
    notes = " ".join(grid.notes)
    assert "12 images found, the paper lists 10,125" in notes and "could not be read" in notes
    tex = render_table(grid, "latex")
    assert tex.count(r"\multicolumn{2}{c}") == 3 and r"\\" in tex


def test_report_table1_needs_no_runs(tmp_path, monkeypatch):
    from bench.reports import table1

    build_kadid10k(tmp_path / "data" / "kadid10k")
    out = tmp_path / "rep"
    real = table1.collect_datasets                       # no synthetic suite in tests
    monkeypatch.setattr(table1, "collect_datasets",
                        lambda root, paths, log=print: real(root, paths, synthetic=False))
    assert cli_main(["report", "--runs", str(tmp_path / "none"), "--data-root",
                     str(tmp_path / "data"), "--out", str(out), "--format", "html"]) == 0
    assert (out / "table01.html").is_file() and "KADID-10K" in (out / "index.html").read_text()
    assert cli_main(["report", "--paper", "--table1", "--tables", "3", "--format", "latex",
                     "--out", str(out / "p")]) == 0
    assert sorted(p.name for p in (out / "p").iterdir()) == ["report.tex", "table01.tex", "table03.tex"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
