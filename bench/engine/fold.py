"""Trains and tests one fold in its run folder (skipped when already done and valid): the
fold's stages (bench/engine/stages.py) train the model, which is then scored on every test
set and recorded. Every folder is written through :class:`bench.core.record.RunFolder`."""
from __future__ import annotations

import platform
import shutil
from pathlib import Path

import numpy as np

from ..core.errors import BenchError
from ..core.metrics import DEFAULT_LOGISTIC, all_metrics, collapse_of, count_failed_fits
from ..core.record import BadRunFolder, RunFolder, RunRecord
from ..core.scope import determinism_facts, run_scope
from ..core.version import __version__
from .protocol import Fold
from .session import Session, fold_config, is_pair_method, provenance, run_folder
from .stages import FoldRun


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
            "dataset": "+".join(fold.trained_on()),
            "backbone": cfg["model"]["backbone"], "profile": cfg["profile"], "seed": cfg["seed"]}


def _environment(engine) -> dict:
    import torch

    return {"device": str(engine.device), "torch_threads": torch.get_num_threads(),
            "deterministic": {"use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                              "cudnn_deterministic": torch.backends.cudnn.deterministic,
                              "cudnn_benchmark": torch.backends.cudnn.benchmark,
                              **determinism_facts(engine.device,
                                                  torch.are_deterministic_algorithms_enabled())},
            "versions": {"bench": __version__, "python": platform.python_version(),
                         "torch": torch.__version__, "numpy": np.__version__}}


def _train_and_test(s: Session, cfg: dict, fold: Fold, folder: RunFolder, out_dir: Path,
                    log, desc: str) -> RunRecord:
    """Run the fold's stages, test the model they leave and finish ``folder``'s record."""
    r = FoldRun(s, cfg, fold, folder, out_dir, log, desc)
    for stage in fold.stages:
        stage.run(r)
    if r.engine is None:
        raise BenchError(f"fold {fold.name} of protocol {cfg['protocol']['name']} has no stage "
                         "that trains a model; a protocol's fold lists at least one")
    engine, init, facts = r.engine, r.init, r.facts
    rows, per_target, collapse = [], {}, {}
    bank = s.pairs if is_pair_method(s.method_cls) else s.bank
    for target, (name, idx) in fold.tests.items():
        ds = s.datasets[name]
        pred = engine.predict(bank, s.offsets[name] + np.asarray(idx, dtype=np.int64),
                              cfg["test"]["batch_size"])
        mos = np.asarray([ds.records[i].mos for i in idx])
        per_target[target] = all_metrics(pred, mos)
        if collapse_of(pred):
            collapse[target] = collapse_of(pred)
            log(f"{desc}: COLLAPSED on {target}: {collapse[target]} predictions "
                f"({len(pred)} images); the fit failed (recorded as collapsed)")
        rows += [{"target": target, "image": ds.records[i].image, "mos": m, "prediction": p}
                 for i, m, p in zip(idx, mos, pred)]
    facts = {"extra_train": s.extra, **column_facts(s.method_cls, cfg), **fold.info,
             "backbone_init": init, **facts, "test_view": engine.test_view,
             **_pair_facts(s, fold), "logistic": DEFAULT_LOGISTIC,
             "failed_logistic_fits": count_failed_fits(per_target.values()),
             "provenance": provenance(cfg), "weights": cfg.get("weights"),
             "collapsed": bool(collapse), "collapse": collapse,
             **init_label(cfg), **_environment(engine)}
    record = RunRecord(**_header(s, cfg, fold), targets=per_target, facts=facts)
    network = s.method_cls.trains_network
    state = engine.model.state_dict() if cfg.get("save_model", True) and network else None
    folder.finish(record, rows, state)
    for checkpoint in _checkpoints(folder):
        checkpoint.unlink(missing_ok=True)
    return record


def init_label(cfg: dict) -> dict:
    """{'init_label': 'random init'} for a run whose backbone starts from random init by
    ``model.pretrained=false`` on a profile whose default is pretrained (the paper's):
    readers add it to the method's name in every table; {} otherwise."""
    from ..core.profiles import CORE_SETTINGS

    default = CORE_SETTINGS["model.pretrained"].default_for(str(cfg.get("profile")))
    return {"init_label": "random init"} if (cfg["model"].get("pretrained") is False
                                              and default is True) else {}


def column_facts(method_cls: type, cfg: dict) -> dict:
    """The method's settings declared with a ``column``, at the values the run effectively
    used (e.g. 1 content cluster for CIS\\C whatever the config says), recorded at the top of
    the run's facts, and ``setting_columns``: key -> the column's name in words; readers show them
    as columns (bench/app/results.py) without knowing any by name."""
    got = method_cls.column_settings(cfg)
    return {**got["values"], "setting_columns": got["columns"]}


def _checkpoints(folder: RunFolder) -> list[Path]:
    """The stages' checkpoint files in a run folder."""
    return sorted(folder.path.glob("checkpoint*.pt"))


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
            if not _checkpoints(folder):
                (folder.path / "config.json").unlink(missing_ok=True)
            raise
        finally:
            if created and not folder.is_done() and not _checkpoints(folder):
                _remove_empty(folder.path)


def _remove_empty(path: Path) -> None:
    """Remove a run folder this process created when nothing but its lock is left in it."""
    if path.is_dir() and {p.name for p in path.iterdir()} <= {".lock"}:
        shutil.rmtree(path, ignore_errors=True)
