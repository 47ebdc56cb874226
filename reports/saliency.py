"""Gradient saliency maps of a trained model, as the paper's Figure 9.

For an image the model sees what a test sees: the image resized to ``data.size`` squared
(bicubic, as the decoded-image cache) and centre-cropped to ``data.crop`` (``full=True``:
the whole resized image; the networks pool globally, so they accept it). The map is
|d prediction / d input pixel|, the maximum over the three colour channels, divided by its
maximum so it lies in [0, 1]. It is mapped back onto the original image (bilinear), where
the part the centre crop leaves out has no gradient and is shown dimmed.

Per image, under the output folder: ``<stem>_saliency.png`` (the map in the 'jet' colours
blended over the image) and ``<stem>_gradient.png`` (the map in grey), both at the image's
own size, and ``saliency_panel.png`` with every image beside its overlay (Figure 9's layout).

A model is found in a run folder holding ``model.pt`` and ``config.json`` (a run made
since runs save their model), or in a pretrained-model folder ``<runs>/models/<method>-<hash>/``.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import BenchError

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
PANEL_HEIGHT = 256


@dataclass
class Explained:
    """One explained image: its file, the model's prediction and the files written."""

    image: Path
    prediction: float
    overlay: Path
    gradient: Path


def find_model(run: Path | str) -> tuple[Path, dict]:
    """(model file, config) of a run folder or a ``models/<...>`` folder; a one-line
    BenchError saying what is missing otherwise."""
    run = Path(run)
    if not run.is_dir():
        raise BenchError(f"{run} is not a run folder; give a run folder holding {MODEL_FILE} "
                         f"or a <runs>/models/<method>-<hash>/ folder")
    model, config = run / MODEL_FILE, run / CONFIG_FILE
    if not model.is_file() and not (run / "done").is_file():
        raise BenchError(f"run {run} is not finished (no done marker) and has no saved model "
                         f"({MODEL_FILE}) yet; finish it with the same `run` command first")
    if not model.is_file():
        hint = ""
        try:
            m = json.loads((run / "metrics.json").read_text())
            if m.get("model_dir"):
                hint = (f"; its pretrained model (before any fine-tuning) is in "
                        f"{m['model_dir']}: pass that folder to explain it")
        except (OSError, json.JSONDecodeError):
            pass
        raise BenchError(f"run {run} has no saved model ({MODEL_FILE}): it was made before runs "
                         f"saved their models; rerun it to get one{hint}")
    try:
        cfg = json.loads(config.read_text())
    except FileNotFoundError:
        raise BenchError(f"{run} has {MODEL_FILE} but no {CONFIG_FILE}; the model cannot be "
                         "rebuilt without its config") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{config} is not valid JSON ({exc})") from None
    for key in ("model", "data"):
        if not isinstance(cfg.get(key), dict):
            raise BenchError(f"{config} has no '{key}' section; it is not a run's config")
    return model, cfg


def load_model(run: Path | str, device: str = "cpu"):
    """The trained network of ``run`` in eval mode on ``device``, and the run's config."""
    import torch

    from bench.engine.method import build_network
    from bench.core.registry import METHODS

    path, cfg = find_model(run)
    model_cfg = {**cfg["model"], "pretrained": False, "weights": None}   # the state dict has all
    # the method's own network (a deep baseline's architecture), not the default IQANet
    model, _ = build_network(METHODS.get(cfg["method"]), {**cfg, "model": model_cfg},
                             lambda msg: None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot load {path} into the config's model "
                         f"({cfg['model'].get('backbone')}): {first}") from None
    return model.to(device).eval(), cfg


def crop_box(size: int, crop: int) -> tuple[int, int]:
    """(offset, side) of the centre crop in the size x size resized image."""
    crop = min(crop, size)
    return (size - crop) // 2, crop


def gradient_map(model, image: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, float]:
    """|d prediction / d input|, max over channels, scaled to [0, 1], for one H x W x 3
    uint8 image as the model takes it; and the model's prediction."""
    import torch

    x = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None].to(device)
    x.requires_grad_(True)
    pred = model(x)
    pred.sum().backward()
    g = x.grad.detach().abs().amax(dim=1)[0].cpu().numpy()
    top = float(g.max())
    return (g / top if top > 0 else g), float(pred.detach().cpu().reshape(-1)[0])


def _to_original(sal: np.ndarray, size: int, off: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop's map placed in the resized frame, then resized to the original image;
    also the mask of the original's pixels the model saw."""
    from PIL import Image

    canvas = np.zeros((size, size), dtype=np.float32)
    seen = np.zeros((size, size), dtype=np.float32)
    side = sal.shape[0]
    canvas[off:off + side, off:off + side] = sal
    seen[off:off + side, off:off + side] = 1.0
    big = np.asarray(Image.fromarray(canvas).resize((width, height), Image.BILINEAR))
    mask = np.asarray(Image.fromarray(seen).resize((width, height), Image.NEAREST)) > 0.5
    return np.clip(big, 0.0, 1.0), mask


def overlay(image: np.ndarray, sal: np.ndarray, seen: np.ndarray | None = None,
            alpha: float = 0.5) -> np.ndarray:
    """``sal`` (H x W in [0, 1]) in the 'jet' colours blended over ``image`` (H x W x 3
    uint8); pixels outside ``seen`` keep the image, dimmed."""
    from matplotlib import colormaps

    heat = colormaps["jet"](sal)[..., :3] * 255.0
    out = (1.0 - alpha) * image.astype(np.float32) + alpha * heat
    if seen is not None:
        out = np.where(seen[..., None], out, 0.4 * image.astype(np.float32))
    return np.clip(out, 0, 255).astype(np.uint8)


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise BenchError(f"image {path} not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise BenchError(f"image {path} cannot be decoded ({exc})") from None


def _stems(paths: list[Path]) -> list[str]:
    """Unique output stems: the file stems, numbered where two images share one."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def panel(rows: list[tuple[np.ndarray, np.ndarray]], height: int = PANEL_HEIGHT) -> np.ndarray:
    """Figure 9's layout: each image beside its overlay, one pair per row, at ``height`` px."""
    from PIL import Image

    def fit(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        return np.asarray(Image.fromarray(a).resize((max(1, round(w * height / h)), height),
                                                    Image.BICUBIC))

    lines = [np.concatenate([fit(img), np.full((height, 8, 3), 255, np.uint8), fit(ov)], axis=1)
             for img, ov in rows]
    width = max(line.shape[1] for line in lines)
    pad = [np.pad(line, ((0, 8), (0, width - line.shape[1]), (0, 0)), constant_values=255)
           for line in lines]
    return np.concatenate(pad, axis=0)


def explain(run: Path | str, images: list[Path | str], out_dir: Path | str, device: str = "cpu",
            full: bool = False) -> list[Explained]:
    """Write the saliency maps of ``images`` under the model of ``run`` into ``out_dir``
    (atomically) and return what was written, in the order given."""
    from PIL import Image

    from bench.core.atomic import write_bytes_atomic

    model, cfg = load_model(run, device)
    size, crop = int(cfg["data"]["size"]), int(cfg["data"].get("crop") or cfg["data"]["size"])
    off, side = (0, size) if full else crop_box(size, crop)
    out_dir = Path(out_dir)
    paths = [Path(p) for p in images]
    done, panel_rows = [], []
    for path, stem in zip(paths, _stems(paths)):
        original = _read_rgb(path)
        height, width = original.shape[:2]
        resized = np.asarray(Image.fromarray(original).resize((size, size), Image.BICUBIC))
        sal, pred = gradient_map(model, np.ascontiguousarray(resized[off:off + side, off:off + side]),
                                 device)
        big, seen = _to_original(sal, size, off, width, height)
        over = overlay(original, big, seen)
        grey = (big * 255.0).round().astype(np.uint8)
        ov_path, gr_path = out_dir / f"{stem}_saliency.png", out_dir / f"{stem}_gradient.png"
        write_bytes_atomic(ov_path, _png(over))
        write_bytes_atomic(gr_path, _png(grey))
        done.append(Explained(path, pred, ov_path, gr_path))
        panel_rows.append((original, over))
    if panel_rows:
        write_bytes_atomic(out_dir / "saliency_panel.png", _png(panel(panel_rows)))
    return done
