"""Trains and tests one fold in its run folder (skipped when already done and valid), and
the pretrained model artifacts the fine-tune protocol shares between folds. Every folder
is written through :class:`bench.core.record.RunFolder`."""
from __future__ import annotations

import copy
import platform
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from ..core.version import __version__
from ..core.config import config_hash
from .loop import CheckpointDiscarded, FitContext
from ..core.metrics import DEFAULT_LOGISTIC, all_metrics, count_failed_fits
from .device import resolve_device
from .session import (
    Session,
    fold_config,
    run_folder,
    is_pair_method,
    pair_train_set_from,
    parts_fingerprint,
    subset_provider,
    train_set_from,
    with_extra,
)
from .protocol import Fold
from ..core.record import BadRunFolder, RunFolder, RunRecord
from ..core.scope import run_scope


def _seed(cfg: dict, label: str) -> int:
    """Seed torch from the run's seed and ``label``; the seed of the numpy generator."""
    import torch

    seed = (cfg["seed"] * 1_000_003 + zlib.crc32(label.encode())) % 2**32
    torch.manual_seed(seed)
    return seed


def _progress(desc: str, epochs: int):
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
         checkpoint: Path | None = None, unlabelled: list = ()):
    """Build a model and train it with the method on ``parts`` (and, for a full-reference
    method, the ``unlabelled`` parts without their MOS) (resuming from ``checkpoint`` when
    train.checkpoint is on; from scratch when that checkpoint turns out unusable); returns
    (engine, init, facts), facts recording the training."""
    from .method import build_network
    from .engine import Engine

    pairs = is_pair_method(s.method_cls)
    while True:
        seed = _seed(cfg, label)
        model, init = build_network(s.method_cls, cfg, log)
        engine = Engine(cfg, model, resolve_device(cfg["device"]), np.random.default_rng(seed))
        ts = pair_train_set_from(s, parts, unlabelled) if pairs else train_set_from(s, parts)
        subsets = subset_provider(s, ts, cfg, log)
        method = s.method_cls(cfg)
        bar, history, epoch_done = _progress(desc, int(method.schedule()["epochs"]))
        t0 = time.time()
        ck = checkpoint if cfg["train"].get("checkpoint") else None
        try:
            method.fit(FitContext(engine, ts, cfg, subsets, epoch_done, ck, log))
            engine.predictor = getattr(method, "predict_pairs" if pairs else "predict_images", None)
            break
        except CheckpointDiscarded:
            continue
        finally:
            bar.close()
    facts = {"n_train": len(ts), "train_seconds": round(time.time() - t0, 2),
             "loss_history": history, "images_seen": engine.images_seen,
             "optimizer_steps": engine.optimizer_steps,
             **({"n_labelled": int(np.isfinite(ts.mos).sum())} if pairs else {}),
             "content_feature": subsets.cache.get("feature"), "engine": engine.describe(),
             **training_fit(engine, ts, cfg)}
    describe = getattr(method, "describe", None)
    if callable(describe):
        facts["method_facts"] = describe()
    return engine, init, facts


TRAIN_FIT_IMAGES = 300  # training images the training fit is measured on, at most


def training_fit(engine, ts, cfg: dict, limit: int = TRAIN_FIT_IMAGES) -> dict:
    """How well the trained model fits its own training set, so underfitting is visible:
    {'train_srocc', 'train_plcc', 'train_fit_n'} on at most ``limit`` training images
    (a subsample drawn from the run's seed alone, the same for every method), predicted in
    the test view. It draws from its own generator: training is not perturbed. Only
    labelled items count (a full-reference fold's unlabelled pairs have NaN MOS)."""
    rng = np.random.default_rng([int(cfg["seed"]), 0x7F17])
    labelled = np.flatnonzero(np.isfinite(ts.mos))
    if not len(labelled):
        return {"train_srocc": None, "train_plcc": None, "train_fit_n": 0}
    pos = np.sort(labelled[rng.choice(len(labelled), size=min(limit, len(labelled)), replace=False)])
    bank = ts.pairs if getattr(ts, "pairs", None) is not None else ts.bank
    pred = engine.predict(bank, ts.index[pos], cfg["test"]["batch_size"])
    got = all_metrics(pred, ts.mos[pos].astype(np.float64))
    return {"train_srocc": got["srocc"], "train_plcc": got["plcc"], "train_fit_n": len(pos)}


def pretrain_identity(cfg: dict, parts: list, fingerprint: str | None = None) -> dict:
    """What defines a pretrained model: the config less the protocol, fold, test and
    fine-tune settings, plus which records trained it (and their content fingerprint)."""
    ident = {k: v for k, v in copy.deepcopy(cfg).items()
             if k not in ("protocol", "fold", "test", "finetune", "data_fingerprint")}
    ident["pretrain"] = [(n, len(idx), zlib.crc32(np.asarray(idx, dtype=np.int64).tobytes()))
                         for n, idx in parts]
    if fingerprint is not None:
        ident["pretrain_fingerprint"] = fingerprint
    return ident


def _model_record(s: Session, cfg: dict, parts: list, facts: dict) -> RunRecord:
    return RunRecord(protocol="", protocol_version=0, fold="pretrain", method=cfg["method"],
                     method_display=s.method_cls.display, dataset="+".join(n for n, _ in parts),
                     seed=cfg["seed"], profile=cfg["profile"], backbone=cfg["model"]["backbone"],
                     targets={}, facts=facts, kind="model")


def pretrained_engine(s: Session, cfg: dict, parts: list, out_dir: Path, log, desc: str):
    """An engine holding the method's model trained on ``parts``: loaded from the model
    artifact ``<out>/models/<method>-<hash>/`` when it is done and valid, trained and saved
    there otherwise (under a lock, so concurrent workers train it once)."""
    import torch

    from ..core.atomic import file_lock
    from .method import build_network
    from .engine import Engine

    ident = pretrain_identity(cfg, parts, parts_fingerprint(s, parts))
    folder = RunFolder(Path(out_dir) / "models" / f"{cfg['method']}-{config_hash(ident)}")
    folder.path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(folder.path.parent / f".{folder.path.name}.lock"), folder.claim():
        try:
            facts = folder.read().facts
            seed = _seed(cfg, "pretrain")
            model, _ = build_network(s.method_cls, cfg, lambda m: None)
            model.load_state_dict(torch.load(folder.path / "model.pt", map_location="cpu",
                                             weights_only=True))
            engine = Engine(cfg, model, resolve_device(cfg["device"]), np.random.default_rng(seed))
            log(f"{desc}: reusing the trained model {folder.path}")
            return engine, facts["backbone_init"], {**facts, "model_dir": str(folder.path)}
        except (BadRunFolder, OSError, RuntimeError, KeyError) as exc:
            if folder.is_done():
                log(f"{desc}: model artifact {folder.path} is unusable ({exc}); training it again")
        folder.begin(ident)
        engine, init, facts = _fit(s, cfg, parts, "pretrain", f"{desc} pretrain", log,
                                   folder.path / "checkpoint.pt")
        facts = {**facts, "backbone_init": init}
        folder.finish(_model_record(s, cfg, parts, facts), model_state=engine.model.state_dict())
        (folder.path / "checkpoint.pt").unlink(missing_ok=True)
        return engine, init, {**facts, "model_dir": str(folder.path)}


def finetune(engine, ts, cfg: dict, desc: str) -> list[float]:
    """Fine-tune all parameters on ``ts`` with the ``finetune`` schedule (Adam, L1, uniform
    minibatches, finetune.epochs); the model of the last epoch is kept (no selection, so no
    split is needed). Returns the epoch losses."""
    from .samplers import BatchSampler

    f = cfg["finetune"]
    opt = engine.adam(engine.model.parameters(), f["lr"])
    sampler = BatchSampler(np.arange(len(ts)), f["batch_size"], engine.rng)
    bar, history, epoch_done = _progress(desc, f["epochs"])
    try:
        for epoch in range(f["epochs"]):
            losses = [engine.step(opt, ts, sampler.next(), loss_kind="l1")
                      for _ in range(sampler.batches_per_pass)]
            epoch_done(epoch, float(np.mean(losses)))
    finally:
        bar.close()
    return history


def _pair_facts(s: Session, fold: Fold) -> dict:
    """For a full-reference method: {'target_datasets': target -> its dataset,
    'label_source': target -> the metrics its scores were computed from} (the latter over
    the test sets with a pseudo-MOS, Dataset.label_source), so reports can line up runs on
    the same test pairs and mark a metric that is its own test set's label; {} otherwise."""
    if not is_pair_method(s.method_cls):
        return {}
    got = {t: list(s.datasets[n].label_source) for t, (n, _) in fold.tests.items()
           if s.datasets[n].label_source}
    return {"target_datasets": {t: n for t, (n, _) in fold.tests.items()},
            **({"label_source": got} if got else {})}


def _header(s: Session, cfg: dict, fold: Fold) -> dict:
    return {"protocol": cfg["protocol"]["name"], "protocol_version": s.protocol.version,
            "fold": fold.name, "method": cfg["method"], "method_display": s.method_cls.display,
            "dataset": "+".join(n for n, _ in (fold.pretrain or fold.train or fold.unlabelled)),
            "backbone": cfg["model"]["backbone"], "profile": cfg["profile"], "seed": cfg["seed"]}


def _environment(engine) -> dict:
    import torch

    return {"device": str(engine.device), "torch_threads": torch.get_num_threads(),
            "deterministic": {"use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                              "cudnn_deterministic": torch.backends.cudnn.deterministic,
                              "cudnn_benchmark": torch.backends.cudnn.benchmark},
            "versions": {"bench": __version__, "python": platform.python_version(),
                         "torch": torch.__version__, "numpy": np.__version__}}


def _train_and_test(s: Session, cfg: dict, fold: Fold, folder: RunFolder, out_dir: Path,
                    log, desc: str) -> RunRecord:
    """Train (or fine-tune) the fold's model, test it and finish ``folder``'s record."""
    if fold.pretrain is not None and not getattr(s.method_cls, "trains_network", True):
        # nothing to transfer from a pretraining stage without a network (classical
        # features + a regressor, a zero-shot metric): fit on the fine-tuning split when the
        # protocol has one (intra-dataset training, as such methods are evaluated), else on
        # the training sets; no model artifact is shared between folds
        parts, fit_on = (fold.train, "finetune split") if fold.train else (fold.pretrain, "train sets")
        engine, init, facts = _fit(s, cfg, with_extra(s, parts), fold.name, desc, log)
        facts = {**facts, "fit_on": fit_on}
    elif fold.pretrain is not None:
        engine, init, facts = pretrained_engine(s, cfg, with_extra(s, fold.pretrain), out_dir,
                                                log, desc)
        if fold.train:
            _seed(cfg, fold.name)
            ts = train_set_from(s, fold.train)
            steps = engine.optimizer_steps
            history = finetune(engine, ts, cfg, f"{desc} finetune")
            # the fit that matters is the fine-tuned model's on its fine-tuning set
            pre = {f"pretrain_{k}": facts[k] for k in ("train_srocc", "train_plcc") if k in facts}
            facts = {**facts, **pre, "finetune_loss_history": history, "n_finetune": len(ts),
                     "finetune_optimizer_steps": engine.optimizer_steps - steps,
                     **training_fit(engine, ts, cfg)}
    else:
        engine, init, facts = _fit(s, cfg, with_extra(s, fold.train), fold.name, desc, log,
                                   folder.path / "checkpoint.pt", fold.unlabelled)
    rows, per_target = [], {}
    bank = s.pairs if is_pair_method(s.method_cls) else s.bank
    for target, (name, idx) in fold.tests.items():
        ds = s.datasets[name]
        pred = engine.predict(bank, s.offsets[name] + np.asarray(idx, dtype=np.int64),
                              cfg["test"]["batch_size"])
        mos = np.asarray([ds.records[i].mos for i in idx])
        per_target[target] = all_metrics(pred, mos)
        rows += [{"target": target, "image": ds.records[i].image, "mos": m, "prediction": p}
                 for i, m, p in zip(idx, mos, pred)]
    settings = cfg.get("method_settings") or {}
    facts = {"extra_train": s.extra, "clusters": settings.get("clusters"), **fold.info,
             "backbone_init": init, **facts, "test_view": engine.test_view,
             **_pair_facts(s, fold), "logistic": DEFAULT_LOGISTIC,
             "failed_logistic_fits": count_failed_fits(per_target.values()),
             **_environment(engine)}
    record = RunRecord(**_header(s, cfg, fold), targets=per_target, facts=facts)
    network = getattr(s.method_cls, "trains_network", True)
    state = engine.model.state_dict() if cfg.get("save_model", True) and network else None
    folder.finish(record, rows, state)
    (folder.path / "checkpoint.pt").unlink(missing_ok=True)
    return record


def run_fold(s: Session, fold: Fold, out_dir: Path, log=print,
             position: str = "") -> tuple[RunFolder, RunRecord] | None:
    """Train (or fine-tune) and test one fold in its run folder: (folder, its record),
    read back when the folder is already done and valid; None when another worker holds
    it. A folder whose ``done`` fails validation is redone. A run that fails leaves no
    config-only folder behind (a resumable checkpoint is kept)."""
    cfg = fold_config(s.cfg, fold)
    folder = RunFolder(run_folder(s.cfg, fold, out_dir))
    desc = f"{position} {fold.name}".strip()
    created = not folder.path.exists()
    with folder.claim() as mine:
        if not mine:
            log(f"{desc}: another worker is running {folder.path}; skipped")
            return None
        if folder.is_done():
            try:
                record = folder.read()
                log(f"{desc}: done already ({folder.path}), skipped")
                return folder, record
            except BadRunFolder as exc:
                log(f"{desc}: {exc.reason}; running it again")
        try:
            folder.begin(cfg)
            with run_scope(cfg.get("engine", {}).get("threads") or 0, bool(cfg.get("deterministic"))):
                return folder, _train_and_test(s, cfg, fold, folder, out_dir, log, desc)
        except BaseException:
            if not (folder.path / "checkpoint.pt").exists():
                (folder.path / "config.json").unlink(missing_ok=True)
            raise
        finally:
            if created and not folder.is_done() and not (folder.path / "checkpoint.pt").exists():
                _remove_empty(folder.path)


def _remove_empty(path: Path) -> None:
    """Remove a run folder this process created when nothing but its lock is left in it."""
    if path.is_dir() and {p.name for p in path.iterdir()} <= {".lock"}:
        shutil.rmtree(path, ignore_errors=True)
