"""The comparison report: what differs, then on the same data the paired differences and the seed spread
(the seed spread first when the runs differ only in seed), or on different data side-by-side tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sdc_bench.core.store import write_text
from sdc_bench.reports.compare._paired import SEEDS_AND_PATIENTS, paired_differences
from sdc_bench.reports.compare._runs import ComparedRun, differences_table, load_runs, same_data, seed_only
from sdc_bench.reports.compare._seed_spread import BaselineBands, SeedSpread, seed_spread
from sdc_bench.reports.compare._side_by_side import (
    balanced_accuracies,
    rank_agreement,
    run_metrics,
    side_by_side,
    slope_chart,
    slope_note,
)
from sdc_bench.reports.document import FigureItem, Section, TableItem, render_html, render_markdown
from sdc_bench.reports.names import display_name
from sdc_bench.reports.table_format import fmt_interval, fmt_number, p_text
from sdc_bench.reports.table_render import write_table

__all__ = ["Comparison", "compare_runs"]


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_runs` wrote and found.

    Attributes
    ----------
    written : list of Path
        Every file written.
    same_data : bool
        True: the paired path (``paired_differences.csv``); False: side by side (``side_by_side.csv``).
    n_significant : int
        Paired differences significant after Holm (0 on the side-by-side path). Where the seed spread is
        known their intervals cover patients and training seeds (a statement about the recipes);
        otherwise they hold the two trained models fixed (a statement about these models).
    seed_only : bool
        The runs differ only in their seeds: the report leads with the seed spread.
    judged_by : str
        How differences were judged against the seed spread: ``'t-test over seeds'``, ``'baseline band'``,
        both joined by ``and``, ``'unknown'`` (one seed per run and no baseline), or ``'not compared'``
        (different data).
    n_beyond_seed_spread : int
        Differences beyond the seed spread (``seed_spread.csv``'s verdict).
    paired_with_seeds : bool
        Every paired interval adds training-seed variance (the seed spread is known for every row).
    """

    written: list[Path]
    same_data: bool
    n_significant: int
    seed_only: bool = False
    judged_by: str = "not compared"
    n_beyond_seed_spread: int = 0
    paired_with_seeds: bool = False


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[Path] = []

    def table(self, name: str, table: pd.DataFrame, caption: str) -> TableItem:
        self.written += write_table(table, self.out / "tables" / name, caption=caption)
        return TableItem(name, caption, table)

    def csv(self, name: str, table: pd.DataFrame) -> None:
        path = self.out / f"{name}.csv"
        write_text(path, table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
        self.written.append(path)


def _runs_section(runs: Sequence[ComparedRun], writer: _Writer) -> tuple[Section, pd.DataFrame]:
    facts = [
        (
            run.label,
            f"{run.root} · suite {run.manifest.suite.name} · seeds {', '.join(map(str, run.manifest.seeds))}",
        )
        for run in runs
    ]
    differences = differences_table(runs)
    writer.csv("differences", differences)
    section = Section("What differs between the runs", facts=facts)
    if differences.empty:
        section.paragraphs.append(
            "The runs agree in every recorded fact: config, seeds, data, code, versions, machine."
        )
    else:
        section.paragraphs.append(
            "Facts of run.json whose values are not the same in every run: seeds, data fingerprint, code revision, "
            "package versions, CPU/GPU, injected faults and every configured key (`config.`)."
        )
        section.items.append(writer.table("differences", differences, "What differs between the runs."))
    return section, differences


def _one_pair(table: pd.DataFrame) -> bool:
    """Every row is the same later run minus the first (two runs compared)."""
    return table[["baseline", "candidate"]].drop_duplicates().shape[0] <= 1


def _without_constant_runs(shown: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Two runs: the 'runs' column would say the same on every row; the caption says it once instead."""
    return shown.drop(columns="runs") if _one_pair(table) else shown


def _caption(what: str, table: pd.DataFrame) -> str:
    if _one_pair(table) and len(table):
        return f"{what}, {table['candidate'].iloc[0]} minus {table['baseline'].iloc[0]}."
    return f"{what}, later run minus the first."


def _paired_display(table: pd.DataFrame, seed_only_runs: bool) -> pd.DataFrame:
    with_seeds = table["covers"] == SEEDS_AND_PATIENTS
    models_only = "yes, these two models" if seed_only_runs else "yes"
    return pd.DataFrame(
        {
            "configuration": [f"{display_name(m)} / {b}" for m, b in zip(table["method"], table["backbone"])],
            "split": table["split"],
            "runs": [f"{c} − {b}" for b, c in zip(table["baseline"], table["candidate"])],
            "metric": table["metric"],
            "difference [95% CI]": [
                fmt_interval(v, lo, hi, signed=True)
                for v, lo, hi in zip(table["difference"], table["ci_low"], table["ci_high"])
            ],
            "CI covers": ["patients + seeds" if s else "patients" for s in with_seeds],
            "p (Holm)": [p_text(p) for p in table["p_holm"]],
            "models fixed [95% CI]": [
                fmt_interval(v, lo, hi, signed=True)
                for v, lo, hi in zip(table["difference"], table["models_ci_low"], table["models_ci_high"])
            ],
            "McNemar p (Holm)": [p_text(p) for p in table["mcnemar_p_holm"]],
            "significant": [
                ("yes" if seeds else models_only) if significant else ""
                for significant, seeds in zip(table["significant"], with_seeds)
            ],
        }
    )


#: What the paired intervals cover, said wherever they are shown.
PAIRED_CAVEAT = (
    "What the paired intervals cover: the paired patient bootstrap resamples patients and holds the two "
    "trained models fixed, and McNemar compares those two models' predictions. Retraining with another seed "
    "gives other models, so where the spread between training seeds is known (the runs' protocol seeds, or "
    "--baseline) the headline interval and p-value add the SD that training seeds give a difference ('CI "
    "covers: patients + seeds'; each bootstrap replicate gets an independent draw of that SD, Student's t "
    "with the degrees of freedom of its estimate, Bouthillier et al. 2021), and the interval with the "
    "models fixed is shown beside it. Where the seed spread is unknown the interval covers patients only: "
    "a 'significant' difference then says that THESE two trained models differ on these patients, not that "
    "the recipes do."
)


def _covered(n_with_seeds: int, n_rows: int) -> str:
    """What the paired intervals cover, in words."""
    if n_with_seeds == n_rows:
        return f"over patients and training seeds in all {n_rows} rows"
    if not n_with_seeds:
        return "over patients only (the seed spread is unknown)"
    return (
        f"over patients and training seeds in {n_with_seeds} of {n_rows} rows (where the seed spread is known) "
        "and over patients only in the rest"
    )


def _paired_section(
    runs: Sequence[ComparedRun],
    writer: _Writer,
    reason: str,
    n_bootstrap: int,
    seed: int,
    seed_only_runs: bool,
    spread: SeedSpread,
) -> tuple[Section, int, bool]:
    table, notes = paired_differences(
        runs, n_bootstrap=n_bootstrap, seed=seed, seed_sds=spread.difference_sds()
    )
    writer.csv("paired_differences", table)
    n_significant = int(table["significant"].sum())
    n_with_seeds = int((table["covers"] == SEEDS_AND_PATIENTS).sum())
    with_seeds = 0 < n_with_seeds == len(table)
    lead = (
        [
            "The runs differ only in their seeds and the seed spread is unknown, so the verdicts below are "
            f"about the two trained model instances: {n_significant} significant row(s) say these models "
            "differ on these patients, not that the recipe does."
        ]
        if seed_only_runs and not n_with_seeds
        else []
    )
    section = Section(
        "Paired differences: these trained models (not the recipe)"
        if seed_only_runs and not n_with_seeds
        else "Paired differences (same data)",
        paragraphs=[
            *lead,
            f"Same data: {reason}. Each later run minus the first ({runs[0].label}), per configuration, split "
            f"and metric, on the same images: a paired patient-level bootstrap ({n_bootstrap} resamples) gives "
            f"the 95% interval and p-value, {_covered(n_with_seeds, len(table))}; an exact McNemar test "
            "compares the predictions; each family is "
            f"Holm-adjusted. {n_significant} of {len(table)} differences are significant after Holm (p < 0.05). "
            f"With {n_bootstrap} resamples the smallest bootstrap p-value is {2 / (n_bootstrap + 1):.2g}, "
            "so a large family needs more resamples (`--bootstrap`) before any difference can pass Holm.",
            PAIRED_CAVEAT,
            *notes,
        ],
    )
    section.items.append(
        writer.table(
            "paired_differences",
            _without_constant_runs(_paired_display(table, seed_only_runs), table),
            _caption("Paired differences", table),
        )
    )
    return section, n_significant, with_seeds


def _spread_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "configuration": [f"{display_name(m)} / {b}" for m, b in zip(table["method"], table["backbone"])],
            "split": table["split"],
            "runs": [f"{c} − {b}" for b, c in zip(table["baseline"], table["candidate"])],
            "metric": table["metric"],
            "seeds": [f"{a} / {b}" for a, b in zip(table["n_seeds_baseline"], table["n_seeds_candidate"])],
            "difference": [fmt_number(v, signed=True) for v in table["difference"]],
            "seed SD": [fmt_number(v) for v in table["seed_sd"]],
            "difference SD": [fmt_number(v) for v in table["difference_sd"]],
            "t-test p (Holm)": [
                f"{p_text(p)} ({test})" if test else "" for p, test in zip(table["p_holm"], table["test"])
            ],
            "band": [
                "" if pd.isna(band) else fmt_number(band) + ("" if gated else " (not gated)")
                for band, gated in zip(table["band"], table["band_gated"])
            ],
            "verdict": table["verdict"],
        }
    )


def _spread_section(spread: SeedSpread, writer: _Writer, seed_only_runs: bool) -> Section:
    title = "Seed spread: is the difference larger than another seed would give?"
    if spread.refusal:
        return Section(title, paragraphs=[spread.refusal, *spread.notes])
    writer.csv("seed_spread", spread.table)
    lead = (
        "The runs differ only in their seeds, so this is the verdict on the recipe: each difference is judged "
        "against the spread between training seeds. "
        if seed_only_runs
        else "Each difference judged against the spread between training seeds. "
    )
    section = Section(
        title,
        paragraphs=[
            f"{lead}Judged by {spread.judged_by}: {spread.n_beyond} of {len(spread.table)} differences lie "
            "beyond the seed spread.",
            *spread.notes,
        ],
    )
    section.items.append(
        writer.table(
            "seed_spread",
            _without_constant_runs(_spread_display(spread.table), spread.table),
            _caption("Differences against the seed spread", spread.table),
        )
    )
    return section


def _side_by_side_section(
    runs: Sequence[ComparedRun], writer: _Writer, reason: str, n_bootstrap: int, seed: int, draw: bool
) -> Section:
    metrics = [run_metrics(run, n_bootstrap=n_bootstrap, seed=seed) for run in runs]
    table = side_by_side(runs, metrics)
    writer.csv("side_by_side", table)
    scores = balanced_accuracies(runs, metrics)
    agreement = rank_agreement(scores)
    writer.csv("rank_agreement", agreement)
    section = Section(
        "Side by side (different data)",
        paragraphs=[
            f"Different data: {reason}. Images cannot be paired, so there is no paired test: each run's "
            "pooled out-of-fold metrics with its own 95% interval, and how far the runs agree on the ranking "
            "of the configurations by balanced accuracy (Kendall's tau)."
        ],
    )
    section.items.append(writer.table("side_by_side", table, "Each run's metrics with its own 95% interval."))
    shown = agreement.assign(
        kendall_tau=[fmt_number(v) for v in agreement["kendall_tau"]],
        p_value=[p_text(v) for v in agreement["p_value"]],
    )
    section.items.append(
        writer.table("rank_agreement", shown, "Rank agreement of balanced accuracy with the first run.")
    )
    if draw and len(scores):
        paths = slope_chart(scores, writer.out / "figures" / "rank_slope")
        writer.written += paths
        png = next(p for p in paths if p.suffix == ".png")
        section.items.append(
            FigureItem(
                "rank_slope", "Balanced accuracy of each configuration in each run." + slope_note(scores), png
            )
        )
    return section


def compare_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    class_map: Mapping[str, str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    draw_figures: bool = True,
    baseline: BaselineBands | None = None,
) -> Comparison:
    """Write the comparison of two or more runs into ``out``, from their stored artifacts only.

    ``compare.md`` and ``compare.html`` (self-contained), ``differences.csv``, then on the same data
    ``paired_differences.csv`` and, where the seed spread is known, ``seed_spread.csv``; on different data
    ``side_by_side.csv`` and ``rank_agreement.csv``; every table also as ``tables/<name>.{csv,md,tex}``.

    The paired patient bootstrap holds the two trained models fixed. The seed spread comes from the runs'
    protocol seeds (multi-seed runs) or from ``baseline`` (the bands and SDs ``regress`` uses); where it is
    known, each paired interval adds the SD training seeds give the difference, so it covers patients and
    training seeds (the models-fixed interval is kept beside it). With one seed per run and no baseline it
    is unknown, the report says so in one line, and the paired intervals cover patients only. When the runs
    differ only in seed, the report leads with the seed spread.

    Parameters
    ----------
    baseline : BaselineBands, optional
        A baseline's bands (``sdc-bench compare --baseline FILE``), ignored with a note if built on other data.

    Raises
    ------
    DataError
        If the runs' classes differ (after ``class_map``), or a folder is not a finished run.
    """
    out = Path(out)
    runs = load_runs(run_dirs, class_map)
    writer = _Writer(out)
    runs_section, differences = _runs_section(runs, writer)
    sections = [runs_section]
    same, reason = same_data(runs)
    only_seeds = same and seed_only(differences)
    n_significant, judged_by, n_beyond, with_seeds = 0, "not compared", 0, False
    if same:
        spread = seed_spread(runs, baseline)
        spread_part = _spread_section(spread, writer, only_seeds)
        paired, n_significant, with_seeds = _paired_section(
            runs, writer, reason, n_bootstrap, seed, only_seeds, spread
        )
        sections += [spread_part, paired] if only_seeds else [paired, spread_part]
        judged_by, n_beyond = spread.judged_by, spread.n_beyond
    else:
        sections.append(_side_by_side_section(runs, writer, reason, n_bootstrap, seed, draw_figures))
    title = "sdc-bench compare: " + " vs ".join(run.label for run in runs)
    markdown, page = out / "compare.md", out / "compare.html"
    write_text(markdown, render_markdown(title, sections, out))
    write_text(page, render_html(title, sections))
    writer.written += [markdown, page]
    return Comparison(writer.written, same, n_significant, only_seeds, judged_by, n_beyond, with_seeds)
