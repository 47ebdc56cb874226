"""Every loader refuses the rows a score file must not hold (a non-finite score, a score
off the release's scale, an image listed twice, an image path leading out of the release
folder), naming the file and the line, as a one-line DataError: so `run` (through
open_dataset) and `data check` both refuse them. The real label lists still load."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench.data.check import check_dataset
from bench.data.loaders._common import escapes_root
from bench.data.loaders.cid2013 import load_cid2013
from bench.data.loaders.kadid10k import load_kadid10k
from bench.data.loaders.koniq10k import load_koniq10k
from bench.data.loaders.livec import load_livec
from bench.data.loaders.metainfo import load_metainfo
from bench.data.loaders.mlive import load_mlive
from bench.data.loaders.tid2013 import load_tid2013
from bench.data.open import open_dataset
from bench.data.registry import DATASETS
from bench.core.errors import DataError

try:
    from tests import layouts
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    import layouts

LABELS = layouts.reference_labels_dir()
needs_labels = pytest.mark.skipif(not LABELS.is_dir(), reason=f"reference-label lists not found at {LABELS}")

# Per text loader: build, score file, line format, the line an appended row gets,
# a fresh valid name, a listed name, and a score off its scale.
TEXT_LOADERS = {
    "tid2013": (layouts.build_tid2013, load_tid2013, "mos_with_names.txt", "{score} {name}",
                len(layouts.TID2013_ROWS) + 1, "i01_01_2.bmp", "i01_01_1.bmp", "99"),
    "kadid10k": (layouts.build_kadid10k, load_kadid10k, "dmos.csv", "{name},I01.png,{score},0.5",
                 len(layouts.KADID10K_ROWS) + 2, "I01_01_02.png", "I01_01_01.png", "99"),
    "koniq10k": (layouts.build_koniq10k, load_koniq10k, "koniq10k_scores_and_distributions.csv",
                 '"{name}",0,1,10,80,9,100,{score},0.6,70.1', len(layouts.KONIQ10K_ROWS) + 2,
                 "1.jpg", "10004473376.jpg", "99"),
    "cid2013": (lambda r: layouts.build_cid2013(r, scores="csv"), load_cid2013, "scores.csv",
                "{name},{score}", len(layouts.CID2013_ROWS) + 2, "IS1/co1/IS_I_C01_D09.jpg",
                "IS1/co1/IS_I_C01_D01.jpg", "999"),
    "mlive": (lambda r: layouts.build_mlive(r, scores="csv"), load_mlive, "scores.csv", "{name},{score}",
              sum(len(v) for v in layouts.MLIVE_ROWS.values()) + 2,
              "To_Release/Part_1/blurjpeg/cows_blur3.bmp", "To_Release/Part_1/blurjpeg/cows_blur1.bmp", "150"),
}
SCORES_OK = {"tid2013": "4", "kadid10k": "3", "koniq10k": "3", "cid2013": "40", "mlive": "40"}


def prefix(loader: str, name: str, how: str) -> str:
    """``name`` made to lead outside the release: with '../' parts or absolute."""
    return f"../../{name}" if how == "dotdot" else f"/tmp/{name}"


def cases():
    for loader in TEXT_LOADERS:
        yield loader, "inf", "not finite"
        yield loader, "-inf", "not finite"
        yield loader, "1e999", "not finite"
        yield loader, "off-scale", "outside the release's scale"
        yield loader, "duplicate", "listed again"
        yield loader, "dotdot", "leads outside"
        yield loader, "absolute", "leads outside"


def write_bad_row(root: Path, loader: str, fault: str) -> tuple:
    build, load, score_file, fmt, line_no, fresh, listed, off = TEXT_LOADERS[loader]
    build(root)
    name, score = fresh, SCORES_OK[loader]
    if fault in ("inf", "-inf", "1e999"):
        score = fault
    elif fault == "off-scale":
        score = off
    elif fault == "duplicate":
        name = listed
    elif fault in ("dotdot", "absolute"):
        name = prefix(loader, fresh, fault)
    path = root / score_file
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + fmt.format(name=name, score=score) + "\n")
    return load, score_file, line_no


@pytest.mark.parametrize("loader, fault, phrase", list(cases()))
def test_text_loaders_refuse_bad_rows_by_line(tmp_path, loader, fault, phrase):
    load, score_file, line_no = write_bad_row(tmp_path, loader, fault)
    with pytest.raises(DataError) as info:
        load(tmp_path)
    message = str(info.value)
    assert score_file in message and f"line {line_no}" in message and phrase in message
    assert "\n" not in message


@pytest.mark.parametrize("loader", list(TEXT_LOADERS))
def test_a_valid_extra_row_still_loads(tmp_path, loader):
    load, _, _ = write_bad_row(tmp_path, loader, "none")
    assert len(load(tmp_path)) > 0


def test_data_check_and_run_refuse_them_too(tmp_path):
    write_bad_row(tmp_path, "kadid10k", "off-scale")
    result = check_dataset(DATASETS["kadid10k"], tmp_path)
    assert not result.ok and "line 14" in result.summary_line() and "scale 1 to 5" in result.summary_line()
    with pytest.raises(DataError, match="line 14"):  # run loads its data through open_dataset
        open_dataset("kadid10k", paths={"kadid10k": str(tmp_path)})


def test_cid2013_keeps_its_slightly_negative_realigned_scores(tmp_path):
    layouts.build_cid2013(tmp_path)
    assert min(r.mos_raw for r in load_cid2013(tmp_path).records) == pytest.approx(-9.549, abs=1e-3)


def test_cid2013_workbook_refuses_an_off_scale_row(tmp_path):
    import pandas as pd

    layouts.build_cid2013(tmp_path)
    book = tmp_path / "CID2013 data - version 12112014.xlsx"
    frame = pd.read_excel(book, sheet_name="CID2013 MOS")
    frame.loc[2, "Realigned MOS"] = 250.0
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        frame.to_excel(xl, sheet_name="CID2013 MOS", index=False)
    with pytest.raises(DataError, match=r"row 4: score 250 is outside"):
        load_cid2013(tmp_path)


@pytest.mark.parametrize("fault, phrase", [("inf", "not finite"), ("150", "outside"),
                                           ("dup", "listed again"), ("../x.bmp", "leads outside")])
def test_livec_refuses_bad_entries_of_its_mat_files(tmp_path, fault, phrase):
    layouts.build_livec(tmp_path)
    rows = layouts.LIVEC_TRAINING + layouts.LIVEC_ROWS
    names, scores = [n for n, _ in rows], [s for _, s in rows]
    if fault == "dup":
        names[-1] = names[-2]
    elif fault.startswith(".."):
        names[-1] = fault
    else:
        scores[-1] = float(fault)
    layouts.save_mat(tmp_path / "Data" / "AllImages_release.mat", AllImages_release=layouts._cell(names))
    layouts.save_mat(tmp_path / "Data" / "AllMOS_release.mat", AllMOS_release=np.array([scores]))
    with pytest.raises(DataError) as info:
        load_livec(tmp_path)
    assert f"entry {len(rows)}" in str(info.value) and phrase in str(info.value)


@pytest.mark.parametrize("fault, phrase", [("inf", "not finite"), ("-5", "outside"),
                                           ("dup", "listed again"), ("/abs.bmp", "leads outside")])
def test_mlive_refuses_bad_entries_of_its_mat_files(tmp_path, fault, phrase):
    layouts.build_mlive(tmp_path)
    rows = layouts.MLIVE_ROWS[2]
    names, dmos = [n for n, _ in rows], [d for _, d in rows]
    if fault == "dup":
        names[-1] = names[0]
    elif fault.startswith("/"):
        names[-1] = fault
    else:
        dmos[-1] = float(fault)
    part = tmp_path / "To_Release" / "Part 2"
    layouts.save_mat(part / "Imagelists.mat", refimgs=layouts._cell(layouts.MLIVE_REFS),
                     distimgs=layouts._cell(names),
                     ref4dist=np.array([[1.0 + n.startswith("wheel")] for n in names]))
    layouts.save_mat(part / "Scores.mat", DMOSscores=np.array([dmos]))
    with pytest.raises(DataError) as info:
        load_mlive(tmp_path)
    assert f"entry {len(rows)}" in str(info.value) and phrase in str(info.value)


@pytest.mark.parametrize("row, kwargs, phrase", [
    ("c.png,inf", {}, "not finite"), ("a.png,3", {}, "listed again"), ("../c.png,3", {}, "leads outside"),
    ("c.png,99", {"mos_min": 1, "mos_max": 5}, "outside"), ("c.png,4,../r.png", {}, "leads outside"),
])
def test_metainfo_refuses_bad_rows(tmp_path, row, kwargs, phrase):
    (tmp_path / "meta_info_x.csv").write_text(f"image,mos,ref_name\na.png,1,r.png\nb.png,2,r.png\n{row}\n")
    with pytest.raises(DataError) as info:
        load_metainfo(tmp_path, **kwargs)
    assert "line 4" in str(info.value) and phrase in str(info.value)


def test_metainfo_without_bounds_takes_any_finite_score(tmp_path):
    (tmp_path / "meta_info_x.csv").write_text("image,mos\na.png,-1000\nb.png,99\n")
    assert [r.mos for r in load_metainfo(tmp_path).records] == [0.0, 1.0]


@pytest.mark.parametrize("name, bad", [("../x", True), ("a/../../x", True), ("/x", True), ("C:x", True),
                                       ("\\\\server\\x", True), ("..\\x", True), ("a/b..c.png", False),
                                       ("Part 1/x.bmp", False), ("..x.png", False)])
def test_escapes_root(name, bad):
    assert escapes_root(name) is bad


# --- the real label lists load through the loaders (no images) ---------------------------

def labels(name: str) -> list[dict]:
    with open(LABELS / name, newline="") as fh:
        return list(csv.DictReader(fh))


def tail(path: str) -> str:
    return path.split("/", 1)[1]


@needs_labels
def test_real_label_lists_pass_the_row_checks(tmp_path):
    tid = tmp_path / "tid"
    tid.mkdir()
    (tid / "mos_with_names.txt").write_text(
        "".join(f"{r['score']} {tail(r['dis_img_path']).rsplit('/', 1)[1]}\n" for r in labels("TID2013.csv")))
    assert len(load_tid2013(tid)) == 3000
    kadid = tmp_path / "kadid"
    kadid.mkdir()
    (kadid / "dmos.csv").write_text("dist_img,ref_img,dmos,var\n" + "".join(
        f"{tail(r['dis_img_path']).rsplit('/', 1)[1]},{tail(r['ref_img_path']).rsplit('/', 1)[1]},{r['score']},0\n"
        for r in labels("KADID-10k.csv")))
    assert len(load_kadid10k(kadid)) == 10125
    koniq = tmp_path / "koniq"
    (koniq / "1024x768").mkdir(parents=True)
    (koniq / "koniq10k_scores_and_distributions.csv").write_text("image_name,MOS\n" + "".join(
        f"{tail(r['dis_img_path']).rsplit('/', 1)[1]},{r['score']}\n" for r in labels("KonIQ-10k.csv")))
    assert len(load_koniq10k(koniq)) == 10073
    cid = tmp_path / "cid"
    cid.mkdir()
    (cid / "scores.csv").write_text("image,score\n" + "".join(
        f"{tail(r['dis_img_path'])},{r['score']}\n" for r in labels("CID2013.csv")))
    assert len(load_cid2013(cid)) == 474
    livec = tmp_path / "livec"
    rows = [(n, s) for n, s in layouts.LIVEC_TRAINING] + [
        (tail(r["dis_img_path"]).rsplit("/", 1)[1], float(r["score"])) for r in labels("LIVE_Challenge.csv")]
    layouts.save_mat(livec / "Data" / "AllImages_release.mat", AllImages_release=layouts._cell([n for n, _ in rows]))
    layouts.save_mat(livec / "Data" / "AllMOS_release.mat", AllMOS_release=np.array([[s for _, s in rows]]))
    assert len(load_livec(livec)) == len(rows) - 7
    mlive = tmp_path / "mlive"
    mlive.mkdir()
    (mlive / "scores.csv").write_text("image,score\n" + "".join(
        f"{tail(r['dis_img_path'])},{r['score']}\n" for r in labels("LIVE_MD.csv")))
    assert len(load_mlive(mlive)) == 450
