"""The official-layout loaders and ``bench data check``, on tiny stand-in releases
(tests/layouts.py) and on the full-size reference-label lists (no images)."""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from bench.data.check import CheckResult, check_dataset
from bench.data.distortion_types import KADID10K_TYPES, TID2013_TYPES, abbreviation_of, abbreviations
from bench.data.loaders.cid2013 import cid2013_path, load_cid2013, roman_to_int
from bench.data.loaders.kadid10k import load_kadid10k, parse_kadid10k_name
from bench.data.loaders.koniq10k import load_koniq10k
from bench.data.loaders.livec import load_livec
from bench.data.loaders.metainfo import load_metainfo
from bench.data.loaders.mlive import load_mlive
from bench.data.loaders.tid2013 import load_tid2013, parse_tid2013_name
from bench.data.registry import DATASETS, DatasetSpec, Expected, find_release
from bench.core.errors import DataError

try:
    from tests import layouts
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    import layouts

LABELS = layouts.reference_labels_dir()
needs_labels = pytest.mark.skipif(not LABELS.is_dir(),
                                  reason=f"reference-label lists not found at {LABELS}")


def by_name(ds) -> dict:
    """Records keyed by the file name (last path component), lower case."""
    return {r.image.rsplit("/", 1)[-1].lower(): r for r in ds.records}


def read_labels(name: str) -> list[dict]:
    with open(LABELS / name, newline="") as fh:
        return list(csv.DictReader(fh))


# --- registry -------------------------------------------------------------------------

def test_registry_names_aliases_and_expected_counts():
    want = {
        "tid2013": ((), Expected(3000, 25, 24, 5), "synthetic"),
        "kadid10k": (("KADID-10k",), Expected(10125, 81, 25, 5), "synthetic"),
        "koniq10k": (("KonIQ-10k",), Expected(10073), "authentic"),
        "livec": (("ChallengeDB_release", "LIVEC", "LIVE_Challenge"), Expected(1162), "authentic"),
        "cid2013": (("CID2013",), Expected(474), "authentic"),
        "mlive": (("LIVE_MD", "LIVEMD"), Expected(450, refs=15, types=2), "multiply"),
    }
    for name, (aliases, expected, kind) in want.items():
        spec = DATASETS[name]
        assert (spec.aliases, spec.expected, spec.kind) == (aliases, expected, kind), name
    assert DATASETS["metainfo"].aliases == ()


@pytest.mark.parametrize("folder, name", [
    ("KADID-10k", "kadid10k"), ("kadid-10K", "kadid10k"), ("ChallengeDB_release", "livec"),
    ("challengedb_RELEASE", "livec"), ("live_md", "mlive"), ("LIVE-MD", "mlive"),
    ("KonIQ-10k", "koniq10k"), ("cid2013", "cid2013"), ("TID2013", "tid2013"),
])
def test_find_release_matches_aliases_in_any_case(tmp_path, folder, name):
    (tmp_path / folder).mkdir()
    (tmp_path / "unrelated").mkdir()
    assert find_release(DATASETS[name], tmp_path) == tmp_path / folder


def test_find_release_returns_none_when_absent(tmp_path):
    (tmp_path / "KADID-10k").mkdir()
    assert find_release(DATASETS["mlive"], tmp_path) is None


# --- TID2013 --------------------------------------------------------------------------

def test_tid2013_reads_official_layout_with_case_quirks(tmp_path):
    ds = load_tid2013(layouts.build_tid2013(tmp_path))
    assert len(ds) == 16 and ds.kind == "synthetic"
    assert ds.type_names == abbreviations(TID2013_TYPES)
    recs = by_name(ds)
    # paths spelt as on disk, though mos_with_names.txt is lower case
    assert recs["i01_11_1.bmp"].image == "distorted_images/I01_11_1.BMP"
    assert recs["i01_01_1.bmp"].image == "distorted_images/I01_01_1.bmp"
    assert recs["i01_24_5.bmp"].image == "distorted_images/i01_24_5.bmp"
    assert recs["i01_01_1.bmp"].ref_image == "reference_images/I01.BMP"
    assert recs["i25_13_5.bmp"].ref_image == "reference_images/i25.bmp"
    r = recs["i25_13_5.bmp"]
    assert (r.ref, r.dist_type, r.dist_id, r.level) == ("I25", "J2TE", 13, 5)
    assert r.mos_raw == pytest.approx(3.0286) and r.mos == pytest.approx(3.0286 / 9)
    assert ds.refs() == ["I01", "I25"]
    assert ds.types() == ["AGN", "JP2K", "J2TE", "SSR"]
    assert {rec.level for rec in ds.records} == {1, 5}
    result = check_dataset(DATASETS["tid2013"], tmp_path)
    assert (result.missing, result.unreadable, result.unexpected) == ([], [], [])
    assert (result.images, result.refs, result.types, result.levels) == (16, 2, 4, 2)


def test_parse_tid2013_name():
    assert parse_tid2013_name("I01_11_1.BMP") == (1, 11, 1)
    assert parse_tid2013_name("distorted_images/i25_24_5.bmp") == (25, 24, 5)
    for bad in ("i01_25_1.bmp", "i26_01_1.bmp", "i01_01_6.bmp", "i01.bmp", "i01_01_1.png"):
        with pytest.raises(ValueError):
            parse_tid2013_name(bad)


# --- KADID-10k ------------------------------------------------------------------------

def test_kadid10k_reads_official_layout(tmp_path):
    ds = load_kadid10k(layouts.build_kadid10k(tmp_path))
    assert len(ds) == 12 and ds.type_names == abbreviations(KADID10K_TYPES)
    r = by_name(ds)["i81_13_05.png"]
    assert (r.image, r.ref_image) == ("images/I81_13_05.png", "images/I81.png")
    assert (r.ref, r.dist_type, r.dist_id, r.level) == ("I81", "IN", 13, 5)
    assert r.mos == pytest.approx((2.17 - 1) / 4)
    assert ds.types() == ["GB", "IN", "CC"]
    result = check_dataset(DATASETS["kadid10k"], tmp_path)
    assert result.summary_line().endswith("12 images, 2 refs, 3 types, 2 levels  "
                                          "expected 10125 images; expected 81 refs; "
                                          "expected 25 types; expected 5 levels")
    assert (result.missing, result.unreadable, result.unexpected) == ([], [], [])


# --- KonIQ-10k ------------------------------------------------------------------------

def test_koniq10k_prefers_1024x768_and_allows_choosing(tmp_path):
    layouts.build_koniq10k(tmp_path, folders=("512x384", "1024x768"))
    ds = load_koniq10k(tmp_path)
    assert len(ds) == 3 and ds.kind == "authentic" and not ds.has_refs and not ds.has_types
    r = by_name(ds)["10007903636.jpg"]
    assert r.image == "1024x768/10007903636.jpg"
    assert r.mos == pytest.approx((3.78125 - 1) / 4) and r.ref is None and r.level is None
    assert by_name(load_koniq10k(tmp_path, resolution="512x384"))["10007903636.jpg"].image \
        == "512x384/10007903636.jpg"


def test_koniq10k_falls_back_to_512x384(tmp_path):
    ds = load_koniq10k(layouts.build_koniq10k(tmp_path, folders=("512x384",)))
    assert {r.image.split("/")[0] for r in ds.records} == {"512x384"}
    assert check_dataset(DATASETS["koniq10k"], tmp_path).missing == []


# --- LIVE-C ---------------------------------------------------------------------------

@pytest.mark.parametrize("data_dir", ["Data", ""])
def test_livec_skips_training_images(tmp_path, data_dir):
    ds = load_livec(layouts.build_livec(tmp_path, data_dir=data_dir))
    assert len(ds) == len(layouts.LIVEC_ROWS)
    assert not any("trainingImages" in r.image or r.image.endswith("t1.bmp") for r in ds.records)
    r = by_name(ds)["533.jpg"]
    assert r.image == "Images/533.JPG" and r.mos == pytest.approx(0.736235)
    result = check_dataset(DATASETS["livec"], tmp_path)
    assert (result.missing, result.unreadable, result.unexpected) == ([], [], [])


# --- CID2013 --------------------------------------------------------------------------

@pytest.mark.parametrize("scores", ["xlsx", "csv"])
def test_cid2013_reads_workbook_or_csv_without_clipping(tmp_path, scores):
    ds = load_cid2013(layouts.build_cid2013(tmp_path, scores=scores))
    assert [r.image for r in ds.records] == [p for _, _, p in layouts.CID2013_ROWS]
    r = by_name(ds)["is_iv_c01_d12.jpg"]
    assert r.mos_raw == pytest.approx(-9.54906308259536)
    assert r.mos == pytest.approx(-0.0954906308259536)  # not clipped
    result = check_dataset(DATASETS["cid2013"], tmp_path)
    assert (result.missing, result.unreadable, result.unexpected) == ([], [], [])


def test_cid2013_source_id_to_path():
    assert roman_to_int("IV") == 4 and roman_to_int("VI") == 6 and roman_to_int("III") == 3
    assert cid2013_path("IS_VI_C08_D13") == "IS6/co8/IS_VI_C08_D13.jpg"
    assert cid2013_path("IS_I_C01_D01.jpg") == "IS1/co1/IS_I_C01_D01.jpg"


# --- MLIVE ----------------------------------------------------------------------------

@pytest.mark.parametrize("scores", ["mat", "csv"])
def test_mlive_reads_both_parts(tmp_path, scores):
    ds = load_mlive(layouts.build_mlive(tmp_path, scores=scores))
    assert len(ds) == 12 and ds.kind == "multiply"
    assert ds.refs() == ["cows", "wheel"] and ds.types() == ["BLUR+JPEG", "BLUR+NOISE"]
    recs = {r.image: r for r in ds.records}
    r = recs["To_Release/Part 2/blurnoise/wheel_blur3_noise3.bmp"]
    assert (r.ref, r.ref_image) == ("wheel", "To_Release/Part 2/blurnoise/wheel.bmp")
    assert (r.dist_type, r.dist_id, r.level) == ("BLUR+NOISE", 2, None)
    assert r.mos == pytest.approx(1 - 58.5556 / 100)
    r = recs["To_Release/Part 1/blurjpeg/cows_jpeg3.bmp"]
    assert (r.ref, r.dist_type, r.dist_id) == ("cows", "BLUR+JPEG", 1)
    # the references inside each part are references, not test images, nor unexpected
    assert not any(r.image.endswith(("/cows.bmp", "/wheel.bmp")) for r in ds.records)
    result = check_dataset(DATASETS["mlive"], tmp_path)
    assert (result.missing, result.unreadable, result.unexpected) == ([], [], [])
    assert (result.images, result.refs, result.types) == (12, 2, 2)


def test_mlive_skips_references_listed_among_images(tmp_path):
    layouts.build_mlive(tmp_path)
    part = tmp_path / "To_Release" / "Part 1"
    names = ["cows.bmp"] + [n for n, _ in layouts.MLIVE_ROWS[1]]
    layouts.save_mat(part / "Imagelists.mat", refimgs=layouts._cell(layouts.MLIVE_REFS),
                     distimgs=layouts._cell(names),
                     ref4dist=np.array([[1.0]] + [[1.0 + n.startswith("wheel")] for n in names[1:]]))
    layouts.save_mat(part / "Scores.mat", DMOSscores=np.array([[0.0] + [d for _, d in layouts.MLIVE_ROWS[1]]]))
    assert len(load_mlive(tmp_path)) == 12


# --- metainfo -------------------------------------------------------------------------

def test_metainfo_min_max_scaling_and_optional_columns(tmp_path):
    for i, name in enumerate(["a.png", "b.png", "c.png", "r.png"]):
        layouts.write_image(tmp_path / "imgs" / name, seed=i)
    (tmp_path / "meta_info_Mine.csv").write_text(
        "ref_name,dist_name,mos,dist_type,level\n"
        "imgs/r.png,imgs/a.png,1.0,blur,1\nimgs/r.png,imgs/b.png,3.0,blur,2\n"
        "imgs/r.png,imgs/c.png,5.0,noise,1\n")
    ds = load_metainfo(tmp_path)
    assert [r.mos for r in ds.records] == [0.0, 0.5, 1.0]
    r = ds.records[2]
    assert (r.image, r.ref, r.ref_image, r.dist_type, r.dist_id, r.level) == \
        ("imgs/c.png", "r", "imgs/r.png", "noise", 2, 1)
    assert ds.type_names == ["blur", "noise"] and ds.kind == "synthetic"
    explicit = load_metainfo(tmp_path / "meta_info_Mine.csv", mos_min=0, mos_max=10)
    assert [r.mos for r in explicit.records] == [0.1, 0.3, 0.5]
    flipped = load_metainfo(tmp_path, higher_is_better=False)
    assert [r.mos for r in flipped.records] == [1.0, 0.5, 0.0]
    spec = DatasetSpec("metainfo", load_metainfo)
    result = check_dataset(spec, tmp_path)
    assert result.ok and result.summary_line().endswith("3 images, 1 refs, 2 types, 2 levels  OK")


def test_metainfo_two_columns_authentic(tmp_path):
    layouts.write_image(tmp_path / "x.jpg")
    (tmp_path / "meta_info.csv").write_text("image_name,MOS\nx.jpg,2\nmissing.jpg,4\n")
    ds = load_metainfo(tmp_path)
    assert ds.kind == "authentic" and [r.mos for r in ds.records] == [0.0, 1.0]
    assert check_dataset(DATASETS["metainfo"], tmp_path).missing == ["missing.jpg"]


# --- the check ------------------------------------------------------------------------

def test_check_reports_missing_unreadable_unexpected_by_name(tmp_path):
    layouts.build_tid2013(tmp_path)
    (tmp_path / "distorted_images" / "i01_24_5.bmp").unlink()
    layouts.write_garbage(tmp_path / "distorted_images" / "i25_11_5.bmp")
    layouts.write_image(tmp_path / "distorted_images" / "i02_01_1.bmp")
    (tmp_path / "distorted_images" / "readme.txt").write_text("not an image: not counted")
    spec = DatasetSpec("tid2013", load_tid2013, expected=Expected(16, 2, 4, 2))
    result = check_dataset(spec, tmp_path)
    assert result.missing == ["distorted_images/i01_24_5.bmp"]
    assert result.unreadable == ["distorted_images/i25_11_5.bmp"]
    assert result.unexpected == ["distorted_images/i02_01_1.bmp"]
    assert not result.ok
    line = result.summary_line()
    assert "\n" not in line
    assert line.startswith(f"tid2013  {tmp_path}  16 images, 2 refs, 4 types, 2 levels  ")
    for part in ("missing 1: distorted_images/i01_24_5.bmp", "unreadable 1: distorted_images/i25_11_5.bmp",
                 "unexpected 1: distorted_images/i02_01_1.bmp"):
        assert part in line
    # without decoding, the garbage file goes unnoticed but the rest is still found
    quick = check_dataset(spec, tmp_path, verify_images=False)
    assert quick.unreadable == [] and quick.missing == result.missing


def test_check_truncated_jpeg_is_unreadable(tmp_path):
    from PIL import Image

    layouts.build_koniq10k(tmp_path)
    path = tmp_path / "1024x768" / "10004473376.jpg"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:200])
    assert check_dataset(DATASETS["koniq10k"], tmp_path).unreadable == ["1024x768/10004473376.jpg"]


def test_check_ok_and_list_truncation(tmp_path):
    layouts.build_kadid10k(tmp_path)
    spec = DatasetSpec("kadid10k", load_kadid10k, expected=Expected(12, 2, 3, 2))
    result = check_dataset(spec, tmp_path)
    assert result.ok
    assert result.summary_line() == f"kadid10k  {tmp_path}  12 images, 2 refs, 3 types, 2 levels  OK"
    for name, _ in layouts.KADID10K_ROWS[:8]:
        (tmp_path / "images" / name).unlink()
    line = check_dataset(spec, tmp_path).summary_line()
    assert "missing 8: images/I01_01_01.png, " in line and "... (+3 more)" in line


def test_check_reports_a_malformed_release_as_error(tmp_path):
    result = check_dataset(DATASETS["tid2013"], tmp_path)
    assert isinstance(result, CheckResult) and not result.ok
    assert "mos_with_names.txt" in result.summary_line()


# --- malformed score files ------------------------------------------------------------

def _break_tid(root):
    layouts.build_tid2013(root)
    (root / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp\nfive i01_01_2.bmp\n")
    return "mos_with_names.txt", load_tid2013


def _break_tid_line(root):
    layouts.build_tid2013(root)
    (root / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp extra\n")
    return "mos_with_names.txt", load_tid2013


def _break_kadid(root):
    layouts.build_kadid10k(root)
    (root / "dmos.csv").write_text("dist_img,ref_img,var\nI01_01_01.png,I01.png,0.1\n")
    return "dmos.csv", load_kadid10k


def _break_koniq(root):
    layouts.build_koniq10k(root)
    (root / "koniq10k_scores_and_distributions.csv").write_text("image_name,MOS\n1.jpg,good\n")
    return "koniq10k_scores_and_distributions.csv", load_koniq10k


def _break_livec(root):
    layouts.build_livec(root)
    layouts.write_garbage(root / "Data" / "AllMOS_release.mat")
    return "AllMOS_release.mat", load_livec


def _break_livec_variable(root):
    layouts.build_livec(root)
    layouts.save_mat(root / "Data" / "AllMOS_release.mat", SomethingElse=np.zeros((1, 3)))
    return "AllMOS_release.mat", load_livec


def _break_cid_xlsx(root):
    layouts.build_cid2013(root)
    layouts.write_garbage(root / "CID2013 data - version 12112014.xlsx")
    return "CID2013 data - version 12112014.xlsx", load_cid2013


def _break_cid_csv(root):
    layouts.build_cid2013(root, scores="csv")
    (root / "scores.csv").write_text("name,score\nIS1/co1/IS_I_C01_D01.jpg,3\n")
    return "scores.csv", load_cid2013


def _break_mlive(root):
    layouts.build_mlive(root)
    layouts.write_garbage(root / "To_Release" / "Part 2" / "Scores.mat")
    return "Scores.mat", load_mlive


def _break_metainfo(root):
    (root / "meta_info_x.csv").write_text("image,mos\na.png,1\nb.png,n/a\n")
    return "meta_info_x.csv", load_metainfo


@pytest.mark.parametrize("breaker", [_break_tid, _break_tid_line, _break_kadid, _break_koniq,
                                     _break_livec, _break_livec_variable, _break_cid_xlsx,
                                     _break_cid_csv, _break_mlive, _break_metainfo])
def test_malformed_score_file_raises_data_error_naming_it(tmp_path, breaker):
    file_name, load = breaker(tmp_path)
    with pytest.raises(DataError) as info:
        load(tmp_path)
    message = str(info.value)
    assert file_name in message and "\n" not in message


@pytest.mark.parametrize("load, file_name", [
    (load_tid2013, "mos_with_names.txt"), (load_kadid10k, "dmos.csv"),
    (load_koniq10k, "koniq10k_scores_and_distributions.csv"), (load_livec, "AllImages_release.mat"),
    (load_cid2013, "scores.csv"), (load_mlive, "scores.csv"), (load_metainfo, "meta_info"),
])
def test_absent_score_file_is_a_data_error(tmp_path, load, file_name):
    with pytest.raises(DataError, match=file_name):
        load(tmp_path)


def test_missing_image_is_not_a_load_error(tmp_path):
    layouts.build_livec(tmp_path)
    (tmp_path / "Images" / "10.bmp").unlink()
    ds = load_livec(tmp_path)
    assert "Images/10.bmp" in {r.image for r in ds.records}
    assert check_dataset(DATASETS["livec"], tmp_path).missing == ["Images/10.bmp"]


# --- the full-size reference-label lists (no images) ----------------------------------

@needs_labels
def test_tid2013_names_of_the_full_list():
    rows = read_labels("TID2013.csv")
    parsed = [parse_tid2013_name(r["dis_img_path"]) for r in rows]
    assert len(parsed) == 3000
    assert len({p[0] for p in parsed}) == 25 and len({p[1] for p in parsed}) == 24
    assert {p[2] for p in parsed} == {1, 2, 3, 4, 5}
    assert Counter((p[1], p[2]) for p in parsed) == {(t, l): 25 for t in range(1, 25) for l in range(1, 6)}
    labels_of = defaultdict(set)
    for row, (ref, tid, _) in zip(rows, parsed):
        assert row["ref_img_path"].lower().endswith(f"i{ref:02d}.bmp")
        labels_of[abbreviation_of(TID2013_TYPES, tid)].add(row["dis_type"])
    assert all(len(v) == 1 for v in labels_of.values())  # one type per abbreviation
    assert labels_of["AGN"] == {"AWGN"} and labels_of["GB"] == {"GBLUR"}
    assert labels_of["J2TE"] == {"JP2K_Transmission_Error"} and labels_of["CTC"] == {"Contrast_Dist."}


@needs_labels
def test_kadid10k_names_of_the_full_list():
    rows = read_labels("KADID-10k.csv")
    parsed = [parse_kadid10k_name(r["dis_img_path"]) for r in rows]
    assert len(parsed) == 10125
    assert len({p[0] for p in parsed}) == 81 and len({p[1] for p in parsed}) == 25
    assert {p[2] for p in parsed} == {1, 2, 3, 4, 5}
    labels_of = defaultdict(set)
    for row, (ref, tid, _) in zip(rows, parsed):
        assert row["ref_img_path"].endswith(f"I{ref:02d}.png")
        labels_of[abbreviation_of(KADID10K_TYPES, tid)].add(row["dis_type"])
    assert all(len(v) == 1 for v in labels_of.values())
    assert len({next(iter(v)) for v in labels_of.values()}) == 25  # and one abbreviation per type
    assert labels_of["GB"] == {"GBLUR"} and labels_of["CSA1"] == {"Saturation_Dist._HSV"}
    assert labels_of["CC"] == {"Contrast Dist."} and labels_of["HS"] == {"High_Sharpen"}


@needs_labels
def test_cid2013_paths_of_the_full_list():
    rows = read_labels("CID2013.csv")
    assert len(rows) == 474
    for row in rows:
        path = row["dis_img_path"].split("/", 1)[1]
        assert cid2013_path(Path(path).stem) == path


@needs_labels
def test_mlive_full_list_through_the_csv_alternative(tmp_path):
    lines = ["image,score"] + [f"{r['dis_img_path'].split('/', 1)[1]},{r['score']}"
                               for r in read_labels("LIVE_MD.csv")]
    (tmp_path / "scores.csv").write_text("\n".join(lines) + "\n")
    result = check_dataset(DATASETS["mlive"], tmp_path)
    assert (result.images, result.refs, result.types) == (450, 15, 2)
    assert len(result.missing) == 450 + 2 * 15  # no images here: all listed files missing


@needs_labels
def test_samples_match_reference_labels():
    def scores(name):
        return {r["dis_img_path"].split("/", 1)[1]: float(r["score"]) for r in read_labels(name)}

    tid, kadid, koniq = scores("TID2013.csv"), scores("KADID-10k.csv"), scores("KonIQ-10k.csv")
    livec, cid, mlive = scores("LIVE_Challenge.csv"), scores("CID2013.csv"), scores("LIVE_MD.csv")
    assert all(tid[f"distorted_images/{n}"] == s for n, s in layouts.TID2013_ROWS)
    assert all(kadid[f"images/{n}"] == s for n, s in layouts.KADID10K_ROWS)
    assert all(koniq[f"1024x768/{n}"] == s for n, s in layouts.KONIQ10K_ROWS)
    assert all(livec[f"Images/{n}"] == s for n, s in layouts.LIVEC_ROWS)
    assert all(cid[p] == s for _, s, p in layouts.CID2013_ROWS)
    for part, rows in layouts.MLIVE_ROWS.items():
        folder = layouts.MLIVE_PARTS[part][1]
        assert all(mlive[f"To_Release/Part_{part}/{folder}/{n}"] == s for n, s in rows)


def test_mlive_accepts_mat_files_inside_the_image_folders(tmp_path):
    layouts.build_mlive(tmp_path)
    for part, folder in layouts.MLIVE_PARTS.values():
        for mat in ("Imagelists.mat", "Scores.mat"):
            src = tmp_path / "To_Release" / part / mat
            src.rename(tmp_path / "To_Release" / part / folder / mat)
    assert len(load_mlive(tmp_path)) == 12
