"""Runs a protocol for a method: loads the data once, then trains and tests fold by fold,
each fold in its own run folder (skipped when already done)."""
from __future__ import annotations

import copy
import platform
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import __version__
from .config import config_hash, dumps
from .data.bank import ImageBank
from .data.cache import decode_image, decoded_array
from .data.open import open_dataset
from .data.records import Dataset
from .division import build_subsets, cluster_probabilities, content_features
from .errors import UsageError
from .metrics import all_metrics
from .protocol import Fold
from .registry import METHODS, PROTOCOLS
from .runs import (claim, folder_name, is_done, mark_done, read_metrics, reset_unfinished,
                   write_json, write_predictions)


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


def resolve_device(name: str):
    """torch.device for 'auto' | 'cpu' | 'cuda[:k]'; UsageError if CUDA is asked but absent."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UsageError(f"--device must be cpu, cuda or auto, not '{name}'")
    return torch.device(name)


def load_plan(cfg: dict, log: Callable[[str], None] = print) -> Session:
    """Load the records of the protocol's datasets (and the method's extra training sets)
    and list the folds; no image is decoded (``bank`` is None until :func:`prepare`)."""
    protocol = PROTOCOLS.get(cfg["protocol"]["name"])()
    method_cls = METHODS.get(cfg["method"])
    data = cfg["data"]
    real = bool(data["root"]) or bool(data["paths"])
    extra = list(method_cls.extra_train["real" if real else "synthetic"])
    names = list(dict.fromkeys(protocol.datasets(cfg["protocol"]) + extra))
    datasets = {n: open_dataset(n, data["root"], data["paths"], data["synthetic_seed"], log)
                for n in names}
    if data["crop"] > data["size"]:
        raise UsageError(f"data.crop ({data['crop']}) is larger than data.size ({data['size']})")
    folds = protocol.folds(cfg["protocol"], datasets, cfg["seed"])
    return Session(cfg, protocol, method_cls, datasets, None, {}, folds, extra)


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
    return s


def fold_config(cfg: dict, fold: Fold) -> dict:
    """The resolved config of one fold's run (what its hash covers)."""
    out = copy.deepcopy(cfg)
    out["fold"] = fold.name
    out["code_version"] = __version__
    return out


def with_extra(s: Session, parts: list) -> list:
    """``parts`` plus every record of the method's extra training sets (+M)."""
    return list(parts) + [(n, list(range(len(s.datasets[n])))) for n in s.extra]


def _train_set(s: Session, fold: Fold):
    """The training set of a fold trained directly by the method (plus its extra data)."""
    return train_set_from(s, with_extra(s, fold.train))


def train_set_from(s: Session, parts: list):
    """TrainSet of (dataset name, record indices) parts; references keyed by dataset."""
    from .train import TrainSet

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


def _subset_provider(s: Session, ts, cfg: dict, log):
    """subsets(clusters, levels) for the fold: content clusters of its references."""
    cache: dict = {}

    def reference_image(ds: Dataset, rec):
        size = cfg["data"]["size"]
        if rec.ref_image:
            return decode_image(Path(ds.root) / rec.ref_image, size)
        return s.bank.image(s.offsets[ds.name] + ds.records.index(rec))

    def subsets(clusters: Optional[int] = None, levels: bool = False):
        div = cfg["division"]
        q = div["clusters"] if clusters is None else clusters
        if q not in cache:
            keys = sorted(ts.ref_images, key=str)
            if q > 1:
                feats, used = content_features([reference_image(*ts.ref_images[k]) for k in keys],
                                               div["feature"], log)
                w = cluster_probabilities(feats, q, div["tsne_dims"], div["perplexity"],
                                          cfg["seed"], div["covariance"])
                cache["feature"] = used
            else:
                w = np.ones((len(keys), 1))
            cache[q] = dict(zip(keys, w))
        types = ts.type_keys()
        if any(t[1] is None for t in types):
            raise UsageError("the causal methods and MetaIQA need distortion type labels for "
                             "every training image")
        return build_subsets(types, ts.ref, cache[q], q, ts.level if levels else None)

    subsets.cache = cache
    return subsets


def _metrics_header(s: Session, cfg: dict, fold: Fold) -> dict:
    return {"protocol": cfg["protocol"]["name"], "protocol_version": s.protocol.version,
            "fold": fold.name, "method": cfg["method"], "method_display": s.method_cls.display,
            "dataset": "+".join(n for n, _ in (fold.pretrain or fold.train)),
            "extra_train": s.extra, "backbone": cfg["model"]["backbone"],
            "profile": cfg["profile"], "seed": cfg["seed"],
            "clusters": cfg["division"]["clusters"], **fold.info}


def _seed_everything(cfg: dict, label: str) -> int:
    import torch

    seed = (cfg["seed"] * 1_000_003 + zlib.crc32(label.encode())) % 2**32
    threads = cfg.get("engine", {}).get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    if cfg.get("deterministic"):
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


def _progress(cfg: dict, desc: str, epochs: int):
    """A tqdm bar over epochs and the epoch_done callback feeding it; (bar, history, cb)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False, file=sys.stderr,
               dynamic_ncols=True)
    history: list[float] = []

    def epoch_done(epoch: int, loss: float) -> None:
        history.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}")
        bar.update(1)

    return bar, history, epoch_done


def _fit(s: Session, cfg: dict, parts: list, label: str, desc: str, log,
         checkpoint: Optional[Path] = None):
    """Build a model and train it with the method on ``parts`` (resuming from
    ``checkpoint`` when train.checkpoint is on); returns (engine, init, facts) where facts
    records the training for the run's metrics."""
    from .models import build_model
    from .train import Engine, FitContext

    seed = _seed_everything(cfg, label)
    device = resolve_device(cfg["device"])
    model, init = build_model(cfg["model"], log)
    engine = Engine(cfg, model, device, np.random.default_rng(seed))
    ts = train_set_from(s, parts)
    subsets = _subset_provider(s, ts, cfg, log)
    bar, history, epoch_done = _progress(cfg, desc, cfg["train"]["epochs"])
    t0 = time.time()
    ck = checkpoint if cfg["train"].get("checkpoint") else None
    try:
        s.method_cls(cfg).fit(FitContext(engine, ts, cfg, subsets, epoch_done, ck))
    finally:
        bar.close()
    facts = {"n_train": len(ts), "train_seconds": round(time.time() - t0, 2),
             "loss_history": history, "images_seen": engine.images_seen,
             "content_feature": subsets.cache.get("feature"), "engine": engine.describe()}
    return engine, init, facts


def pretrain_identity(cfg: dict, parts: list) -> dict:
    """What defines a pretrained model: the config less the protocol, fold, test and
    fine-tune settings, plus which records trained it."""
    ident = {k: v for k, v in copy.deepcopy(cfg).items()
             if k not in ("protocol", "fold", "test", "finetune")}
    ident["pretrain"] = [(n, len(idx), zlib.crc32(np.asarray(idx, dtype=np.int64).tobytes()))
                         for n, idx in parts]
    return ident


def pretrained_engine(s: Session, cfg: dict, parts: list, out_dir: Path, log, desc: str):
    """An engine holding the method's model trained on ``parts``: loaded from the model
    artifact ``<out>/models/<method>-<hash>/`` when it exists, trained and saved there
    otherwise (under a lock, so concurrent workers train it once)."""
    import torch

    from .data.atomic import file_lock
    from .models import build_model
    from .train import Engine

    ident = pretrain_identity(cfg, parts)
    folder = Path(out_dir) / "models" / f"{cfg['method']}-{config_hash(ident)}"
    with file_lock(Path(out_dir) / "models" / f".{folder.name}.lock"):
        if is_done(folder):
            facts = read_metrics(folder)
            seed = _seed_everything(cfg, "pretrain")
            model, _ = build_model(cfg["model"], lambda m: None)
            state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            engine = Engine(cfg, model, resolve_device(cfg["device"]), np.random.default_rng(seed))
            log(f"{desc}: reusing the trained model {folder}")
            return engine, facts["backbone_init"], {**facts, "model_dir": str(folder)}
        folder.mkdir(parents=True, exist_ok=True)
        engine, init, facts = _fit(s, cfg, parts, "pretrain", f"{desc} pretrain", log,
                                   folder / "checkpoint.pt")
        save_model(engine.model, folder / "model.pt")
        facts = {**facts, "backbone_init": init, "method": cfg["method"]}
        write_json(folder / "config.json", ident)
        write_json(folder / "metrics.json", facts)
        mark_done(folder)
        (folder / "checkpoint.pt").unlink(missing_ok=True)
        return engine, init, {**facts, "model_dir": str(folder)}


def save_model(model, path: Path) -> None:
    """Write the model's state dict (CPU tensors) to ``path`` atomically; loadable with
    torch.load(weights_only=True) into ``build_model(cfg['model'])``."""
    import io

    import torch

    from .data.atomic import write_bytes_atomic

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    write_bytes_atomic(Path(path), buf.getvalue())


def finetune(engine, ts, cfg: dict, desc: str) -> list[float]:
    """Fine-tune all parameters on ``ts`` with the ``finetune`` schedule (Adam, L1, uniform
    minibatches, finetune.epochs); selection: the last epoch. Returns the epoch losses."""
    from .train import BatchSampler

    f = cfg["finetune"]
    opt = engine.adam(engine.model.parameters(), f["lr"])
    sampler = BatchSampler(np.arange(len(ts)), f["batch_size"], engine.rng)
    bar, history, epoch_done = _progress(cfg, desc, f["epochs"])
    try:
        for epoch in range(f["epochs"]):
            losses = [engine.step(opt, ts, sampler.next(), loss_kind="l1")
                      for _ in range(sampler.batches_per_pass)]
            epoch_done(epoch, float(np.mean(losses)))
    finally:
        bar.close()
    return history


def run_fold(s: Session, fold: Fold, out_dir: Path, log=print, position: str = "") -> dict:
    """Train (or fine-tune) and test one fold in its run folder; returns its metrics (read
    back when the folder is already done). The done marker is written after every file."""
    import torch

    cfg = fold_config(s.cfg, fold)
    folder = run_folder(s.cfg, fold, out_dir)
    desc = f"{position} {fold.name}".strip()
    if is_done(folder):
        log(f"{desc}: done already ({folder}), skipped")
        return {**read_metrics(folder), "run_dir": str(folder)}
    with claim(folder) as mine:
        if not mine:
            log(f"{desc}: another worker is running {folder}; skipped")
            return {}
        if is_done(folder):
            return {**read_metrics(folder), "run_dir": str(folder)}
        reset_unfinished(folder)
        write_json(folder / "config.json", cfg)
        if fold.pretrain is not None:
            engine, init, facts = pretrained_engine(s, cfg, with_extra(s, fold.pretrain), out_dir,
                                                    log, desc)
            if fold.train:
                _seed_everything(cfg, fold.name)
                ts = train_set_from(s, fold.train)
                facts = {**facts, "finetune_loss_history": finetune(engine, ts, cfg, f"{desc} finetune"),
                         "n_finetune": len(ts)}
        else:
            engine, init, facts = _fit(s, cfg, with_extra(s, fold.train), fold.name, desc, log,
                                       folder / "checkpoint.pt")
        rows, per_target = [], {}
        for target, (name, idx) in fold.tests.items():
            ds = s.datasets[name]
            pred = engine.predict(s.bank, s.offsets[name] + np.asarray(idx, dtype=np.int64),
                                  cfg["test"]["batch_size"])
            mos = np.asarray([ds.records[i].mos for i in idx])
            per_target[target] = all_metrics(pred, mos)
            rows += [{"target": target, "image": ds.records[i].image, "mos": m, "prediction": p}
                     for i, m, p in zip(idx, mos, pred)]
        metrics = {
            **per_target[next(iter(per_target))], "targets": per_target,
            **_metrics_header(s, cfg, fold), "backbone_init": init, **facts,
            "device": str(engine.device), "torch_threads": torch.get_num_threads(),
            "deterministic": {"use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                              "cudnn_deterministic": torch.backends.cudnn.deterministic,
                              "cudnn_benchmark": torch.backends.cudnn.benchmark},
            "versions": {"bench": __version__, "python": platform.python_version(),
                         "torch": torch.__version__, "numpy": np.__version__},
        }
        if cfg.get("save_model", True):
            save_model(engine.model, folder / "model.pt")
        write_predictions(folder / "predictions.csv", rows)
        write_json(folder / "metrics.json", metrics)
        mark_done(folder)
        (folder / "checkpoint.pt").unlink(missing_ok=True)
    metrics["run_dir"] = str(folder)
    return metrics


def print_config(cfg: dict, log=print) -> None:
    """Print the resolved config at the start of a run."""
    log("resolved config:\n" + dumps(cfg))
