"""The report's Training cells section: per cell, data sizes, training length, parameters (its table) and
learning curves (its figure), from ``cells/*.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import _legend_below
from sdc_bench.reports.loaders import load_cells
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    LINESTYLES,
    apply_style,
    method_palette,
    save_figure,
)
from sdc_bench.reports.table_format import (
    decorate,
    fmt_number,
    fold_text,
    params_text,
)

__all__ = ["learning_curves", "selected_params_table", "training_section"]


@report_section("training", title="Training cells", order=130)
def training_section(ctx: ReportContext) -> Section:
    """Per cell: data sizes, training length, parameters and learning curves, from ``cells/*.json``."""
    training = Section("Training cells")
    cells = load_cells(ctx.root)
    if not cells:
        training.skipped = "no `cells/*.json` records."
        ctx.skipped.append("training cells (cells/*.json)")
        return training
    training.items.append(
        ctx.writer.table(
            "selected_params",
            selected_params_table(cells),
            "Per cell: data sizes, training length and the parameters of the outer-fold fit.",
        )
    )
    curves = ctx.writer.figure(
        "learning_curves",
        "Inner-validation balanced accuracy and loss per epoch, one line per outer fold (folds may train for "
        "different numbers of epochs; they are not averaged). For searched cells, the best inner trial's curve; "
        "the refit has no validation split.",
        lambda stem: learning_curves(cells, stem, palette=ctx.palette),
    )
    training.items += curves
    if not curves and ctx.writer.draw:  # say why the figure a reader looks for is not there
        training.paragraphs.append(
            "No learning curves: no cell recorded an inner-validation score per epoch (a cell trained "
            "without a validation split, val 0 in the table below, has none to draw)."
        )
    return training


def _search_cell(search: Any) -> str:
    if not isinstance(search, Mapping) or not search.get("n_trials"):
        return "none"
    best = search.get("best_value")
    best_text = f", best {fmt_number(float(best))}" if isinstance(best, int | float) else ""
    return f"{search['n_trials']} trials ({search.get('n_pruned', 0)} pruned){best_text}"


def selected_params_table(cells: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per cell: the hyperparameters used for the outer-fold fit, data sizes and training length."""
    rows = []
    repeated = len({int(i.get("cell", {}).get("repeat_seed", 0)) for i in cells}) > 1
    for info in sorted(
        cells,
        key=lambda i: (
            *(str(i.get("cell", {}).get(k, "")) for k in ("method", "backbone", "augment", "imbalance")),
            int(i.get("cell", {}).get("repeat_seed", 0)),
            int(i.get("cell", {}).get("outer_fold", 0)),
        ),
    ):
        cell = info.get("cell", {})
        rows.append(
            {
                "Method": display_name(str(cell.get("method", ""))),
                "Backbone": str(cell.get("backbone", "")),
                "Fold": fold_text(cell.get("outer_fold", ""), cell.get("repeat_seed", 0), repeated),
                "Fit / val / test": f"{info.get('n_fit', '?')} / {info.get('n_val', '?')} / {info.get('n_test', '?')}",
                "Epochs (best)": f"{info.get('epochs_trained', '?')} ({info.get('best_epoch', '?')})",
                "Search": _search_cell(info.get("search")),
                "Seconds": fmt_number(float(info["seconds"]), 1)
                if isinstance(info.get("seconds"), int | float)
                else "n/a",
                "Parameters": params_text(info.get("params", {})),
            }
        )
    notes = [
        "Images in the inner fit and validation parts and the outer test fold; parameters used for the outer fit."
    ]
    return decorate(pd.DataFrame(rows), notes=notes, group="Method")


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
    _legend_below(figure, handles, [display_name(m) for m in methods], ncol=4)
    return save_figure(figure, stem)
