"""Aggregate training speed of several folds sharing one device (`bench speed
--folds-per-device 1,2,4`; issue 20): for each count N, N processes each build the
measured config's ERM engine on the same training data, warm up, wait at a barrier (a
file), then take ERM steps for ``seconds`` of wall time; the aggregate is the images all
of them trained divided by the longest of their times. On a GPU this shows how much of
the device one fold leaves idle; on a CPU the processes share the cores.

A child is ``python -m bench.app.speed_folds CONFIG.json DIR K SECONDS DATA DATASET``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY_TIMEOUT_S = 600.0


def parse_counts(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; a UsageError for anything but positive integers."""
    from ..core.errors import UsageError

    try:
        counts = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > 64:
        raise UsageError(f"--folds-per-device takes counts from 1 to 64 such as 1,2,4, not '{text}'")
    return counts


def aggregate(cfg: dict, counts: list[int], seconds: float, data: str, dataset: str) -> dict:
    """{str(N): {'img_s', 'per_fold_img_s', 'seconds'}} for every N in ``counts``."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-folds-") as tmp:
        cfg_path = Path(tmp) / "config.json"
        cfg_path.write_text(json.dumps(cfg))
        for n in counts:
            run_dir = Path(tmp) / f"n{n}"
            run_dir.mkdir()
            procs = [subprocess.Popen([sys.executable, "-m", "bench.app.speed_folds", str(cfg_path),
                                       str(run_dir), str(k), str(seconds), data, dataset],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                     for k in range(n)]
            try:
                _barrier(run_dir, n, procs)
                (run_dir / "go").touch()
                for p in procs:
                    _, err = p.communicate()
                    if p.returncode:
                        raise RuntimeError(f"a fold process failed: {err.decode(errors='replace')[-800:]}")
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            got = [json.loads((run_dir / f"done-{k}").read_text()) for k in range(n)]
            longest = max(g["seconds"] for g in got)
            total = sum(g["images"] for g in got)
            out[str(n)] = {"img_s": total / longest, "per_fold_img_s": total / longest / n,
                           "seconds": round(longest, 2)}
    return out


def _barrier(run_dir: Path, n: int, procs: list) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while sum((run_dir / f"ready-{k}").exists() for k in range(n)) < n:
        for p in procs:
            if p.poll() is not None and p.returncode:
                raise RuntimeError(f"a fold process failed: {p.stderr.read().decode(errors='replace')[-800:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("fold processes did not get ready in time")
        time.sleep(0.05)


def child(cfg_path: str, run_dir: str, k: str, seconds: str, data: str, dataset: str) -> None:
    """One fold process: ERM steps from the barrier on for ``seconds``; writes done-K."""
    import numpy as np
    import torch

    from ..engine.device import resolve_device
    from ..engine.engine import Engine
    from ..engine.models import build_model
    from ..engine.samplers import BatchSampler
    from .speed import sync
    from .speed_data import speed_data

    cfg = json.loads(Path(cfg_path).read_text())
    threads = int(cfg.get("engine", {}).get("threads") or 0)
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(cfg["device"])
    sd = speed_data(cfg, data, dataset, lambda m: None)
    torch.manual_seed(int(cfg["seed"]) + int(k))
    model, _ = build_model(cfg["model"], lambda m: None)
    e = Engine(cfg, model, device, np.random.default_rng([int(cfg["seed"]), int(k)]))
    opt = e.adam(e.model.parameters(), cfg["train"]["lr"])
    bs = min(int(cfg["train"]["batch_size"]), len(sd.train))
    sampler = BatchSampler(np.arange(len(sd.train)), bs, e.rng)
    for _ in range(3):
        e.step(opt, sd.train, sampler.next())
    sync(device)
    out = Path(run_dir)
    (out / f"ready-{k}").touch()
    while not (out / "go").exists():
        time.sleep(0.01)
    t0, images = time.perf_counter(), 0
    while time.perf_counter() - t0 < float(seconds):
        e.step(opt, sd.train, sampler.next())
        images += bs
    sync(device)
    (out / f"done-{k}").write_text(json.dumps({"images": images, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    child(*sys.argv[1:7])
