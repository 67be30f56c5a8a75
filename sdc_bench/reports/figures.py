"""Paper figures from stored results, in the house style of :mod:`sdc_bench.reports.style`.

Every function draws one figure from stored artifacts (the metrics table, the predictions
table, the throughput table, Optuna trials, cell records, sample images), writes
``<stem>.pdf`` and ``<stem>.png`` and returns the paths, or returns ``[]`` when its input
holds nothing to draw. A method has the same colour and a backbone the same marker in
every figure: pass the run-wide ``palette`` (method -> colour, see
:func:`~sdc_bench.reports.style.method_palette`) and ``markers`` (backbone -> marker).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from sklearn.metrics import roc_auc_score, roc_curve

from sdc_bench.reports.metrics import CONFIGURATION_COLUMNS, ECE_BINS, OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.reports.stats import friedman_nemenyi
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    LINESTYLES,
    SINGLE_COLUMN_IN,
    apply_style,
    backbone_markers,
    configuration_labels,
    method_palette,
    panel_grid,
    save_figure,
    wrap_label,
)

__all__ = [
    "confusion_matrices",
    "critical_difference",
    "external_validation",
    "fold_scores",
    "learning_curves",
    "method_comparison",
    "optuna_history",
    "param_importances",
    "pareto_front",
    "pareto_points",
    "per_class_sensitivity_specificity",
    "reliability_diagrams",
    "roc_curves",
    "sample_grid",
]

CONFIG = list(CONFIGURATION_COLUMNS)
Configuration = tuple[str, ...]
_METRIC_TITLES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "sensitivity": "Sensitivity (macro)",
    "specificity": "Specificity (macro)",
    "auroc": "AUROC (macro)",
}
_GRID_COLOUR = "#BBBBBB"


# --------------------------------------------------------------------------- shared look


@dataclass(frozen=True)
class _Look:
    """Order, labels, colours and markers of the configurations in one figure."""

    order: list[Configuration]
    labels: dict[Configuration, str]
    colours: dict[Configuration, str]
    markers: dict[Configuration, str]

    def legend_handles(self, *, line: bool = False) -> tuple[list[Line2D], list[str]]:
        handles = [
            Line2D(
                [],
                [],
                color=self.colours[c],
                marker=None if line else self.markers[c],
                linestyle="-" if line else "none",
                markersize=4,
            )
            for c in self.order
        ]
        return handles, [self.labels[c] for c in self.order]


def _configurations(frame: pd.DataFrame) -> list[Configuration]:
    return sorted(frame[CONFIG].astype(str).drop_duplicates().itertuples(index=False, name=None))


def _look(
    configurations: Sequence[Configuration],
    palette: Mapping[str, str] | None,
    markers: Mapping[str, str] | None,
    scores: Mapping[Configuration, float] | None = None,
) -> _Look:
    """Configurations by descending score (ties and missing scores by name)."""
    configurations = list(dict.fromkeys(configurations))
    palette = dict(palette or method_palette(c[0] for c in configurations))
    markers = dict(markers or backbone_markers(c[1] for c in configurations))
    fallback_palette = method_palette(c[0] for c in configurations)
    fallback_markers = backbone_markers(c[1] for c in configurations)
    scores = scores or {}

    def key(c: Configuration) -> tuple[float, Configuration]:
        value = scores.get(c, math.nan)
        return (-value if math.isfinite(value) else math.inf, c)

    order = sorted(configurations, key=key)
    return _Look(
        order=order,
        labels=configuration_labels(order),
        colours={c: palette.get(c[0], fallback_palette[c[0]]) for c in order},
        markers={c: markers.get(c[1], fallback_markers[c[1]]) for c in order},
    )


def _row_labels(look: _Look, *, wrap: int) -> tuple[list[str], float]:
    """Y tick labels of a one-row-per-configuration figure and the height (inches) each row needs."""
    labels = [wrap_label(look.labels[c], wrap) for c in look.order]
    lines = max(label.count("\n") + 1 for label in labels) if labels else 1
    return labels, 0.2 + 0.1 * (lines - 1)


def _pooled_scores(
    metrics: pd.DataFrame, split: str, metric: str = "balanced_accuracy"
) -> dict[Configuration, float]:
    rows = metrics[
        (metrics["scope"] == "pooled") & (metrics["split"] == split) & (metrics["metric"] == metric)
    ]
    rows = rows[rows["class_name"].isin(["overall", "macro"])]
    return {tuple(str(r[c]) for c in CONFIG): float(r["value"]) for _, r in rows.iterrows()}


def _legend_columns(width_in: float, labels: Sequence[str], ncol: int) -> int:
    """Columns of a legend below the axes that keep it inside ``width_in`` inches."""
    # about 0.052 in per character at 7 pt, plus the handle
    entry_in = 0.45 + 0.052 * max((len(str(label)) for label in labels), default=0)
    return max(1, min(ncol, len(labels), int(width_in // entry_in)))


def _legend_height_in(width_in: float, labels: Sequence[str], ncol: int) -> float:
    """Height a :func:`_legend_below` legend needs: its rows at 7 pt plus padding."""
    if not labels:
        return 0.0
    rows = math.ceil(len(labels) / _legend_columns(width_in, labels, ncol))
    return 0.1 + 0.16 * rows


def _legend_below(
    figure: plt.Figure, handles: list[Any], labels: list[str], *, ncol: int = 4, title: str | None = None
) -> None:
    if not handles:
        return
    ncol = _legend_columns(figure.get_figwidth(), labels, ncol)
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=ncol,
        frameon=False,
        title=title,
        handletextpad=0.4,
        columnspacing=1.2,
    )


def _rows_of(frame: pd.DataFrame, configuration: Configuration) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(CONFIG, configuration):
        mask &= (frame[column].astype(str) == value).to_numpy()
    return frame.loc[mask]


def _class_names(predictions: pd.DataFrame) -> list[str]:
    return [
        str(c)[len(PROBABILITY_PREFIX) :]
        for c in predictions.columns
        if str(c).startswith(PROBABILITY_PREFIX)
    ]


def _square_grid(
    n_panels: int, *, ncols: int = 4, extra_height: float = 0.35
) -> tuple[plt.Figure, list[Axes]]:
    """Small multiples of square panels: single-column width for one or two, else double-column."""
    ncols = max(1, min(ncols, n_panels))
    width = SINGLE_COLUMN_IN if ncols <= 2 else DOUBLE_COLUMN_IN
    panel = (width - 0.55) / ncols
    return panel_grid(n_panels, ncols=ncols, panel_height=panel + extra_height, width=width)


def _balanced_accuracy(rows: pd.DataFrame) -> float:
    """Mean per-class recall of pooled rows (to order prediction figures like the tables)."""
    truth = rows["y_true"].astype(str).to_numpy()
    correct = truth == rows["y_pred"].astype(str).to_numpy()
    recalls = [correct[truth == name].mean() for name in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else math.nan


# --------------------------------------------------------------------------- metric figures


def method_comparison(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    reference: str = "sdc_dl",
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Forest plot: every configuration's pooled estimate with its 95% CI, one panel per headline metric.

    Configurations run top to bottom by balanced accuracy; a dotted line marks the best
    reference (``sdc_dl``) estimate in each panel.
    """
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    if pooled.empty:
        return []
    apply_style()
    look = _look(_configurations(pooled), palette, markers, _pooled_scores(metrics, split))
    panels = [
        ("accuracy", "overall"),
        ("balanced_accuracy", "overall"),
        ("specificity", "macro"),
        ("auroc", "macro"),
    ]
    n = len(look.order)
    row_labels, row_height = _row_labels(look, wrap=28)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(DOUBLE_COLUMN_IN, 0.9 + row_height * n), sharey=True, layout="constrained"
    )
    y = np.arange(n)[::-1]
    for ax, (metric, class_name) in zip(axes, panels):
        rows = pooled[(pooled["metric"] == metric) & (pooled["class_name"] == class_name)]
        best_reference = -math.inf
        for position, configuration in zip(y, look.order):
            hit = _rows_of(rows, configuration)
            if hit.empty:
                continue
            value, low, high = (float(hit[c].iloc[0]) for c in ("value", "ci_low", "ci_high"))
            if configuration[0] == reference and math.isfinite(value):
                best_reference = max(best_reference, value)
            xerr = None
            if math.isfinite(low) and math.isfinite(high):
                xerr = [[max(value - low, 0.0)], [max(high - value, 0.0)]]
            ax.errorbar(
                value,
                position,
                xerr=xerr,
                fmt=look.markers[configuration],
                color=look.colours[configuration],
                ms=4,
                capsize=1.5,
                lw=1,
            )
        if math.isfinite(best_reference):
            ax.axvline(best_reference, color="#555555", lw=0.7, ls=":", zorder=0)
        ax.set_title(_METRIC_TITLES.get(metric, metric))
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.grid(axis="y", visible=False)
        ax.set_ylim(-0.6, n - 0.4)
    axes[0].set_yticks(y, row_labels)
    figure.supxlabel(
        f"Pooled out-of-fold estimate (95% CI){'' if split == OOF_SPLIT else f', {split}'}", fontsize=7
    )
    return save_figure(figure, stem)


def fold_scores(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Per-fold scores of each configuration: a box over folds with the folds as points."""
    class_name = (
        "overall" if metric in ("accuracy", "balanced_accuracy", "kappa", "mcc", "brier", "ece") else "macro"
    )
    folds = metrics[
        (metrics["scope"] == "fold")
        & (metrics["split"] == split)
        & (metrics["metric"] == metric)
        & (metrics["class_name"] == class_name)
    ].dropna(subset=["value"])
    if folds.empty:
        return []
    apply_style()
    look = _look(_configurations(folds), palette, markers, _pooled_scores(metrics, split, metric))
    n = len(look.order)
    row_labels, row_height = _row_labels(look, wrap=28 if n <= 8 else 44)
    figure, ax = plt.subplots(
        figsize=(SINGLE_COLUMN_IN if n <= 8 else DOUBLE_COLUMN_IN, 0.6 + row_height * n),
        layout="constrained",
    )
    data = [_rows_of(folds, c)["value"].to_numpy(dtype=float) for c in look.order]
    positions = np.arange(n)[::-1]
    ax.boxplot(
        data,
        positions=positions,
        orientation="horizontal",
        widths=0.55,
        showfliers=False,
        patch_artist=True,
        boxprops={"facecolor": "#F2F2F2", "edgecolor": "#888888", "linewidth": 0.7},
        medianprops={"color": "#444444", "linewidth": 0.9},
        whiskerprops={"color": "#888888", "linewidth": 0.7},
        capprops={"color": "#888888", "linewidth": 0.7},
    )
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every build
    for position, values, configuration in zip(positions, data, look.order):
        jitter = rng.uniform(-0.12, 0.12, size=len(values))
        ax.scatter(
            values,
            position + jitter,
            s=12,
            marker=look.markers[configuration],
            color=look.colours[configuration],
            edgecolor="white",
            linewidth=0.4,
            zorder=3,
        )
    ax.set_yticks(positions, row_labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    n_folds = int(folds["outer_fold"].nunique())
    ax.set_xlabel(f"{_METRIC_TITLES.get(metric, metric)} per outer fold ({n_folds} folds)")
    return save_figure(figure, stem)


def per_class_sensitivity_specificity(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Per-class sensitivity and specificity (pooled out-of-fold, Wilson 95% CI), one colour per method."""
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    data = pooled[
        pooled["metric"].isin(["sensitivity", "specificity"])
        & ~pooled["class_name"].isin(["macro", "overall"])
    ]
    if data.empty:
        return []
    apply_style()
    look = _look(_configurations(data), palette, markers, _pooled_scores(metrics, split))
    classes = list(dict.fromkeys(data["class_name"].astype(str)))
    n = len(look.order)
    figure, axes = plt.subplots(
        2, 1, figsize=(DOUBLE_COLUMN_IN, 3.4 + 0.1 * max(0, n - 8)), sharex=True, layout="constrained"
    )
    width = 0.8 / max(n, 1)
    for ax, metric in zip(axes, ("sensitivity", "specificity")):
        rows = data[data["metric"] == metric]
        for offset, configuration in enumerate(look.order):
            part = _rows_of(rows, configuration).set_index("class_name").reindex(classes)
            x = np.arange(len(classes)) + (offset - (n - 1) / 2) * width
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
        for boundary in np.arange(len(classes) - 1) + 0.5:
            ax.axvline(boundary, color=_GRID_COLOUR, lw=0.5)
        ax.grid(axis="x", visible=False)
        # specificity of a multi-class problem sits near 1: zoom in, but never cut an interval
        lowest = float(np.nanmin(rows["ci_low"].fillna(rows["value"]))) if metric == "specificity" else 0.0
        ax.set_ylim(max(0.0, math.floor(lowest * 20) / 20) - 0.02, 1.02)
        ax.set_ylabel(f"{metric.capitalize()} (95% CI)")
    axes[-1].set_xticks(np.arange(len(classes)), [wrap_label(c, 14) for c in classes])
    axes[-1].set_xlim(-0.5, len(classes) - 0.5)
    handles, labels = look.legend_handles()
    _legend_below(figure, handles, labels, ncol=4 if n > 3 else n)
    return save_figure(figure, stem)


def critical_difference(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    alpha: float = 0.05,
) -> list[Path]:
    """Critical-difference diagram (Demšar 2006): average ranks over outer folds, Nemenyi CD bar,
    thick bars joining configurations whose ranks differ by less than the CD.

    Needs at least 3 configurations scored on the same 2 or more folds; otherwise ``[]``.
    """
    folds = metrics[
        (metrics["scope"] == "fold")
        & (metrics["split"] == split)
        & (metrics["metric"] == metric)
        & (metrics["class_name"].isin(["overall", "macro"]))
    ]
    if folds.empty:
        return []
    labels = configuration_labels(_configurations(folds))
    frame = folds.assign(label=[labels[tuple(str(r[c]) for c in CONFIG)] for _, r in folds.iterrows()])
    table = frame.pivot_table(index="outer_fold", columns="label", values="value", aggfunc="first").dropna()
    if table.shape[0] < 2 or table.shape[1] < 3:
        return []
    result = friedman_nemenyi(table, alpha=alpha)
    ranks = result.average_ranks.sort_values(kind="mergesort")
    apply_style()
    return _draw_critical_difference(ranks, result.critical_difference, stem, _cd_title(result, metric))


def _cd_title(result: Any, metric: str) -> str:
    return (
        f"{_METRIC_TITLES.get(metric, metric)}, average rank over {result.n_blocks} folds\n"
        f"Friedman p = {result.p_value:.3g}; Nemenyi CD at α = {result.alpha:g}"
    )


def _cliques(ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of sorted ranks with ``ranks[j] - ranks[i] < cd`` (at least two members)."""
    spans: list[tuple[int, int]] = []
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return spans


def _draw_critical_difference(ranks: pd.Series, cd: float, stem: str | Path, title: str) -> list[Path]:
    k = len(ranks)
    names = [str(n) for n in ranks.index]
    values = ranks.to_numpy(dtype=float)
    left = math.ceil(k / 2)
    spans = _cliques(values, cd)
    row = 0.16  # inches between label rows (one data unit on the y axis)
    bar_rows = max(len(spans), 1)
    first_label = -0.6 - bar_rows * 0.55 - 0.4
    depth = -first_label + (left - 1) + 0.6  # data units below the rank axis
    top_in = 0.9
    height = top_in + depth * row + 0.05
    width = DOUBLE_COLUMN_IN if k > 6 or max(map(len, names)) > 16 else SINGLE_COLUMN_IN
    figure = plt.figure(figsize=(width, height))
    # margins wide enough for the longest label on either side
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    probe = [figure.text(0, 0, f"{n} ({r:.2f})", fontsize=7) for n, r in zip(names, values)]
    text_in = max(t.get_window_extent(renderer).width for t in probe) / figure.dpi + 0.15
    for text in probe:
        text.remove()
    margin = min(text_in / width, 0.4)
    axis_height = depth * row
    ax = figure.add_axes((margin, 0.05 / height, 1 - 2 * margin, axis_height / height))
    ax.set_xlim(1, max(k, 2))
    ax.set_ylim(-depth, 0.0)
    ax.axis("off")
    # the rank axis, best (1) on the left
    ax.plot([1, k], [0, 0], color="black", lw=0.8, clip_on=False)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [0, 0.35], color="black", lw=0.8, clip_on=False)
        ax.text(tick, 0.55, str(tick), ha="center", va="bottom", fontsize=6.5, clip_on=False)
    # the critical difference, as a bar above the axis starting at rank 1
    cd_end = 1 + cd
    ax.plot([1, min(cd_end, k)], [1.9, 1.9], color="black", lw=1.2, clip_on=False)
    for x in (1, min(cd_end, k)):
        ax.plot([x, x], [1.7, 2.1], color="black", lw=0.8, clip_on=False)
    cd_text = f"CD = {cd:.2f}" + (" (beyond the axis)" if cd_end > k else "")
    ax.text((1 + min(cd_end, k)) / 2, 2.25, cd_text, ha="center", va="bottom", fontsize=6.5, clip_on=False)
    # cliques: thick bars just under the axis
    for index, (i, j) in enumerate(spans):
        y = -0.6 - index * 0.55
        ax.plot([values[i] - 0.03, values[j] + 0.03], [y, y], color="black", lw=2.2, solid_capstyle="round")
    for index, (name, rank) in enumerate(zip(names, values)):
        on_left = index < left
        level = first_label - (index if on_left else k - 1 - index)
        end = 1 if on_left else k
        ax.plot([rank, rank, end], [0, level, level], color="#333333", lw=0.7, clip_on=False)
        ax.text(
            end + (-0.04 if on_left else 0.04) * (k - 1),
            level,
            f"{name} ({rank:.2f})",
            ha="right" if on_left else "left",
            va="center",
            fontsize=7,
            clip_on=False,
        )
    figure.suptitle(title, fontsize=7.5, y=0.99, va="top")
    return save_figure(figure, stem)


def external_validation(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Internal (out-of-fold) versus external balanced accuracy of each configuration (dumbbells)."""
    splits = sorted(s for s in metrics["split"].astype(str).unique() if s.startswith("external:"))
    if not splits:
        return []
    apply_style()
    internal = _pooled_scores(metrics, OOF_SPLIT, metric)
    pooled = metrics[metrics["scope"] == "pooled"]
    configurations = _configurations(pooled[pooled["split"].isin(splits)])
    look = _look(configurations, palette, markers, internal)
    n = len(look.order)
    width = (
        DOUBLE_COLUMN_IN if len(splits) > 1 or max(map(len, look.labels.values())) > 24 else SINGLE_COLUMN_IN
    )
    row_labels, row_height = _row_labels(look, wrap=44 if width > SINGLE_COLUMN_IN else 24)
    legend_labels = ["internal (out-of-fold)", "external (fold-model soft vote)"]
    # title + x axis (~0.9 in) + legend + rows, and at least ~0.5 in of plot even for one configuration
    height = 0.9 + _legend_height_in(width, legend_labels, 2) + max(0.5, row_height * n)
    figure, axes = plt.subplots(
        1, len(splits), figsize=(width, height),
        sharey=True, sharex=True, squeeze=False, layout="constrained",
    )  # fmt: skip
    y = np.arange(n)[::-1]
    for ax, split in zip(axes[0], splits):
        external = _pooled_scores(metrics, split, metric)
        for position, configuration in zip(y, look.order):
            a, b = internal.get(configuration, math.nan), external.get(configuration, math.nan)
            colour = look.colours[configuration]
            ax.plot([a, b], [position, position], color=colour, lw=1, alpha=0.6)
            ax.plot(a, position, marker=look.markers[configuration], mfc="white", mec=colour, ls="none", ms=4)
            ax.plot(b, position, marker=look.markers[configuration], color=colour, ls="none", ms=4)
        ax.set_title(split.split(":", 1)[1])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(_METRIC_TITLES.get(metric, metric))
    axes[0][0].set_yticks(y, row_labels)
    handles = [
        Line2D([], [], marker="o", mfc="white", mec="#333333", ls="none", ms=4),
        Line2D([], [], marker="o", color="#333333", ls="none", ms=4),
    ]
    _legend_below(figure, handles, legend_labels, ncol=2)
    return save_figure(figure, stem)


# --------------------------------------------------------------------------- prediction figures


def _fold_roc(rows: pd.DataFrame, classes: Sequence[str], grid: np.ndarray) -> tuple[np.ndarray, float]:
    """Macro one-vs-rest ROC of one fold on ``grid`` (mean TPR over classes) and its macro AUROC."""
    truth = rows["y_true"].astype(str).to_numpy()
    curves, aucs = [], []
    for name in classes:
        positive = truth == name
        if positive.all() or not positive.any():
            continue
        scores = rows[f"{PROBABILITY_PREFIX}{name}"].to_numpy(dtype=float)
        fpr, tpr, _ = roc_curve(positive, scores)
        curves.append(np.interp(grid, fpr, tpr))
        aucs.append(roc_auc_score(positive, scores))
    if not curves:
        return np.full_like(grid, np.nan), math.nan
    curve = np.mean(curves, axis=0)
    curve[0] = 0.0
    return curve, float(np.mean(aucs))


def roc_curves(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Macro one-vs-rest ROC per configuration: the mean over outer folds with a ±1 SD band."""
    rows = predictions[predictions["split"].astype(str) == split]
    if rows.empty:
        return []
    apply_style()
    classes = _class_names(rows)
    grid = np.linspace(0.0, 1.0, 201)
    curves: dict[Configuration, tuple[np.ndarray, np.ndarray, float, float]] = {}
    for configuration in _configurations(rows):
        mine = _rows_of(rows, configuration)
        per_fold = [_fold_roc(part, classes, grid) for _, part in mine.groupby("outer_fold", sort=True)]
        tprs = np.array([c for c, _ in per_fold])
        aucs = np.array([a for _, a in per_fold])
        curves[configuration] = (
            np.nanmean(tprs, axis=0),
            np.nanstd(tprs, axis=0, ddof=1) if len(tprs) > 1 else np.zeros_like(grid),
            float(np.nanmean(aucs)),
            float(np.nanstd(aucs, ddof=1)) if len(aucs) > 1 else math.nan,
        )
    scores = {c: _balanced_accuracy(_rows_of(rows, c)) for c in curves}
    look = _look(list(curves), palette, markers, scores)
    figure, axes = _square_grid(len(look.order))
    for ax, configuration in zip(axes, look.order):
        mean, sd, auc, auc_sd = curves[configuration]
        colour = look.colours[configuration]
        ax.fill_between(
            grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=colour, alpha=0.2, lw=0
        )
        ax.plot(grid, mean, color=colour, lw=1.2)
        ax.plot([0, 1], [0, 1], color="#999999", lw=0.6, ls="--")
        ax.set_title(wrap_label(look.labels[configuration], 30), fontsize=7)
        sd_text = f" ± {auc_sd:.3f}" if math.isfinite(auc_sd) else ""
        ax.text(
            0.97,
            0.05,
            f"AUROC {auc:.3f}{sd_text}",
            ha="right",
            va="bottom",
            fontsize=6.5,
            transform=ax.transAxes,
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
    figure.supxlabel("False positive rate (macro one-vs-rest)", fontsize=7)
    figure.supylabel("True positive rate", fontsize=7)
    return save_figure(figure, stem)


def confusion_matrices(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    normalise: bool = False,
    split: str = OOF_SPLIT,
) -> list[Path]:
    """Pooled out-of-fold confusion matrix of each configuration; counts, or rows normalised to 1."""
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
    look = _look(configurations, None, None, accuracy)
    k = len(classes)
    n = len(look.order)
    figure, axes = _square_grid(n, ncols=4 if k <= 4 else 3, extra_height=0.2)
    vmax = 1.0 if normalise else max(m.max() for m in matrices.values())
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
    figure.supxlabel("Predicted class", fontsize=7)
    figure.supylabel("True class", fontsize=7)
    if image is not None:
        figure.colorbar(
            image, ax=axes, shrink=0.6, label="Fraction of the true class" if normalise else "Images"
        )
    return save_figure(figure, stem)


def reliability_diagrams(
    predictions: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    n_bins: int = ECE_BINS,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Top-label reliability diagram per configuration (pooled out-of-fold), ECE in the corner.

    Bins are ``((m-1)/n_bins, m/n_bins]`` as in the metrics table's ECE; bar height is the
    accuracy of a bin, the gap to the diagonal its calibration error; bins with fewer
    images are drawn lighter.
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
    look = _look(list(data), palette, markers, scores)
    figure, axes = _square_grid(len(look.order))
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
        ax.text(0.04, 0.95, f"ECE {ece:.3f}", ha="left", va="top", fontsize=6.5, transform=ax.transAxes)
        ax.set_title(wrap_label(look.labels[configuration], 30), fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
    figure.supxlabel("Confidence (largest class probability)", fontsize=7)
    figure.supylabel("Accuracy", fontsize=7)
    return save_figure(figure, stem)


# --------------------------------------------------------------------------- throughput, search, training


def _pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points no other point beats on both axes (higher is better on both)."""
    optimal = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        optimal[i] = not dominated.any()
    return optimal


def pareto_points(
    metrics: pd.DataFrame,
    throughput: pd.DataFrame,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    mode: str = "infer",
) -> pd.DataFrame:
    """Configurations joined with the throughput of their backbone, and which are Pareto-optimal.

    The throughput of a backbone on a device is its best ``images_per_s`` over precisions
    and batch sizes in ``mode``; configurations whose backbone was not measured are left out.

    Returns
    -------
    pandas.DataFrame
        ``device``, ``method``, ``backbone``, ``augment``, ``imbalance``, ``images_per_s``,
        ``score`` and ``optimal`` (no other configuration on the device is at least as fast
        and as accurate, and better on one of the two).
    """
    columns = ["device", *CONFIG, "images_per_s", "score", "optimal"]
    if throughput is None or throughput.empty or "images_per_s" not in throughput:
        return pd.DataFrame(columns=columns)
    measured = throughput[throughput["mode"].astype(str) == mode] if "mode" in throughput else throughput
    if "status" in measured:  # skipped or failed measurements have no rate
        measured = measured[measured["status"].astype(str) == "ok"]
    measured = measured[np.isfinite(measured["images_per_s"].to_numpy(dtype=float))]
    device_column = "device_name" if "device_name" in measured else "device"
    best = measured.groupby([device_column, "backbone"], sort=False)["images_per_s"].max()
    scores = _pooled_scores(metrics, split, metric)
    records = []
    for device in dict.fromkeys(measured[device_column].astype(str)):
        rates = best.loc[device]
        points = [
            (c, float(rates[c[1]]), v)
            for c, v in sorted(scores.items())
            if c[1] in rates.index and math.isfinite(v)
        ]
        if not points:
            continue
        optimal = _pareto_mask(np.array([p[1] for p in points]), np.array([p[2] for p in points]))
        records += [
            {
                "device": device,
                **dict(zip(CONFIG, c)),
                "images_per_s": rate,
                "score": value,
                "optimal": bool(flag),
            }
            for (c, rate, value), flag in zip(points, optimal)
        ]
    return pd.DataFrame.from_records(records, columns=columns)


def pareto_front(
    metrics: pd.DataFrame,
    throughput: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    mode: str = "infer",
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Balanced accuracy against throughput, one panel per device; Pareto-optimal configurations
    are filled (black edge) and joined by the front (see :func:`pareto_points`)."""
    points = pareto_points(metrics, throughput, metric=metric, split=split, mode=mode)
    if points.empty:
        return []
    apply_style()
    keys = [tuple(str(r[c]) for c in CONFIG) for _, r in points.iterrows()]
    look = _look(list(dict.fromkeys(keys)), palette, markers, _pooled_scores(metrics, split, metric))
    devices = list(dict.fromkeys(points["device"]))
    width = DOUBLE_COLUMN_IN if len(devices) > 1 else SINGLE_COLUMN_IN
    entry_in = 0.45 + 0.052 * max(len(label) for label in look.labels.values())
    legend_rows = math.ceil((len(look.order) + 1) / max(1, min(4, int(width // entry_in))))
    figure, axes = plt.subplots(
        1, len(devices), figsize=(width, 2.0 + 0.14 * legend_rows),
        sharey=True, squeeze=False, layout="constrained",
    )  # fmt: skip
    for ax, device in zip(axes[0], devices):
        mine = points[points["device"] == device]
        front = mine[mine["optimal"]].sort_values("images_per_s")
        if len(front) > 1:
            ax.step(
                front["images_per_s"], front["score"], where="pre", color="#555555", lw=0.8, ls="--", zorder=1
            )
        for position, row in zip(np.flatnonzero((points["device"] == device).to_numpy()), mine.itertuples()):
            configuration, optimal = keys[position], bool(row.optimal)
            colour = look.colours[configuration]
            ax.scatter(
                float(row.images_per_s), float(row.score), s=32 if optimal else 18, marker=look.markers[configuration],
                facecolor=colour if optimal else "white", edgecolor="black" if optimal else colour,
                linewidth=0.9 if optimal else 0.8, zorder=3,
            )  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(device)
        ax.set_xlabel(f"{'Inference' if mode == 'infer' else 'Training'} images/s (log)")
        low, high = float(mine["images_per_s"].min()), float(mine["images_per_s"].max())
        ax.set_xlim(low / 1.6, high * 1.6)
        ax.margins(y=0.08)
    axes[0][0].set_ylabel(f"{_METRIC_TITLES.get(metric, metric)} (out-of-fold)")
    handles, labels = look.legend_handles()
    handles.append(Line2D([], [], color="#555555", lw=0.8, ls="--", marker="o", mfc="#555555", mec="black"))
    labels.append("Pareto front (filled: optimal)")
    _legend_below(figure, handles, labels, ncol=4)
    return save_figure(figure, stem)


def optuna_history(
    trials: pd.DataFrame,
    stem: str | Path,
    *,
    palette: Mapping[str, str] | None = None,
) -> list[Path]:
    """Optimisation history per (method, backbone): inner-validation value of each trial, one line
    style per outer fold for the best value so far; pruned trials at their last reported value (x)."""
    if trials is None or trials.empty:
        return []
    apply_style()
    groups = sorted({(str(m), str(b)) for m, b in zip(trials["method"], trials["backbone"])})
    palette = dict(palette or method_palette(m for m, _ in groups))
    labels = configuration_labels([(m, b, "", "") for m, b in groups])
    ncols = min(len(groups), 4)
    figure, axes = panel_grid(len(groups), ncols=ncols, panel_height=1.6, sharey=True)
    folds = sorted(trials["outer_fold"].unique())
    for ax, (method, backbone) in zip(axes, groups):
        colour = palette.get(method, "#777777")
        mine = trials[(trials["method"].astype(str) == method) & (trials["backbone"].astype(str) == backbone)]
        for index, fold in enumerate(folds):
            study = mine[mine["outer_fold"] == fold].sort_values("number")
            if study.empty:
                continue
            complete = study[study["state"] == "COMPLETE"]
            pruned = study[study["state"] == "PRUNED"]
            ax.scatter(complete["number"], complete["value"], s=7, color=colour, alpha=0.55, lw=0)
            ax.scatter(
                pruned["number"], pruned["last_intermediate"], s=9, marker="x", color="#888888", lw=0.6
            )
            running = study["value"].where(study["state"] == "COMPLETE").cummax()
            ax.step(
                study["number"],
                running,
                where="post",
                color=colour,
                lw=1,
                ls=LINESTYLES[index % len(LINESTYLES)],
            )
        ax.set_title(wrap_label(labels[(method, backbone, "", "")], 30), fontsize=7)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True, nbins=4))
    for index, ax in enumerate(axes):
        if index + ncols >= len(axes):  # bottom panel of its column
            ax.set_xlabel("Trial")
        if index % ncols == 0:
            ax.set_ylabel("Inner validation score")
    handles: list[Any] = [
        Line2D([], [], color="#444444", lw=1, ls=LINESTYLES[i % len(LINESTYLES)]) for i in range(len(folds))
    ]
    names = [f"best so far, fold {fold}" for fold in folds]
    handles += [
        Line2D([], [], marker="o", color="#444444", ls="none", ms=3, alpha=0.6),
        Line2D([], [], marker="x", color="#888888", ls="none", ms=4),
    ]
    names += ["complete trial", "pruned trial (last reported value)"]
    _legend_below(figure, handles, names, ncol=min(len(handles), 5))
    return save_figure(figure, stem)


def param_importances(importances: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Hyperparameter importances (mean over outer folds) as a heat map: (method, backbone) x parameters."""
    if importances is None or importances.empty:
        return []
    apply_style()
    labels = configuration_labels(
        sorted({(str(m), str(b), "", "") for m, b in zip(importances["method"], importances["backbone"])})
    )
    frame = importances.assign(
        label=[
            labels[(str(m), str(b), "", "")] for m, b in zip(importances["method"], importances["backbone"])
        ]
    )
    # configurations as rows: their long labels read horizontally; parameter names are short
    table = frame.pivot_table(index="label", columns="param", values="importance", aggfunc="mean")
    table = table[table.mean(axis=0).sort_values(ascending=False).index]
    n_rows, n_cols = table.shape
    label_chars = max(len(str(label)) for label in table.index)
    width = SINGLE_COLUMN_IN if n_cols <= 4 and label_chars <= 24 else DOUBLE_COLUMN_IN
    figure, ax = plt.subplots(figsize=(width, 0.9 + 0.2 * n_rows), layout="constrained")
    grid = table.to_numpy(dtype=float)
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            value = float(grid[i, j])
            if math.isfinite(value):
                ax.text(
                    j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if value < 0.55 else "black",
                )  # fmt: skip
    ax.set_xticks(range(n_cols), list(table.columns), rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n_rows), list(table.index))
    ax.grid(False)
    figure.colorbar(image, ax=ax, shrink=0.9, pad=0.02, label="Importance (fANOVA)\nmean over folds")
    return save_figure(figure, stem)


def _validated_history(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A cell's per-epoch records with validation scores: its own, else its best search trial's."""

    def validated(history: Any) -> bool:
        return bool(history) and any(
            isinstance(e.get("val_loss"), int | float) and math.isfinite(e["val_loss"]) for e in history
        )

    own = info.get("history") or []
    if validated(own):
        return list(own)
    searched = (info.get("search") or {}).get("best_history") or []
    return list(searched) if validated(searched) else []


def learning_curves(
    cells: Sequence[Mapping[str, Any]],
    stem: str | Path,
    *,
    palette: Mapping[str, str] | None = None,
) -> list[Path]:
    """Inner-validation balanced accuracy and loss per training epoch, mean over outer folds,
    one panel row per backbone (epochs of both stages counted in order).

    A searched cell's final model is refit without a validation split; its curve is that of the
    search's best trial (``search.best_history``), which trained on the same inner split.
    """
    records = []
    for info in cells:
        cell = info.get("cell", {})
        for step, entry in enumerate(_validated_history(info), start=1):
            records.append(
                {
                    "method": str(cell.get("method", "")),
                    "backbone": str(cell.get("backbone", "")),
                    "outer_fold": cell.get("outer_fold", 0),
                    "epoch": step,
                    "val_balanced_accuracy": entry.get("val_balanced_accuracy"),
                    "val_loss": entry.get("val_loss"),
                }
            )
    frame = pd.DataFrame.from_records(records)
    if frame.empty or not frame[["val_balanced_accuracy", "val_loss"]].astype(float).notna().any().any():
        return []
    apply_style()
    palette = dict(palette or method_palette(frame["method"]))
    backbones = sorted(frame["backbone"].unique())
    figure, axes = plt.subplots(
        len(backbones), 2, figsize=(DOUBLE_COLUMN_IN, 0.5 + 1.6 * len(backbones)),
        sharex=True, squeeze=False, layout="constrained",
    )  # fmt: skip
    methods = sorted(frame["method"].unique())
    for row, backbone in enumerate(backbones):
        mine = frame[frame["backbone"] == backbone]
        for column, (key, title) in enumerate(
            (("val_balanced_accuracy", "Validation balanced accuracy"), ("val_loss", "Validation loss"))
        ):
            ax = axes[row][column]
            for method in methods:
                curve = mine[mine["method"] == method].groupby("epoch")[key].mean()
                if curve.notna().any():
                    ax.plot(
                        curve.index,
                        curve.to_numpy(dtype=float),
                        color=palette.get(method, "#777777"),
                        lw=1.1,
                        marker="o",
                        ms=2,
                    )
            ax.set_title(f"{title} — {backbone}", fontsize=7)
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("Epoch (both stages, in order)")
    handles = [Line2D([], [], color=palette.get(m, "#777777"), lw=1.1) for m in methods]
    _legend_below(figure, handles, methods, ncol=4)
    return save_figure(figure, stem)


def sample_grid(
    samples: Mapping[str, np.ndarray],
    stem: str | Path,
    *,
    per_class: int = 6,
    classes: Sequence[str] | None = None,
) -> list[Path]:
    """A few images of each class (rows), as stored in ``samples.npz``."""
    images = np.asarray(samples.get("images", np.empty((0, 0, 0))))
    labels = np.asarray(samples.get("labels", np.empty(0))).astype(str)
    if images.ndim < 3 or len(images) == 0:
        return []
    apply_style()
    order = [c for c in (classes or sorted(set(labels))) if c in set(labels)]
    order += sorted(set(labels) - set(order))
    columns = min(per_class, max(int((labels == c).sum()) for c in order))
    width = SINGLE_COLUMN_IN if columns <= 4 else DOUBLE_COLUMN_IN * 0.75
    cell = (width - 1.0) / columns
    figure, axes = plt.subplots(
        len(order), columns, figsize=(width, cell * len(order) + 0.2), squeeze=False, layout="constrained"
    )
    modality = np.asarray(samples.get("modality", np.full(len(labels), ""))).astype(str)
    if len(set(modality)) < 2:  # name the modality only when the samples mix several
        modality = np.full(len(labels), "")
    for row, name in enumerate(order):
        indices = np.flatnonzero(labels == name)[:columns]
        for column in range(columns):
            ax: Axes = axes[row][column]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if column < len(indices):
                image = images[indices[column]]
                ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
                if modality[indices[column]]:
                    ax.text(
                        0.03,
                        0.03,
                        modality[indices[column]],
                        color="yellow",
                        fontsize=5,
                        transform=ax.transAxes,
                        va="bottom",
                    )
        axes[row][0].set_ylabel(wrap_label(name, 14), rotation=0, ha="right", va="center", fontsize=7)
    return save_figure(figure, stem)
