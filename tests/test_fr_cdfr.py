"""cdfr, the causal-disentanglement FR method, on toy problems: its losses as their formulas,
the masking module's dependence on content, and after a short self-supervised training on
synthetic images (no MOS anywhere) content codes that agree within a pair and label-free
scores that fall with the distortion level on held-out images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from tests.test_run import release  # noqa: F401  (fixture)

from bench.methods.fr.cdfr_labelfree import LabelFreeHead, adapt, fit_label_free, label_free_scores
from bench.methods.fr.cdfr_losses import (Weights, content_invariance, degradation_order, draws,
                                    independence, intervention, self_supervised)
from bench.engine.models import SmallCNN
from bench.methods.fr.cdfr_model import CDFRNet, MaskingModule, rms_pool
from bench.methods.fr.siamese import feature_trunk

SIZE = 32
LEVELS = {"noise": [0.03, 0.08, 0.16, 0.3], "blur": [0.6, 1.2, 2.0, 3.0]}


def toy_images(n: int, seed: int) -> torch.Tensor:
    """n x 3 x SIZE x SIZE images in [0, 1]: smooth colour fields with a few sharp
    rectangles (edges for blur to remove)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.randn(n, 3, 4, 4, generator=g), size=SIZE, mode="bicubic",
                      align_corners=False)
    for i in range(n):
        for _ in range(3):
            y0, x0 = torch.randint(0, SIZE - 8, (2,), generator=g).tolist()
            h, w = torch.randint(4, 12, (2,), generator=g).tolist()
            x[i, :, y0:y0 + h, x0:x0 + w] += 2 * torch.randn(3, 1, 1, generator=g)
    return torch.sigmoid(x)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(np.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def distort(x: torch.Tensor, kind: str, level: float, seed: int = 0) -> torch.Tensor:
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        return (x + level * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return gaussian_blur(x, level)


def toy_pairs(refs: torch.Tensor, seed: int):
    """Every reference with every kind and level: (ref, dist, ref_ids, kinds, levels)."""
    r, d, ids, kinds, levels = [], [], [], [], []
    for kind, lv in LEVELS.items():
        for j, level in enumerate(lv):
            r.append(refs)
            d.append(distort(refs, kind, level, seed + 97 * j))
            ids += range(len(refs))
            kinds += [kind] * len(refs)
            levels += [j] * len(refs)
    return torch.cat(r), torch.cat(d), torch.tensor(ids), kinds, np.array(levels)


def small_model(masking: str = "divisive", **variant) -> CDFRNet:
    """A tiny cdfr network; ``variant``: separate=True (a degradation trunk of its own),
    pooling, masking_content."""
    torch.manual_seed(0)
    trunk, k = feature_trunk(SmallCNN(8))
    second = feature_trunk(SmallCNN(8))[0] if variant.pop("separate", False) else None
    return CDFRNet(trunk, k, content_dim=16, degradation_dim=16, hidden=32, masking=masking,
                   degradation_trunk=second, **variant)


def content_gap(model: CDFRNet, refs: torch.Tensor) -> tuple[float, float]:
    """(mean cosine distance between a reference's content code and its distorted
    images', mean distance between the codes of different references), eval mode."""
    r, d, ids, _, _ = toy_pairs(refs, seed=5)
    model.eval()
    with torch.no_grad():
        cr, cd = model(r, d, score=False).content_codes()
    model.train()
    cr, cd = F.normalize(cr, dim=1), F.normalize(cd, dim=1)
    dist = 1 - cd @ cr.t()
    same = ids.view(-1, 1) == ids.view(1, -1)
    return float(dist[same].mean()), float(dist[~same].mean())


@pytest.fixture(scope="module")
def trained():
    """A small cdfr trained 50 steps on the self-supervised loss alone (no MOS) over 12
    training references; 6 other references are held out."""
    torch.set_num_threads(1)
    model = small_model()
    train_refs, held_out = toy_images(12, seed=1), toy_images(6, seed=2)
    ref, dist, ids, _, _ = toy_pairs(train_refs, seed=3)
    before = content_gap(model, held_out)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def next_batch():
        pos = torch.randperm(len(ref), generator=gen)[:24]
        return ref[pos], dist[pos], ids[pos]

    losses = adapt(model, opt, 50, next_batch, Weights(), np.random.default_rng(0))
    head = fit_label_free(model, [(ref, dist)])
    return model, head, held_out, before, losses


def test_self_supervised_loss_falls(trained):
    losses = trained[4]
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])


def test_content_codes_of_a_pair_agree_on_held_out_references(trained):
    model, _, held_out, before, _ = trained
    within, between = content_gap(model, held_out)
    assert within < 0.5 * between
    # training made the codes more pair-invariant than the random network's
    assert within / between < before[0] / before[1]


def test_label_free_score_falls_with_distortion_level_on_held_out_images(trained):
    model, head, held_out, _, _ = trained
    r, d, _, kinds, levels = toy_pairs(held_out, seed=11)
    scores = label_free_scores(model, head, [(r, d)]).numpy()
    kinds = np.array(kinds)
    for kind in LEVELS:
        k = kinds == kind
        rho = spearmanr(levels[k], scores[k])[0]
        assert rho < -0.8, (kind, rho)
        by_level = [scores[k & (levels == j)].mean() for j in range(4)]
        assert all(a > b for a, b in zip(by_level, by_level[1:])), (kind, by_level)
    # a reference paired with itself scores at the anchor (0), above every distorted pair
    ref_self = label_free_scores(model, head, [(held_out, held_out)]).numpy()
    assert np.allclose(ref_self, 0.0, atol=1e-6) and ref_self.min() > scores.max()


def test_masking_output_depends_on_content_and_masks_busy_content_more():
    torch.manual_seed(0)
    mask = MaskingModule(content_dim=4, degradation_dim=3)
    delta = torch.randn(2, 3, 5, 5)
    calm, busy = torch.zeros(2, 4, 5, 5), 3 * torch.ones(2, 4, 5, 5)
    out_calm, out_busy = mask(delta, calm), mask(delta, busy)
    torch.testing.assert_close(out_calm, delta)  # no content activity: nothing masked
    assert (out_busy.abs() < out_calm.abs()).all()
    # the formula: delta / (1 + softplus(V) |C| / kc); softplus(V) starts at 1, so A = 3
    torch.testing.assert_close(out_busy, delta / 4.0)
    assert torch.equal(MaskingModule(4, 3, "none")(delta, busy), delta)


VARIANTS = [{}, {"separate": True}, {"pooling": "mean-abs"}, {"masking_content": "distorted"}]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(map(str, v.values())) or "default")
def test_a_pair_of_a_reference_with_itself_has_zero_degradation_features(variant):
    model = small_model(**variant)
    x, w = toy_images(3, seed=4), Weights()
    loss, parts, _ = self_supervised(model, x, distort(x, "noise", 0.1), torch.arange(3), w,
                                     *draws(3, w, np.random.default_rng(0)))
    loss.backward()   # every reading trains: all terms finite, gradients reach the trunk
    assert len(parts) == 5 and torch.isfinite(loss)
    assert model.trunk[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model(x, x)
    assert torch.equal(out.features, torch.zeros_like(out.features))


def test_rms_pool_and_masking_by_whose_content():
    assert float(rms_pool(torch.full((1, 2, 3, 3), -2.0)).min()) == pytest.approx(2.0, abs=2e-4)
    x = toy_images(2, seed=4)
    d = distort(x, "blur", 2.0)
    by_ref, by_dist = small_model().eval(), small_model(masking_content="distorted").eval()
    with torch.no_grad():   # same weights; only whose content masks differs
        assert not torch.allclose(by_ref(x, d).features, by_dist(x, d).features)


def test_intervention_loss_is_its_formula_on_a_toy_latent():
    g = torch.Generator().manual_seed(0)
    c, s = torch.randn(4, 2, 3, 3, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    perm = torch.tensor([2, 0, 3, 1])

    def encode(f):
        return f[:, :2], f[:, 2:]

    def exact(cc, ss):  # a decoder the heads invert exactly
        return torch.cat([cc, ss], dim=1)

    def leaky(cc, ss):  # content leaks into the degradation channels
        return torch.cat([cc, ss + cc[:, :1]], dim=1)

    assert float(intervention(exact, encode, c, s, perm)) == pytest.approx(0.0, abs=1e-7)
    want = float((c[perm][:, :1].expand(-1, 3, -1, -1)).pow(2).mean())
    assert float(intervention(leaky, encode, c, s, perm)) == pytest.approx(want, rel=1e-5)
    # with perm = identity the leak is there too: the loss measures the content a decoder
    # writes into the degradation code, whichever content is set
    assert float(intervention(leaky, encode, c, s, torch.arange(4))) == pytest.approx(
        float(c[:, :1].pow(2).mean()) , rel=1e-5)


def test_invariance_and_independence_formulas():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(6, 5, generator=g)
    ids = torch.arange(6)
    matched = content_invariance(codes, codes, ids, "infonce", 0.1)
    shuffled = content_invariance(codes, codes[torch.tensor([1, 2, 3, 4, 5, 0])], ids, "infonce", 0.1)
    assert float(matched) < float(shuffled)
    z = F.normalize(codes, dim=1)
    logits = z @ z.t() / 0.1
    want = (torch.logsumexp(logits, 1) - logits.diag()).mean()
    assert float(matched) == pytest.approx(float(want), rel=1e-5)
    assert float(content_invariance(codes, codes, ids, "mse")) == pytest.approx(0.0, abs=1e-7)
    deg = torch.randn(6, 3, generator=g)
    assert float(independence(codes, deg)) > 0
    # a degradation code that is a copy of one content dimension: correlation 1 there
    copy = codes[:, :1].repeat(1, 3)
    assert float(independence(codes, copy)) >= 3 / 15 - 1e-4
    weaker, stronger = torch.ones(4, 2), 2 * torch.ones(4, 2)
    assert float(degradation_order(weaker, stronger, 0.05)) == 0.0
    assert float(degradation_order(stronger, weaker, 0.05)) == pytest.approx(2 ** 0.5 + 0.05, rel=1e-5)


def test_label_free_head_orients_without_labels():
    g = torch.Generator().manual_seed(0)
    strength = torch.rand(50, generator=g)
    feats = strength[:, None] * torch.tensor([[1.0, 2.0, 0.5]]) + 0.01 * torch.randn(50, 3, generator=g)
    head = LabelFreeHead().fit(feats, torch.zeros(50, 3), feats)
    scores = head.score(feats)
    assert spearmanr(strength.numpy(), scores.numpy())[0] < -0.95
    assert head.explained > 0.9


def test_self_supervised_terms_all_present_and_switchable():
    model = small_model()
    x = toy_images(4, seed=6)
    d = distort(x, "noise", 0.1)
    w = Weights()
    loss, parts, out = self_supervised(model, x, d, torch.arange(4), w,
                                       *draws(4, w, np.random.default_rng(0)), score=True)
    assert set(parts) == {"invariance", "independence", "reconstruction", "intervention", "order"}
    assert out.score.shape == (4,) and torch.isfinite(loss)
    off = Weights(invariance=0, independence=0, reconstruction=0, intervention=0, order=0)
    loss0, parts0, out0 = self_supervised(model, x, d, torch.arange(4), off,
                                          *draws(4, off, np.random.default_rng(0)))
    assert parts0 == {} and float(loss0.detach()) == 0.0 and out0.extra_features is None


# ------------------------------------------------------------------ the registered method
def run_cdfr(release, out, protocol: str, *extra: str) -> int:
    """`python -m bench run --method cdfr` on the tiny release (tests/test_run.py), smoke."""
    from bench.cli import main
    from tests.test_run import NAME

    return main(["run", "--protocol", protocol, "--method", "cdfr", "--profile", "smoke",
                 "--seed", "1", "--device", "cpu", "--dataset", NAME, "--splits", "1",
                 "--set", f"data.{NAME}={release}", "--out", str(out), "--quiet", *extra])


def fold_record(out) -> tuple[dict, np.ndarray]:
    import json

    from tests.test_run import run_folders

    (folder,) = run_folders(out).values()
    pred = np.loadtxt(folder / "predictions.csv", delimiter=",", skiprows=1, usecols=-1)
    return json.loads((folder / "metrics.json").read_text()), pred


def test_cdfr_runs_supervised_under_fr_split(release, tmp_path):
    assert run_cdfr(release, tmp_path / "out", "fr-split") == 0
    rec, pred = fold_record(tmp_path / "out")
    assert rec["n"] == 6 and rec["n_labelled"] == 18 and np.isfinite(pred).all()
    facts = rec["method_facts"]
    assert facts["head"] == "regression" and "intervention" in facts["readings"]
    assert facts["labelled_pairs"] == 18 and facts["unlabelled_pairs"] == 0
    assert set(facts["last_terms"]) == {"invariance", "independence", "reconstruction",
                                      "intervention", "order", "supervised"}
    # the other readings of the network run end to end too
    assert run_cdfr(release, tmp_path / "variant", "fr-split", "--set", "method.encoders=separate",
                    "--set", "method.pooling=mean-abs", "--set", "method.masking=none") == 0
    assert fold_record(tmp_path / "variant")[0]["method_facts"]["settings"]["encoders"] == "separate"


def test_cdfr_label_free_predicts_with_the_oriented_head_and_reads_no_mos(release, tmp_path):
    from tests.test_fr_protocols import _rewrite_mos

    assert run_cdfr(release, tmp_path / "one", "fr-labelfree") == 0
    rec, pred = fold_record(tmp_path / "one")
    facts = rec["method_facts"]
    assert rec["n_labelled"] == 0 and facts["head"] == "label-free"
    assert facts["label_free"]["fit_pairs"] == 18 and "supervised" not in facts["last_terms"]
    assert np.isfinite(pred).all() and pred.std() > 0
    _rewrite_mos(release, set(range(24)), np.random.default_rng(3))  # every MOS, test too
    assert run_cdfr(release, tmp_path / "two", "fr-labelfree") == 0
    np.testing.assert_array_equal(pred, fold_record(tmp_path / "two")[1])


def test_cdfr_few_label_uses_only_the_kept_labels(release, tmp_path):
    from tests.test_fr_protocols import _rewrite_mos
    from tests.test_run import NAME, load_release

    from bench.core.registry import PROTOCOLS

    args = ("--label-fraction", "0.25")
    assert run_cdfr(release, tmp_path / "one", "fr-fewlabel", *args) == 0
    rec, pred = fold_record(tmp_path / "one")
    facts = rec["method_facts"]
    assert facts["head"] == "regression" and facts["labelled_pairs"] == rec["n_labelled"] > 0
    assert facts["unlabelled_pairs"] == 18 - rec["n_labelled"]
    cls = PROTOCOLS.get("fr-fewlabel")
    (fold,) = cls().folds({**cls.defaults(False), "dataset": NAME, "splits": 1,
                           "label_fraction": [0.25]}, {NAME: load_release(release)}, 1)
    _rewrite_mos(release, set(fold.unlabelled[0][1]), np.random.default_rng(7))
    assert run_cdfr(release, tmp_path / "two", "fr-fewlabel", *args) == 0
    np.testing.assert_array_equal(pred, fold_record(tmp_path / "two")[1])
    _rewrite_mos(release, set(fold.method_parts()[0][1]), np.random.default_rng(7))  # not blind
    assert run_cdfr(release, tmp_path / "three", "fr-fewlabel", *args) == 0
    assert not np.array_equal(pred, fold_record(tmp_path / "three")[1])


def test_cdfr_bad_head_choices_are_one_line_usage_errors(release, tmp_path, capsys):
    assert run_cdfr(release, tmp_path / "a", "fr-labelfree", "--set",
                    "method.label_free_fit=nosuchset") == 2
    assert run_cdfr(release, tmp_path / "b", "fr-labelfree", "--set", "method.head=regression") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 2 and "label_free_fit=nosuchset" in err[0] and "tinyrel" in err[0]
    assert "head=regression needs labelled pairs" in err[1]
