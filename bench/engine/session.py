"""The plan of a protocol run: the resolved config checked, the records of the protocol's
datasets loaded, the folds listed with a fingerprint of the data each trains and tests on,
and (``prepare``) the images decoded behind one bank. Also what a fold's training sees:
its training set."""
from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..core.config import config_hash, dumps, validate, with_method_settings
from ..core.errors import UsageError
from ..core.record import folder_name
from ..core.registry import METHODS, OWN_DISTRIBUTION, PROTOCOLS
from ..core.version import __version__
from ..data.bank import ImageBank
from ..data.cache import decoded_array
from ..data.open import open_dataset
from ..data.records import Dataset
from .protocol import Fold


@dataclass
class Session:
    """Everything shared by the folds of one protocol run."""

    cfg: dict
    protocol: object
    method_cls: type
    datasets: dict[str, Dataset]
    bank: Optional[ImageBank]
    offsets: dict[str, int]
    folds: list[Fold]
    extra: list[str]
    digests: dict = field(default_factory=dict)  # dataset -> per-record content digests
    pairs: object | None = None  # PairBank of the datasets (full-reference methods)


def is_pair_method(method_cls: type) -> bool:
    """Whether the method is full-reference (``inputs = 'pairs'``, bench/engine/method.py)."""
    return method_cls.inputs == "pairs"


def check_config(cfg: dict) -> dict:
    """Every config value and the model's settings checked (UsageError naming the first bad
    one), before any file is touched; ``cfg`` returned with the method's settings filled."""
    from .models import check_model_config
    from .device import resolve_device

    validate(cfg)
    check_model_config(cfg["model"])
    resolve_device(str(cfg["device"]))   # cpu | cuda[:k] | auto, and CUDA present if asked
    weights_identity(cfg, METHODS.get(cfg["method"]))   # a strict run's missing weights
    return cfg


def weights_identity(cfg: dict, method_cls: type) -> dict:
    """{role: 'sha256:<16 hex>' or 'none'} of every weights file a run of ``cfg`` loads:
    the backbone's ('backbone', none for a method that trains no network) and the method's
    own (``Method.weights_files``, e.g. its feature extractor). Part of the run identity, so
    a fold trained from random init is never taken for one trained from a checkpoint.
    UsageError (one line, naming the file) when a strict run's weights are missing."""
    from .models import backbone_weights, file_digest

    files = {"backbone": backbone_weights(cfg["model"]) if method_cls.trains_network else None,
             **method_cls.weights_files(cfg)}
    return {role: file_digest(p) if p is not None else "none" for role, p in files.items()}


def load_plan(cfg: dict, log: Callable[[str], None] = print) -> Session:
    """Check every config value, load the records of the protocol's datasets (and the
    method's extra training sets) and list the folds, each with ``info['data_fingerprint']``;
    no image is decoded (``bank`` is None until :func:`prepare`)."""
    check_config(cfg)
    protocol = PROTOCOLS.get(cfg["protocol"]["name"])()
    protocol.check_options(cfg["protocol"])
    method_cls = METHODS.get(cfg["method"])
    data = cfg["data"]
    real = bool(data["root"]) or bool(data["paths"])
    extra = list(method_cls.extra_train["real" if real else "synthetic"])
    names = list(dict.fromkeys(protocol.datasets(cfg["protocol"]) + extra))
    datasets = {n: open_dataset(n, data["root"], data["paths"], data["synthetic_seed"], log)
                for n in names}
    folds = protocol.folds(cfg["protocol"], datasets, cfg["seed"])
    check_inputs(cfg, protocol, method_cls, datasets, folds)
    digests = {n: record_digests(ds) for n, ds in datasets.items()}
    s = Session(cfg, protocol, method_cls, datasets, None, {}, folds, extra, digests)
    for fold in folds:
        fold.info["data_fingerprint"] = fold_fingerprint(fold, digests, extra)
        s.method_cls.check_training(cfg, fold.name, [
            (n, s.datasets[n].records[i]) for n, idx in with_extra(s, fold.method_parts())
            for i in idx])
    return s


def check_inputs(cfg: dict, protocol, method_cls: type, datasets: dict, folds: list) -> None:
    """UsageError (one line) when method and protocol disagree on their inputs: a
    no-reference method under a full-reference protocol, a full-reference method under a
    protocol that pretrains (its artifacts are no-reference networks) or on a dataset
    without reference images."""
    method, pname = cfg["method"], cfg["protocol"]["name"]
    if protocol.inputs == "pairs" and not is_pair_method(method_cls):
        fr = [n for n, c in METHODS.items() if is_pair_method(c)]
        raise UsageError(f"--protocol {pname} is full-reference but --method {method} is "
                         "no-reference; use a full-reference method"
                         + (f" ({', '.join(fr)}, ...)" if fr else "") + " (see `python -m bench list`)")
    if not is_pair_method(method_cls):
        return
    stage = next((st for f in folds for st in f.stages if not st.pairs), None)
    if stage is not None:
        fr = [n for n, c in PROTOCOLS.items() if c.inputs == "pairs"]
        raise UsageError(f"--method {method} is full-reference and cannot run --protocol {pname} "
                         f"(its {stage.name} stage trains a no-reference network); use "
                         f"{', '.join(fr) or 'an FR protocol'} or a protocol without such a stage")
    for name, ds in datasets.items():
        if not any(r.ref_image for r in ds.records):
            raise UsageError(f"--method {method} is full-reference but dataset '{name}' has no "
                             "reference images; use a dataset with references (tid2013, "
                             "kadid10k, mlive or a synthetic set with references)")


def record_digests(ds: Dataset) -> list[bytes]:
    """Per record a cheap content identity: image name, score, file size and mtime (ns)."""
    out = []
    for r in ds.records:
        try:
            st = os.stat(Path(ds.root) / r.image)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        out.append(hashlib.sha256(f"{r.image}\0{r.mos!r}\0{r.ref}\0{r.dist_type}\0{r.level}\0"
                                  f"{stamp}".encode()).digest())
    return out


def fold_fingerprint(fold: Fold, digests: dict[str, list[bytes]], extra: list[str]) -> str:
    """sha256 (16 hex) of the records a fold trains, pre-trains and tests on, in order."""
    h = hashlib.sha256()
    by_label = fold.parts_by_label()
    parts = [("train", by_label.pop("train", [])), ("pretrain", by_label.pop("pretrain", [])),
             ("extra", [(n, range(len(digests[n]))) for n in extra])]
    if fold.unlabelled:   # only then: the fingerprints of other folds stay as they were
        parts.append(("unlabelled", fold.unlabelled))
    parts += list(by_label.items())    # the parts of a protocol's own stages
    parts += [(f"test:{t}", [v]) for t, v in fold.tests.items()]
    for label, group in parts:
        h.update(label.encode())
        for name, idx in group:
            h.update(f"\0{name}\0".encode())
            for i in idx:
                h.update(digests[name][i])
    return h.hexdigest()[:16]


def parts_fingerprint(s: Session, parts: list) -> str:
    """sha256 (16 hex) of the records of (dataset, indices) ``parts``, in order."""
    h = hashlib.sha256()
    for name, idx in parts:
        h.update(f"\0{name}\0".encode())
        for i in idx:
            h.update(s.digests[name][i])
    return h.hexdigest()[:16]


def fold_config(cfg: dict, fold: Fold) -> dict:
    """The resolved config of one fold's run (what its hash covers): the config with the
    method's settings, the fold's name, the code version and the fingerprint of its data
    (which is why data.root may stay out of the hash). The method's settings are those
    it effectively uses (:meth:`bench.engine.method.Method.effective_settings`); ``weights``
    holds the digest of every weights file it loads (:func:`weights_identity`)."""
    out = with_method_settings(copy.deepcopy(cfg))
    if isinstance(out.get("method"), str) and out["method"] in METHODS:
        out["method_settings"] = METHODS.get(out["method"]).effective_settings(out)
    out["fold"] = fold.name
    out["code_version"] = __version__
    out["data_fingerprint"] = fold.info.get("data_fingerprint")
    if isinstance(out.get("method"), str) and out["method"] in METHODS:
        out["weights"] = weights_identity(out, METHODS.get(out["method"]))
    plugins = {kind: {k: o.get(k) for k in ("distribution", "version", "module")}
               for kind, o in provenance(out).items() if o.get("distribution") != OWN_DISTRIBUTION}
    if plugins:   # a plug-in's runs (one replacing a built-in name too) are never the built-in's
        out["plugins"] = plugins
    return out


def provenance(cfg: dict) -> dict:
    """{'method': origin, 'protocol': origin} of a config's method and protocol (module,
    object, distribution, version; bench.core.registry.Registry.origin): what a record
    says about where they came from."""
    name = (cfg.get("protocol") or {}).get("name")
    return {"method": METHODS.origin(cfg["method"]) if isinstance(cfg.get("method"), str) else {},
            "protocol": PROTOCOLS.origin(name) if isinstance(name, str) else {}}


def run_folder(cfg: dict, fold: Fold, out_dir: Path) -> Path:
    """The run folder of ``fold`` under ``out_dir`` (named by the fold config's hash)."""
    fcfg = fold_config(cfg, fold)
    return Path(out_dir) / folder_name(fcfg, config_hash(fcfg))


def prepare(cfg: dict, log: Callable[[str], None] = print) -> Session:
    """:func:`load_plan`, then decode every dataset into the cache at data.size and put
    them behind one image bank."""
    s = load_plan(cfg, log)
    arrays, at = [], 0
    for n, ds in s.datasets.items():
        arrays.append(decoded_array(ds, cfg["data"]["size"], log=log))
        s.offsets[n] = at
        at += len(ds)
    s.bank = ImageBank(arrays)
    if is_pair_method(s.method_cls):
        from ..data.pairs import pair_bank

        s.pairs = pair_bank(list(s.datasets.values()), s.bank, cfg["data"]["size"], log=log)
    return s


def with_extra(s: Session, parts: list) -> list:
    """``parts`` plus every record of the method's extra training sets (+M)."""
    return list(parts) + [(n, list(range(len(s.datasets[n])))) for n in s.extra]


def train_set_from(s: Session, parts: list):
    """TrainSet of (dataset name, record indices) parts; references keyed by dataset."""
    from .engine import TrainSet

    index, mos, dsn, types, levels, refs, ref_images = [], [], [], [], [], [], {}
    for name, idx in parts:
        ds = s.datasets[name]
        for i in idx:
            r = ds.records[i]
            index.append(s.offsets[name] + i)
            mos.append(r.mos)
            dsn.append(name)
            types.append(r.dist_type)
            levels.append(r.level)
            key = (name, r.ref if r.ref is not None else r.image)
            refs.append(key)
            ref_images.setdefault(key, (ds, r))
    return TrainSet(s.bank, np.asarray(index, dtype=np.int64), np.asarray(mos, dtype=np.float32),
                    dsn, types, levels, refs, ref_images)


def pair_train_set_from(s: Session, labelled: list, unlabelled: list = ()):
    """PairTrainSet (bench/engine/pair_method.py) of a fold's training pairs: the ``labelled``
    and ``unlabelled`` (dataset, indices) parts merged in dataset order, then record order
    (so which pairs keep labels does not change the set's order), MOS NaN for every
    unlabelled pair. The records in ``ref_images`` carry no scores either."""
    import dataclasses

    from .pair_method import PairTrainSet

    keep: dict[str, dict[int, bool]] = {}
    for parts, flag in ((labelled, True), (unlabelled, False)):
        for name, idx in parts:
            got = keep.setdefault(name, {})
            for i in idx:
                got[int(i)] = got.get(int(i), True) and flag   # unlabelled wins
    index, mos, dsn, types, levels, refs, ref_images = [], [], [], [], [], [], {}
    for name, flags in keep.items():
        ds = s.datasets[name]
        bare = dataclasses.replace(ds, records=[])   # no scores reachable through it
        for i in sorted(flags):
            r = ds.records[i]
            index.append(s.offsets[name] + i)
            mos.append(r.mos if flags[i] else np.nan)
            dsn.append(name)
            types.append(r.dist_type)
            levels.append(r.level)
            key = (name, r.ref if r.ref is not None else r.image)
            refs.append(key)
            ref_images.setdefault(key, (bare, dataclasses.replace(r, mos=np.nan, mos_raw=np.nan)))
    return PairTrainSet(s.bank, np.asarray(index, dtype=np.int64), np.asarray(mos, dtype=np.float32),
                        dsn, types, levels, refs, ref_images, pairs=s.pairs)


def print_config(cfg: dict, log=print) -> None:
    """Print the resolved config (with the method's settings) at the start of a run."""
    log("resolved config:\n" + dumps(with_method_settings(copy.deepcopy(cfg))))
