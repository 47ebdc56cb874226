"""Table 1 of the paper (the datasets: number of images, MOS range, distortion kind), from
the datasets found on this machine, with the paper's published Table 1 beside it.

Found datasets: the synthetic suite (always; generated once when absent) and each real
release under ``--data-root`` or given with ``--set data.NAME=PATH``. For each one the table
gives the number of images its score file lists, the range of its raw scores as the
release gives them (MOS or DMOS on the release's own scale; the paper prints the nominal
scale instead, so the two ranges are not expected to be equal) and its kind. Rows follow
the paper's order, then the other datasets found. The result is a :class:`~reports.grid.Grid`
of text cells, so the usual LaTeX/HTML/Markdown templates render it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .grid import Cell, Grid, HeaderCell, Row
from .tables import TableSpec

#: The paper's Table 1, as printed: (key, printed name, number, MOS range, distortion type).
PAPER_TABLE1 = (
    ("tid2013", "TID2013", 3000, "[0,9]", "Synthetic"),
    ("kadid10k", "KADID-10K", 10125, "[1,5]", "Synthetic"),
    ("koniq10k", "KonIQ-10K", 10073, "[1,5]", "Authentic"),
    ("livec", "LIVE-C", 1162, "[0,100]", "Authentic"),
    ("cid2013", "CID2013", 480, "[0,100]", "Authentic"),
)
KIND_LABELS = {"synthetic": "Synthetic", "authentic": "Authentic", "multiply": "Multiply distorted"}
SPEC = TableSpec(1, "Attributes of five typical IQA databases in experiments.",
                 "methods_x_targets", "", "column", title="Datasets")
MISSING = "-"


@dataclass(frozen=True)
class DatasetFacts:
    """What Table 1 shows of one dataset found on disk (or why it could not be read)."""

    name: str
    images: int = 0
    mos_min: float = float("nan")
    mos_max: float = float("nan")
    kind: str = ""
    synthetic: bool = False
    folder: str = ""
    error: str = ""


def facts_of(ds, synthetic: bool = False) -> DatasetFacts:
    """The Table 1 facts of a loaded :class:`bench.data.records.Dataset`: the range of its
    raw scores, or for a synthetic-suite set (whose raw score is an internal ensemble value)
    of its pseudo-MOS in [0, 1]."""
    raw = [r.mos if synthetic else r.mos_raw for r in ds.records]
    return DatasetFacts(ds.name, len(ds.records), min(raw) if raw else float("nan"),
                        max(raw) if raw else float("nan"), ds.kind, synthetic, str(ds.root))


def collect_datasets(data_root: Optional[str] = None, paths: Optional[dict] = None,
                     synthetic_seed: int = 0, synthetic: bool = True,
                     log: Callable[[str], None] = print) -> list[DatasetFacts]:
    """Facts of every dataset found: the synthetic suite (when ``synthetic``) and every
    registered real release under ``data_root`` or in ``paths`` ({name: folder}). A release
    that fails to load is kept with its error, so the table says so instead of failing."""
    from bench.data.open import open_dataset
    from bench.data.registry import dataset_names, find_release, get_spec
    from bench.data.synthetic.domains import is_domain_set
    from bench.core.errors import BenchError, unknown_choice

    paths = dict(paths or {})
    names = dataset_names()
    for name in paths:
        if name not in names:
            raise unknown_choice("dataset", name, names)
    out = []
    for name in names:
        spec = get_spec(name)
        if spec.synthetic:
            if synthetic and not is_domain_set(name):   # the paper's Table 1 has no such domains
                out.append(facts_of(open_dataset(name, synthetic_seed=synthetic_seed, log=log), True))
            continue
        if name in paths:
            folder = Path(paths[name]).expanduser()
        elif data_root and name != "metainfo":
            folder = find_release(spec, Path(data_root).expanduser())
            if folder is None:
                continue
        else:
            continue
        try:
            out.append(facts_of(spec.load(folder)))
        except (BenchError, OSError) as exc:
            out.append(DatasetFacts(name, folder=str(folder), error=str(exc)))
    return out


def _range(lo: float, hi: float) -> str:
    return f"[{lo:.4g}, {hi:.4g}]"


def build_table1(found: Optional[list[DatasetFacts]] = None) -> Grid:
    """Table 1 as a grid: the paper's numbers alone when ``found`` is None, otherwise the
    found and published values side by side (column groups Number, MOS range, Distortion
    type, each 'found' then 'paper'); datasets in the paper's order, then the others."""
    paper = {k: (name, n, rng, kind) for k, name, n, rng, kind in PAPER_TABLE1}
    if found is None:
        header = [[HeaderCell("Databases"), HeaderCell("Number"), HeaderCell("MOS Range"),
                   HeaderCell("Distortion Type")]]
        rows = [Row([name], [Cell(text=f"{n:,}"), Cell(text=rng), Cell(text=kind)])
                for name, n, rng, kind in paper.values()]
        return Grid(SPEC, header, rows, [], 1)

    by_name = {f.name: f for f in found}
    order = [k for k in paper] + [f.name for f in found if f.name not in paper]
    top = [HeaderCell("")] + [HeaderCell(t, 2, rule=True)
                               for t in ("Number", "MOS Range", "Distortion Type")]
    bottom = [HeaderCell("Databases")] + [HeaderCell(s) for _ in range(3) for s in ("found", "paper")]
    rows, notes = [], []
    for key in order:
        f = by_name.get(key)
        label, n_paper, rng_paper, kind_paper = paper.get(key, (key, None, MISSING, MISSING))
        if f is None or f.error:
            mine = [MISSING] * 3
            if f is not None:
                notes.append(f"{label}: the release at {f.folder} could not be read: {f.error}")
        else:
            mine = [f"{f.images:,}", _range(f.mos_min, f.mos_max), KIND_LABELS.get(f.kind, f.kind)]
            if n_paper is not None and f.images != n_paper:
                notes.append(f"{label}: {f.images:,} images found, the paper lists {n_paper:,}"
                             + (" (the CID2013 release holds 474)" if key == "cid2013" else "") + ".")
        theirs = [f"{n_paper:,}" if n_paper is not None else MISSING, rng_paper, kind_paper]
        cells = [Cell(text=t, source=src) for pair in zip(mine, theirs)
                 for t, src in zip(pair, ("measured", "paper"))]
        name = f"{label} ({key})" if key in paper else key
        rows.append(Row([name], cells))
    notes.append("found: images listed in the release's score file and the range of its raw "
                 "scores (MOS or DMOS on the release's scale; pseudo-MOS in [0, 1] for the "
                 "synthetic-suite sets syn-*, which stand in for the releases when none is "
                 "on disk); the paper prints the nominal scale. '-': not found here or not "
                 "in the paper.")
    return Grid(SPEC, [top, bottom], rows, notes, 1)
