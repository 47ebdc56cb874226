"""The data card: its numbers on a tiny hand-made dataset (level-vs-MOS Spearman per type,
ties, reversals, spread, the (type, level) oracle SROCC, colour and full-range references),
its text and JSON forms, and `python -m bench data card` on an official KADID-10k layout."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from bench.cli import main
from bench.data.card import card_json, card_text, data_card, oracle_srocc
from bench.data.records import Dataset, Record
from layouts import build_kadid10k

# (ref, type): MOS at levels 1, 2, 3
MOS = {
    ("R1", "A"): (0.9, 0.6, 0.3), ("R2", "A"): (0.8, 0.5, 0.2),   # falls: rho -1 and -1
    ("R1", "B"): (0.5, 0.5, 0.4),                                  # a tie: rho -sqrt(3)/2
    ("R2", "B"): (0.3, 0.6, 0.1),                                  # a reversal: rho -1/2
}


def _dataset(root) -> Dataset:
    grey = np.repeat(np.tile(np.arange(256, dtype=np.uint8), (16, 1))[..., None], 3, axis=2)
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[..., 0], colour[..., 1], colour[..., 2] = 200, 60, 20  # orange, 20..200 only
    for name, img in (("R1.png", grey), ("R2.png", colour)):
        Image.fromarray(img).save(root / name)
    records = [Record(f"{ref}_{t}_{lv}.png", mos, mos, ref, f"{ref}.png", t, ord(t) - 64, lv)
               for (ref, t), values in MOS.items() for lv, mos in enumerate(values, start=1)]
    return Dataset("tiny", root, records, "synthetic", ["A", "B"])


def test_card_numbers_on_a_hand_made_dataset(tmp_path):
    card = data_card(_dataset(tmp_path))
    a, b = card.types
    assert (card.images, card.refs, card.levels) == (12, 2, 3)
    assert (a.type, a.pairs, a.ties, a.reversals) == ("A", 2, 0, 0)
    assert a.level_srocc == pytest.approx(-1.0)
    assert (b.pairs, b.ties, b.reversals) == (2, 1, 1)
    assert b.level_srocc == pytest.approx((-np.sqrt(3) / 2 - 0.5) / 2)
    assert (a.mos_mean, a.mos_min, a.mos_max) == pytest.approx((0.55, 0.2, 0.9))
    assert a.mos_sd == pytest.approx(np.std([0.9, 0.6, 0.3, 0.8, 0.5, 0.2]))
    # the oracle predicts each image by its (type, level) cell mean
    cells = {("A", 1): 0.85, ("A", 2): 0.55, ("A", 3): 0.25, ("B", 1): 0.4, ("B", 2): 0.55, ("B", 3): 0.25}
    pred = [cells[(t, lv)] for (ref, t), v in MOS.items() for lv in (1, 2, 3)]
    mos = [m for v in MOS.values() for m in v]
    assert card.oracle_srocc == pytest.approx(spearmanr(pred, mos)[0])
    # R1 is a grey ramp over 0..255, R2 an orange patch spanning 20..200
    assert (card.colour_refs, card.full_range_refs) == (1, 1)


def test_card_text_and_json(tmp_path):
    card = data_card(_dataset(tmp_path))
    text = card_text(card)
    assert "2 references, 1 in colour (50 %), 1 spanning 0..255" in text
    assert "-0.683" in text and "1 tied and 1 reversed (reference, type) pairs of 4" in text
    out = json.loads(json.dumps(card_json(card)))
    assert out["colour_share"] == 0.5 and out["types"][1]["ties"] == 1


def test_types_without_levels_and_missing_references(tmp_path):
    recs = [Record(f"x{i}.png", m, m, "R1", None, "A", 1, None) for i, m in enumerate((0.2, 0.7))]
    card = data_card(Dataset("nolevels", tmp_path, recs, "multiply", ["A"]))
    assert card.types[0].level_srocc is None and card.types[0].pairs == 0
    assert card.oracle_srocc is None and card.colour_refs is None
    assert "n/a" in card_text(card)
    assert oracle_srocc([]) is None


def test_data_card_command_on_a_kadid10k_layout(tmp_path, capsys):
    root = build_kadid10k(tmp_path / "kadid10k")
    assert main(["data", "card", "kadid10k", "--set", f"data.kadid10k={root}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "kadid10k" and out["images"] == 12 and out["refs"] == 2
    assert [t["type"] for t in out["types"]] == ["GB", "IN", "CC"]
    assert all(t["level_srocc"] == pytest.approx(-1.0) and t["ties"] == 0 for t in out["types"])
    assert main(["data", "card", "kadid10k", "--set", f"data.kadid10k={root}"]) == 0
    assert "oracle SROCC" in capsys.readouterr().out
