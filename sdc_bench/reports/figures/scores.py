"""Figures of the metrics table: estimates with CIs, fold scores, per class, critical difference, external validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.figures._common import (
    _GRID_COLOUR,
    _METRIC_TITLES,
    CONFIG,
    _configurations,
    _legend_below,
    _legend_height_in,
    _look,
    _pooled_scores,
    _row_labels,
    _rows_of,
)
from sdc_bench.reports.metrics import OVERALL_METRICS, get_metric
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.stats import friedman_nemenyi
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    LINESTYLES,
    SINGLE_COLUMN_IN,
    apply_style,
    configuration_labels,
    save_figure,
    wrap_label,
)


def method_comparison(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    reference: str,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Forest plot: every configuration's pooled estimate with its 95% CI, one panel per headline metric.

    Configurations run top to bottom by balanced accuracy; a dotted line marks the best
    ``reference`` (the run's proposed method) estimate in each panel.
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
    """Per-fold scores of each configuration: a box over folds with the folds as points; below
    ``MIN_N["fold_box"]`` folds, each fold's dots joined across configurations (no box of 2 points)."""
    class_name = "overall" if metric in OVERALL_METRICS else "macro"
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
    positions = np.arange(n)[::-1]
    blocks = [c for c in ("seed", "outer_fold") if c in folds.columns]
    n_blocks = len(folds[blocks].drop_duplicates())
    if shortfall("fold_box", n_blocks):
        _joined_fold_dots(ax, folds, look, positions, blocks)
    else:
        _fold_boxes(ax, folds, look, positions)
    ax.set_yticks(positions, row_labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    n_folds = int(folds["outer_fold"].nunique())
    n_seeds = int(folds["seed"].nunique()) if "seed" in folds.columns else 1
    repeats = f" x {n_seeds} seeds" if n_seeds > 1 else ""
    ax.set_xlabel(f"{_METRIC_TITLES.get(metric, metric)} per outer fold ({n_folds} folds{repeats})")
    return save_figure(figure, stem)


def _fold_boxes(ax: Any, folds: pd.DataFrame, look: Any, positions: np.ndarray) -> None:
    """A box over folds per configuration, the folds as jittered points (enough folds for a box)."""
    data = [_rows_of(folds, c)["value"].to_numpy(dtype=float) for c in look.order]
    ax.boxplot(
        data, positions=positions, orientation="horizontal", widths=0.55, showfliers=False, patch_artist=True,
        boxprops={"facecolor": "#F2F2F2", "edgecolor": "#888888", "linewidth": 0.7},
        medianprops={"color": "#444444", "linewidth": 0.9},
        whiskerprops={"color": "#888888", "linewidth": 0.7}, capprops={"color": "#888888", "linewidth": 0.7},
    )  # fmt: skip
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every build
    for position, values, configuration in zip(positions, data, look.order):
        jitter = rng.uniform(-0.12, 0.12, size=len(values))
        ax.scatter(
            values, position + jitter, s=12, marker=look.markers[configuration],
            color=look.colours[configuration], edgecolor="white", linewidth=0.4, zorder=3,
        )  # fmt: skip


def _joined_fold_dots(
    ax: Any, folds: pd.DataFrame, look: Any, positions: np.ndarray, blocks: list[str]
) -> None:
    """Too few folds for a box: each fold's scores as dots, joined across configurations (paired by fold)."""
    row_of = dict(zip(look.order, positions))
    for index, (key, fold) in enumerate(folds.groupby(blocks, sort=True)):
        points = sorted(
            (row_of[tuple(str(r[c]) for c in CONFIG)], float(r["value"]), tuple(str(r[c]) for c in CONFIG))
            for _, r in fold.iterrows()
        )
        label = f"fold {key[-1] if isinstance(key, tuple) else key}"
        ax.plot([p[1] for p in points], [p[0] for p in points], color="#999999", lw=0.7,
                ls=LINESTYLES[index % len(LINESTYLES)], zorder=2, label=label)  # fmt: skip
        for position, value, configuration in points:
            ax.scatter(value, position, s=14, marker=look.markers[configuration], color=look.colours[configuration],
                       edgecolor="white", linewidth=0.4, zorder=3)  # fmt: skip
    ax.legend(loc="best", fontsize=6, frameon=False)


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
        ax.set_ylabel(f"{get_metric(metric).label} (95% CI)")
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
    # a block is one outer fold of one protocol seed (r x k blocks for repeated cross-validation)
    blocks = [c for c in ("seed", "outer_fold") if c in frame.columns]
    table = frame.pivot_table(index=blocks, columns="label", values="value", aggfunc="first").dropna()
    if table.shape[0] < 2 or table.shape[1] < 3:
        return []
    result = friedman_nemenyi(table.reset_index(drop=True), alpha=alpha)
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
