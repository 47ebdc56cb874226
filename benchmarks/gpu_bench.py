"""The prepared GPU check (issue 20; docs/gpu.md), run by benchmarks/gpu.sh: on any CUDA
machine, in one run, on the paper profile (ResNet-18, 224 px crops, bf16):

* images/s of ERM, CIS and CIP training steps, harness/bare and host reads per step
  (`bench speed --json`, one process per method);
* aggregate ERM images/s of 1, 2 and 4 fold processes sharing the GPU
  (`bench speed --folds-per-device`);
* the share of wall time the GPU is busy during ERM steps (kernel time from
  torch.profiler over wall time);
* one LODO fold's time (`bench run` of one fold for GPU_EPOCHS epochs, its recorded
  train_seconds, scaled to the paper's 100 epochs).

Goals on an H100/H200 (the issue's): ERM >= 6,000 images/s, CIS >= 4,000, harness/bare
>= 0.95. Exits with status 2 and one line when there is no CUDA device. Environment:
GPU_DATA (auto | suite | random, default random: no data needed), GPU_STEPS (default 20),
GPU_REPEATS (5), GPU_EPOCHS (1), GPU_FOLDS (1,2,4), GPU_SECONDS (15), GPU_RUNS (where the
fold's run folder goes, default a temporary folder), GPU_SKIP (comma list of parts to skip:
speed, folds, busy, fold).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"erm_img_s": 6000.0, "cis_img_s": 4000.0, "harness_over_bare": 0.95}
ENV = {k: os.environ.get(f"GPU_{k}", d) for k, d in (
    ("DATA", "random"), ("STEPS", "20"), ("REPEATS", "5"), ("EPOCHS", "1"),
    ("FOLDS", "1,2,4"), ("SECONDS", "15"), ("RUNS", ""), ("SKIP", ""))}


def bench(*args: str, timeout: float = 1800) -> str:
    """stdout of `python -m bench ARGS`; raises with its stderr's end when it fails."""
    got = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                         timeout=timeout)
    if got.returncode:
        raise RuntimeError(f"bench {' '.join(args)} failed:\n{got.stderr[-2000:]}")
    return got.stdout


def speed(method: str, *extra: str) -> dict:
    """`bench speed --json` of ``method`` on the paper profile, on cuda."""
    return json.loads(bench("speed", "--profile", "paper", "--device", "cuda", "--method", method,
                            "--data", ENV["DATA"], "--steps", ENV["STEPS"], "--repeats",
                            ENV["REPEATS"], "--json", *extra).strip().splitlines()[-1])


def busy_share(steps: int = 30) -> dict:
    """Kernel time / wall time over ``steps`` ERM steps (torch.profiler, CUDA activity)."""
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    from bench.app.speed_data import speed_data
    from bench.core.config import resolve
    from bench.engine.engine import Engine
    from bench.engine.models import build_model
    from bench.engine.samplers import BatchSampler

    cfg = resolve("paper", {"device": "cuda"}, method="erm")
    sd = speed_data(cfg, ENV["DATA"], "syn-kadid", lambda m: None)
    model, _ = build_model(cfg["model"], lambda m: None)
    e = Engine(cfg, model, torch.device("cuda"), np.random.default_rng(0))
    opt = e.adam(e.model.parameters(), cfg["train"]["lr"])
    sampler = BatchSampler(np.arange(len(sd.train)), int(cfg["train"]["batch_size"]), e.rng)
    for _ in range(5):
        e.step(opt, sd.train, sampler.next())
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            e.step(opt, sd.train, sampler.next())
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    kernel_us = sum(getattr(ev, "self_device_time_total", 0) for ev in prof.key_averages())
    return {"busy_share": kernel_us / 1e6 / wall, "steps": steps, "wall_s": round(wall, 3)}


def fold_time() -> dict:
    """One LODO ERM fold on the paper profile for GPU_EPOCHS epochs: recorded train_seconds
    and the whole run's wall time, with the 100-epoch train time they imply."""
    epochs = int(ENV["EPOCHS"])
    runs = Path(ENV["RUNS"] or tempfile.mkdtemp(prefix="bench-gpu-"))
    t0 = time.perf_counter()
    bench("run", "--protocol", "lodo", "--method", "erm", "--profile", "paper", "--device", "cuda",
          "--folds", "GB", "--runs", str(runs), "--jobs", "1", "--quiet",
          "--set", f"train.epochs={epochs}", timeout=3 * 3600)
    wall = time.perf_counter() - t0
    rec = json.loads(next(runs.glob("lodo-erm-*-GB-*/metrics.json")).read_text())
    return {"epochs": epochs, "train_seconds": rec["train_seconds"], "wall_s": round(wall, 1),
            "train_seconds_100_epochs": round(rec["train_seconds"] * 100 / epochs, 1),
            "images_seen": rec["images_seen"], "deterministic": rec.get("deterministic")}


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("benchmarks/gpu.sh: no CUDA device here (torch.cuda.is_available() is False); "
              "nothing measured. Run it on a machine with an NVIDIA GPU.", file=sys.stderr)
        return 2
    skip = set(filter(None, ENV["SKIP"].split(",")))
    out: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                 "data": ENV["DATA"]}
    if "speed" not in skip:
        for m in ("erm", "cis", "cip"):
            r = speed(m)
            out[m] = {k: r.get(k) for k in ("method_img_s", "erm_img_s", "bare_img_s",
                                            "harness_over_bare", "method_over_erm",
                                            "peak_device_mb", "host_reads")}
            print(f"{m}: {r['method_img_s']:.0f} images/s (ERM {r['erm_img_s']:.0f}, bare "
                  f"{r['bare_img_s']:.0f}, harness/bare {r['harness_over_bare']:.3f}, host reads "
                  f"per step {r['host_reads']['method']['reads_per_step']:.3f})", flush=True)
    if "folds" not in skip:
        r = speed("erm", "--folds-per-device", ENV["FOLDS"], "--folds-seconds", ENV["SECONDS"],
                  "--read-steps", "0")
        out["folds_per_device"] = r["folds_per_device"]
        for n, f in r["folds_per_device"].items():
            print(f"{n} fold process(es) on the GPU: {f['img_s']:.0f} images/s in all", flush=True)
    if "busy" not in skip:
        out["busy"] = busy_share()
        print(f"GPU busy during ERM steps: {100 * out['busy']['busy_share']:.1f}% of wall time", flush=True)
    if "fold" not in skip:
        out["fold"] = f = fold_time()
        print(f"one LODO fold (ERM, GB): {f['train_seconds']} s training for {f['epochs']} epoch(s) "
              f"-> about {f['train_seconds_100_epochs']} s for 100 epochs", flush=True)
    if "speed" not in skip:
        got = {"erm_img_s": out["erm"]["method_img_s"], "cis_img_s": out["cis"]["method_img_s"],
               "harness_over_bare": out["erm"]["harness_over_bare"]}
        out["goals_met"] = {k: got[k] >= v for k, v in GOALS.items()}
        print("goals (H100/H200): " + ", ".join(f"{k} {got[k]:.3g} (>= {v}: "
                                                 f"{'met' if out['goals_met'][k] else 'MISSED'})"
                                                 for k, v in GOALS.items()))
    print("JSON " + json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
