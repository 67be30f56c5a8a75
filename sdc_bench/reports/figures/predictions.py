"""Figures of the predictions table: ROC curves, confusion matrices, reliability diagrams."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from sdc_bench.core.contracts import OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.reports.figures._common import (
    Configuration,
    _balanced_accuracy,
    _class_names,
    _configurations,
    _look,
    _pooled_seeds,
    _rows_of,
    _square_grid,
    _title_pooled_seeds,
)
from sdc_bench.reports.metrics import ECE_BINS
from sdc_bench.reports.style import (
    apply_style,
    save_figure,
    wrap_label,
)


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
        # one curve per outer fold of each protocol seed (the seeds' folds are different splits)
        blocks = [c for c in ("seed", "outer_fold") if c in mine.columns]
        per_fold = [_fold_roc(part, classes, grid) for _, part in mine.groupby(blocks, sort=True)]
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
    """Pooled out-of-fold confusion matrix of each configuration; counts, or rows normalised to 1.

    With several protocol seeds each image counts once per seed, and the title says so.
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
    _title_pooled_seeds(figure, _pooled_seeds(rows))
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
    _title_pooled_seeds(figure, _pooled_seeds(rows))
    figure.supxlabel("Confidence (largest class probability)", fontsize=7)
    figure.supylabel("Accuracy", fontsize=7)
    return save_figure(figure, stem)
