"""Runs on different data: each run's metrics with its own intervals side by side, and rank agreement.

No paired test: different images cannot be paired. The metrics come from each run's ``metrics.csv``
(computed from its predictions when the folder has none yet). Rank agreement is Kendall's tau between
the runs' orderings of the configurations by balanced accuracy, drawn as a slope chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from scipy import stats as scipy_stats

from sdc_bench.core.store import RunStore
from sdc_bench.reports.compare._runs import CONFIGURATION, ComparedRun
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.names import display_name
from sdc_bench.reports.style import apply_style, save_figure
from sdc_bench.reports.table_format import as_float, fmt_interval

__all__ = [
    "SIDE_BY_SIDE_METRICS",
    "SLOPE_TOP_CONFIGURATIONS",
    "rank_agreement",
    "run_metrics",
    "side_by_side",
    "slope_chart",
    "slope_note",
]

#: (metric, class_name) shown side by side.
SIDE_BY_SIDE_METRICS = (("balanced_accuracy", "overall"), ("accuracy", "overall"), ("auroc", "macro"))


def run_metrics(run: ComparedRun, *, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """The pooled out-of-fold (``test``) metrics of a run: its ``metrics.csv``, else computed."""
    path = RunStore(run.root).metrics
    if path.is_file():
        metrics = pd.read_csv(path, keep_default_na=False, na_values=[""])
    else:
        metrics = compute_metrics(run.predictions, n_bootstrap=n_bootstrap, seed=seed)
    return metrics[(metrics["scope"] == "pooled") & (metrics["split"] == "test")]


def _label(configuration: Sequence[str]) -> str:
    return f"{display_name(configuration[0])} / {configuration[1]}"


def side_by_side(runs: Sequence[ComparedRun], metrics: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per configuration and metric, one column per run: ``value [low, high]``."""
    values: dict[tuple[tuple[str, ...], str], dict[str, str]] = {}
    for run, table in zip(runs, metrics):
        for row in table.itertuples(index=False):
            if (row.metric, row.class_name) not in SIDE_BY_SIDE_METRICS:
                continue
            configuration = tuple(str(getattr(row, c)) for c in CONFIGURATION)
            cell = values.setdefault((configuration, str(row.metric)), {})
            cell[run.label] = fmt_interval(as_float(row.value), as_float(row.ci_low), as_float(row.ci_high))
    order = {name: i for i, (name, _) in enumerate(SIDE_BY_SIDE_METRICS)}
    rows = [
        {
            "configuration": _label(configuration),
            "metric": metric,
            **{r.label: cells.get(r.label, "n/a") for r in runs},
        }
        for (configuration, metric), cells in sorted(
            values.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])
        )
    ]
    return pd.DataFrame(rows, columns=["configuration", "metric", *(r.label for r in runs)])


def balanced_accuracies(runs: Sequence[ComparedRun], metrics: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Balanced accuracy of each configuration (rows, labelled) in each run (columns); NaN where absent."""
    columns = {}
    for run, table in zip(runs, metrics):
        chosen = table[(table["metric"] == "balanced_accuracy") & (table["class_name"] == "overall")]
        columns[run.label] = {
            _label([str(getattr(row, c)) for c in CONFIGURATION]): as_float(row.value)
            for row in chosen.itertuples(index=False)
        }
    return pd.DataFrame(columns)


def rank_agreement(scores: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau (and its p-value) between the first run's ranking and each other run's."""
    first = scores.columns[0]
    rows = []
    for other in scores.columns[1:]:
        both = scores[[first, other]].dropna()
        if len(both) >= 2:
            result = scipy_stats.kendalltau(both[first], both[other])
            tau, p_value = float(result.statistic), float(result.pvalue)
        else:
            tau = p_value = float("nan")
        rows.append(
            {
                "runs": f"{first} vs {other}",
                "configurations": len(both),
                "kendall_tau": tau,
                "p_value": p_value,
            }
        )
    return pd.DataFrame(rows, columns=["runs", "configurations", "kendall_tau", "p_value"])


#: Most configurations the slope chart colours and names: beyond it (a full suite has 64) the best by the first
#: run's balanced accuracy are drawn so and the rest as thin grey lines.
SLOPE_TOP_CONFIGURATIONS = 8
_REST_COLOUR = "#BBBBBB"


def slope_note(scores: pd.DataFrame, *, top: int = SLOPE_TOP_CONFIGURATIONS) -> str:
    """Caption sentence of :func:`slope_chart` when it names only the best ``top`` configurations; else empty.

    >>> slope_note(pd.DataFrame({"a": range(10)}), top=8)
    ' The 8 best configurations in the first run are named; the other 2 are thin grey lines.'
    """
    if len(scores) <= top:
        return ""
    return f" The {top} best configurations in the first run are named; the other {len(scores) - top} are thin grey lines."


def slope_chart(scores: pd.DataFrame, stem: Path, *, top: int = SLOPE_TOP_CONFIGURATIONS) -> list[Path]:
    """Balanced accuracy of each configuration per run, one line each (a slope chart).

    With more than ``top`` configurations, the best ``top`` by the first run's score get a colour and a legend
    entry; the others are thin grey lines under them, one legend entry for them all.
    """
    apply_style()
    figure, axes = plt.subplots(figsize=(3.2 + 0.9 * len(scores.columns), 3.6), layout="constrained")
    positions = list(range(len(scores.columns)))
    ranked = scores.sort_values(scores.columns[0], ascending=False, kind="mergesort", na_position="last")
    best, rest = ranked.iloc[:top], ranked.iloc[top:]
    for _, row in rest.iterrows():
        axes.plot(positions, row.to_numpy(), color=_REST_COLOUR, lw=0.6, marker="o", ms=1.5, zorder=1)
    for label, row in (best if len(rest) else scores).iterrows():
        axes.plot(positions, row.to_numpy(), marker="o", label=str(label), zorder=2)
    if len(rest):
        axes.plot([], [], color=_REST_COLOUR, lw=0.8, label=f"{len(rest)} other configurations")
    axes.set_xticks(positions, [str(c) for c in scores.columns])
    axes.set_ylabel("balanced accuracy")
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small", frameon=False)
    return save_figure(figure, stem)
