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

__all__ = ["SIDE_BY_SIDE_METRICS", "rank_agreement", "run_metrics", "side_by_side", "slope_chart"]

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


def slope_chart(scores: pd.DataFrame, stem: Path) -> list[Path]:
    """Balanced accuracy of each configuration per run, one line each (a slope chart)."""
    apply_style()
    figure, axes = plt.subplots(figsize=(3.2 + 0.9 * len(scores.columns), 3.6), layout="constrained")
    positions = range(len(scores.columns))
    for label, row in scores.iterrows():
        axes.plot(list(positions), row.to_numpy(), marker="o", label=str(label))
    axes.set_xticks(list(positions), [str(c) for c in scores.columns])
    axes.set_ylabel("balanced accuracy")
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small", frameon=False)
    return save_figure(figure, stem)
