"""Shared cells, emphasis and row selection of the paper tables, for the section modules of
:mod:`sdc_bench.reports.sections` (each builds its own tables from these parts)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS
from sdc_bench.reports.flags import FLAG_MARKS, Flag
from sdc_bench.reports.metrics import METRICS, get_metric, summarize_seeds
from sdc_bench.reports.names import display_name
from sdc_bench.reports.rules import RULES

__all__ = [
    "CI_NOTE",
    "CONFIG",
    "HEADLINE",
    "MARK",
    "SEED_SPREAD",
    "SIGNIFICANCE_TESTS",
    "as_float",
    "best_rows",
    "by_configuration",
    "config_cells",
    "configurations_of",
    "decorate",
    "flag_marks",
    "fmt_interval",
    "fmt_number",
    "fold_text",
    "metric_columns",
    "metric_value",
    "p_text",
    "params_text",
    "pooled_rows",
    "reference_first",
    "references_of",
    "rule_notes",
    "rule_rows",
    "seed_spread",
    "seeds_note",
    "shown_columns",
    "significance",
    "spread_text",
]

CONFIG = list(CONFIGURATION_COLUMNS)
_CONFIG_TITLES = {
    "method": "Method",
    "backbone": "Backbone",
    "augment": "Augmentation",
    "imbalance": "Imbalance",
}


def metric_columns(*keys: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    """(metric, class_name, column title) of each (metric, class_name), the title from the metric registry."""
    return tuple((metric, class_name, get_metric(metric).title(class_name)) for metric, class_name in keys)


class _HeadlineColumns(Sequence[tuple[str, str, str]]):
    """The registry's headline metrics in its order (a live view: a metric registered later is a column too)."""

    def _columns(self) -> tuple[tuple[str, str, str], ...]:
        keys = [(n, "macro" if s.scope == "class" else "overall") for n, s in METRICS.items() if s.headline]
        return metric_columns(*keys)

    def __getitem__(self, index: int) -> tuple[str, str, str]:  # type: ignore[override]
        return self._columns()[index]

    def __len__(self) -> int:
        return len(self._columns())

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self._columns())


#: Headline metrics of the main table: (metric, class_name, column title), the registry's ``headline`` ones.
HEADLINE: Sequence[tuple[str, str, str]] = _HeadlineColumns()
#: Column title -> (test, metric) of :func:`~sdc_bench.reports.stats.compare_to_reference`
#: whose Holm-adjusted p-value marks that column. Macro sensitivity is balanced accuracy, so it is not a
#: column of its own (per-class sensitivity is in the per-class table); balanced accuracy is tested like
#: its headline number is defined: pooled out-of-fold, by the paired patient-level bootstrap.
SIGNIFICANCE_TESTS: dict[str, tuple[str, str]] = {
    "Accuracy": ("mcnemar_exact", "accuracy"),
    "Balanced accuracy": ("paired_bootstrap", "balanced_accuracy"),
    "AUROC (macro)": ("paired_bootstrap", "auroc"),
}
#: Headline columns that, in a run with several protocol seeds, get a "mean ± SD over seeds" column beside them.
SEED_SPREAD: tuple[str, ...] = ("Balanced accuracy", "AUROC (macro)")
_DIGITS = 3
MARK = "*"
CI_NOTE = (
    "Pooled out-of-fold estimates with 95% CIs: Wilson for accuracy and per-class sensitivity "
    "and specificity; patient-level percentile bootstrap for balanced accuracy and macro averages."
)


def fmt_number(value: float, digits: int = _DIGITS, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    text = f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"
    if float(text) == 0.0:  # no "-0.000"
        text = text.replace("-", "+" if signed else "")
    return text


def fmt_interval(value: float, low: float, high: float, *, signed: bool = False) -> str:
    """``0.912 [0.880, 0.940]``; the interval is left out where it is undefined."""
    if pd.isna(value):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return fmt_number(value, signed=signed)
    return f"{fmt_number(value, signed=signed)} [{fmt_number(low, signed=signed)}, {fmt_number(high, signed=signed)}]"


def seed_spread(
    metrics: pd.DataFrame, split: str
) -> tuple[dict[tuple[tuple[str, ...], str, str], tuple[float, float]], int]:
    """(configuration, metric, class_name) -> (mean, SD) over protocol seeds, and the number of seeds;
    empty and 0 for a single-seed run (no ``'seed'`` rows)."""
    if "seed" not in metrics.columns or not (metrics["scope"] == "seed").any():
        return {}, 0
    summary = summarize_seeds(metrics)
    summary = summary[summary["split"] == split]
    n_seeds = int(metrics.loc[metrics["scope"] == "seed", "seed"].nunique())
    spread = {
        (tuple(str(getattr(row, c)) for c in CONFIG), str(row.metric), str(row.class_name)): (
            as_float(row.mean),
            as_float(row.sd),
        )
        for row in summary.itertuples(index=False)
    }
    return spread, n_seeds


def spread_text(spread: Mapping[Any, tuple[float, float]], key: Any) -> str:
    mean, sd = spread.get(key, (math.nan, math.nan))
    return "n/a" if not math.isfinite(mean) else f"{fmt_number(mean)} ± {fmt_number(sd)}"


def seeds_note(n_seeds: int) -> str:
    return (
        f"Repeated cross-validation over {n_seeds} protocol seeds: the estimate pools every repetition (each "
        "image once per seed) and all its 95% CIs are patient-level bootstrap intervals (repetitions of one "
        "image are not independent trials); mean ± SD: the per-seed pooled estimates across seeds."
    )


def as_float(value: Any) -> float:
    """A table cell as a float (NaN when missing)."""
    return math.nan if value is None or pd.isna(value) else float(value)


def pooled_rows(metrics: pd.DataFrame, split: str) -> pd.DataFrame:
    return metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]


def configurations_of(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    keys = frame[CONFIG].astype(str).drop_duplicates().itertuples(index=False, name=None)
    return sorted(keys)


def shown_columns(configurations: Sequence[tuple[str, ...]]) -> list[str]:
    """Method and backbone always; augmentation / imbalance only where they tell configurations apart."""
    shown = ["method", "backbone"]
    for column in ("imbalance", "augment"):
        parts = [CONFIG.index(c) for c in shown]
        if len({tuple(c[i] for i in parts) for c in configurations}) < len(set(configurations)):
            shown.append(column)
    return [c for c in CONFIG if c in shown]


def metric_value(group: pd.DataFrame, metric: str, class_name: str) -> tuple[float, float, float]:
    hit = group[(group["metric"] == metric) & (group["class_name"] == class_name)]
    if hit.empty:
        return (math.nan, math.nan, math.nan)
    row = hit.iloc[0]
    return (float(row["value"]), float(row["ci_low"]), float(row["ci_high"]))


def by_configuration(frame: pd.DataFrame) -> dict[tuple[str, ...], pd.DataFrame]:
    keys = frame[CONFIG].astype(str).apply(tuple, axis=1) if len(frame) else pd.Series([], dtype=object)
    return {key: part for key, part in frame.groupby(keys, sort=True)}


def best_rows(values: Sequence[float], *, higher_is_better: bool = True) -> list[int]:
    """Rows holding the best value, compared as displayed (rounded), so visible ties all win."""
    rounded = np.array([round(v, _DIGITS) if v is not None and math.isfinite(v) else np.nan for v in values])
    if np.isnan(rounded).all():
        return []
    best = np.nanmax(rounded) if higher_is_better else np.nanmin(rounded)
    return [int(i) for i in np.flatnonzero(rounded == best)]


def decorate(
    table: pd.DataFrame,
    *,
    bold: Iterable[tuple[int, str]] = (),
    marks: Iterable[tuple[int, str, str]] = (),
    notes: Iterable[str] = (),
    group: str | None = None,
) -> pd.DataFrame:
    table = table.reset_index(drop=True)
    table.attrs = {
        "bold": sorted({(int(r), str(c)) for r, c in bold}),
        "marks": sorted({(int(r), str(c), str(m)) for r, c, m in marks}),
        "notes": [str(n) for n in notes],
        "group": group,
    }
    return table


def config_cells(configuration: tuple[str, ...], shown: Sequence[str]) -> dict[str, str]:
    """The configuration's cells; the method by its display name (:func:`~sdc_bench.reports.names.display_name`)."""
    return {
        _CONFIG_TITLES[c]: display_name(configuration[0]) if c == "method" else configuration[CONFIG.index(c)]
        for c in shown
    }


def significance(comparisons: pd.DataFrame | None) -> dict[tuple[tuple[str, ...], str, str], bool]:
    if comparisons is None or comparisons.empty:
        return {}
    out = {}
    for row in comparisons.itertuples(index=False):
        key = tuple(str(getattr(row, c)) for c in CONFIG)
        out[(key, str(row.test), str(row.metric))] = bool(row.significant)
    return out


def references_of(comparisons: pd.DataFrame | None) -> list[str]:
    if comparisons is None or comparisons.empty:
        return []
    return sorted({str(r) for r in comparisons["reference"]})


def reference_first(configurations: Sequence[tuple[str, ...]], reference: str, score: Mapping) -> list:
    return sorted(configurations, key=lambda c: (c[0] != reference, -_finite(score.get(c)), c))


def _finite(value: Any) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else -math.inf


def p_text(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def rule_rows(
    rules: pd.DataFrame | None, split: str, shown: Sequence[str], columns: Iterable[str]
) -> list[dict[str, str]]:
    """Rows of the reference rules (:mod:`~sdc_bench.reports.rules`) under a table's ``columns``."""
    if rules is None or rules.empty:
        return []
    rows = []
    for rule in RULES:
        mine = rules[(rules["method"] == rule) & (rules["split"] == split)]
        if mine.empty:
            continue
        row = dict.fromkeys(columns, "–")
        row.update(config_cells((rule, "–", "–", "–"), shown))
        for metric, class_name, title in HEADLINE:
            if title in row:
                row[title] = fmt_interval(*metric_value(mine, metric, class_name))
        rows.append(row)
    return rows


def flag_marks(order: Sequence[tuple[str, ...]], flags: Sequence[Flag]) -> list[tuple[int, str, str]]:
    """A mark after the method name of each flagged configuration (row ``i`` of ``order``)."""
    marks = []
    for index, configuration in enumerate(order):
        kinds = sorted(
            {f.kind for f in flags if f.configuration == configuration}, key=list(FLAG_MARKS).index
        )
        if kinds:
            marks.append((index, "Method", "".join(FLAG_MARKS[k][0] for k in kinds)))
    return marks


def rule_notes(rules: pd.DataFrame | None, flags: Sequence[Flag]) -> list[str]:
    """Footnotes of the reference rules and of the flags the table marks."""
    notes = []
    if rules is not None and not rules.empty:
        notes.append(
            "Reference rules on the same pooled out-of-fold labels: the majority-class rule (balanced accuracy "
            "exactly 1/K, AUROC 0.5, accuracy with a Wilson CI) and a stratified-random rule (expected values; "
            "CI: 2.5-97.5 percentiles of 1000 seeded draws)."
        )
    for kind in dict.fromkeys(f.kind for f in flags):
        notes.append(f"{FLAG_MARKS[kind][0]} {FLAG_MARKS[kind][1]}.")
    return notes


def params_text(params: Mapping[str, Any]) -> str:
    """``key=value`` pairs of a parameter set, floats to 3 significant digits."""
    parts = []
    for key, value in params.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def fold_text(fold: Any, repeat_seed: Any, repeated: bool) -> str:
    """An outer fold, with its protocol seed when the run repeated the cross-validation."""
    return f"{fold} (seed {repeat_seed})" if repeated else str(fold)
