"""Re-derives every report of a run folder from its stored artifacts (no training).

:func:`build_reports` reads the run folder (predictions, run manifest, splits, data
manifest, audit, sample images and, when present, throughput, Optuna storage and cell
records), computes the metrics table and the paired comparisons, and writes
``metrics.csv``, ``comparisons.csv``, ``tables/`` (CSV, Markdown, LaTeX), ``figures/`` (PDF,
PNG) and the report (``report.md``, ``report.html``). Optional artifacts that are absent
are skipped, and the report says so. Reading lives in :mod:`~sdc_bench.reports.loaders` and
:mod:`~sdc_bench.reports.optuna_trials`, the comparisons in :mod:`~sdc_bench.reports.comparisons`,
each report section in its own module of :mod:`sdc_bench.reports.sections`: this module builds whatever
sections are registered there (:func:`~sdc_bench.reports.sections.registered_sections`), in their declared
order, and hands them to :mod:`~sdc_bench.reports.document`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.core.store import RunStore, write_text
from sdc_bench.reports.comparisons import compare_methods
from sdc_bench.reports.document import Section, write_report
from sdc_bench.reports.flags import cell_flags, learning_flags
from sdc_bench.reports.loaders import load_cells, load_predictions
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.names import run_display_names
from sdc_bench.reports.rules import reference_rules
from sdc_bench.reports.sections import ReportContext, ReportSection, ReportWriter, registered_sections
from sdc_bench.reports.style import backbone_markers, method_palette

__all__ = ["build_reports"]


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    write_text(path, table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def build_reports(
    run_dir: str | Path,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reference: str | None = None,
    draw_figures: bool = True,
    finish: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write metrics.csv, comparisons.csv, tables/, figures/, report.md and report.html of one run.

    Parameters
    ----------
    run_dir : str or Path
        A run folder holding at least ``predictions.parquet``.
    n_bootstrap : int, default=1000
        Patient-level bootstrap resamples for intervals and paired comparisons.
    seed : int, default=0
        Seed of the bootstraps and of the hyperparameter-importance forests.
    reference : str, optional
        Method the tables compare every other configuration with; by default the run's proposed
        method, as ``run.json`` names it (:func:`~sdc_bench.core.store.proposed_method`).
    draw_figures : bool, default=True
        False writes everything except the figures (faster; the report then has none).
    finish : mapping, optional
        ``run.json`` keys the caller records once the report is written (``status``, ``finished_utc``,
        ``seconds``, ``weights``): a report built at the end of ``sdc-bench run`` shows them, not the
        ``running`` status ``run.json`` still holds at that moment.

    Returns
    -------
    list of Path
        Every file written.
    """
    root = Path(run_dir)
    run = RunStore(root).read_manifest().replace(**(finish or {}))
    # the run's own display names (run.json, from the method registry) win over the kept table
    with run_display_names(run.display_names):
        return _build(root, run, n_bootstrap, seed, reference, draw_figures)


def _build(
    root: Path, run: RunManifest, n_bootstrap: int, seed: int, reference: str | None, draw_figures: bool
) -> list[Path]:
    store = RunStore(root)
    predictions = load_predictions(root)
    reference = reference or run.proposed_method
    metrics = compute_metrics(predictions, n_bootstrap=n_bootstrap, seed=seed)
    _write_csv(store.metrics, metrics)
    comparisons = compare_methods(
        predictions,
        reference=reference,
        backbone_order=list(run.suite.backbones),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    _write_csv(root / "comparisons.csv", comparisons)
    writer = ReportWriter(store, draw=draw_figures)
    writer.written += [store.metrics, root / "comparisons.csv"]
    rules = reference_rules(predictions, seed=seed)
    flags = learning_flags(metrics, rules) + cell_flags(load_cells(root))
    ctx = ReportContext(
        root=root, run=run, predictions=predictions, metrics=metrics, comparisons=comparisons,
        reference=reference, writer=writer, palette=method_palette(predictions["method"].astype(str)),
        markers=backbone_markers(predictions["backbone"].astype(str)), skipped=[],
        n_bootstrap=n_bootstrap, seed=seed, rules=rules, flags=flags, small_n=[],
    )  # fmt: skip
    sections = _build_sections(ctx, registered_sections())
    writer.written += write_report(root, f"sdc-bench report: {run.run_id}", sections)
    return writer.written


def _build_sections(ctx: ReportContext, sections: Sequence[ReportSection]) -> list[Section]:
    """Build every section, those marked ``built_last`` after the others; return them in report order."""
    built: dict[str, Section] = {}
    for section in sorted(sections, key=lambda s: s.built_last):  # a stable sort keeps the report order
        result = section.build(ctx)
        if result.title != section.title:
            raise ValueError(
                f"report section {section.name!r} declares the title {section.title!r} "
                f"but built a section titled {result.title!r}"
            )
        built[section.name] = result
    return [built[section.name] for section in sections]
