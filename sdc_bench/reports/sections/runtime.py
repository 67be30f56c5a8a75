"""The report's run-time sections: throughput and the Pareto front, the hyperparameter search, the training cells."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS
from sdc_bench.core.optuna_storage import DEFAULT_STORAGE_FILE, storage_file
from sdc_bench.reports import figures, tables
from sdc_bench.reports.loaders import load_cells, load_throughput, run_storage_url
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.optuna_trials import load_optuna_importances, load_optuna_trials
from sdc_bench.reports.report import Section
from sdc_bench.reports.sections.context import ReportContext
from sdc_bench.reports.style import configuration_labels
from sdc_bench.reports.throughput import under_load

__all__ = ["search_section", "throughput_section", "training_section"]

CONFIG = list(CONFIGURATION_COLUMNS)


def throughput_section(ctx: ReportContext) -> Section:
    """The throughput table and the accuracy/throughput Pareto front, or why there are none."""
    section = Section("Throughput")
    throughput = load_throughput(ctx.root)
    if throughput is None or throughput.empty:
        section.skipped = "no `throughput.csv` in the run folder (run `sdc-bench throughput`)."
        ctx.skipped.append("throughput (throughput.csv)")
        return section
    section.items.append(
        ctx.writer.table(
            "throughput",
            tables.throughput_table(throughput),
            "Throughput per backbone, device, precision and batch size.",
        )
    )
    points = figures.pareto_points(ctx.metrics, throughput)
    too_few = shortfall("pareto", int(points["backbone"].nunique()) if len(points) else 0)
    if too_few:
        section.paragraphs.append(f"Pareto front not drawn: {too_few}.")
        ctx.small_n.append(f"no Pareto front: {too_few}")
        return section
    loaded = (
        " Devices measured under load are marked in their panel title." if len(under_load(throughput)) else ""
    )
    section.items += ctx.writer.figure(
        "pareto_front",
        "Balanced accuracy versus best inference throughput of the backbone on each device; filled points are "
        "Pareto-optimal. Configurations whose backbone was not measured are left out." + loaded,
        lambda stem: figures.pareto_front(
            ctx.metrics, throughput, stem, palette=ctx.palette, markers=ctx.markers
        ),
    )
    section.paragraphs += _pareto_paragraphs(points)
    return section


def _pareto_paragraphs(points: pd.DataFrame) -> list[str]:
    """One line per device naming its Pareto-optimal configurations, slowest first."""
    if points.empty:
        return ["Pareto front skipped: no measured backbone matches a configuration."]
    labels = configuration_labels(sorted({tuple(str(r[c]) for c in CONFIG) for _, r in points.iterrows()}))
    paragraphs = []
    for device, group in points[points["optimal"]].groupby("device", sort=False):
        names = [
            f"{labels[tuple(str(r[c]) for c in CONFIG)]} ({r['score']:.3f} at {r['images_per_s']:.0f} images/s)"
            for _, r in group.sort_values("images_per_s").iterrows()
        ]
        paragraphs.append(f"Pareto-optimal on {device}: {'; '.join(names)}.")
    return paragraphs


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
            tables.search_table(trials),
            "Optuna studies: trials per state and the best inner-validation value.",
        )
    )
    search.items += writer.figure(
        "optuna_history",
        "Optimisation history per method and backbone: trial values, best so far per outer fold, pruned trials.",
        lambda stem: figures.optuna_history(trials, stem, palette=ctx.palette),
    )
    complete = (
        trials[trials["state"] == "COMPLETE"].groupby("study").size() if "study" in trials else pd.Series()
    )
    enough = [str(s) for s, n in complete.items() if not shortfall("fanova", int(n))]
    if not enough:
        reason = shortfall("fanova", int(complete.max()) if len(complete) else 0)
        search.paragraphs.append(f"Hyperparameter importances not computed: {reason}.")
        ctx.small_n.append(f"no hyperparameter importances: {reason}")
    elif writer.draw:
        importances = load_optuna_importances(url, seed=ctx.seed)
        importances = importances[importances["study"].astype(str).isin(enough)]
        search.items += writer.figure(
            "param_importances",
            "Hyperparameter importances (fANOVA, seeded), mean over outer folds.",
            lambda stem: figures.param_importances(importances, stem),
        )


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
            tables.selected_params_table(cells),
            "Per cell: data sizes, training length and the parameters of the outer-fold fit.",
        )
    )
    curves = ctx.writer.figure(
        "learning_curves",
        "Inner-validation balanced accuracy and loss per epoch, one line per outer fold (folds may train for "
        "different numbers of epochs; they are not averaged). For searched cells, the best inner trial's curve; "
        "the refit has no validation split.",
        lambda stem: figures.learning_curves(cells, stem, palette=ctx.palette),
    )
    training.items += curves
    if not curves and ctx.writer.draw:  # say why the figure a reader looks for is not there
        training.paragraphs.append(
            "No learning curves: no cell recorded an inner-validation score per epoch (a cell trained "
            "without a validation split, val 0 in the table below, has none to draw)."
        )
    return training
