"""The dataset record: one row per image, the unit every protocol and method works on."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Record:
    """One image of a dataset.

    image: path relative to the dataset root (also the image's unique id in the dataset).
    mos: score normalized to [0, 1], higher is better (per-dataset rule, docs/readings.md).
    mos_raw: the score as the release gives it (MOS or DMOS on the release's scale).
    ref: reference (content) id, or None for authentic images.
    ref_image: path of the reference image relative to the root, when the release has one.
    dist_type: distortion type abbreviation as the paper's tables use it (e.g. 'GB'),
        or None where the dataset has no type labels.
    dist_id: 1-based distortion type id within its dataset, or None.
    level: distortion level (1 = mildest), or None.
    """

    image: str
    mos: float
    mos_raw: float
    ref: Optional[str] = None
    ref_image: Optional[str] = None
    dist_type: Optional[str] = None
    dist_id: Optional[int] = None
    level: Optional[int] = None


@dataclass
class Dataset:
    """A named table of records living under ``root``.

    kind: 'synthetic' (types and levels labelled), 'authentic' or 'multiply'.
    type_names: the dataset's distortion type abbreviations in id order (empty if none).
    label_source: names of the full-reference metrics the scores were computed from
        (pyiqa's names, and 'ciede2000'), for a set whose MOS is a pseudo-MOS (the
        synthetic sets); empty for human scores. A metric named here is not an
        independent judge of this set.
    """

    name: str
    root: Path
    records: list[Record]
    kind: str
    type_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_source: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def path(self, rec: Record) -> Path:
        """Absolute path of a record's image file."""
        return Path(self.root) / rec.image

    @property
    def has_types(self) -> bool:
        return any(r.dist_type is not None for r in self.records)

    @property
    def has_refs(self) -> bool:
        return any(r.ref is not None for r in self.records)

    def refs(self) -> list[str]:
        """Sorted distinct reference ids."""
        return sorted({r.ref for r in self.records if r.ref is not None})

    def types(self) -> list[str]:
        """Distinct distortion types present, in the dataset's id order."""
        present = {r.dist_type for r in self.records if r.dist_type is not None}
        ordered = [t for t in self.type_names if t in present]
        return ordered + sorted(present - set(ordered))
