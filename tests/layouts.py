"""Tiny stand-ins of the official dataset layouts, for the loader tests.

Each ``build_*`` writes, under a given folder, the release's own score files (text,
CSV, .mat, .xlsx) and 8x8 stand-in images under real names. The names and scores are
a few real rows of the reference-label lists (``shared/reference-labels/*.csv``),
copied here so these tests run without that folder; ``test_samples_match_reference_labels``
checks the copies against the lists when they are there.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# --- real rows (name, score) taken from shared/reference-labels ------------------------

#: TID2013.csv rows: references 1 and 25, types 1, 11, 13, 24, levels 1 and 5 (MOS 0-9).
TID2013_ROWS = [
    ("i01_01_1.bmp", 5.5143), ("i01_01_5.bmp", 3.8649), ("i01_11_1.bmp", 5.9143),
    ("i01_11_5.bmp", 1.4595), ("i01_13_1.bmp", 5.4595), ("i01_13_5.bmp", 3.1081),
    ("i01_24_1.bmp", 5.7027), ("i01_24_5.bmp", 0.45946), ("i25_01_1.bmp", 5.1429),
    ("i25_01_5.bmp", 3.4444), ("i25_11_1.bmp", 6.0857), ("i25_11_5.bmp", 4.6),
    ("i25_13_1.bmp", 4.8286), ("i25_13_5.bmp", 3.0286), ("i25_24_1.bmp", 5.6571),
    ("i25_24_5.bmp", 2.7714),
]

#: KADID-10k.csv rows: references I01 and I81, types 1, 13, 25, levels 1 and 5 (DMOS 1-5).
KADID10K_ROWS = [
    ("I01_01_01.png", 4.57), ("I01_01_05.png", 1.1), ("I01_13_01.png", 3.67),
    ("I01_13_05.png", 2.03), ("I01_25_01.png", 3.43), ("I01_25_05.png", 3.27),
    ("I81_01_01.png", 4.67), ("I81_01_05.png", 1.2), ("I81_13_01.png", 2.8),
    ("I81_13_05.png", 2.17), ("I81_25_01.png", 3.33), ("I81_25_05.png", 3.27),
]

#: KonIQ-10k.csv rows (MOS 1-5).
KONIQ10K_ROWS = [
    ("10004473376.jpg", 3.82857142857143), ("10007357496.jpg", 3.47916666666667),
    ("10007903636.jpg", 3.78125),
]

#: LIVE_Challenge.csv rows (MOS 0-100), .bmp and .JPG names.
LIVEC_ROWS = [
    ("10.bmp", 82.9107), ("11.bmp", 60.9473), ("12.bmp", 15.8952),
    ("533.JPG", 73.6235), ("534.JPG", 52.7097), ("1000.JPG", 56.5122),
]
#: The 7 training images the release lists first (scores made up: they are skipped).
LIVEC_TRAINING = [(f"t{i}.bmp", 50.0 + i) for i in range(1, 8)]

#: CID2013.csv rows as (Source_ID, realigned MOS, path in the release); two are negative.
CID2013_ROWS = [
    ("IS_I_C01_D01", 3.34364303351907, "IS1/co1/IS_I_C01_D01.jpg"),
    ("IS_I_C01_D02", 71.1818902079248, "IS1/co1/IS_I_C01_D02.jpg"),
    ("IS_I_C02_D01", 28.5963300104152, "IS1/co2/IS_I_C02_D01.jpg"),
    ("IS_II_C01_D01", 1.24245392250965, "IS2/co1/IS_II_C01_D01.jpg"),
    ("IS_IV_C01_D12", -9.54906308259536, "IS4/co1/IS_IV_C01_D12.jpg"),
    ("IS_IV_C03_D12", -4.85153852220368, "IS4/co3/IS_IV_C03_D12.jpg"),
]

#: LIVE_MD.csv rows per part, (name, DMOS 0-100 higher is worse); references cows, wheel.
MLIVE_ROWS = {
    1: [("cows_blur1.bmp", 40.0), ("cows_blur2_jpeg1.bmp", 56.8421), ("cows_jpeg3.bmp", 21.1053),
        ("wheel_blur1.bmp", 18.6316), ("wheel_blur2_jpeg1.bmp", 45.8421), ("wheel_jpeg3.bmp", 25.8947)],
    2: [("cows_blur1.bmp", 36.0556), ("cows_blur3_noise3.bmp", 79.4444), ("cows_noise1.bmp", 7.5),
        ("wheel_blur1.bmp", 12.4444), ("wheel_blur3_noise3.bmp", 58.5556), ("wheel_noise1.bmp", 9.3333)],
}
MLIVE_REFS = ["cows.bmp", "wheel.bmp"]
MLIVE_PARTS = {1: ("Part 1", "blurjpeg"), 2: ("Part 2", "blurnoise")}


# --- where the reference-label lists live ----------------------------------------------

def reference_labels_dir() -> Path:
    """shared/reference-labels beside the clone ($BENCH_REFERENCE_LABELS overrides)."""
    env = os.environ.get("BENCH_REFERENCE_LABELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "reference-labels"


# --- writing files ---------------------------------------------------------------------

def write_image(path: Path, seed: int = 0) -> Path:
    """An 8x8 RGB stand-in image; the format follows the suffix (any case)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    fmt = {".bmp": "BMP", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}[path.suffix.lower()]
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def write_garbage(path: Path) -> Path:
    """A file that is not an image (garbage bytes) under an image name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01not an image at all" * 7)
    return path


def _cell(names: list[str]) -> np.ndarray:
    """A column cell array of strings, as MATLAB stores a list of names."""
    cell = np.empty((len(names), 1), dtype=object)
    for i, n in enumerate(names):
        cell[i, 0] = n
    return cell


def save_mat(path: Path, **variables) -> Path:
    """Write ``variables`` to a MATLAB (v5) .mat file."""
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), variables)
    return path


# --- the layouts -----------------------------------------------------------------------

def tid2013_disk_name(name: str) -> str:
    """The spelling of a TID2013 distorted image on disk: the release's 75 case quirks
    are level 1 of types 1, 11 and 13 ('I01_01_1.bmp', 'I01_11_1.BMP', 'I01_13_1.BMP')."""
    ref, tid, level = name[1:3], name[4:6], name[7]
    if level == "1" and tid in ("01", "11", "13"):
        return f"I{ref}_{tid}_{level}." + ("bmp" if tid == "01" else "BMP")
    return name


def build_tid2013(root: Path) -> Path:
    """TID2013: distorted_images/ (with case quirks), reference_images/ (I01.BMP, i25.bmp),
    mos_with_names.txt in lower case."""
    for i, (name, _) in enumerate(TID2013_ROWS):
        write_image(root / "distorted_images" / tid2013_disk_name(name), seed=i)
    write_image(root / "reference_images" / "I01.BMP")
    write_image(root / "reference_images" / "i25.bmp")
    (root / "mos_with_names.txt").write_text("".join(f"{s} {n}\n" for n, s in TID2013_ROWS))
    return root


def build_kadid10k(root: Path) -> Path:
    """KADID-10k: images/ with references and distorted PNGs, dmos.csv."""
    lines = ["dist_img,ref_img,dmos,var"]
    for i, (name, dmos) in enumerate(KADID10K_ROWS):
        write_image(root / "images" / name, seed=i)
        lines.append(f"{name},{name[:3]}.png,{dmos},0.5")
    for ref in ("I01.png", "I81.png"):
        write_image(root / "images" / ref)
    (root / "dmos.csv").write_text("\n".join(lines) + "\n")
    return root


def build_koniq10k(root: Path, folders=("1024x768",)) -> Path:
    """KonIQ-10k: the image folder(s) and koniq10k_scores_and_distributions.csv."""
    lines = ["image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore"]
    for i, (name, mos) in enumerate(KONIQ10K_ROWS):
        for folder in folders:
            write_image(root / folder / name, seed=i)
        lines.append(f'"{name}",0,1,10,80,9,100,{mos},0.6,70.1')
    (root / "koniq10k_scores_and_distributions.csv").write_text("\n".join(lines) + "\n")
    return root


def build_livec(root: Path, data_dir: str = "Data") -> Path:
    """LIVE-C: Images/ (.bmp, .JPG), Images/trainingImages/, and the two .mat files
    (1 + 7 training entries first) in ``data_dir`` ('' for the folder root)."""
    for i, (name, _) in enumerate(LIVEC_ROWS):
        write_image(root / "Images" / name, seed=i)
    for name, _ in LIVEC_TRAINING:
        write_image(root / "Images" / "trainingImages" / name)
    rows = LIVEC_TRAINING + LIVEC_ROWS
    data = root / data_dir if data_dir else root
    save_mat(data / "AllImages_release.mat", AllImages_release=_cell([n for n, _ in rows]))
    save_mat(data / "AllMOS_release.mat", AllMOS_release=np.array([[s for _, s in rows]]))
    return root


def build_cid2013(root: Path, scores: str = "xlsx") -> Path:
    """CID2013: IS*/coN/*.jpg and the scores as the official workbook ('xlsx') or as
    the documented two-column scores.csv ('csv')."""
    import pandas as pd

    for i, (_, _, path) in enumerate(CID2013_ROWS):
        write_image(root / path, seed=i)
    if scores == "xlsx":
        frame = pd.DataFrame({
            "Source_ID": [sid for sid, _, _ in CID2013_ROWS],
            "Image set specific  MOS": [50.0] * len(CID2013_ROWS),
            "Realigned MOS": [mos for _, mos, _ in CID2013_ROWS],
        })
        with pd.ExcelWriter(root / "CID2013 data - version 12112014.xlsx", engine="openpyxl") as xl:
            pd.DataFrame({"note": ["other sheet"]}).to_excel(xl, sheet_name="Info", index=False)
            frame.to_excel(xl, sheet_name="CID2013 MOS", index=False)
    else:
        (root / "scores.csv").write_text(
            "image,score\n" + "".join(f"{path},{mos}\n" for _, mos, path in CID2013_ROWS))
    return root


def build_mlive(root: Path, scores: str = "mat") -> Path:
    """MLIVE: To_Release/Part 1/blurjpeg/ and Part 2/blurnoise/ (images and the two
    references each), with per-part Imagelists.mat/Scores.mat ('mat') or a root
    scores.csv ('csv', written with 'Part_1' folder names as LIVE_MD.csv spells them)."""
    csv_lines = ["image,score"]
    for part, rows in MLIVE_ROWS.items():
        part_dir, folder = MLIVE_PARTS[part]
        images = root / "To_Release" / part_dir / folder
        for i, (name, dmos) in enumerate(rows):
            write_image(images / name, seed=i)
            csv_lines.append(f"To_Release/{part_dir.replace(' ', '_')}/{folder}/{name},{dmos}")
        for ref in MLIVE_REFS:
            write_image(images / ref)
        if scores == "mat":
            names = [n for n, _ in rows]
            save_mat(root / "To_Release" / part_dir / "Imagelists.mat",
                     refimgs=_cell(MLIVE_REFS), distimgs=_cell(names),
                     ref4dist=np.array([[1.0 + (n.startswith("wheel"))] for n in names]))
            save_mat(root / "To_Release" / part_dir / "Scores.mat",
                     DMOSscores=np.array([[d for _, d in rows]]))
    if scores == "csv":
        (root / "scores.csv").write_text("\n".join(csv_lines) + "\n")
    return root
