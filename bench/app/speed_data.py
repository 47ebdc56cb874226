"""The training set `python -m bench speed` measures on: a LODO fold of a dataset when the
data is here (the synthetic suite already generated, or real data), else random uint8
images shaped like one (24 types x 5 levels x 12 references); the report says which."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

STANDIN_SHAPE = {"types": 24, "levels": 5, "refs": 12}


@dataclass
class SpeedData:
    """A training set for the measurement and where it came from."""

    train: object                     # bench.engine.engine.TrainSet
    kind: str                         # 'suite' | 'real' | 'random'
    description: str
    extra: dict = field(default_factory=dict)


def standin_data(cfg: dict, types: int = STANDIN_SHAPE["types"], levels: int = STANDIN_SHAPE["levels"],
                 refs: int = STANDIN_SHAPE["refs"], seed: int = 0,
                 why: str = "asked for") -> SpeedData:
    """Random uint8 images (data.size px) with random labels, shaped like a LODO fold of
    the KADID-style set: ``types`` x ``levels`` x ``refs`` images (a method dividing it
    by content clusters the first image of each reference)."""
    from ..data.bank import ImageBank
    from ..engine.engine import TrainSet

    rng = np.random.default_rng(seed)
    size = cfg["data"]["size"]
    n = types * levels * refs
    arr = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    type_of = [f"T{k % types:02d}" for k in range(n)]
    level_of = [1 + (k // types) % levels for k in range(n)]
    ref_of = [("standin", f"R{k // (types * levels):02d}") for k in range(n)]
    ts = TrainSet(ImageBank([arr]), np.arange(n, dtype=np.int64), rng.random(n).astype(np.float32),
                  ["standin"] * n, type_of, level_of, ref_of)
    return SpeedData(ts, "random",
                     f"random uint8 stand-in ({types} types x {levels} levels x {refs} refs = {n} "
                     f"images at {size} px, random labels; {why})")


def suite_cached(seed: int = 0) -> bool:
    """True when the synthetic suite of ``seed`` is already generated (no generation)."""
    from ..data.synthetic.suite import read_manifest

    return read_manifest(seed) is not None


def fold_data(cfg: dict, dataset: str, log: Callable[[str], None]) -> SpeedData:
    """The first LODO fold of ``dataset`` through the runner (records, decoded cache,
    training set with the method's extra sets)."""
    from ..core.registry import PROTOCOLS
    from ..engine.session import prepare, train_set_from, with_extra

    real = bool(cfg["data"]["root"]) or bool(cfg["data"]["paths"])
    c = copy.deepcopy(cfg)
    c["protocol"] = {"name": "lodo", **PROTOCOLS.get("lodo").defaults(real), "dataset": dataset}
    session = prepare(c, log)
    fold = session.folds[0]
    ts = train_set_from(session, with_extra(session, fold.method_parts()))
    return SpeedData(ts, "real" if real else "suite",
                     f"{dataset} LODO fold '{fold.name}' ({len(ts)} training images at "
                     f"{cfg['data']['size']} px{', with ' + '+'.join(session.extra) if session.extra else ''})",
                     {"session": session})


def speed_data(cfg: dict, data: str, dataset: str, log: Callable[[str], None]) -> SpeedData:
    """data: auto (the fold when real data is given or the suite is cached, else the
    stand-in) | suite (the fold; generates the suite if needed) | random."""
    real = bool(cfg["data"]["root"]) or bool(cfg["data"]["paths"])
    if data == "random":
        return standin_data(cfg, seed=cfg["seed"], why="--data random")
    if data == "suite" or real or (dataset.startswith("syn-") and suite_cached(cfg["data"]["synthetic_seed"])):
        return fold_data(cfg, dataset, log)
    return standin_data(cfg, seed=cfg["seed"],
                        why="the synthetic suite is not generated here: --data suite generates it")
