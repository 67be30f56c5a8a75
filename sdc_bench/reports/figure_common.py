"""Shared look of the figures of several report sections (:mod:`sdc_bench.reports.sections`): configurations,
colours and markers, row labels, legends, pooled scores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.reports.metrics import METRICS, balanced_accuracy_score
from sdc_bench.reports.names import display_name
from sdc_bench.reports.predictions_table import n_protocol_seeds
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    SINGLE_COLUMN_IN,
    backbone_markers,
    configuration_labels,
    method_palette,
    panel_grid,
    wrap_label,
)

CONFIG = list(CONFIGURATION_COLUMNS)
Configuration = tuple[str, ...]
#: Most configurations a figure draws one by one (a panel, a colour, a legend entry each): beyond it (a full
#: suite has 64) the best ones by pooled balanced accuracy are drawn so, the rest summarised, and the caption
#: says so (:func:`top_note`).
TOP_CONFIGURATIONS = 8
_METRIC_TITLES = {name: spec.title() for name, spec in METRICS.items()}
_GRID_COLOUR = "#BBBBBB"


# --------------------------------------------------------------------------- shared look


@dataclass(frozen=True)
class _Look:
    """Order, labels, colours and markers of the configurations in one figure."""

    order: list[Configuration]
    labels: dict[Configuration, str]
    colours: dict[Configuration, str]
    markers: dict[Configuration, str]

    def legend_handles(self, *, line: bool = False) -> tuple[list[Line2D], list[str]]:
        handles = [
            Line2D(
                [],
                [],
                color=self.colours[c],
                marker=None if line else self.markers[c],
                linestyle="-" if line else "none",
                markersize=4,
            )
            for c in self.order
        ]
        return handles, [self.labels[c] for c in self.order]

    def factor_legend_handles(self) -> tuple[list[Any], list[str]]:
        """One entry per method (its colour) and one per backbone (its marker), instead of one per configuration.

        For a figure of many configurations crossed from a few methods and backbones (8 x 8 in a full suite):
        16 entries say what 64 would.
        """
        methods = dict.fromkeys(c[0] for c in self.order)
        backbones = dict.fromkeys(c[1] for c in self.order)
        colour = {c[0]: self.colours[c] for c in reversed(self.order)}
        marker = {c[1]: self.markers[c] for c in reversed(self.order)}
        handles: list[Any] = [Patch(facecolor=colour[m], edgecolor="none") for m in methods]
        handles += [
            Line2D([], [], color="#555555", marker=marker[b], linestyle="none", markersize=4)
            for b in backbones
        ]
        return handles, [display_name(m) for m in methods] + list(backbones)

    def top(self, k: int) -> tuple[_Look, list[Configuration]]:
        """This look cut to its best ``k`` configurations, and the others (best first); all when ``k`` or fewer."""
        if len(self.order) <= k:
            return self, []
        return replace(self, order=self.order[:k]), self.order[k:]


def crossed(configurations: Sequence[Configuration]) -> bool:
    """Whether a legend by method and backbone (:meth:`_Look.factor_legend_handles`) names them all.

    True when the configurations differ only by method and backbone, there are more than
    :data:`TOP_CONFIGURATIONS` of them, and more than methods and backbones together (a legend entry per
    configuration would be the longer one).

    >>> crossed([(m, b, "x", "y") for m in "abc" for b in "pqr"])
    True
    >>> crossed([("a", "p", "x", "y"), ("b", "p", "x", "y")])
    False
    """
    pairs = {(c[0], c[1]) for c in configurations}
    methods, backbones = {c[0] for c in configurations}, {c[1] for c in configurations}
    distinct = len(set(configurations))
    return len(pairs) == distinct > max(TOP_CONFIGURATIONS, len(methods) + len(backbones))


def top_note(
    n_configurations: int, *, k: int = TOP_CONFIGURATIONS, rest: str = "", what: str = "configurations"
) -> str:
    """Caption sentence of a figure that draws the best ``k`` configurations (or other ``what``) only; empty
    when it draws all.

    >>> top_note(64, rest="the others are in the per-class table")
    ' The best 8 of 64 configurations by pooled balanced accuracy; the others are in the per-class table.'
    >>> top_note(8)
    ''
    """
    if n_configurations <= k:
        return ""
    return f" The best {k} of {n_configurations} {what} by pooled balanced accuracy" + (
        f"; {rest}." if rest else "."
    )


def _configurations(frame: pd.DataFrame) -> list[Configuration]:
    return sorted(frame[CONFIG].astype(str).drop_duplicates().itertuples(index=False, name=None))


def _look(
    configurations: Sequence[Configuration],
    palette: Mapping[str, str] | None,
    markers: Mapping[str, str] | None,
    scores: Mapping[Configuration, float] | None = None,
) -> _Look:
    """Configurations by descending score (ties and missing scores by name)."""
    configurations = list(dict.fromkeys(configurations))
    palette = dict(palette or method_palette(c[0] for c in configurations))
    markers = dict(markers or backbone_markers(c[1] for c in configurations))
    fallback_palette = method_palette(c[0] for c in configurations)
    fallback_markers = backbone_markers(c[1] for c in configurations)
    scores = scores or {}

    def key(c: Configuration) -> tuple[float, Configuration]:
        value = scores.get(c, math.nan)
        return (-value if math.isfinite(value) else math.inf, c)

    order = sorted(configurations, key=key)
    return _Look(
        order=order,
        labels=configuration_labels(order),
        colours={c: palette.get(c[0], fallback_palette[c[0]]) for c in order},
        markers={c: markers.get(c[1], fallback_markers[c[1]]) for c in order},
    )


def _row_labels(look: _Look, *, wrap: int) -> tuple[list[str], float]:
    """Y tick labels of a one-row-per-configuration figure and the height (inches) each row needs.

    Beyond :data:`TOP_CONFIGURATIONS` rows (a full suite's 64) the labels stay on one line and the rows are
    packed closer (0.14 in, twice the 6.5 pt text), so the figure stays about a page tall.
    """
    many = len(look.order) > TOP_CONFIGURATIONS
    labels = [wrap_label(look.labels[c], max(wrap, 60) if many else wrap) for c in look.order]
    lines = max(label.count("\n") + 1 for label in labels) if labels else 1
    return labels, (0.14 if many else 0.2) + 0.1 * (lines - 1)


def _pooled_scores(
    metrics: pd.DataFrame, split: str, metric: str = "balanced_accuracy"
) -> dict[Configuration, float]:
    rows = metrics[
        (metrics["scope"] == "pooled") & (metrics["split"] == split) & (metrics["metric"] == metric)
    ]
    rows = rows[rows["class_name"].isin(["overall", "macro"])]
    return {tuple(str(r[c]) for c in CONFIG): float(r["value"]) for _, r in rows.iterrows()}


def _legend_columns(width_in: float, labels: Sequence[str], ncol: int) -> int:
    """Columns of a legend below the axes that keep it inside ``width_in`` inches."""
    # about 0.052 in per character at 7 pt, plus the handle
    entry_in = 0.45 + 0.052 * max((len(str(label)) for label in labels), default=0)
    return max(1, min(ncol, len(labels), int(width_in // entry_in)))


def _legend_height_in(width_in: float, labels: Sequence[str], ncol: int) -> float:
    """Height a :func:`_legend_below` legend needs: its rows at 7 pt plus padding."""
    if not labels:
        return 0.0
    rows = math.ceil(len(labels) / _legend_columns(width_in, labels, ncol))
    return 0.1 + 0.16 * rows


def _legend_below(
    figure: plt.Figure, handles: list[Any], labels: list[str], *, ncol: int = 4, title: str | None = None
) -> None:
    if not handles:
        return
    ncol = _legend_columns(figure.get_figwidth(), labels, ncol)
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=ncol,
        frameon=False,
        title=title,
        handletextpad=0.4,
        columnspacing=1.2,
    )


def _split_by_configuration(frame: pd.DataFrame) -> dict[Configuration, pd.DataFrame]:
    """The rows of each configuration, sorted by configuration: one pass over ``frame`` (a full suite's
    predictions hold 64 configurations; :func:`_rows_of` per configuration would scan it 64 times)."""
    keys = [frame[c].astype(str).rename(c) for c in CONFIG]
    return {
        tuple(str(part) for part in key): rows for key, rows in frame.groupby(keys, sort=True, observed=True)
    }


def _rows_of(frame: pd.DataFrame, configuration: Configuration) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(CONFIG, configuration):
        mask &= (frame[column].astype(str) == value).to_numpy()
    return frame.loc[mask]


def _class_names(predictions: pd.DataFrame) -> list[str]:
    return [
        str(c)[len(PROBABILITY_PREFIX) :]
        for c in predictions.columns
        if str(c).startswith(PROBABILITY_PREFIX)
    ]


def _square_grid(
    n_panels: int, *, ncols: int = 4, extra_height: float = 0.35
) -> tuple[plt.Figure, list[Axes]]:
    """Small multiples of square panels: single-column width for one or two, else double-column."""
    ncols = max(1, min(ncols, n_panels))
    width = SINGLE_COLUMN_IN if ncols <= 2 else DOUBLE_COLUMN_IN
    panel = (width - 0.55) / ncols
    return panel_grid(n_panels, ncols=ncols, panel_height=panel + extra_height, width=width)


def _balanced_accuracy(rows: pd.DataFrame) -> float:
    """Mean per-class recall of pooled rows (to order prediction figures like the tables)."""
    names, codes = np.unique(
        np.r_[rows["y_true"].astype(str), rows["y_pred"].astype(str)], return_inverse=True
    )
    return balanced_accuracy_score(codes[: len(rows)], codes[len(rows) :], len(names))


def _pooled_seeds(rows: pd.DataFrame) -> int:
    """Protocol seeds stacked in out-of-fold rows pooled per configuration (1 for one cross-validation)."""
    return n_protocol_seeds(rows) if len(rows) else 1


def _title_pooled_seeds(figure: plt.Figure, n_seeds: int) -> None:
    """A figure that pools repetitions of the cross-validation says so above its panels."""
    if n_seeds > 1:
        figure.suptitle(f"Pooled over {n_seeds} protocol seeds (each image once per seed)", fontsize=7)


def seed_pooling_note(predictions: pd.DataFrame, *, split: str = OOF_SPLIT) -> str:
    """Caption sentence for a figure that pools the protocol seeds of ``split``; empty for a single seed.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"method": "m", "backbone": "b", "augment": "a", "imbalance": "i", "split": "test",
    ...                      "seed": [0, 0, 1, 1], "outer_fold": [0, 1, 0, 1]})
    >>> seed_pooling_note(rows)
    ' Pooled over 2 protocol seeds: each image counts once per seed.'
    """
    n_seeds = _pooled_seeds(predictions[predictions["split"].astype(str) == split])
    return f" Pooled over {n_seeds} protocol seeds: each image counts once per seed." if n_seeds > 1 else ""
