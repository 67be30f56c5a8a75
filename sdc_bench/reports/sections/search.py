"""The report's Hyperparameter search section: the Optuna studies' table, history and importances."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from sqlalchemy.exc import SQLAlchemyError

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.core.optuna_storage import DEFAULT_STORAGE_FILE, storage_file
from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import TOP_CONFIGURATIONS, _legend_below, _pooled_scores, top_note
from sdc_bench.reports.loaders import run_storage_url
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.optuna_trials import load_optuna_importances, load_optuna_trials
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
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
from sdc_bench.reports.table_format import (
    decorate,
    fmt_number,
    fold_text,
    params_text,
)

__all__ = ["optuna_history", "param_importances", "search_section", "search_table"]


@report_section("search", title="Hyperparameter search", order=120)
def search_section(ctx: ReportContext) -> Section:
    """The search's tables and figures, read from the storage run.json names (SQLite, journal or PostgreSQL)."""
    search = Section("Hyperparameter search")
    if ctx.run.search.n_trials == 0:
        search.skipped = "none: each method trained its fixed recipe (search.n_trials = 0)."
        ctx.skipped.append("hyperparameter search (fixed recipes, search.n_trials = 0)")
        return search
    url = run_storage_url(ctx.root)
    path = storage_file(url)
    # a server URL may carry a password: the report names only the engine
    label = path.name if path is not None else "PostgreSQL storage"
    if path is not None and not path.is_file():
        where = "in the run folder" if path.name == DEFAULT_STORAGE_FILE else f"at {path}"
        search.skipped = f"no `{label}` {where} (the run used fixed parameters, or its storage was not kept)."
        ctx.skipped.append(f"hyperparameter search ({label})")
        return search
    try:
        trials = load_optuna_trials(url)
    # another Optuna version, a damaged file, an unreachable server or its missing driver
    except (RuntimeError, ValueError, OSError, ImportError, SQLAlchemyError) as error:
        trials = pd.DataFrame()
        search.paragraphs.append(f"`{label}` could not be read ({type(error).__name__}: {error}).")
    if trials.empty:
        search.skipped = f"`{label}` holds no readable trials."
        ctx.skipped.append(f"hyperparameter search (no readable trials in {label})")
        return search
    _add_search_items(ctx, search, trials, url)
    return search


def _add_search_items(ctx: ReportContext, search: Section, trials: pd.DataFrame, url: str) -> None:
    writer = ctx.writer
    search.items.append(
        writer.table(
            "search",
            search_table(trials),
            "Optuna studies: trials per state and the best inner-validation value.",
        )
    )
    # the best (method, backbone) pairs first, by the tables' pooled out-of-fold balanced accuracy
    scores: dict[tuple[str, str], float] = {}
    for configuration, score in _pooled_scores(ctx.metrics, OOF_SPLIT).items():
        key = (configuration[0], configuration[1])
        scores[key] = max(scores.get(key, -math.inf), score)
    order = sorted(scores, key=lambda k: -scores[k])
    n_studied = len({(str(m), str(b)) for m, b in zip(trials["method"], trials["backbone"])})
    search.items += writer.figure(
        "optuna_history",
        "Optimisation history per method and backbone: trial values, best so far per outer fold, pruned trials."
        + top_note(n_studied, rest="every study is in the search table", what="method and backbone pairs"),
        lambda stem: optuna_history(trials, stem, palette=ctx.palette, order=order),
    )
    complete = (
        trials[trials["state"] == "COMPLETE"].groupby("study").size() if "study" in trials else pd.Series()
    )
    # importances of the pairs the history draws (all of a small run; the best 8 of a full suite's 64)
    drawn = set(_drawn_pairs(trials, order))
    pair_of = (
        {str(s): (str(m), str(b)) for s, m, b in zip(trials["study"], trials["method"], trials["backbone"])}
        if "study" in trials
        else {}
    )
    enough = [
        str(s)
        for s, n in complete.items()
        if not shortfall("fanova", int(n)) and pair_of.get(str(s)) in drawn
    ]
    if not enough:
        reason = shortfall("fanova", int(complete.max()) if len(complete) else 0)
        search.paragraphs.append(f"Hyperparameter importances not computed: {reason}.")
        ctx.small_n.append(f"no hyperparameter importances: {reason}")
    elif writer.draw:
        importances = load_optuna_importances(url, seed=ctx.seed, studies=enough)
        importances = importances[importances["study"].astype(str).isin(enough)]
        search.items += writer.figure(
            "param_importances",
            "Hyperparameter importances (fANOVA, seeded), mean over outer folds."
            + top_note(n_studied, rest="the search table has every study", what="method and backbone pairs"),
            lambda stem: param_importances(importances, stem),
        )


def search_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per Optuna study: trials by state and the best inner-validation value.

    Parameters
    ----------
    trials : pandas.DataFrame
        One row per trial with ``study``, ``method``, ``backbone``, ``outer_fold``, ``state``
        and ``value`` (and ``param_<name>`` columns).
    """
    rows = []
    if trials is None or trials.empty:
        return decorate(pd.DataFrame(columns=["Method", "Backbone", "Fold", "Trials", "Best value"]))
    if "seed" not in trials.columns:
        trials = trials.assign(seed=-1)
    repeated = trials["seed"].nunique() > 1
    keys = ["method", "backbone", "seed", "outer_fold"]
    for (method, backbone, repeat, fold), group in trials.groupby(keys, sort=True):
        # trials per Optuna state; a state no trial reached counts 0
        per_state = group["state"].value_counts().reindex(["COMPLETE", "PRUNED", "FAIL"], fill_value=0)
        complete = group[group["state"] == "COMPLETE"].dropna(subset=["value"])
        best = (
            complete.iloc[int(np.argmax(complete["value"].to_numpy(dtype=float)))]
            if not complete.empty
            else None
        )
        params = (
            {c[len("param_") :]: best[c] for c in group.columns if c.startswith("param_")}
            if best is not None
            else {}
        )
        rows.append(
            {
                "Method": str(method),
                "Backbone": str(backbone),
                "Fold": fold_text(fold, repeat, repeated),
                "Trials": str(len(group)),
                "Complete": str(int(per_state["COMPLETE"])),
                "Pruned": str(int(per_state["PRUNED"])),
                "Failed": str(int(per_state["FAIL"])),
                "Best value": fmt_number(float(best["value"])) if best is not None else "n/a",
                "Best parameters": params_text({k: v for k, v in params.items() if pd.notna(v)}),
            }
        )
    notes = ["Value: the inner-validation score the search maximised (never the outer test fold)."]
    return decorate(pd.DataFrame(rows), notes=notes, group="Method")


def _drawn_pairs(
    trials: pd.DataFrame, order: Sequence[tuple[str, str]], top: int = TOP_CONFIGURATIONS
) -> list[tuple[str, str]]:
    """The (method, backbone) pairs of ``trials`` in ``order`` (those it does not name last, by name), the
    first ``top``."""
    studied = sorted({(str(m), str(b)) for m, b in zip(trials["method"], trials["backbone"])})
    rank = {pair: index for index, pair in enumerate(order)}
    return sorted(studied, key=lambda pair: (rank.get(pair, len(rank)), pair))[:top]


def optuna_history(
    trials: pd.DataFrame,
    stem: str | Path,
    *,
    palette: Mapping[str, str] | None = None,
    order: Sequence[tuple[str, str]] = (),
    top: int = TOP_CONFIGURATIONS,
) -> list[Path]:
    """Optimisation history per (method, backbone): inner-validation value of each trial, one line
    style per outer fold for the best value so far; pruned trials at their last reported value (x).

    Panels follow ``order`` (best first; pairs it does not name last, by name); with more than ``top`` pairs
    only the first ``top`` get a panel (every study is in :func:`search_table`).
    """
    if trials is None or trials.empty:
        return []
    apply_style()
    groups = _drawn_pairs(trials, order, top)
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
