"""`python -m bench speed`: images per second of a bare PyTorch loop, the harness's ERM
step, the method's step and the data pipeline, measured interleaved in one process, with
the ratios, the device and peak memory (issue 6). See bench/app/speed.py."""
from __future__ import annotations

import json
import sys

NAME = "speed"
HELP = "measure training speed: bare loop vs harness vs method, data pipeline, peak memory"


def add_arguments(p) -> None:
    p.add_argument("--method", default="cis", help="training paradigm (default cis)")
    p.add_argument("--profile", default="quick", help="smoke | quick | paper (default quick)")
    p.add_argument("--device", help="cpu | cuda | cuda:K | auto (default: cuda when present)")
    p.add_argument("--steps", type=int, default=20,
                   help="ERM steps per repeat; the method block runs enough iterations for "
                        "as many inner steps or as many images, whichever comes first (default 20)")
    p.add_argument("--repeats", type=int, default=7,
                   help="interleaved repeats of every block; medians are reported (default 7)")
    p.add_argument("--read-steps", type=int, default=50,
                   help="optimizer steps (ERM, then the method's) run untimed under the host-read "
                        "counter after the measurement; 0: no count (default 50)")
    p.add_argument("--folds-per-device", metavar="COUNTS",
                   help="also measure the aggregate ERM images/s of N fold processes sharing "
                        "the device, for each N in COUNTS (e.g. 1,2,4)")
    p.add_argument("--folds-seconds", type=float, default=10.0,
                   help="seconds of ERM steps per fold process in --folds-per-device (default 10)")
    p.add_argument("--data", choices=("auto", "suite", "random"), default="auto",
                   help="training data: auto = a LODO fold of --dataset when the synthetic "
                        "suite is already generated (or --data-root is given), else random "
                        "uint8 images; suite = that fold, generating the suite if needed")
    p.add_argument("--dataset", default=None,
                   help="dataset of the LODO fold (default syn-kadid; kadid10k with --data-root)")
    p.add_argument("--data-root", help="folder holding the dataset releases")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (engine.compile)")
    p.add_argument("--amp", choices=("auto", "bf16", "off"), help="engine.amp (default auto)")
    p.add_argument("--placement", choices=("auto", "device", "host"), help="data.placement (default auto)")
    p.add_argument("--threads", type=int,
                   help="torch intra-op threads (default: the profile's engine.threads; when "
                        "that is 0, torch's default, or 1 on a CPU other processes already keep "
                        "busy: see the report)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model init and batches")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set train.batch_size=256")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def build_config(args) -> dict:
    """The resolved config the measurement runs under."""
    from ..core.config import resolve
    from ..data.registry import dataset_names
    from ..core.registry import METHODS

    METHODS.get(args.method)
    overrides = {"seed": args.seed}
    for key, value in (("device", args.device), ("data.root", args.data_root),
                       ("engine.amp", args.amp), ("data.placement", args.placement)):
        if value is not None:
            overrides[key] = value
    if args.compile:
        overrides["engine.compile"] = True
    return resolve(args.profile, overrides, args.set, dataset_names(), method=args.method)


def cpu_threads(requested, configured: int, default: int, load: float,
                cores: int) -> tuple[int, str]:
    """(torch threads, why) for a CPU measurement: --threads; else the config's
    engine.threads (what a run of this profile uses); else torch's default unless other
    processes already load the cores (1-minute load average + our threads > cores + 0.5):
    then 1, because a parallel region waits for its slowest thread and on a busy
    machine that thread is often descheduled: steps swing by several times and the
    ratios mean nothing (measured here: 2 threads 5-10x slower than 1 at load 5 on 2 cores)."""
    if requested:
        return requested, "--threads"
    if configured:
        return configured, "engine.threads"
    if default > 1 and load + default > cores + 0.5:
        return 1, (f"1, not {default}: the machine is busy (load {load:.1f} on {cores} cores); "
                   "--threads N to override")
    return default, "torch's default"


def main(args) -> int:
    import os

    import torch

    from ..core.errors import UsageError
    from ..engine.device import resolve_device
    from ..app.speed import measure
    from ..app.speed_report import format_report

    if args.steps < 1 or args.repeats < 1:
        raise UsageError("--steps and --repeats must be at least 1")
    if args.read_steps < 0:
        raise UsageError("--read-steps must be 0 or more")
    counts = None
    if args.folds_per_device:
        from ..app.speed_folds import parse_counts

        counts = parse_counts(args.folds_per_device)
        if not 0 < args.folds_seconds <= 3600:
            raise UsageError("--folds-seconds must lie in (0, 3600]")
    cfg = build_config(args)
    from ..core.registry import METHODS

    if METHODS.get(cfg["method"]).inputs != "images":
        raise UsageError(f"bench speed times blind (NR) training steps; --method {cfg['method']} "
                         "trains on (reference, distorted) pairs: compare the train_seconds and "
                         "images_seen its runs record in metrics.json with an NR run's instead")
    why = None
    configured = int(cfg.get("engine", {}).get("threads") or 0)
    if resolve_device(cfg["device"]).type == "cpu":
        n, why = cpu_threads(args.threads, configured, torch.get_num_threads(),
                             os.getloadavg()[0], os.cpu_count() or 1)
        torch.set_num_threads(n)
    elif args.threads or configured:
        torch.set_num_threads(args.threads or configured)
    dataset = args.dataset or ("kadid10k" if cfg["data"]["root"] else "syn-kadid")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    result = measure(cfg, steps=args.steps, repeats=args.repeats, data=args.data,
                     dataset=dataset, log=log, read_steps=args.read_steps)
    if why:
        result["torch_threads_why"] = why
    if counts:
        from ..app.speed_folds import aggregate

        cpu = resolve_device(cfg["device"]).type == "cpu"
        cfg["engine"]["threads"] = torch.get_num_threads() if cpu else configured
        result["folds_per_device"] = aggregate(cfg, counts, args.folds_seconds, args.data, dataset)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(format_report(result))
    return 0
