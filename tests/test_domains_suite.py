"""The synthetic cross-domain sets: registered and listed without being generated, made
only when asked for (never by the main suite), deterministic, checked by their manifest,
references disjoint from syn-kadid's, and labelled with the metrics their pseudo-MOS
comes from. Tests generate tiny variants (2 types x 2 levels)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench.data import cache as cache_mod
from bench.data.open import label_source, open_dataset
from bench.data.pairs import open_pair_bank
from bench.data.registry import dataset_names, get_spec
from bench.data.synthetic import domains, references, suite
from bench.data.synthetic.references import CROP, KADID_PICTURES, tile_crops

SETS = ("syn-medical", "syn-xray", "syn-astro", "syn-screen")


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    """Tiny domain sets (Gaussian blur and white noise at levels 1 and 5) in a cache of
    their own; the main suite must not be generated."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(domains, "DOMAIN_TYPES", (1, 11))
    monkeypatch.setattr(domains, "LEVELS", (1, 5))
    monkeypatch.setattr(cache_mod, "_VERIFIED", set())

    def no_suite(*a, **k):
        raise AssertionError("a cross-domain set must not generate the main suite")

    monkeypatch.setattr(suite, "ensure_suite", no_suite)
    return tmp_path


def test_registered_and_listed_without_generating(tiny):
    names = dataset_names()
    assert set(SETS) <= set(names)
    for name in SETS:
        spec = get_spec(name)
        assert spec.synthetic and spec.extra["domain"] == domains.DOMAINS[name].domain
        assert spec.expected.refs == domains.DOMAINS[name].n_refs
    lines = domains.describe_domain_sets(0)
    assert len(lines) == 4 and all("generated on first use" in line for line in lines)
    assert not (tiny / "cache" / "synthetic").exists()  # listing generated nothing


def test_label_source_names_the_pseudo_mos_members():
    assert label_source("syn-kadid") == label_source("syn-xray") == ("gmsd", "nlpd", "fsim", "ciede2000")
    assert label_source("tid2013") == label_source("kadid10k") == ()


def test_references_disjoint_from_syn_kadid():
    pictures = {s.picture for d in domains.DOMAINS.values() for s in d.sources}
    assert not pictures & KADID_PICTURES
    # the microscopy picture a syn-kadid reference is cut from stays out of syn-medical
    assert "immunohistochemistry" in KADID_PICTURES


def test_tiles_do_not_overlap_and_are_the_busiest(monkeypatch):
    h, w = 3 * CROP, 2 * CROP + 7  # grid rows start at 0; columns at a drawn offset
    y, x = np.mgrid[0:h, 0:w]
    picture = np.stack([y % 256, x % 256, (y // 256) * 16 + x // 256], -1).astype(np.uint8)
    picture[:CROP] = 0  # flat top band: its tiles must not be chosen
    monkeypatch.setattr(references, "_load_source", lambda name: picture.copy())
    tiles = tile_crops("coords", 3, seed=5)
    corners = []
    for _, t in tiles:
        assert t.shape == (CROP, CROP, 3)
        yy = int(t[0, 0, 0]) + 256 * (int(t[0, 0, 2]) // 16)
        xx = int(t[0, 0, 1]) + 256 * (int(t[0, 0, 2]) % 16)
        np.testing.assert_array_equal(t, picture[yy:yy + CROP, xx:xx + CROP])
        corners.append((yy, xx))
    assert all(yy >= CROP for yy, _ in corners)  # not the flat band
    for a in range(3):
        for b in range(a):
            (y1, x1), (y2, x2) = corners[a], corners[b]
            assert abs(y1 - y2) >= CROP or abs(x1 - x2) >= CROP  # disjoint windows
    assert next(c for _, c in tile_crops("coords", 3, seed=5)).tobytes() == tiles[0][1].tobytes()


def test_generated_only_when_asked_deterministic_and_checked(tiny, monkeypatch):
    lines: list[str] = []
    folder = domains.ensure_domain_set("syn-xray", 0, processes=1, log=lines.append)
    assert sorted(p.name for p in folder.parent.iterdir() if not p.name.startswith(".")) == [folder.name]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["label_source"] == ["gmsd", "nlpd", "fsim", "ciede2000"]
    assert manifest["images"] == 4 * 2 * 2 and manifest["refs"] == 4

    ds = open_dataset("syn-xray", log=lines.append)
    assert len(ds) == 16 and ds.refs() == ["XR01", "XR02", "XR03", "XR04"]
    assert ds.label_source == ("gmsd", "nlpd", "fsim", "ciede2000") and ds.types() == ["GB", "WN"]
    for rec in ds.records:
        ref = np.asarray(Image.open(ds.root / rec.ref_image))
        assert (ref.min(), ref.max()) == (0, 255)  # stretched: the generator's own range
    # strong white noise scores below mild white noise on every reference
    wn = {(r.ref, r.level): r.mos for r in ds.records if r.dist_type == "WN"}
    assert all(wn[(ref, 5)] < wn[(ref, 1)] for ref in ds.refs())

    # another cache, the same seed: the same bytes
    monkeypatch.setenv("BENCH_CACHE", str(tiny / "cache2"))
    again = domains.ensure_domain_set("syn-xray", 0, processes=1, log=lambda m: None)
    assert json.loads((again / "manifest.json").read_text())["files"] == manifest["files"]

    # a damaged file is found by the manifest and the set regenerated, same bytes
    victim = again / "images" / "XR02_11_05.png"
    victim.write_bytes(b"not a png")
    notes: list[str] = []
    domains.ensure_domain_set("syn-xray", 0, processes=1, log=notes.append)
    assert any("does not match its manifest" in n for n in notes)
    assert json.loads((again / "manifest.json").read_text())["files"] == manifest["files"]


def test_domain_set_serves_aligned_pairs(tiny):
    ds = open_dataset("syn-screen", log=lambda m: None)
    pairs = open_pair_bank([ds], 64, log=lambda m: None)
    assert len(pairs) == len(ds) and len(pairs.references) == 4
    ref, dist = pairs.center_pairs(np.arange(len(ds)), 32)
    assert ref.shape == dist.shape == (len(ds), 32, 32, 3)
    refs = {r.ref for r in ds.records}
    assert len({ref[i].tobytes() for i in range(len(ds))}) == len(refs)  # one per reference
