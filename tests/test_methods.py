"""Every registered method, trained briefly on a tiny in-memory LODO fold, lowers its
training loss; the ablations ask the division for what the paper says (\\C: one
cluster, +L: levels, +M: the MLIVE-style set joins the training data).

The data go through the runner's own plan (``load_plan``/``prepare``, with
``open_dataset`` and ``decoded_array`` replaced by in-memory stand-ins), its training-set
builder and its division provider, so the methods see exactly what a real run gives them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import bench.methods.causal.base as causal_base
import bench.methods.metaiqa as metaiqa_module
from bench.methods.shared.division import divide as real_divide
from bench.engine import session as plan
from bench.core.config import resolve, with_method_settings
from bench.data.records import Dataset, Record
from bench.engine.models import build_model
from bench.core.registry import METHODS
from bench.engine.loop import FitContext
from bench.engine.engine import Engine

SIZE = 40                       # the smoke profile's data.size (crop 32)
TYPES = ("A", "B", "C", "D")    # LODO holds out A: the fold trains on B, C, D
LEVELS = (1, 2, 3)
REFS = 4
MLIVE_TYPES = ("BJ", "BN")
ALL_METHODS = ["erm", "metaiqa", "cis", "cip", "cis-c", "cip-c", "cis+l", "cip+l", "cis+m", "cip+m"]


def _reference(rng: np.random.Generator) -> np.ndarray:
    """A smooth random SIZE x SIZE x 3 texture in [40, 215] (float)."""
    low = rng.uniform(40, 215, size=(5, 5, 3))
    return np.kron(low, np.ones((8, 8, 1)))


def _distort(img: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """One of a few distortions whose strength grows with ``level`` (1..3)."""
    if kind in ("A", "BN"):                        # additive noise
        out = img + rng.normal(0, 18 * level, img.shape)
    elif kind == "B":                              # darkening
        out = img * (1 - 0.22 * level)
    elif kind in ("C", "BJ"):                      # coarse quantisation
        step = 16 * 2 ** level
        out = np.floor(img / step) * step
    else:                                          # contrast loss
        out = img.mean() + (img - img.mean()) * (1 - 0.3 * level)
    return np.clip(out, 0, 255).astype(np.uint8)


def tiny_dataset(name: str, types, levels, refs: int, seed: int) -> tuple[Dataset, np.ndarray]:
    """A Dataset (types x levels x refs records, MOS falling with level, all in about
    [0.55, 0.95] so even the output bias has something to learn) and its decoded
    N x SIZE x SIZE x 3 uint8 array, in record order."""
    rng = np.random.default_rng(seed)
    bases = [_reference(rng) for _ in range(refs)]
    records, images = [], []
    for t in types:
        for lv in levels:
            for r in range(refs):
                mos = 0.95 - 0.12 * lv + 0.02 * r
                records.append(Record(image=f"{name}_{t}_{lv}_{r}.png", mos=mos, mos_raw=mos,
                                      ref=f"R{r}", dist_type=t, level=lv))
                images.append(_distort(bases[r], t, lv, rng))
    return Dataset(name, Path(f"/nonexistent/{name}"), records, "synthetic", list(types)), np.stack(images)


@pytest.fixture()
def tiny_data(monkeypatch):
    """Route the runner's data loading to two in-memory sets: 'tiny' (LODO's dataset) and
    'syn-mlive' (the +M extra set). Returns the dict of opened datasets' names."""
    sets = {"tiny": tiny_dataset("tiny", TYPES, LEVELS, REFS, seed=1),
            "syn-mlive": tiny_dataset("syn-mlive", MLIVE_TYPES, (1, 2), 3, seed=2)}
    opened: list[str] = []

    def fake_open(name, root=None, paths=None, seed=0, log=print):
        opened.append(name)
        return sets[name][0]

    monkeypatch.setattr(plan, "open_dataset", fake_open)
    monkeypatch.setattr(plan, "decoded_array", lambda ds, size, log=print: sets[ds.name][1])
    return opened


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: these tiny models run faster so, and far faster when other
    processes share the cores (intra-op threads then wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def method_config(method: str, epochs: int = 12, iterations: int = 4, sets=()) -> dict:
    """The smoke profile, long enough for the loss to fall (12 epochs of 4 iterations,
    inner lr 3e-3), with LODO on 'tiny'; ``sets``: method settings 'name=value'."""
    cfg = resolve("smoke", {"train.epochs": epochs, "train.iterations_per_epoch": iterations,
                            "train.lr": 3e-3, "device": "cpu"})
    cfg["protocol"] = {"name": "lodo", "dataset": "tiny"}
    cfg["method"] = method
    cfg = with_method_settings(cfg)
    for item in sets:
        key, value = item.split("=", 1)
        cfg["method_settings"][key] = type(cfg["method_settings"][key])(value)
    return cfg


def fit(method: str, seed: int = 0, **kw) -> dict:
    """Train ``method`` on fold A of the tiny LODO set through the runner's session,
    training set and division. Returns the loss history, the subset requests (kwargs and
    the subsets returned), the training set and the session."""
    cfg = method_config(method, **kw)
    cfg["seed"] = seed
    session = plan.prepare(cfg, log=lambda m: None)
    fold = session.folds[0]
    assert fold.name == "A"
    torch.manual_seed(seed)
    model, _ = build_model(cfg["model"], log=lambda m: None)
    engine = Engine(cfg, model, torch.device("cpu"), np.random.default_rng(seed))
    ts = plan.train_set_from(session, plan.with_extra(session, fold.method_parts()))
    requests = []

    def spy(train, clusters, seed, levels=False, **division):
        out = real_divide(train, clusters, seed, levels, **division)
        requests.append(({"clusters": clusters, "levels": levels}, out[0]))
        return out

    history: list[float] = []
    seen: list[int] = []                         # engine.images_seen after every epoch

    def epoch_done(epoch, loss):
        history.append(loss)
        seen.append(engine.images_seen)

    method_obj = session.method_cls(cfg)
    users = (causal_base, metaiqa_module)      # the modules that divide the training set
    for module in users:
        module.divide = spy
    try:
        method_obj.fit(FitContext(engine, ts, cfg, epoch_done))
    finally:
        for module in users:
            module.divide = real_divide
    return {"history": history, "requests": requests, "train": ts, "session": session,
            "cfg": cfg, "seen": seen, "method": method_obj}


@pytest.mark.parametrize("method", ALL_METHODS)
def test_training_loss_falls(tiny_data, method):
    # CIP and its ablations take one optimizer step per meta-iteration, so at the images
    # budget 12 epochs are only 12 steps: their loss ratio then depends on the CPU's
    # rounding (cip+l: 0.80 on one machine, 0.82 on another); 24 epochs leave a margin
    # (0.25-0.58 for the four CIP variants)
    epochs = 24 if method.startswith("cip") else 12
    out = fit(method, epochs=epochs)
    h = out["history"]
    assert len(h) == epochs and all(np.isfinite(h))
    # seeded and deterministic on one CPU; over seeds 0-5 the ratio stays below 0.7 for
    # every method but one outlier (0.92)
    first, last = np.mean(h[:2]), np.mean(h[-3:])
    assert last < 0.8 * first, f"{method}: loss {first:.4f} -> {last:.4f} ({h})"


def test_all_methods_are_registered():
    assert set(ALL_METHODS) <= set(METHODS.names())


def _train_types(ts) -> set:
    return set(ts.type_keys())


def test_causal_methods_use_the_configured_clusters(tiny_data):
    out = fit("cis", epochs=1, iterations=1)
    (kwargs, subsets), = out["requests"]
    assert kwargs["clusters"] == 2 and kwargs["levels"] is False
    assert out["cfg"]["method_settings"]["clusters"] == 2
    assert {s.key[-1] for s in subsets} == {0, 1}
    assert len(subsets) == 3 * 2                          # types B, C, D x 2 clusters
    assert {s.key[0] for s in subsets} == {("tiny", t) for t in ("B", "C", "D")}


@pytest.mark.parametrize("method", ["cis-c", "cip-c"])
def test_no_content_ablation_uses_one_cluster(tiny_data, method):
    out = fit(method, epochs=1, iterations=1)
    (kwargs, subsets), = out["requests"]
    assert kwargs["clusters"] == 1 and not kwargs["levels"]
    assert [s.key for s in subsets] == [(("tiny", t), 0) for t in ("B", "C", "D")]
    for s in subsets:                                      # uniform weights: plain type means
        np.testing.assert_allclose(s.weights, 1.0 / len(s.items))


@pytest.mark.parametrize("method", ["cis+l", "cip+l"])
def test_levels_ablation_requests_levels(tiny_data, method):
    out = fit(method, epochs=1, iterations=1)
    (kwargs, subsets), = out["requests"]
    assert kwargs["levels"] is True and kwargs["clusters"] == 2
    assert len(subsets) == 3 * len(LEVELS) * 2           # types x levels x clusters
    assert {s.key[:2] for s in subsets} == {(("tiny", t), lv) for t in "BCD" for lv in LEVELS}


def test_metaiqa_tasks_are_the_distortion_types(tiny_data):
    out = fit("metaiqa", epochs=1, iterations=1)
    (kwargs, subsets), = out["requests"]
    assert kwargs == {"clusters": 1, "levels": False}
    assert len(subsets) == 3


@pytest.mark.parametrize("method", ["cis+m", "cip+m"])
def test_multi_ablation_joins_mlive_style_training_data(tiny_data, method):
    cls = METHODS.get(method)
    assert cls.extra_train == {"real": ["mlive"], "synthetic": ["syn-mlive"]}
    out = fit(method, epochs=1, iterations=1)
    assert tiny_data == ["tiny", "syn-mlive"]             # the runner opened the extra set
    assert out["session"].extra == ["syn-mlive"]
    types = _train_types(out["train"])
    assert types == {("tiny", t) for t in "BCD"} | {("syn-mlive", t) for t in MLIVE_TYPES}
    assert sum(1 for d in out["train"].dataset if d == "syn-mlive") == len(MLIVE_TYPES) * 2 * 3
    (_, subsets), = out["requests"]
    assert {s.key[0] for s in subsets} == types           # MLIVE's two combinations: two types
    # the test set of the fold is still the held-out type of 'tiny' only
    assert list(out["session"].folds[0].tests) == ["tiny"]


def test_plain_methods_train_on_the_fold_only(tiny_data):
    out = fit("cis", epochs=1, iterations=1)
    assert tiny_data == ["tiny"] and out["session"].extra == []
    assert _train_types(out["train"]) == {("tiny", t) for t in "BCD"}


def test_equal_image_budgets_per_epoch_on_the_smoke_profile(tiny_data):
    """ERM, MetaIQA, CIS and CIP see the same images (the smoke cap: 2 ERM batches of 16
    per epoch): after epoch k each has seen (k + 1) x 32 images, up to the images of one of
    its own iterations; ERM's steps are those of the earlier iteration cap."""
    seen, iteration = {}, {}
    for method in ("erm", "metaiqa", "cis", "cip"):
        # one task per meta step: the tiny set's 3 tasks (54 images) exceed a 32-image epoch
        sets = ["meta_batch=1"] if method == "metaiqa" else []
        out = fit(method, epochs=3, iterations=2, sets=sets)
        seen[method] = np.asarray(out["seen"])
        m = out["method"]
        assert m.budget == {"epoch_unit": "images", "epochs": 3, "epoch_images": 32,
                            "budget": "images", "epoch_steps": None}   # train.budget's default
        assert m.describe()["budget"]["epoch_images"] == 32
        if method in ("cis", "cip"):
            iteration[method] = m.batches.images_per_round()
        if method == "metaiqa":     # the largest meta-batch: every task's support pass
            iteration[method] = sum(sp.batches_per_pass * (sp.batch + sq.batch) for sp, sq
                                    in zip(m.support.samplers, m.query.samplers))
    targets = 32 * np.arange(1, 4)
    np.testing.assert_array_equal(seen["erm"], targets)         # 2 steps of 16 per epoch
    for method in ("metaiqa", "cis", "cip"):
        over = seen[method] - targets
        assert np.all(over >= 0) and np.all(over < iteration[method]), (method, seen[method])


def test_describe_records_the_readings(tiny_data):
    cis = fit("cis", epochs=1, iterations=1)["method"].describe()
    assert cis["meta_step"] == "interp" and cis["beta"] == 1.0 and cis["bn_stats"] == "interp"
    assert cis["sampling"] == "uniform" and cis["meta_steps"] >= 1 and cis["subsets"] == 6
    cip = fit("cip", epochs=1, iterations=1)["method"].describe()
    assert cip["forward"] == "per_subset"
    meta = fit("metaiqa", epochs=1, iterations=1)["method"].describe()
    assert meta["tasks"] == 3 and meta["meta_steps"] >= 1 and meta["head_lr"] == 1e-2


def test_metaiqa_paper_profile_uses_its_own_batches_and_schedule():
    from bench.core.config import resolve as _resolve

    cfg = _resolve("paper", method="metaiqa")
    m = METHODS.get("metaiqa")(cfg)
    assert (m.hp["support_batch"], m.hp["query_batch"], m.hp["meta_batch"]) == (75, 50, 5)
    assert m.schedule() == {"epochs": 50, "lr_decay": 0.9, "lr_step_epochs": 2,
                            "iterations_per_epoch": None}
    quick = METHODS.get("metaiqa")(_resolve("quick", method="metaiqa"))
    assert quick.hp["support_batch"] is None
    assert quick.schedule()["epochs"] == quick.cfg["train"]["epochs"]


def test_metaiqa_lr_decay_does_not_compound(tiny_data):
    """lr = lr0 * decay ** (epoch // step): the official code's compounding is not kept."""
    cfg_sets = {"method.lr_decay": 0.5, "method.lr_step_epochs": 2}
    out = fit("metaiqa", epochs=5, iterations=1)
    m = out["method"]
    m.hp.update({"lr_decay": 0.5, "lr_step_epochs": 2})
    from bench.engine.loop import _scheduler

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = _scheduler(opt, m.schedule())
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25] and cfg_sets
