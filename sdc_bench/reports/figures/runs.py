"""Figures of the rest of a run: accuracy versus throughput, the search, learning curves, sample images."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.figures._common import (
    _METRIC_TITLES,
    CONFIG,
    _legend_below,
    _look,
    _pooled_scores,
)
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    LINESTYLES,
    SINGLE_COLUMN_IN,
    apply_style,
    configuration_labels,
    method_palette,
    panel_grid,
    save_figure,
    wrap_label,
)
from sdc_bench.reports.throughput import under_load


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
        device_column = "device_name" if "device_name" in throughput else "device"
        loaded = under_load(throughput[throughput[device_column].astype(str) == device])
        title = f"{_METRIC_TITLES.get(metric, metric)} vs {'inference' if mode == 'infer' else 'training'} throughput\n{device}"
        ax.set_title(title + ("\nmeasured under load (latency p95 > 2 x p50)" if len(loaded) else ""),
                     color="#A03000" if len(loaded) else "black")  # fmt: skip
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
        # one study per cell: with several protocol seeds, several studies share an outer fold
        by_study = mine.groupby("study" if "study" in mine.columns else "outer_fold", sort=True)
        for _, study in by_study:
            index = folds.index(study["outer_fold"].iloc[0])
            study = study.sort_values("number")
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
    """Inner-validation balanced accuracy and loss per training epoch, one line per outer fold (line
    style), one panel row per backbone (epochs of both stages counted in order).

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
            # one line per outer fold: folds that stop at different epochs are never averaged
            for (method, fold), part in mine.groupby(["method", "outer_fold"], sort=True):
                curve = part.set_index("epoch")[key].astype(float)
                if curve.notna().any():
                    ax.plot(
                        curve.index, curve.to_numpy(), color=palette.get(str(method), "#777777"), lw=0.9,
                        marker="o", ms=1.5, ls=LINESTYLES[int(fold) % len(LINESTYLES)],
                    )  # fmt: skip
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
