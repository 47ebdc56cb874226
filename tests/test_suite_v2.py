"""Suite v2: every syn-kadid reference is in colour and spans 0..255; the calibrated levels
make the pseudo-MOS fall with every level step on two references for every type; a tiny
suite is byte-identical whatever the number of processes, and is made without any
network access."""
from __future__ import annotations

import socket
import urllib.request

import numpy as np
import pytest

from bench.data.card import reference_colour
from bench.data.distortion_types import KADID10K_TYPES
from bench.data.synthetic import pseudo_mos, suite
from bench.data.synthetic.jobs import distorted_images, scores_one_thread
from bench.data.synthetic.references import KADID_REFS, build_reference


@pytest.mark.slow
def test_kadid_references_are_many_colour_and_full_range(tmp_path):
    from PIL import Image

    assert len(KADID_REFS) >= 32
    for r, spec in enumerate(KADID_REFS):
        ref = build_reference(spec, [0, 1, r])
        assert ref.shape == (192, 192, 3) and ref.dtype == np.uint8
        Image.fromarray(ref).save(tmp_path / "ref.png")
        assert reference_colour(tmp_path / "ref.png") == (True, True), spec.name
        luma = ref @ np.array([0.299, 0.587, 0.114])
        assert np.ptp(np.percentile(luma, [1, 99])) > 120, spec.name  # a natural tonal range


# astronaut's model shuttle (smooth) and the rocket against the evening sky (mostly flat):
# the references with the narrowest level steps when the levels were calibrated
@pytest.mark.slow
@pytest.mark.parametrize("r", [2, 10])
def test_pseudo_mos_falls_with_every_level_on_every_type(r):
    plan, rows = suite._kadid_plan("/nonexistent", 0)
    job = plan[r]
    ref = build_reference(job.spec, list(job.ref_key))
    scores = scores_one_thread(distorted_images(ref, job.images), ref)
    _, mos = pseudo_mos.ensemble(scores)  # z-scored over this reference's 125 images
    by = {(row["dist_id"], row["level"]): m for row, m in zip(rows[125 * r:125 * (r + 1)], mos)}
    for type_id, abbr, _ in KADID10K_TYPES:
        values = [by[(type_id, lv)] for lv in range(1, 6)]
        assert all(a > b for a, b in zip(values, values[1:])), f"{abbr}: {np.round(values, 4)}"


@pytest.fixture()
def tiny_suite(monkeypatch):
    """Two syn-kadid references (a photograph and a scene) with 3 types, one wild and one
    MLIVE-style reference."""
    monkeypatch.setattr(suite, "KADID_REFS", (KADID_REFS[0], KADID_REFS[15]))
    monkeypatch.setattr(suite, "WILD_REFS", (KADID_REFS[20],))
    monkeypatch.setattr(suite, "MLIVE_REFS", (KADID_REFS[4],))
    monkeypatch.setattr(suite, "KADID10K_TYPES", KADID10K_TYPES[:3])
    monkeypatch.setattr(suite, "WILD_PER_REF", 3)


@pytest.mark.slow
def test_files_do_not_depend_on_the_number_of_processes(tiny_suite, tmp_path):
    manifests = []
    for processes in (1, 2):
        dest = tmp_path / f"p{processes}"
        dest.mkdir()
        manifests.append(suite._generate(dest, 3, processes, log=lambda m: None))
    one, two = manifests
    assert one["files"] == two["files"] and len(one["files"]) == 2 * 16 + 4 + 19 + 3
    assert one["sets"]["syn-kadid"] == two["sets"]["syn-kadid"]
    assert (tmp_path / "p1" / "syn-kadid" / "labels.csv").read_bytes() == \
        (tmp_path / "p2" / "syn-kadid" / "labels.csv").read_bytes()


@pytest.mark.slow
def test_generation_needs_no_network(tiny_suite, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the synthetic suite must not reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    manifest = suite._generate(tmp_path, 0, 1, log=lambda m: None)
    assert manifest["sets"]["syn-kadid"]["images"] == 2 * 3 * 5


def test_png_writer_round_trips_exactly():
    from io import BytesIO

    from PIL import Image

    from bench.data.synthetic.jobs import png_bytes

    rng = np.random.default_rng(0)
    for shape in [(192, 192, 3), (7, 5, 3), (1, 1, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        with Image.open(BytesIO(png_bytes(img))) as back:
            assert back.format == "PNG" and back.mode == "RGB"
            np.testing.assert_array_equal(np.asarray(back), img)
