"""Tests of the report's honesty at every n: declared minimums, reference rules, flags, caveats, status,
display names, LaTeX width, peak memory, one AUROC definition. Each fails on the behaviour it replaced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.reports import style
from sdc_bench.reports.build import build_reports
from sdc_bench.reports.flags import cell_flags, learning_flags
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.min_n import MIN_N, shortfall
from sdc_bench.reports.rules import reference_rules
from sdc_bench.reports.sections import per_class, results, throughput
from sdc_bench.reports.table_render import SINGLE_COLUMN_CHARACTERS, latex_width_characters, to_latex, to_text
from sdc_bench.reports.throughput_view import markdown_table, under_load
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

SMALL = SyntheticRun(
    methods=("sdc_dl", "scratch"), backbones=("resnet18",), n_folds=2, n_patients=40, n_trials=4,
    extra={"status": "running", "finished_utc": None, "seconds": None},
)  # fmt: skip


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    original = style.PNG_DPI
    style.PNG_DPI = 60
    root = make_synthetic_run(tmp_path_factory.mktemp("small"), SMALL)
    build_reports(root, n_bootstrap=100, seed=0, finish={"status": "done", "seconds": 61.0})
    style.PNG_DPI = original
    return {"root": root, "md": (root / "report.md").read_text(), "html": (root / "report.html").read_text()}


def test_every_minimum_is_declared_and_explained() -> None:
    for name, need in MIN_N.items():
        assert need.minimum >= 1 and shortfall(name, need.minimum) is None
        assert str(need.minimum) in str(shortfall(name, need.minimum - 1))


def test_report_takes_the_final_status_from_its_caller(small: dict) -> None:
    """run.json still said running when `run` built the report: the report said 'Status: running'."""
    assert "| Status | done |" in small["md"] and "1 min 1 s" in small["md"]


def test_caveats_box_names_the_protocol_limits(small: dict) -> None:
    caveats = small["md"].split("## Caveats", 1)[1].split("## Data", 1)[0]
    for words in ("Synthetic data", "Few outer folds", "single protocol seed", "fold scores drawn as joined dots",
                  "t-test not run", "Pareto front", "hyperparameter importances",
                  "no Friedman test or critical-difference diagram"):  # fmt: skip
        assert words.lower() in caveats.lower(), words
    assert '<ul class="caveats">' in small["html"]


def test_small_run_skips_box_pareto_and_fanova_with_their_reason(small: dict) -> None:
    figures_dir = small["root"] / "figures"
    assert not (figures_dir / "pareto_front.png").exists()
    assert not (figures_dir / "param_importances.png").exists()
    assert not (figures_dir / "critical_difference.png").exists()  # a CD over 2 folds spanned the rank axis
    assert "Pareto front not drawn: an accuracy/throughput Pareto front needs at least 2" in small["md"]
    assert "Hyperparameter importances not computed: fANOVA" in small["md"]
    assert "no box: a box plot of per-fold scores needs at least 5 outer folds" in small["md"]


def test_main_table_has_rules_display_names_and_no_duplicate_sensitivity(small: dict) -> None:
    table = pd.read_csv(small["root"] / "tables" / "main_comparison.csv")
    assert "Sensitivity (macro)" not in table.columns
    methods = table["Method"].str.rstrip("†‡§").tolist()
    assert methods[:2] == ["SDC-DL", "Scratch CNN"] and methods[-2:] == [
        "Majority class",
        "Stratified random",
    ]
    assert table.loc[table["Method"] == "Majority class", "Balanced accuracy"].item() == f"{1 / 5:.3f}"


def test_weight_sources_and_display_names_in_protocol(tmp_path: Path) -> None:
    root = make_synthetic_run(tmp_path / "run", SyntheticRun(
        methods=("sdc_dl", "scratch"), backbones=("resnet18",), n_folds=2, n_patients=30,
        external=False, throughput=False, optuna=False,
        extra={"weights": {"sdc_dl__resnet18__seed0__fold0": "hub:timm/resnet18", "scratch__resnet18__seed0__fold0": "random"}},
    ))  # fmt: skip
    build_reports(root, n_bootstrap=20, draw_figures=False)
    text = (root / "report.md").read_text()
    assert "| Weights | resnet18: hub:timm/resnet18 (SDC-DL), random (Scratch CNN) |" in text


def test_reference_rules_are_analytic_with_simulated_intervals() -> None:
    truth = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    frame = pd.DataFrame({"split": "test", "seed": 0, "sample_id": np.arange(100).astype(str), "y_true": truth,
                          "p_a": 1.0, "p_b": 0.0, "p_c": 0.0})  # fmt: skip
    rules = reference_rules(frame, seed=0).set_index(["method", "metric"])
    assert rules.loc[("majority", "accuracy"), "value"] == pytest.approx(0.6)
    assert rules.loc[("majority", "balanced_accuracy"), "value"] == pytest.approx(1 / 3)
    random_accuracy = rules.loc[("stratified_random", "accuracy")]
    assert random_accuracy["value"] == pytest.approx(0.36 + 0.09 + 0.01)
    assert random_accuracy["ci_low"] < random_accuracy["value"] < random_accuracy["ci_high"]


def _metrics_row(method: str, metric: str, value: float, low: float, high: float) -> dict:
    return {"method": method, "backbone": "r18", "augment": "a", "imbalance": "i", "scope": "pooled",
            "split": "test", "metric": metric, "class_name": "overall", "value": value, "ci_low": low, "ci_high": high}  # fmt: skip


def test_a_model_at_chance_is_flagged_did_not_learn() -> None:
    """Scratch at balanced accuracy 0.33 (chance, 3 classes) was reported as a plain significant loss."""
    metrics = pd.DataFrame([
        _metrics_row("scratch", "balanced_accuracy", 0.34, 0.31, 0.37), _metrics_row("scratch", "accuracy", 0.5, 0.46, 0.55),
        _metrics_row("sdc_dl", "balanced_accuracy", 0.89, 0.85, 0.93), _metrics_row("sdc_dl", "accuracy", 0.9, 0.88, 0.93),
    ])  # fmt: skip
    truth = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    frame = pd.DataFrame({"split": "test", "sample_id": np.arange(100).astype(str), "y_true": truth,
                          "p_a": 1.0, "p_b": 0.0, "p_c": 0.0})  # fmt: skip
    flags = learning_flags(metrics, reference_rules(frame))
    assert [(f.configuration[0], f.kind) for f in flags] == [("scratch", "did_not_learn")]
    table = results.main_table(metrics, reference="sdc_dl", flags=flags)
    assert [c for r, c, m in table.attrs["marks"] if m == "†"] == ["Method"]


def test_short_and_unconverged_refits_are_flagged() -> None:
    falling = [{"epoch": e, "train_loss": 1.0 - 0.08 * e, "val_loss": float("nan")} for e in range(1, 11)]
    flat = [{"epoch": e, "train_loss": 0.1, "val_loss": float("nan")} for e in range(1, 11)]
    # memorising: 0.05 -> 0.03 at the end is a 40% drop of the last value but 1% of the whole fall
    done = [{"epoch": e, "train_loss": max(2.0 / e**3, 0.03 + 0.004 * (10 - e)), "val_loss": float("nan")}
            for e in range(1, 11)]  # fmt: skip
    # still descending, one noisy last epoch up: two end points (0.40 -> 0.45) would call it flat
    late = [{"epoch": e + 1, "train_loss": v, "val_loss": float("nan")}
            for e, v in enumerate([1.0] * 5 + [0.9, 0.8, 0.6, 0.4, 0.45])]  # fmt: skip
    cells = [
        {"cell": {"method": "a", "backbone": "b", "outer_fold": 0}, "params": {"epochs": 10}, "epochs_trained": 2,
         "history": flat[:2]},
        {"cell": {"method": "c", "backbone": "b", "outer_fold": 0}, "params": {"epochs": 10}, "epochs_trained": 10,
         "history": falling},
        {"cell": {"method": "d", "backbone": "b", "outer_fold": 0}, "params": {"epochs": 10}, "epochs_trained": 10,
         "history": flat},
        {"cell": {"method": "e", "backbone": "b", "outer_fold": 0}, "params": {"epochs": 10}, "epochs_trained": 10,
         "history": done},
        {"cell": {"method": "f", "backbone": "b", "outer_fold": 0}, "params": {"epochs": 10}, "epochs_trained": 10,
         "history": late},
    ]  # fmt: skip
    assert [(f.configuration[0], f.kind) for f in cell_flags(cells)] == [
        ("a", "short_refit"),
        ("c", "unconverged"),
        ("f", "unconverged"),
    ]


def test_main_latex_table_fits_a_single_column() -> None:
    """Seven CI columns overflowed a single column."""
    metrics = pd.DataFrame([
        _metrics_row(m, metric, 0.9, 0.85, 0.93) for m in ("sdc_dl", "finetune_noaug", "sdc_dl_no_imbalance")
        for metric in ("accuracy", "balanced_accuracy")
    ]).assign(backbone="tf_efficientnet_lite0")  # fmt: skip
    table = results.main_table(metrics, reference="sdc_dl")
    assert len(table.columns) <= 6
    width = latex_width_characters(table)
    assert width <= SINGLE_COLUMN_CHARACTERS, width  # adjustbox shrinks it to 80% at most
    tex = to_latex(table)
    assert r"\begin{table}" in tex and "table*" not in tex
    assert r"{\scriptsize [0.850, 0.930]}" in tex


def test_stdout_text_has_no_markdown_escapes() -> None:
    table = results.main_table(
        pd.DataFrame([_metrics_row("sdc_dl", "accuracy", 0.9, 0.85, 0.93)]), reference="sdc_dl"
    )
    table.attrs["marks"] = [(0, "Accuracy", "*")]
    text = to_text(table)
    assert "\\*" not in text and "**" not in text and "|" not in text and "0.900 [0.850, 0.930]*" in text


def test_peak_memory_on_cpu_is_not_measured_and_load_is_flagged() -> None:
    row = {"backbone": "r18", "device": "cpu", "device_name": "EPYC", "threads": 2, "torch_version": "2",
           "mode": "infer", "precision": "fp32", "requested_batch_size": 8, "batch_size": 8, "status": "ok", "error": "",
           "images_per_s": 10.0, "latency_ms_p50": 100.0, "latency_ms_p95": 600.0, "peak_mem_mb": 0.0}  # fmt: skip
    frame = pd.DataFrame([row])
    assert "| n/a |" in markdown_table(frame) and "| 0 |" not in markdown_table(frame)
    table = throughput.throughput_table(frame)  # n/a in every row: the column is left out, the note says why
    assert "Peak memory (MB)" not in table and "left out: Peak memory (MB)" in table.attrs["notes"][0]
    assert len(under_load(frame)) == 1
    assert any("under load" in n for n in throughput.throughput_table(frame).attrs["notes"])


def test_roc_panel_prints_the_tables_auroc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ROC legend said 'AUROC 0.717 ± 0.198' (fold SD) where the table said 0.733 [0.689, 0.770]."""
    root = make_synthetic_run(tmp_path / "run", SyntheticRun(methods=("sdc_dl",), backbones=("resnet18",),
                              n_folds=2, n_patients=30, external=False, throughput=False, optuna=False))  # fmt: skip
    predictions = pd.read_parquet(root / "predictions.parquet")
    metrics = compute_metrics(predictions, n_bootstrap=50, seed=0)
    texts: list[str] = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.text
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "text",
        lambda self, x, y, s, *a, **k: texts.append(s) or original(self, x, y, s, *a, **k),
    )
    monkeypatch.setattr(style, "PNG_DPI", 40)
    assert per_class.roc_curves(predictions, tmp_path / "roc", metrics=metrics)
    row = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == "test") & (metrics["metric"] == "auroc")
                  & (metrics["class_name"] == "macro")].iloc[0]  # fmt: skip
    assert f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" in texts
    assert not any("±" in t for t in texts)
    n_classes = len([c for c in predictions.columns if c.startswith("p_")])
    assert (
        sum(bool(re.fullmatch(r"\d\.\d{3} \[.*\]", t)) for t in texts) == n_classes + 1
    )  # macro + per class


def test_run_json_is_left_alone(small: dict) -> None:
    assert json.loads((small["root"] / "run.json").read_text())["status"] == "running"


def test_a_fixed_recipe_run_does_not_claim_a_search(tmp_path: Path) -> None:
    """The quick suite's report said hyperparameters were chosen on an inner split, and that optuna.db was
    missing, for a run that searched nothing."""
    root = make_synthetic_run(tmp_path / "run", SyntheticRun(
        methods=("sdc_dl", "scratch", "linear_probe"), backbones=("resnet18",), n_folds=2, n_patients=40,
        external=False, throughput=False, optuna=False, extra={"search": {"n_trials": 0}},
    ))  # fmt: skip
    build_reports(root, n_bootstrap=50, seed=0, draw_figures=False)
    text = (root / "report.md").read_text()
    assert "No hyperparameter was tuned: each method trained its fixed recipe" in text
    assert "Hyperparameters were chosen" not in text and "optuna.db" not in text
    assert "hyperparameter search (fixed recipes, search.n_trials = 0)" in text
