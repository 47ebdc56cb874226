"""One declarative :class:`TableSpec` per table of the paper (Tables 2-12), and the three
layouts they use. Everything table-specific is data here; the code that builds and renders
tables (:mod:`reports.grid`, :mod:`reports.render`) never branches on a table id.

Layouts (:data:`LAYOUTS`):

* ``methods_x_targets`` (Tables 2, 4, 5, 7, 8, 10, 11): one row per method; column groups
  per test dataset, each with PLCC and SROCC. Measured methods add rows (first).
* ``types_x_methods`` (Tables 3, 12): one row per distortion type plus AVERAGE; one column
  per method (SROCC). Measured methods add columns (first); measured LODO folds map to the
  rows by their abbreviation, and their AVERAGE row is the mean of the measured folds.
* ``backbones`` (Tables 6, 9): rows are test dataset x metric; one column per backbone.
  Measured backbones add columns (first).

Bold rule: the paper bolds the best value per printed row in the LODO tables and in the
backbone tables (6 and 9: the best backbone for each dataset and metric), and per printed
column in the method tables.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bench.core.errors import UsageError


@dataclass(frozen=True)
class Layout:
    """How a table's cells are arranged, as data.

    The *entity* axis holds the things compared (methods or backbones); measured entities
    are added to it, before the published ones. The *shared* axis (test datasets x metrics,
    or distortion types) is common to published and measured cells.
    """

    name: str
    entity_axis: str                     # 'rows' or 'columns'
    paper_entity: str                    # paper CSV column with the entity's printed label
    paper_shared: tuple[str, ...]        # paper CSV columns keying the shared axis
    shared_labels: tuple[str, ...]       # paper CSV columns with the shared key's printed labels
    measured_shared: tuple[str, ...]     # measured-results columns keying the shared axis
    measured_entity: str                 # measured-results column naming the entity
    stub_headers: tuple[str, ...]        # header text of the stub (row label) column(s)
    summary_row: str | None = None       # shared key whose measured value is the mean of the others


LAYOUTS: Mapping[str, Layout] = MappingProxyType({
    "methods_x_targets": Layout(
        name="methods_x_targets", entity_axis="rows", paper_entity="row",
        paper_shared=("target", "metric"), shared_labels=("group", "metric"),
        measured_shared=("target", "metric"), measured_entity="method",
        stub_headers=("METHODS",)),
    "types_x_methods": Layout(
        name="types_x_methods", entity_axis="columns", paper_entity="group",
        paper_shared=("row",), shared_labels=("row",),
        measured_shared=("fold",), measured_entity="method",
        stub_headers=("DIST. TYPE",), summary_row="AVERAGE"),
    "backbones": Layout(
        name="backbones", entity_axis="columns", paper_entity="group",
        paper_shared=("target", "metric"), shared_labels=("row", "metric"),
        measured_shared=("target", "metric"), measured_entity="backbone",
        stub_headers=("BACKBONES", "")),
})

# The paper's setting for the method tables: an 8:2 fine-tune split, and each method's
# setting columns at the values it uses by default (the paper's, e.g. c = 2 content
# clusters; reports.measured._prefer). Measured runs at these values are preferred where a
# method has several (a sweep).
PAPER_SETTING = MappingProxyType({"train_ratio": 0.8})

ALL_METHODS = ("erm", "metaiqa", "cis-c", "cis", "cip-c", "cip", "cis+l", "cip+l",
               "cis+m", "cip+m")

# Measured competitors (issue 12): the paper's classical rows trained on each fold by the
# harness (methods/classical, in the order of the paper's LODO tables), and any pyiqa NR
# metric run zero-shot ('pyiqa:*' matches every ``pyiqa:NAME`` method; see measured.py).
CLASSICAL_METHODS = ("bliinds2", "brisque", "niqe", "cornia", "hosa")
# the deep competitors trained by the harness's engine (methods/deep)
DEEP_METHODS = ("wadiqam", "hyperiqa", "dbcnn")
ZERO_SHOT_METHODS = ("pyiqa:*",)
# '*': any other measured method too (a plug-in's runs appear beside the paper's methods)
LODO_METHODS = ALL_METHODS + CLASSICAL_METHODS + DEEP_METHODS + ZERO_SHOT_METHODS + ("*",)


@dataclass(frozen=True)
class TableSpec:
    """Everything the reporter needs to know about one paper table.

    ``protocol``/``datasets``/``where`` select the measured runs that feed the table
    (``datasets`` None: any training set); ``methods`` the measured methods shown (None: every
    measured method); ``prefer`` the setting kept
    when a method has runs at several values of a field; ``bold`` 'row' or 'column'.
    """

    id: int
    caption: str
    layout: str
    protocol: str
    bold: str
    digits: int = 3
    datasets: tuple[str, ...] | None = None
    where: Mapping[str, object] = field(default_factory=dict)
    methods: tuple[str, ...] | None = None
    prefer: Mapping[str, object] = field(default_factory=lambda: dict(PAPER_SETTING))
    metrics: tuple[str, ...] = ("plcc", "srocc")
    title: str = ""
    remarks: tuple[str, ...] = ()
    suffix: str = ""     # appended to the label: one table per model selection ('-type-val')

    @property
    def layout_spec(self) -> Layout:
        """The :class:`Layout` this table uses."""
        return LAYOUTS[self.layout]

    @property
    def label(self) -> str:
        """A stable identifier for files and anchors, e.g. ``table03``."""
        return f"table{self.id:02d}{self.suffix}"


_ZERO_SHOT = ("Ablation study of test results on wild images without fine-tuning using "
              "models trained on TID2013 and KADID-10K.")
_FINETUNE_ABL = ("Ablation study of fine-tuning results on authentically distorted images "
                 "with models trained on TID2013 and KADID-10K.")
_TABLE6_ROWS = ("The paper does not label the two rows per dataset; they are read as PLCC "
                "then SROCC: the RESNET18 column equals CIS's PLCC and SROCC in Tables 2 "
                "and 5, and Table 9 labels its rows in that order.")
_LODO = ("SROCC results comparison in leave-one-distortion-out cross validation on the "
         "synthetically distorted image database {}.")

TABLES: tuple[TableSpec, ...] = (
    TableSpec(2, "Fine-tuning results on authentically distorted image datasets with models "
                 "trained on TID2013 and KADID-10K. Bold indicates the best performance, and "
                 "the same convention is applied to other metrics and tables.",
              "methods_x_targets", "finetune", "column",
              title="Fine-tuning on authentic datasets"),
    TableSpec(3, _LODO.format("KADID-10K"), "types_x_methods", "lodo", "row", digits=4,
              datasets=("kadid10k", "syn-kadid"), methods=LODO_METHODS, metrics=("srocc",),
              title="Leave-one-distortion-out on KADID-10K"),
    TableSpec(4, _ZERO_SHOT, "methods_x_targets", "cross", "column",
              title="Ablation: zero-shot on wild images"),
    TableSpec(5, _FINETUNE_ABL, "methods_x_targets", "finetune", "column",
              title="Ablation: fine-tuning on wild images"),
    TableSpec(6, "Impact of different backbones on the results of CIS.", "backbones",
              "finetune", "row", where={"method": "cis"}, methods=("cis",),
              title="Backbones, CIS",
              remarks=(_TABLE6_ROWS,)),
    TableSpec(7, _ZERO_SHOT, "methods_x_targets", "cross", "column",
              title="Distortion level as a confounder: zero-shot"),
    TableSpec(8, _FINETUNE_ABL, "methods_x_targets", "finetune", "column",
              title="Distortion level as a confounder: fine-tuning"),
    TableSpec(9, "Impact of different backbones on the results of CIP.", "backbones",
              "finetune", "row", where={"method": "cip"}, methods=("cip",),
              title="Backbones, CIP"),
    TableSpec(10, _ZERO_SHOT, "methods_x_targets", "cross", "column",
              title="Multiply-distorted training data (MLIVE): zero-shot"),
    TableSpec(11, _FINETUNE_ABL, "methods_x_targets", "finetune", "column",
              title="Multiply-distorted training data (MLIVE): fine-tuning"),
    TableSpec(12, _LODO.format("TID2013"), "types_x_methods", "lodo", "row", digits=4,
              datasets=("tid2013",), methods=LODO_METHODS, metrics=("srocc",),
              title="Leave-one-distortion-out on TID2013"),
)

SPECS: Mapping[int, TableSpec] = MappingProxyType({s.id: s for s in TABLES})


def get_spec(table_id: int) -> TableSpec:
    """The spec of paper table ``table_id``; UsageError naming the valid ids otherwise."""
    try:
        return SPECS[int(table_id)]
    except (KeyError, ValueError):
        valid = ", ".join(str(t) for t in SPECS)
        raise UsageError(f"unknown table '{table_id}'; valid tables: {valid}") from None


def parse_table_ids(text: str | None) -> list[int]:
    """Parse ``--tables`` ('3,12', '2-5', or empty for all) into a sorted list of table ids."""
    if not text:
        return sorted(SPECS)
    ids: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            rng = range(int(lo), int(hi) + 1) if sep else [int(lo)]
        except ValueError:
            raise UsageError(f"bad --tables value '{part}'; expected numbers like 3,12 or 2-5") from None
        for t in rng:
            ids.add(get_spec(t).id)
    return sorted(ids)


def specs_for(protocol: str, dataset: str) -> list[TableSpec]:
    """The paper tables of ``protocol`` whose rows a measured run on ``dataset`` maps to."""
    return [s for s in TABLES if s.protocol == protocol and s.datasets and dataset in s.datasets]
