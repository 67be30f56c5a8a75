"""``run --track mlflow:URI``: a tiny run mirrored into a local MLflow file store, killed and resumed
without duplicate runs; a bad URI or a missing package is one line (exit 2)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.benchmark import cell as cell_module
from sdc_bench.cli import main

pytest.importorskip("mlflow")

TINY_SUITE = """
description = "test: tracked tiny run"
seed = 3
methods = ["classical", "scratch"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 48
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.25

[train]
batch_size = 16
max_epochs = 1
device = "cpu"

[search]
n_trials = 2
pruner = "none"

[throughput]
enabled = false

[params.scratch]
epochs = 1
"""


def _runs(store: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.as_uri())
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments], max_results=1000)


def test_a_tracked_run_killed_and_resumed_has_each_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    out = tmp_path / "run"
    real_run_cell, calls = cell_module.run_cell, []

    def dies_on_the_third_cell(*args, **kwargs):  # a kill after two cells were done and logged
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_cell(*args, **kwargs)

    monkeypatch.setattr("sdc_bench.benchmark.runner.run_cell", dies_on_the_third_cell)
    args = ["run", "--suite", str(suite), "--out", str(out), "--quiet", "--track", "mlflow:file:./mlruns"]
    assert main(args) == 130
    store = tmp_path / "mlruns"
    before = _runs(store)
    assert Counter(r.data.tags["sdc_bench_level"] for r in before)["cell"] == 2
    monkeypatch.setattr("sdc_bench.benchmark.runner.run_cell", real_run_cell)

    monkeypatch.chdir(out)  # the recorded store is found from another folder, without --track
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    runs = _runs(store)
    keys = Counter(r.data.tags["sdc_bench_key"] for r in runs)
    assert max(keys.values()) == 1, "a run was logged twice"
    levels = Counter(r.data.tags["sdc_bench_level"] for r in runs)
    # 1 parent, 2 methods, 2 x 2 folds, 2 trials per cell
    assert levels == {"run": 1, "method": 2, "cell": 4, "trial": 8}
    by_id = {r.info.run_id: r for r in runs}
    parent = next(r for r in runs if r.data.tags["sdc_bench_level"] == "run")
    assert parent.info.status == "FINISHED"
    assert (
        parent.data.params["data.size"] == "32"
        and parent.data.params["methods"] == '["classical", "scratch"]'
    )
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == "test")]
    for method in ("classical", "scratch"):
        run = next(
            r
            for r in runs
            if r.data.tags["sdc_bench_level"] == "method" and r.data.params["method"] == method
        )
        assert by_id[run.data.tags["mlflow.parentRunId"]] is parent
        row = pooled[(pooled["method"] == method) & (pooled["metric"] == "balanced_accuracy")].iloc[0]
        assert run.data.metrics["balanced_accuracy.overall"] == pytest.approx(float(row["value"]))
        group = run.data.tags["sdc_bench_key"].split("/", 1)[1]
        assert parent.data.metrics[f"{group}/balanced_accuracy.overall"] == pytest.approx(float(row["value"]))
    for run in (r for r in runs if r.data.tags["sdc_bench_level"] == "cell"):
        assert by_id[run.data.tags["mlflow.parentRunId"]].data.tags["sdc_bench_level"] == "method"
        assert "outer_fold" in run.data.params and "balanced_accuracy.overall" in run.data.metrics
    trial = next(r for r in runs if r.data.tags["sdc_bench_level"] == "trial")
    assert trial.data.params and "value" in trial.data.metrics
    from mlflow.tracking import MlflowClient

    artifacts = {a.path for a in MlflowClient(tracking_uri=store.as_uri()).list_artifacts(parent.info.run_id)}
    assert {"metrics.csv", "report.html", "tables"} <= artifacts


def test_a_bad_uri_and_a_missing_package_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["run", "--suite", "smoke", "--out", str(out), "--quiet"]
    assert main([*args, "--track", "wandb:x"]) == 2
    assert "expected mlflow:URI" in capsys.readouterr().err
    assert main([*args, "--track", "mlflow:nosuchscheme://x"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the tracking store" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    assert main([*args, "--track", "mlflow:file:./mlruns"]) == 2
    assert "pip install 'sdc-bench[mlflow]'" in capsys.readouterr().err
    assert not out.exists()


def test_untracked_commands_do_not_import_mlflow() -> None:
    import subprocess

    code = "import sys; from sdc_bench.cli import main; main(['list', 'methods']); import sdc_bench.pipeline; print('mlflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_tracked_run_sigkilled_mid_run_resumes_without_duplicate_runs(tmp_path: Path) -> None:
    """A real SIGKILL (no handler runs, the MLflow runs stay RUNNING, a cell's logging may be cut): the
    resumed run still logs each run once."""
    import os
    import signal
    import subprocess
    import time

    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sdc_bench", "run", "--suite", str(suite), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*command, "--track", "mlflow:file:./mlruns"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while len(list((out / "cells").glob("*.parquet"))) < 2:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no two cells finished within 5 minutes"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list((out / "cells").glob("*.parquet"))) < 4, "killed too late: every cell was done"

    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    runs = _runs(tmp_path / "mlruns")
    keys = Counter(r.data.tags["sdc_bench_key"] for r in runs)
    assert max(keys.values()) == 1, "a run was logged twice"
    assert Counter(r.data.tags["sdc_bench_level"] for r in runs) == {
        "run": 1,
        "method": 2,
        "cell": 4,
        "trial": 8,
    }
    parent = next(r for r in runs if r.data.tags["sdc_bench_level"] == "run")
    assert parent.info.status == "FINISHED"
