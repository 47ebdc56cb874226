"""A target that is also a training set (issue 19, item 9): ``cross``, ``finetune`` and
``fr-cross`` runs refuse it with one usage line naming both options and the shared set,
before any data is loaded (the run would test on images it trained on, with their scores);
so does ``score`` when the submission declares such training sets (``--train``)."""
from __future__ import annotations

import pytest

import bench.engine.session
from bench.cli import main
from bench.core.errors import UsageError
from bench.core.registry import PROTOCOLS
from tests.no_data import forbid_data


@pytest.fixture()
def no_data(monkeypatch, tmp_path):
    """Loading any data fails the test: the refusal comes first."""
    forbid_data(monkeypatch, tmp_path, 'the leak was refused', 'prepare')
    return tmp_path


@pytest.mark.parametrize("protocol, method", [("cross", "erm"), ("finetune", "erm"),
                                              ("fr-cross", "fr-siamese")])
def test_a_target_that_trained_is_a_usage_error(no_data, capsys, protocol, method):
    rc = main(["run", "--protocol", protocol, "--method", method, "--profile", "smoke",
               "--train", "syn-kadid", "--targets", "syn-wild,syn-kadid",
               "--out", str(no_data / "runs")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert "--train syn-kadid" in err and "--targets syn-wild,syn-kadid" in err
    assert "share syn-kadid" in err and protocol in err
    assert not (no_data / "runs").exists()


def test_the_check_names_every_shared_set_and_passes_disjoint_sets():
    cls = PROTOCOLS.get("cross")
    with pytest.raises(UsageError, match="share a, b"):
        cls.check_options(cls.resolve_options("cross", {"train": "a,b,c", "targets": "b,a"}, False))
    cls.check_options(cls.resolve_options("cross", {"train": "a", "targets": "b"}, False))


def test_a_submission_declaring_a_target_as_training_set_is_refused(capsys):
    """`score --train X` on target X claims a leak: refused; without --train the protocol's
    default training sets are not a claim of the submission (scored as before)."""
    from bench.app.scoring import score_config

    with pytest.raises(UsageError, match="share kadid10k"):
        score_config("cross", dataset="kadid10k", train="kadid10k")
    assert score_config("cross", dataset="kadid10k")["protocol"]["targets"] == ["kadid10k"]


def test_the_plan_refuses_a_leak_set_past_the_options(no_data):
    """A tree set key by key (``--set protocol.targets=...``) is checked by the plan too."""
    from bench.core.config import resolve

    cfg = resolve("smoke", method="erm")
    cfg["protocol"] = PROTOCOLS.get("cross").resolve_options("cross", {}, False)
    cfg["protocol"]["targets"] = list(cfg["protocol"]["train"])
    with pytest.raises(UsageError, match="would test on the data it trained on"):
        bench.engine.session.load_plan(cfg, log=lambda m: None)
