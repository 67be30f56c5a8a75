"""Tests of sdc_bench.reports.figures and .style: every figure is written as non-empty PDF + PNG
with embedded TrueType fonts, optional figures return nothing without their input, and the
house style keeps method colours fixed."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from sdc_bench.reports import figure_common, style
from sdc_bench.reports.loaders import load_cells
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.optuna_trials import load_optuna_importances, load_optuna_trials
from sdc_bench.reports.sections import data, external, per_class, results, search, throughput, training
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

SPEC = SyntheticRun(
    methods=("sdc_dl", "scratch", "classical"),
    backbones=("resnet18", "tf_efficientnet_lite0"),
    n_folds=3,
    n_patients=45,
    n_trials=4,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_synthetic_run(tmp_path_factory.mktemp("run"), SPEC)
    predictions = pd.read_parquet(root / "predictions.parquet")
    with np.load(root / "samples.npz") as npz:
        samples = {k: npz[k] for k in npz.files}
    return {
        "root": root,
        "predictions": predictions,
        "metrics": compute_metrics(predictions, n_bootstrap=50, seed=0),
        "throughput": pd.read_csv(root / "throughput.csv"),
        "trials": load_optuna_trials(root / "optuna.db"),
        "importances": load_optuna_importances(root / "optuna.db", seed=0),
        "cells": load_cells(root),
        "samples": samples,
        "palette": style.method_palette(predictions["method"]),
        "markers": style.backbone_markers(predictions["backbone"]),
    }


@pytest.fixture(autouse=True)
def fast_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files, not resolution, are under test: a lower PNG resolution keeps the suite quick."""
    monkeypatch.setattr(style, "PNG_DPI", 60)


def draws(run: dict) -> dict[str, Callable[[Path], list[Path]]]:
    metrics, predictions = run["metrics"], run["predictions"]
    looks = {"palette": run["palette"], "markers": run["markers"]}
    return {
        "method_comparison": lambda stem: results.method_comparison(
            metrics, stem, reference="sdc_dl", **looks
        ),
        "fold_scores": lambda stem: results.fold_scores(metrics, stem, **looks),
        "per_class": lambda stem: per_class.per_class_sensitivity_specificity(metrics, stem, **looks),
        "critical_difference": lambda stem: results.critical_difference(metrics, stem),
        "external_validation": lambda stem: external.external_validation(metrics, stem, **looks),
        "roc_curves": lambda stem: per_class.roc_curves(predictions, stem, **looks),
        "confusion_counts": lambda stem: per_class.confusion_matrices(predictions, stem),
        "confusion_normalised": lambda stem: per_class.confusion_matrices(predictions, stem, normalise=True),
        "reliability": lambda stem: per_class.reliability_diagrams(predictions, stem, **looks),
        "pareto_front": lambda stem: throughput.pareto_front(metrics, run["throughput"], stem, **looks),
        "optuna_history": lambda stem: search.optuna_history(run["trials"], stem, palette=run["palette"]),
        "param_importances": lambda stem: search.param_importances(run["importances"], stem),
        "learning_curves": lambda stem: training.learning_curves(run["cells"], stem, palette=run["palette"]),
        "sample_grid": lambda stem: data.sample_grid(run["samples"], stem),
    }


@pytest.mark.parametrize(
    "name",
    [
        "method_comparison",
        "fold_scores",
        "per_class",
        "critical_difference",
        "external_validation",
        "roc_curves",
        "confusion_counts",
        "confusion_normalised",
        "reliability",
        "pareto_front",
        "optuna_history",
        "param_importances",
        "learning_curves",
        "sample_grid",
    ],
)
def test_figure_is_written_as_pdf_and_png(run: dict, tmp_path: Path, name: str) -> None:
    paths = draws(run)[name](tmp_path / name)
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    pdf, png = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF") and len(content) > 2000
    if b"/Font" in content:  # text is embedded TrueType (pdf.fonttype 42), never Type 3
        assert b"/FontFile2" in content and b"/Type3" not in content
    width_in = int.from_bytes(png.read_bytes()[16:20], "big") / style.PNG_DPI
    # journal widths: the tight bounding box trims white space but never adds a column
    assert width_in <= style.DOUBLE_COLUMN_IN + 0.15, (name, width_in)
    if name in ("method_comparison", "roc_curves", "per_class"):
        assert width_in >= style.DOUBLE_COLUMN_IN * 0.85, (name, width_in)


def test_saved_box_holds_long_labels_as_the_png_draws_them() -> None:
    """Hinted text is wider at the PNG's 300 dpi than at the figure's 100: the saved box is measured at
    both, so a label reaching the figure's edge (the critical-difference diagram's) is not cut."""
    figure = Figure(figsize=(3.0, 1.0))
    canvas = FigureCanvasAgg(figure)
    label = "SDC-DL (no imbalance) / tf_efficientnet_lite0 (29.60)"
    text = figure.text(0.99, 0.5, label, ha="right", fontsize=6)
    box = style._tight_bbox(figure)
    figure.set_dpi(style.PNG_DPI)
    drawn = text.get_window_extent(canvas.get_renderer()).transformed(figure.dpi_scale_trans.inverted())
    assert box.x0 <= drawn.x0 and drawn.x1 <= box.x1
    assert figure.dpi == style.PNG_DPI  # set here; _tight_bbox itself left the figure's own dpi as it was


def test_optional_figures_draw_nothing_without_their_input(run: dict, tmp_path: Path) -> None:
    metrics = run["metrics"]
    internal = metrics[~metrics["split"].str.startswith("external:")]
    assert external.external_validation(internal, tmp_path / "external") == []
    assert throughput.pareto_front(metrics, pd.DataFrame(), tmp_path / "pareto") == []
    assert search.optuna_history(pd.DataFrame(), tmp_path / "history") == []
    assert search.param_importances(pd.DataFrame(), tmp_path / "importances") == []
    assert training.learning_curves([{"cell": {"method": "a"}, "history": []}], tmp_path / "curves") == []
    two = metrics[metrics["method"].isin(["sdc_dl"]) & (metrics["backbone"] == "resnet18")]
    assert results.critical_difference(two, tmp_path / "cd") == []  # fewer than 3 configurations
    assert not list(tmp_path.iterdir())


def test_learning_curves_of_searched_cells_come_from_the_best_trial(tmp_path: Path) -> None:
    def records(losses: list[float]) -> list[dict]:
        return [
            {"epoch": i + 1, "val_loss": loss, "val_balanced_accuracy": 1 - loss / 2}
            for i, loss in enumerate(losses)
        ]

    nan = float("nan")
    refit = [{"epoch": 1, "val_loss": nan, "val_balanced_accuracy": nan}]
    searched = {
        "cell": {"method": "sdc_dl", "backbone": "b", "outer_fold": 0},
        "history": refit,
        "search": {"best_history": records([1.0, 0.8, 0.7])},
    }
    assert training._validated_history(searched) == searched["search"]["best_history"]
    unsearched = {"cell": {"method": "scratch", "backbone": "b"}, "history": records([1.2, 1.1])}
    assert training._validated_history(unsearched) == unsearched["history"]
    assert training._validated_history({"history": refit, "search": {}}) == []
    written = training.learning_curves([searched, unsearched], tmp_path / "curves")
    assert {p.suffix for p in written} == {".pdf", ".png"}


def test_pareto_points_mark_the_front(run: dict) -> None:
    points = throughput.pareto_points(run["metrics"], run["throughput"])
    assert set(points["backbone"]) == set(SPEC.backbones)  # classical's hog_hist was never measured
    for _, device in points.groupby("device"):
        best = device["score"].idxmax()
        fastest = device[device["images_per_s"] == device["images_per_s"].max()]["score"].idxmax()
        assert device.loc[best, "optimal"] and device.loc[fastest, "optimal"]
        for _, row in device[device["optimal"]].iterrows():
            dominated = (
                (device["images_per_s"] >= row["images_per_s"])
                & (device["score"] >= row["score"])
                & ((device["images_per_s"] > row["images_per_s"]) | (device["score"] > row["score"]))
            )
            assert not dominated.any()


def test_param_importances_are_deterministic(run: dict) -> None:
    again = load_optuna_importances(run["root"] / "optuna.db", seed=0)
    pd.testing.assert_frame_equal(run["importances"], again)
    assert set(run["importances"]["param"]) == {"lr", "weight_decay", "aug_strength", "backbone_lr_mult"}
    assert set(run["trials"]["outer_fold"]) == set(range(SPEC.n_folds))  # parsed from '<run>/<cell>' names


def test_critical_difference_cliques() -> None:
    ranks = np.array([1.0, 1.5, 2.8, 4.0, 4.2])
    assert results._cliques(ranks, 1.0) == [(0, 1), (3, 4)]
    assert results._cliques(ranks, 10.0) == [(0, 4)]
    assert results._cliques(ranks, 0.1) == []


def test_method_colours_are_fixed_and_distinct() -> None:
    palette = style.method_palette(["zeta_method", "scratch", "sdc_dl", "alpha_method"])
    assert palette["sdc_dl"] == style.method_palette(["sdc_dl"])["sdc_dl"]
    assert palette["scratch"] == style.method_palette(["scratch", "other"])["scratch"]
    assert len(set(palette.values())) == len(palette)
    assert palette == style.method_palette(reversed(list(palette)))


def test_configuration_labels_are_short_and_unique() -> None:
    configurations = [
        ("sdc_dl", "resnet18", "aug", "weighted_ce"),
        ("sdc_dl", "resnet18", "aug", "focal"),
        ("scratch", "resnet18", "none", "none"),
    ]
    labels = style.configuration_labels(configurations)
    assert len(set(labels.values())) == 3
    assert labels[configurations[2]] == "Scratch CNN / none"  # the method by its display name
    assert style.configuration_labels([("a", "b", "c", "d")]) == {("a", "b", "c", "d"): "a"}
    assert "\n" in style.wrap_label("sdc_dl_no_imbalance / tf_efficientnet_lite0", 20)


def test_figures_that_pool_seeds_say_so(run: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Confusion matrices and reliability diagrams of a repeated cross-validation name the pooled seeds."""
    single = run["predictions"][run["predictions"]["method"] == "sdc_dl"]
    repeated = pd.concat([single, single.assign(seed=single["seed"] + 1)], ignore_index=True)
    assert figure_common.seed_pooling_note(single) == ""
    assert "Pooled over 2 protocol seeds" in figure_common.seed_pooling_note(repeated)

    titles: list[str] = []

    def keep_title(figure: Figure, stem: Path) -> list[Path]:  # stands in for style.save_figure
        titles.append(figure.get_suptitle())
        return []

    monkeypatch.setattr("sdc_bench.reports.sections.per_class.save_figure", keep_title)
    per_class.confusion_matrices(repeated, tmp_path / "confusion")
    per_class.reliability_diagrams(repeated, tmp_path / "reliability")
    per_class.confusion_matrices(single, tmp_path / "single")
    assert titles[:2] == ["Pooled over 2 protocol seeds (each image once per seed)"] * 2
    assert titles[2] == ""


def test_roc_curves_colour_only_the_best_configurations_beyond_the_limit(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[Figure] = []
    monkeypatch.setattr(per_class, "ROC_TOP_CONFIGURATIONS", 2)
    monkeypatch.setattr(per_class, "save_figure", lambda figure, stem: drawn.append(figure) or [])
    per_class.roc_curves(run["predictions"], tmp_path / "roc", palette=run["palette"], markers=run["markers"])
    n_configurations = run["predictions"][["method", "backbone"]].drop_duplicates().shape[0]
    legend = [text.get_text() for text in drawn[0].legends[0].get_texts()]
    assert len(legend) == 3 and legend[-1] == f"{n_configurations - 2} other configurations (no band)"
    macro = drawn[0].axes[0]
    grey = [
        c for c in macro.collections if isinstance(c, LineCollection)
    ]  # the rest: one collection of lines
    assert len(grey) == 1 and len(grey[0].get_segments()) == n_configurations - 2
    assert len(macro.collections) <= 3  # and the bands of the best two only


# --------------------------------------------------------------------------- 64 configurations (a full suite)

_CLASSES = ("a", "b", "c")
_MANY = [(f"m{i}", f"b{j}", "none", "none") for i in range(8) for j in range(8)]  # 8 methods x 8 backbones


def _many_predictions(per_configuration: int = 12) -> pd.DataFrame:
    """Out-of-fold predictions of 64 configurations; configuration i is right on its first 12 - i // 6 rows,
    so balanced accuracy falls with i and the best ones are known."""
    rng = np.random.default_rng(0)
    frames = []
    for index, (method, backbone, augment, imbalance) in enumerate(_MANY):
        truth = np.array([_CLASSES[r % 3] for r in range(per_configuration)])
        right = np.arange(per_configuration) < per_configuration - index // 6
        predicted = np.where(right, truth, np.roll(truth, 1))
        proba = rng.dirichlet(np.ones(3), size=per_configuration)
        frames.append(
            pd.DataFrame(
                {
                    "method": method,
                    "backbone": backbone,
                    "augment": augment,
                    "imbalance": imbalance,
                    "seed": 0,
                    "outer_fold": np.arange(per_configuration) % 2,
                    "split": "test",
                    "sample_id": [f"s{r}" for r in range(per_configuration)],
                    "patient_id": [f"p{r}" for r in range(per_configuration)],
                    "y_true": truth,
                    "y_pred": predicted,
                    **{f"p_{c}": proba[:, k] for k, c in enumerate(_CLASSES)},
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _many_metrics() -> pd.DataFrame:
    """Pooled metrics rows of the 64 configurations: balanced accuracy falls with the index."""
    rows = []
    for index, configuration in enumerate(_MANY):
        config = dict(zip(figure_common.CONFIG, configuration))
        score = 0.9 - index / 200
        rows.append({**config, "scope": "pooled", "split": "test", "metric": "balanced_accuracy",
                     "class_name": "overall", "value": score, "ci_low": score - 0.02, "ci_high": score + 0.02})  # fmt: skip
        for metric in ("sensitivity", "specificity"):
            for class_name in _CLASSES:
                rows.append({**config, "scope": "pooled", "split": "test", "metric": metric,
                             "class_name": class_name, "value": score, "ci_low": score - 0.05,
                             "ci_high": min(score + 0.05, 1.0)})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Figures handed to ``save_figure`` by the figure modules, kept instead of written."""
    figures: list[Figure] = []

    def keep(figure: Figure, stem: Path) -> list[Path]:
        figures.append(figure)
        return []

    for module in (per_class, throughput, results):
        monkeypatch.setattr(module, "save_figure", keep)
    return figures


def _legend(figure: Figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def test_confusion_matrices_of_64_configurations_draw_the_best_8(kept: list[Figure], tmp_path: Path) -> None:
    predictions = _many_predictions()
    per_class.confusion_matrices(predictions, tmp_path / "confusion")
    panels = [ax for ax in kept[0].axes if ax.get_images()]
    assert len(panels) == figure_common.TOP_CONFIGURATIONS
    # the first configurations are the best by balanced accuracy (labels: method / backbone)
    assert [ax.get_title().replace("\n", " ") for ax in panels[:2]] == ["m0 / b0", "m0 / b1"]
    per_class.confusion_matrices(predictions[predictions["method"] == "m0"], tmp_path / "small", top=8)
    assert len([ax for ax in kept[1].axes if ax.get_images()]) == 8  # 8 configurations: all drawn, as before


def test_reliability_of_64_configurations_draws_the_best_and_every_ece(
    kept: list[Figure], tmp_path: Path
) -> None:
    per_class.reliability_diagrams(_many_predictions(), tmp_path / "reliability", top=4)
    titles = [ax.get_title().replace("\n", " ") for ax in kept[0].axes]
    assert titles[:4] == ["m0 / b0", "m0 / b1", "m0 / b2", "m0 / b3"] and titles[4] == "ECE, all 64"
    strip = kept[0].axes[4]
    assert sum(len(c.get_offsets()) for c in strip.collections) == 64
    assert strip.get_ylim()[0] > 60 and strip.get_xlim()[0] == 0  # its own axes, not the diagrams' 0-1


def test_per_class_figure_of_64_configurations_summarises_the_rest(
    kept: list[Figure], tmp_path: Path
) -> None:
    per_class.per_class_sensitivity_specificity(_many_metrics(), tmp_path / "per_class")
    legend = _legend(kept[0])
    assert len(legend) == figure_common.TOP_CONFIGURATIONS + 1
    assert legend[-1] == "56 other configurations (range, median)"
    sensitivity = kept[0].axes[0]
    assert len(sensitivity.containers) == figure_common.TOP_CONFIGURATIONS  # error bars of the best 8 only


def test_pareto_legend_of_crossed_configurations_names_methods_and_backbones(
    kept: list[Figure], tmp_path: Path
) -> None:
    rates = pd.DataFrame({"backbone": [f"b{j}" for j in range(8)], "device": "cpu", "device_name": "cpu",
                          "mode": "infer", "status": "ok", "images_per_s": [10.0 * (j + 1) for j in range(8)]})  # fmt: skip
    throughput.pareto_front(_many_metrics(), rates, tmp_path / "pareto")
    legend = _legend(kept[0])
    assert legend == [
        *(f"m{i}" for i in range(8)),
        *(f"b{j}" for j in range(8)),
        "Pareto front (filled: optimal)",
    ]


def test_pareto_front_of_the_full_suites_names_keeps_its_axes(tmp_path: Path) -> None:
    """With the full suite's 8 method and 8 backbone names (long ones: 'SDC-DL (no imbalance)',
    'mobilenetv3_large_100'), the legend gets the width it needs: constrained layout still applies (it
    warned and drew the legend over the axes when the figure kept a single column's width)."""
    methods = ["sdc_dl", "sdc_dl_no_staging", "sdc_dl_no_imbalance", "linear_probe", "finetune_noaug",
               "sdc_dl_no_aug", "scratch", "classical"]  # fmt: skip
    backbones = ["convnext_atto", "resnet18", "tf_efficientnet_lite0", "mobilenetv3_large_100", "densenet121",
                 "efficientnet_b0", "regnety_008", "resnet50"]  # fmt: skip
    names = {f"m{i}": m for i, m in enumerate(methods)} | {f"b{j}": b for j, b in enumerate(backbones)}
    metrics = _many_metrics().replace({"method": names, "backbone": names})
    rates = pd.DataFrame({"backbone": backbones, "device": "cpu", "device_name": "Intel(R) Xeon(R) Processor",
                          "mode": "infer", "status": "ok", "images_per_s": [10.0 * (j + 1) for j in range(8)]})  # fmt: skip
    # as errors: "constrained_layout not applied because axes sizes collapsed to zero"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = throughput.pareto_front(metrics, rates, tmp_path / "pareto")
    assert [p.suffix for p in written] == [".pdf", ".png"] and all(p.stat().st_size > 0 for p in written)


def test_top_and_crossed_helpers() -> None:
    look = figure_common._look(_MANY, None, None, {c: -i for i, c in enumerate(_MANY)})
    best, rest = look.top(8)
    assert best.order == _MANY[:8] and rest == _MANY[8:]
    assert look.top(64) == (look, [])
    assert figure_common.crossed(_MANY) and not figure_common.crossed(_MANY[:8])
    assert figure_common.top_note(64, rest="x") == (
        " The best 8 of 64 configurations by pooled balanced accuracy; x."
    )
    assert figure_common.top_note(2) == ""


def test_slope_chart_of_64_configurations_names_the_best(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdc_bench.reports.compare import _side_by_side

    kept: list[Figure] = []
    monkeypatch.setattr(_side_by_side, "save_figure", lambda figure, stem: kept.append(figure) or [])
    scores = pd.DataFrame({"first": np.linspace(0.9, 0.5, 64), "second": np.linspace(0.5, 0.9, 64)},
                          index=[f"c{i}" for i in range(64)])  # fmt: skip
    _side_by_side.slope_chart(scores, tmp_path / "slope")
    legend = [text.get_text() for text in kept[0].axes[0].get_legend().get_texts()]
    assert legend == [*(f"c{i}" for i in range(8)), "56 other configurations"]
    assert "the other 56 are thin grey lines" in _side_by_side.slope_note(scores)
    assert _side_by_side.slope_note(scores.head(3)) == ""
