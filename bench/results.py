"""The results store: finished run folders read into a pandas table (one row per run and
test target), for the reporter, the leaderboard and the regression check."""
from __future__ import annotations

from pathlib import Path

from .runs import finished_runs, read_metrics

COLUMNS = ["protocol", "protocol_version", "method", "method_display", "dataset", "target",
           "fold", "backbone", "clusters", "train_ratio", "profile", "seed", "split", "n",
           "srocc", "plcc", "krcc", "plcc_logistic", "run_dir", "predictions"]


def load_results(out_dir: Path | str = "runs"):
    """DataFrame of every done run under ``out_dir``: one row per (run, target) with the
    columns of COLUMNS. Unfinished folders are ignored."""
    import pandas as pd

    rows = []
    for folder in finished_runs(Path(out_dir)):
        m = read_metrics(folder)
        for target, t in m.get("targets", {}).items():
            rows.append({
                "protocol": m["protocol"], "protocol_version": m.get("protocol_version", 1),
                "method": m["method"], "method_display": m.get("method_display", m["method"]),
                "dataset": m["dataset"], "target": target,
                "fold": m["fold"] if m["protocol"] == "lodo" else "",
                "backbone": m.get("backbone", ""), "clusters": m.get("clusters"),
                "train_ratio": m.get("train_ratio", float("nan")), "profile": m.get("profile", ""),
                "seed": m.get("seed", 0), "split": m.get("split", -1), "n": t["n"],
                "srocc": t["srocc"], "plcc": t["plcc"], "krcc": t["krcc"],
                "plcc_logistic": t["plcc_logistic"], "run_dir": str(folder),
                "predictions": str(folder / "predictions.csv"),
            })
    return pd.DataFrame(rows, columns=COLUMNS)
