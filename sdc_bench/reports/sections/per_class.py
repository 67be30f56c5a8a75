"""The report's Per class section: the per-class table, sensitivity/specificity, ROC, confusion and reliability
figures.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sdc_bench.core.contracts import OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import (
    _GRID_COLOUR,
    TOP_CONFIGURATIONS,
    Configuration,
    _balanced_accuracy,
    _class_names,
    _configurations,
    _legend_below,
    _Look,
    _look,
    _pooled_scores,
    _pooled_seeds,
    _rows_of,
    _split_by_configuration,
    _square_grid,
    _title_pooled_seeds,
    seed_pooling_note,
    top_note,
)
from sdc_bench.reports.metrics import (
    ECE_BINS,
    get_metric,
    patient_resample_weights,
)
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    apply_style,
    save_figure,
    wrap_label,
)
from sdc_bench.reports.table_format import (
    best_rows,
    by_configuration,
    config_cells,
    decorate,
    fmt_interval,
    metric_value,
    pooled_rows,
    seed_spread,
    shown_columns,
    spread_text,
)

__all__ = [
    "confusion_matrices",
    "per_class_section",
    "per_class_sensitivity_specificity",
    "per_class_table",
    "reliability_diagrams",
    "roc_curves",
]


@report_section("per_class", title="Per class", order=60)
def per_class_section(ctx: ReportContext) -> Section:
    """Per-class table, sensitivity/specificity, ROC, confusion and reliability figures.

    Confusion matrices and reliability diagrams pool the protocol seeds of a repeated cross-validation
    (each image once per seed); their captions say so.
    """
    writer, metrics, predictions = ctx.writer, ctx.metrics, ctx.predictions
    palette, markers = ctx.palette, ctx.markers
    pooled = seed_pooling_note(predictions)
    n_configurations = len(_configurations(predictions[predictions["split"].astype(str) == OOF_SPLIT]))
    in_table = "every configuration is in the per-class table"
    per_class = Section("Per class")
    per_class.items.append(
        writer.table(
            "per_class",
            per_class_table(metrics),
            "Per-class sensitivity and specificity (one-vs-rest, Wilson 95% CI).",
        )
    )
    per_class.items += writer.figure(
        "per_class_sensitivity_specificity",
        "Per-class sensitivity and specificity with Wilson 95% CIs."
        + top_note(n_configurations, rest="the others as a grey range (lowest to highest) with their median"),
        lambda stem: per_class_sensitivity_specificity(metrics, stem, palette=palette, markers=markers),
    )
    per_class.items += writer.figure(
        "roc_curves",
        "One-vs-rest ROC curves pooled out-of-fold, macro average then one panel per class, with 95% "
        "patient-bootstrap bands; the AUROC [95% CI] in each panel is the tables' pooled estimate."
        + top_note(n_configurations, k=ROC_TOP_CONFIGURATIONS, rest="the others as thin grey lines, no band"),
        lambda stem: roc_curves(
            predictions, stem, metrics=metrics, palette=palette, markers=markers, seed=ctx.seed
        ),
    )
    per_class.items += writer.figure(
        "confusion_counts",
        "Confusion matrices (pooled out-of-fold image counts)."
        + pooled
        + top_note(n_configurations, rest=in_table),
        lambda stem: confusion_matrices(predictions, stem),
    )
    per_class.items += writer.figure(
        "confusion_normalised",
        "Confusion matrices normalised by true class (rows sum to 1; the diagonal is per-class sensitivity)."
        + pooled
        + top_note(n_configurations, rest=in_table),
        lambda stem: confusion_matrices(predictions, stem, normalise=True),
    )
    per_class.items += writer.figure(
        "reliability",
        "Reliability diagrams (top-label confidence, 15 bins; lighter bars hold fewer images) with the expected calibration error."
        + pooled
        + top_note(n_configurations, rest="the last panel shows the ECE of all of them"),
        lambda stem: reliability_diagrams(predictions, stem, palette=palette, markers=markers),
    )
    return per_class


def per_class_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT) -> pd.DataFrame:
    """Per-class sensitivity and specificity (Wilson 95% CI): one row per class and configuration.

    Rows are grouped by class (classes in ``p_`` column order); the best value of each
    class is in bold.
    """
    pooled = pooled_rows(metrics, split)
    per_class = pooled[pooled["metric"].isin(["sensitivity", "specificity"])]
    per_class = per_class[~per_class["class_name"].isin(["macro", "overall"])]
    parts = by_configuration(per_class)
    configurations = list(parts)
    classes = list(dict.fromkeys(per_class["class_name"].astype(str)))
    if not configurations:
        return decorate(pd.DataFrame(columns=["Class", "Method", "Sensitivity", "Specificity"]))
    shown = shown_columns(configurations)
    spread, n_seeds = seed_spread(metrics, split)
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for class_name in classes:
        start = len(rows)
        block = {
            c: {m: metric_value(parts[c], m, class_name) for m in ("sensitivity", "specificity")}
            for c in configurations
        }
        for configuration in configurations:
            row = {"Class": class_name, **config_cells(configuration, shown)}
            for metric in ("sensitivity", "specificity"):
                row[get_metric(metric).label] = fmt_interval(*block[configuration][metric])
                if n_seeds:
                    row[f"{get_metric(metric).label}, mean ± SD over {n_seeds} seeds"] = spread_text(
                        spread, (configuration, metric, class_name)
                    )
            rows.append(row)
        for metric in ("sensitivity", "specificity"):
            best = best_rows([block[c][metric][0] for c in configurations])
            bold += [(start + r, get_metric(metric).label) for r in best]
    notes = [
        (
            f"One-vs-rest per class, pooled out-of-fold over {n_seeds} protocol seeds, patient-level bootstrap "
            "95% CI; mean ± SD: the per-seed estimates across seeds."
            if n_seeds
            else "One-vs-rest per class, pooled out-of-fold, Wilson 95% CI."
        )
        + " Bold: best value within the class."
    ]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Class")


def per_class_sensitivity_specificity(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
    top: int = TOP_CONFIGURATIONS,
) -> list[Path]:
    """Per-class sensitivity and specificity (pooled out-of-fold, Wilson 95% CI), one colour per method.

    With more than ``top`` configurations the best ``top`` by pooled balanced accuracy are drawn so, and the
    others, per class, as one grey range from their lowest to their highest estimate with their median.
    """
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    data = pooled[
        pooled["metric"].isin(["sensitivity", "specificity"])
        & ~pooled["class_name"].isin(["macro", "overall"])
    ]
    if data.empty:
        return []
    apply_style()
    look, rest = _look(_configurations(data), palette, markers, _pooled_scores(metrics, split)).top(top)
    classes = list(dict.fromkeys(data["class_name"].astype(str)))
    n = len(look.order)
    slots = n + bool(rest)
    figure, axes = plt.subplots(
        2, 1, figsize=(DOUBLE_COLUMN_IN, 3.4 + 0.1 * max(0, n - 8)), sharex=True, layout="constrained"
    )
    width = 0.8 / max(slots, 1)
    for ax, metric in zip(axes, ("sensitivity", "specificity")):
        rows = data[data["metric"] == metric]
        for offset, configuration in enumerate(look.order):
            part = _rows_of(rows, configuration).set_index("class_name").reindex(classes)
            x = np.arange(len(classes)) + (offset - (slots - 1) / 2) * width
            low = (part["value"] - part["ci_low"]).clip(lower=0).fillna(0)
            high = (part["ci_high"] - part["value"]).clip(lower=0).fillna(0)
            ax.errorbar(
                x,
                part["value"],
                yerr=[low, high],
                fmt=look.markers[configuration],
                ms=3,
                capsize=0,
                lw=0.8,
                color=look.colours[configuration],
            )
        if rest:
            _rest_ranges(ax, rows, rest, classes, np.arange(len(classes)) + (slots - 1) / 2 * width)
        for boundary in np.arange(len(classes) - 1) + 0.5:
            ax.axvline(boundary, color=_GRID_COLOUR, lw=0.5)
        ax.grid(axis="x", visible=False)
        # specificity of a multi-class problem sits near 1: zoom in, but never cut an interval
        lowest = float(np.nanmin(rows["ci_low"].fillna(rows["value"]))) if metric == "specificity" else 0.0
        ax.set_ylim(max(0.0, math.floor(lowest * 20) / 20) - 0.02, 1.02)
        ax.set_ylabel(f"{get_metric(metric).label} (95% CI)")
    axes[-1].set_xticks(np.arange(len(classes)), [wrap_label(c, 14) for c in classes])
    axes[-1].set_xlim(-0.5, len(classes) - 0.5)
    handles, labels = look.legend_handles()
    if rest:
        handles.append(Line2D([], [], color=_REST_COLOUR, lw=2.5, marker="_", mec="#777777", ms=5))
        labels.append(f"{len(rest)} other configurations (range, median)")
    _legend_below(figure, handles, labels, ncol=4 if slots > 3 else slots)
    return save_figure(figure, stem)


def _rest_ranges(
    ax: Axes, rows: pd.DataFrame, rest: Sequence[Configuration], classes: Sequence[str], x: np.ndarray
) -> None:
    """Per class, the estimates of the configurations beyond a figure's top: a grey bar from the lowest to the
    highest, a tick at the median."""
    values = pd.concat([_rows_of(rows, c) for c in rest]).groupby("class_name")["value"]
    low, middle, high = (
        values.agg(f).reindex(list(classes)).to_numpy(dtype=float) for f in ("min", "median", "max")
    )
    ax.vlines(x, low, high, color=_REST_COLOUR, lw=2.5, zorder=1)
    ax.scatter(x, middle, marker="_", s=30, color="#777777", lw=1.2, zorder=2)


#: Patient-bootstrap resamples of a ROC band (a picture, not a test: fewer than the tables' intervals).
ROC_BAND_RESAMPLES = 200

#: Most configurations the ROC figure draws in colour, with band, AUROC and legend entry: beyond it (a full
#: suite has 64) the best ones by balanced accuracy are shown so and the rest as thin grey lines.
ROC_TOP_CONFIGURATIONS = 8
_REST_COLOUR = "#BBBBBB"


def _roc_points(
    positive: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.metrics.roc_curve(positive, score, sample_weight=weights)``'s false and true positive rates.

    The same points (thresholds at each distinct score, collinear ones dropped, the curve started at 0), in
    numpy alone: the ROC bands draw thousands of curves, and sklearn's input checks cost ten times the
    curve. Counts are sums of 0/1 labels times integer weights, exact in float64 in any order.
    """
    if weights is not None:
        kept = weights != 0
        positive, score, weights = positive[kept], score[kept], weights[kept]
    order = np.argsort(-score, kind="stable")
    score = score[order]
    truth = positive[order].astype(np.float64)
    thresholds = np.r_[np.flatnonzero(np.diff(score)), truth.size - 1]
    if weights is None:
        tps = np.cumsum(truth)[thresholds]
        fps = 1.0 + thresholds.astype(np.float64) - tps
    else:
        weight = weights[order]
        tps = np.cumsum(truth * weight)[thresholds]
        fps = np.cumsum((1.0 - truth) * weight)[thresholds]
    if fps.shape[0] > 2:
        corners = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps = fps[corners], tps[corners]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr


def _class_rocs(
    truth: np.ndarray, proba: np.ndarray, grid: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Pooled one-vs-rest ROC curves on ``grid``: the macro mean over classes (row 0), then one row per class
    (NaN for a class with no positive or no negative image); ``weights`` (positive) count each image that
    many times."""
    curves = np.full((proba.shape[1] + 1, grid.size), np.nan)
    for k in range(proba.shape[1]):
        positive = truth == k
        if positive.all() or not positive.any():
            continue
        fpr, tpr = _roc_points(positive, proba[:, k], weights)
        curves[k + 1] = np.interp(grid, fpr, tpr)
        curves[k + 1, 0] = 0.0
    valid = ~np.isnan(curves[1:, 0])
    if valid.any():
        curves[0] = curves[1:][valid].mean(axis=0)
        curves[0, 0] = 0.0
    return curves


def _roc_bands(
    truth: np.ndarray, proba: np.ndarray, patients: np.ndarray, grid: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """95% patient-bootstrap bands of :func:`_class_rocs` (macro, then each class), from one set of resamples
    shared by every panel; None below ``MIN_N["roc_band"]`` patients."""
    if shortfall("roc_band", len(np.unique(patients))):
        return None
    curves = []
    # one resample a block: the draws of the seed's stream, one resample after the other
    for block in patient_resample_weights(
        patients, ROC_BAND_RESAMPLES, np.random.default_rng(seed), max_cells=len(patients)
    ):
        for weights in block:
            drawn = weights > 0
            curves.append(_class_rocs(truth[drawn], proba[drawn], grid, weights[drawn]))
    with warnings.catch_warnings():  # a class absent from every resample: an all-NaN band, not drawn
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.array(curves), [2.5, 97.5], axis=0)
    return low, high


def _auroc_text(
    metrics: pd.DataFrame | None, configuration: Configuration, class_name: str, split: str
) -> str:
    """The table's pooled AUROC and its patient-bootstrap CI (one definition for table and figure)."""
    if metrics is None:
        return ""
    rows = _rows_of(metrics, configuration)
    hit = rows[(rows["scope"] == "pooled") & (rows["split"] == split) & (rows["metric"] == "auroc")
               & (rows["class_name"] == class_name)]  # fmt: skip
    if hit.empty or not math.isfinite(float(hit["value"].iloc[0])):
        return ""
    value, low, high = (float(hit[c].iloc[0]) for c in ("value", "ci_low", "ci_high"))
    interval = f" [{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{value:.3f}{interval}"


def roc_curves(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    metrics: pd.DataFrame | None = None,
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
    seed: int = 0,
) -> list[Path]:
    """Pooled out-of-fold one-vs-rest ROC curves: a macro panel, then one panel per class.

    Each configuration's curve is pooled over its out-of-fold images (the definition of the tables'
    AUROC), with a 95% patient-bootstrap band where there are at least ``MIN_N["roc_band"]`` patients;
    the AUROC and CI printed in each panel are the metrics table's (``metrics``), not a fold SD.
    With more than ``ROC_TOP_CONFIGURATIONS`` configurations only the best that many (by pooled balanced
    accuracy) get a colour, a band, an AUROC and a legend entry; the others are thin grey lines, one legend
    entry for them all.
    """
    rows = predictions[predictions["split"].astype(str) == split]
    if rows.empty:
        return []
    apply_style()
    classes = _class_names(rows)
    grid = np.linspace(0.0, 1.0, 201)
    parts = _split_by_configuration(rows)
    look = _look(list(parts), palette, markers, {c: _balanced_accuracy(part) for c, part in parts.items()})
    look, rest = look.top(ROC_TOP_CONFIGURATIONS)
    columns = [f"{PROBABILITY_PREFIX}{c}" for c in classes]

    def arrays(configuration: Configuration) -> tuple[np.ndarray, np.ndarray]:
        mine = parts[configuration]
        truth = pd.Categorical(mine["y_true"].astype(str), categories=classes).codes
        return truth, mine[columns].to_numpy(dtype=float)

    # every panel's curve (row 0 the macro mean, then one row per class) and band, computed once
    rest_curves = [_class_rocs(*arrays(c), grid) for c in rest]
    curves, bands = {}, {}
    for configuration in look.order:
        truth, proba = arrays(configuration)
        curves[configuration] = _class_rocs(truth, proba, grid)
        patients = parts[configuration]["patient_id"].astype(str).to_numpy()
        bands[configuration] = _roc_bands(truth, proba, patients, grid, seed)
    # configurations sharing a method share its colour: then each is numbered (legend and AUROC texts) and
    # its line carries the backbone's marker
    numbered = len({look.colours[c] for c in look.order}) < len(look.order)
    number = {c: f"{index}: " if numbered else "" for index, c in enumerate(look.order, start=1)}
    panels: list[tuple[str, int | None]] = [("macro", None), *((c, i) for i, c in enumerate(classes))]
    figure, axes = _square_grid(len(panels), extra_height=0.15 + 0.1 * (len(look.order) + bool(rest)))
    for row, (ax, (class_name, class_index)) in enumerate(zip(axes, panels)):
        if rest_curves:  # under the others, no band: a summary of where the rest lie, as one collection
            lines = LineCollection(
                [np.c_[grid, curve[row]] for curve in rest_curves], colors=_REST_COLOUR, lw=0.5
            )
            ax.add_collection(lines, autolim=False)
        texts = []
        for index, configuration in enumerate(look.order):
            colour = look.colours[configuration]
            band = bands[configuration]
            if band is not None:
                ax.fill_between(grid, band[0][row], band[1][row], color=colour, alpha=0.15, lw=0)
            ax.plot(
                grid, curves[configuration][row], color=colour, lw=1.1, ms=2.5,
                marker=look.markers[configuration] if numbered else None, markevery=(4 + 3 * index, 40),
            )  # fmt: skip
            text = _auroc_text(metrics, configuration, class_name, split)
            texts.append((number[configuration] + text if text else "", colour))
        ax.plot([0, 1], [0, 1], color="#999999", lw=0.6, ls="--")
        ax.set_title("Macro average" if class_index is None else wrap_label(class_name, 24), fontsize=7)
        for line, (text, colour) in enumerate(reversed(texts)):
            if text:
                # a white backing: with many methods the labels sit on the curves and their bands
                ax.text(0.97, 0.04 + 0.08 * line, text, ha="right", va="bottom", fontsize=5.5, color=colour,
                        transform=ax.transAxes, bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none",
                                                      "pad": 0.4})  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate", fontsize=6.5)
    handles = [
        Line2D([], [], color=look.colours[c], marker=look.markers[c] if numbered else None, markersize=3)
        for c in look.order
    ]
    labels = [number[c] + look.labels[c] for c in look.order]
    if rest:
        handles.append(Line2D([], [], color=_REST_COLOUR, lw=0.8))
        labels.append(f"{len(rest)} other configurations (no band)")
    _legend_below(figure, handles, labels, ncol=4)
    figure.supylabel("True positive rate", fontsize=7)
    return save_figure(figure, stem)


def confusion_matrices(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    normalise: bool = False,
    split: str = OOF_SPLIT,
    top: int = TOP_CONFIGURATIONS,
) -> list[Path]:
    """Pooled out-of-fold confusion matrix of each configuration; counts, or rows normalised to 1.

    With more than ``top`` configurations only the best ``top`` by pooled balanced accuracy get a panel
    (the per-class table has every configuration). With several protocol seeds each image counts once per
    seed, and the title says so.
    """
    rows = predictions[predictions["split"].astype(str) == split]
    if rows.empty:
        return []
    apply_style()
    classes = _class_names(rows)
    configurations = _configurations(rows)
    accuracy = {}
    matrices = {}
    for configuration in configurations:
        mine = _rows_of(rows, configuration)
        truth = pd.Categorical(mine["y_true"].astype(str), categories=classes).codes
        predicted = pd.Categorical(mine["y_pred"].astype(str), categories=classes).codes
        matrix = np.zeros((len(classes), len(classes)))
        np.add.at(matrix, (truth, predicted), 1.0)
        matrices[configuration] = matrix
        accuracy[configuration] = _balanced_accuracy(mine)
    look, _ = _look(configurations, None, None, accuracy).top(top)
    k = len(classes)
    n = len(look.order)
    figure, axes = _square_grid(n, ncols=4 if k <= 4 else 3, extra_height=0.2)
    vmax = 1.0 if normalise else max(matrices[c].max() for c in look.order)
    image = None
    for ax, configuration in zip(axes, look.order):
        matrix = matrices[configuration]
        shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalise else matrix
        image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
        if k <= 7:
            for i in range(k):
                for j in range(k):
                    value = shown[i, j]
                    text = f"{value:.2f}".lstrip("0") if normalise else f"{int(value)}"
                    ax.text(
                        j, i, "1" if text == "1.00" else text, ha="center", va="center",
                        fontsize=6 if k <= 4 else 5, color="white" if value > 0.6 * vmax else "#222222",
                    )  # fmt: skip
        ax.set_title(wrap_label(look.labels[configuration], 30), fontsize=7)
        ax.set_xticks(range(k), classes, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(k), classes)
        ax.grid(False)
    _title_pooled_seeds(figure, _pooled_seeds(rows))
    figure.supxlabel("Predicted class", fontsize=7)
    figure.supylabel("True class", fontsize=7)
    if image is not None:
        figure.colorbar(
            image, ax=axes, shrink=0.6, label="Fraction of the true class" if normalise else "Images"
        )
    return save_figure(figure, stem)


#: Behind the ECE text: a tall bar in the first bins would otherwise run through it.
_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5}


def reliability_diagrams(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    n_bins: int = ECE_BINS,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
    top: int = TOP_CONFIGURATIONS,
) -> list[Path]:
    """Top-label reliability diagram per configuration (pooled out-of-fold), ECE in the corner.

    With more than ``top`` configurations the best ``top`` by pooled balanced accuracy get a diagram and a
    last panel shows the ECE of every configuration (the drawn ones larger).

    Bins are ``((m-1)/n_bins, m/n_bins]`` as in the metrics table's ECE; bar height is the
    accuracy of a bin, the gap to the diagonal its calibration error; bins with fewer
    images are drawn lighter. With several protocol seeds each image counts once per seed, and the
    title says so.
    """
    rows = predictions[predictions["split"].astype(str) == split]
    if rows.empty:
        return []
    apply_style()
    classes = _class_names(rows)
    columns = [f"{PROBABILITY_PREFIX}{c}" for c in classes]
    edges = np.linspace(0, 1, n_bins + 1)
    data = {}
    for configuration in _configurations(rows):
        mine = _rows_of(rows, configuration)
        proba = mine[columns].to_numpy(dtype=float)
        confidence = proba.max(axis=1)
        correct = np.asarray(classes)[proba.argmax(axis=1)] == mine["y_true"].astype(str).to_numpy()
        bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
        counts = np.bincount(bins, minlength=n_bins)
        hits = np.bincount(bins, weights=correct.astype(float), minlength=n_bins)
        confidence_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = hits / counts
            mean_confidence = confidence_sum / counts
        ece = float(np.nansum(counts / max(len(confidence), 1) * np.abs(accuracy - mean_confidence)))
        data[configuration] = (accuracy, counts, ece)
    scores = {c: _balanced_accuracy(_rows_of(rows, c)) for c in data}
    look, rest = _look(list(data), palette, markers, scores).top(top)
    figure, axes = _square_grid(len(look.order) + bool(rest))
    if rest:
        _ece_strip(figure, axes.pop(), look, rest, {c: data[c][2] for c in data})
    width = 1.0 / n_bins
    for ax, configuration in zip(axes, look.order):
        accuracy, counts, ece = data[configuration]
        share = counts / max(counts.max(), 1)
        colour = look.colours[configuration]
        for left, acc, weight in zip(edges[:-1], accuracy, share):
            if math.isfinite(acc):
                ax.bar(
                    left,
                    acc,
                    width=width,
                    align="edge",
                    color=colour,
                    alpha=0.25 + 0.65 * weight,
                    edgecolor="white",
                    lw=0.3,
                )
        ax.plot([0, 1], [0, 1], color="#777777", lw=0.7, ls="--")
        ax.text(
            0.04, 0.95, f"ECE {ece:.3f}", ha="left", va="top", fontsize=6.5, transform=ax.transAxes, bbox=_BOX
        )
        ax.set_title(wrap_label(look.labels[configuration], 30), fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
    _title_pooled_seeds(figure, _pooled_seeds(rows))
    figure.supxlabel("Confidence (largest class probability)", fontsize=7)
    figure.supylabel("Accuracy", fontsize=7)
    return save_figure(figure, stem)


def _ece_strip(
    figure: Figure, slot: Axes, look: _Look, rest: Sequence[Configuration], ece: Mapping[Configuration, float]
) -> None:
    """The summary panel of :func:`reliability_diagrams` beyond its top, in place of the grid's ``slot`` (whose
    axes it does not share): every configuration's ECE, one dot in its method's colour each (rows: best to
    worst balanced accuracy), the ones with a diagram larger, edged black."""
    spec = slot.get_subplotspec()
    slot.remove()
    ax = figure.add_subplot(spec) if spec is not None else figure.add_subplot()
    order = [*look.order, *rest]
    y = np.arange(len(order))
    shown = len(look.order)
    colours = [look.colours.get(c, _REST_COLOUR) for c in order]
    ax.scatter(
        [ece[c] for c in order[:shown]],
        y[:shown],
        s=12,
        c=colours[:shown],
        edgecolor="black",
        lw=0.4,
        zorder=4,
    )
    ax.scatter([ece[c] for c in order[shown:]], y[shown:], s=6, c=colours[shown:], lw=0, zorder=3)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, max(0.05, 1.1 * max(ece.values())))
    ax.set_aspect("auto")
    ax.set_yticks([0, len(look.order) - 1, len(order) - 1], ["1", str(len(look.order)), str(len(order))])
    ax.tick_params(axis="y", labelleft=True)
    ax.set_ylabel("Rank (balanced accuracy)", fontsize=6.5)
    ax.set_xlabel("ECE", fontsize=6.5)
    ax.set_title(f"ECE, all {len(order)}", fontsize=7)
