"""Pretrained models as artifacts of their own: ``<runs>/models/<method>-<hash>/``, named
by what trained them (the config less the protocol, fold, test and fine-tune settings, plus
the records), so every protocol, fold and target that needs the same pretraining reuses
it. Written through :class:`bench.core.record.RunFolder` (kind ``model``)."""
from __future__ import annotations

import copy
import zlib
from pathlib import Path

import numpy as np

from ..core.config import config_hash
from ..core.record import BadRunFolder, RunFolder, RunRecord
from .device import resolve_device
from .fitting import fit_method, seed_torch
from .session import Session, parts_fingerprint


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


def model_record(s: Session, cfg: dict, parts: list, facts: dict) -> RunRecord:
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
            seed = seed_torch(cfg, "pretrain")
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
        engine, init, facts = fit_method(s, cfg, parts, "pretrain", f"{desc} pretrain", log,
                                         folder.path / "checkpoint.pt")
        facts = {**facts, "backbone_init": init}
        folder.finish(model_record(s, cfg, parts, facts), model_state=engine.model.state_dict())
        (folder.path / "checkpoint.pt").unlink(missing_ok=True)
        return engine, init, {**facts, "model_dir": str(folder.path)}
