"""`python -m bench explain RUN IMAGE...`: gradient saliency maps of a trained model, as
the paper's Figure 9 (|d prediction / d input|, max over channels, normalised, overlaid).

RUN is a run folder holding ``model.pt`` and ``config.json``, or a pretrained-model folder
``<runs>/models/<method>-<hash>/``; a run without a saved model is a one-line error. The
maps are written under ``--out`` (default ``explain/``); see :mod:`reports.saliency`.
"""
from __future__ import annotations

NAME = "explain"
HELP = "write gradient saliency maps of a trained model for some images (paper Figure 9)"


def add_arguments(parser) -> None:
    """Register the explain options."""
    parser.add_argument("run", metavar="RUN",
                        help="run folder with model.pt (or <runs>/models/<method>-<hash>/)")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files to explain")
    parser.add_argument("--out", default="explain", metavar="DIR",
                        help="output folder (default: explain/)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--full", action="store_true",
                        help="use the whole resized image instead of the test's centre crop")


def main(args) -> int:
    """Write the maps and print one line per image (prediction, files)."""
    from bench.reports.saliency import explain

    from ..core.errors import UsageError
    from ..app.environment import writable_dir

    writable_dir(args.out, "--out")
    if args.device != "cpu" and not args.device.startswith("cuda"):
        raise UsageError(f"--device must be cpu or cuda, not '{args.device}'")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    done = explain(args.run, args.images, args.out, args.device, args.full)
    for e in done:
        print(f"{e.image}: prediction {e.prediction:.4f} -> {e.overlay}, {e.gradient}")
    print(f"wrote {len(done)} saliency map(s) and {args.out}/saliency_panel.png")
    return 0
