"""Tests of the metric registry: a new metric is one registration, and every registered metric conforms.

The throw-away metric below is registered in this file only (and removed after its test); it shows up
in ``metrics.csv`` (through the code path ``sdc-bench report`` uses), in the main table, and in
``regress`` (a baseline written from the run checks it, in the metric's own direction).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.benchmark.regress import (
    baseline_from_samples,
    compare,
    load_baseline,
    samples_from_run,
    write_baseline,
)
from sdc_bench.reports.build import build_reports
from sdc_bench.reports.metrics import (
    INTERVAL_METHODS,
    METRICS,
    SCOPES,
    MetricEvaluator,
    MetricInputs,
    MetricSpec,
    get_metric,
    register_metric,
    unregister_metric,
)
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

SMALL = SyntheticRun(
    methods=("sdc_dl", "scratch"),
    backbones=("resnet18",),
    n_folds=2,
    n_patients=30,
    external=False,
    throughput=False,
    optuna=False,
)


def _error_counts(inputs: MetricInputs) -> tuple[np.ndarray, np.ndarray]:
    """Wrongly classified images out of all images."""
    return inputs.total - inputs.tp.sum(axis=1), inputs.total


@pytest.fixture
def error_rate() -> Iterator[MetricSpec]:
    """A throw-away metric: the one registration a new metric needs, undone after the test."""
    spec = register_metric(
        MetricSpec(
            name="error_rate",
            scope="overall",
            label="Error rate",
            higher_is_better=False,
            interval="wilson",
            counts=_error_counts,
            headline=True,
        )
    )
    yield spec
    unregister_metric(spec.name)


def test_a_registered_metric_reaches_the_metrics_table_the_main_table_and_regress(
    error_rate: MetricSpec, tmp_path: Path
) -> None:
    root = make_synthetic_run(tmp_path / "run", SMALL)
    build_reports(root, n_bootstrap=20, seed=0, draw_figures=False)

    # metrics.csv: one row per block, after every built-in metric, with the Wilson interval it declares
    metrics = pd.read_csv(root / "metrics.csv")
    pooled = metrics[metrics["scope"] == "pooled"].set_index(["method", "metric"])
    for method in SMALL.methods:
        error = pooled.loc[(method, "error_rate")]
        accuracy = pooled.loc[(method, "accuracy")]
        assert error["class_name"] == "overall" and error["ci_method"] == "wilson"
        assert error["value"] == pytest.approx(1.0 - accuracy["value"])
        assert error["ci_low"] <= error["value"] <= error["ci_high"]
    block = metrics[(metrics["scope"] == "pooled") & (metrics["method"] == "sdc_dl")]
    assert list(dict.fromkeys(block["metric"])) == list(METRICS)
    assert block["metric"].iloc[-1] == "error_rate"

    # the main table: a column titled by the spec's label, best (lowest) value in bold
    main = (root / "tables" / "main_comparison.md").read_text()
    header = next(line for line in main.splitlines() if line.startswith("| Method"))
    assert header.split(" | ")[-1] == "Error rate |"
    values = {m: pooled.loc[(m, "error_rate"), "value"] for m in SMALL.methods}
    best = min(values, key=lambda m: values[m])
    assert f"**{values[best]:.3f}" in main

    # regress: a baseline written from this run tracks the metric, lower-is-better, and checks it
    tracked = (("error_rate", "overall"),)
    samples = samples_from_run(root, tracked=tracked)
    payload = baseline_from_samples(samples, suite="throwaway")
    assert {entry["metric"] for entry in payload["metrics"]} == {"error_rate"}
    assert all(entry["higher_is_better"] is False for entry in payload["metrics"])
    write_baseline(tmp_path / "baseline.json", payload)
    expected = load_baseline(tmp_path / "baseline.json")
    assert {verdict.status for verdict in compare(expected, metrics)} == {"ok"}
    worse = metrics.copy()
    worse.loc[worse["metric"] == "error_rate", "value"] += 0.2
    assert {verdict.status for verdict in compare(expected, worse)} == {"regressed"}
    better = metrics.copy()
    better.loc[better["metric"] == "error_rate", "value"] -= 0.2
    assert {verdict.status for verdict in compare(expected, better)} == {"improved"}


def test_the_throw_away_metric_is_gone_after_its_test() -> None:
    assert "error_rate" not in METRICS


# --------------------------------------------------------------------------- conformance

# the value range of each built-in metric; a new metric that is not a share in [0, 1] adds its own here
_RANGES = {"kappa": (-1.0, 1.0), "mcc": (-1.0, 1.0), "brier": (0.0, 2.0)}
_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
_PROBA = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.5, 0.3, 0.2],
        [0.2, 0.6, 0.2],
        [0.1, 0.8, 0.1],
        [0.4, 0.4, 0.2],
        [0.1, 0.1, 0.8],
        [0.3, 0.2, 0.5],
        [0.6, 0.1, 0.3],
    ]
)


def _values(y_true: np.ndarray, proba: np.ndarray) -> dict[str, np.ndarray]:
    evaluator = MetricEvaluator(y_true, proba.argmax(axis=1), proba)
    return {name: values[0] for name, values in evaluator(np.ones((1, len(y_true)))).items()}


def test_names_are_unique_identifiers_in_table_order() -> None:
    names = list(METRICS)
    assert len(names) == len(set(names))
    assert names[:2] == ["accuracy", "balanced_accuracy"]  # the metrics table's row order starts here
    assert all(name.isidentifier() for name in names)


@pytest.mark.parametrize("name", list(METRICS))
def test_every_registered_metric_conforms(name: str) -> None:
    spec = get_metric(name)
    assert spec.name == name
    assert spec.label and spec.label[0].isupper() and spec.reader_label
    assert spec.scope in SCOPES
    assert spec.interval in INTERVAL_METHODS
    assert spec.interval != "wilson" or spec.counts is not None

    value = np.asarray(_values(_TRUE, _PROBA)[name])
    assert value.shape == ((_PROBA.shape[1],) if spec.scope == "class" else ())
    low, high = _RANGES.get(name, (0.0, 1.0))
    assert np.all((low - 1e-12 <= value) & (value <= high + 1e-12)), value

    # direction: a perfect, confident classifier scores at least as well as the one above
    perfect = np.eye(_PROBA.shape[1])[_TRUE]
    best = float(np.nanmean(_values(_TRUE, perfect)[name]))
    typical = float(np.nanmean(value))
    assert (best >= typical) if spec.higher_is_better else (best <= typical)
    assert math.isfinite(best)


def test_a_spec_is_checked_when_it_is_made() -> None:
    with pytest.raises(ValueError, match="scope"):
        MetricSpec("x", "per_image", "X", True, "bootstrap", compute=lambda inputs: inputs.total)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Wilson"):
        MetricSpec("x", "overall", "X", True, "wilson", compute=lambda inputs: inputs.total)
    with pytest.raises(ValueError, match="already registered"):
        register_metric(get_metric("accuracy"))
