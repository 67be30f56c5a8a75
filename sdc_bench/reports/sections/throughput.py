"""The report's Throughput section: the throughput table and the accuracy/throughput Pareto front."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import (
    _METRIC_TITLES,
    _legend_below,
    _legend_height_in,
    _look,
    _pooled_scores,
    crossed,
)
from sdc_bench.reports.loaders import load_throughput
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    SINGLE_COLUMN_IN,
    apply_style,
    configuration_labels,
    save_figure,
)
from sdc_bench.reports.table_format import (
    CONFIG,
    decorate,
    fmt_number,
)
from sdc_bench.reports.throughput_view import LOAD_RATIO, peak_memory_text, under_load

__all__ = ["pareto_front", "pareto_points", "throughput_section", "throughput_table"]


@report_section("throughput", title="Throughput", order=110)
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
            throughput_table(throughput),
            "Throughput per backbone, device, precision and batch size.",
        )
    )
    points = pareto_points(ctx.metrics, throughput)
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
        lambda stem: pareto_front(ctx.metrics, throughput, stem, palette=ctx.palette, markers=ctx.markers),
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


_THROUGHPUT_TITLES = {
    "backbone": "Backbone",
    "device_name": "Device",
    "precision": "Precision",
    "mode": "Mode",
    "batch_size": "Batch",
    "img_size": "Size",
    "in_chans": "Channels",
    "channels_last": "Channels last",
    "compiled": "Compiled",
    "images_per_s": "Images/s",
    "latency_ms_p50": "Latency p50 (ms)",
    "latency_ms_p95": "Latency p95 (ms)",
    "peak_mem_mb": "Peak memory (MB)",
    "params_m": "Params (M)",
    "gflops": "GFLOPs",
    "fraction_of_peak": "Fraction of peak",
}


_THROUGHPUT_DIGITS = {
    "images_per_s": 1,
    "latency_ms_p50": 2,
    "latency_ms_p95": 2,
    "peak_mem_mb": 0,
    "params_m": 1,
    "gflops": 2,
    "fraction_of_peak": 2,
}


def throughput_table(throughput: pd.DataFrame) -> pd.DataFrame:
    """The throughput measurements, fastest inference per device and mode in bold."""
    frame = throughput.copy()
    notes_extra = []
    if "status" in frame:
        failed = frame[frame["status"].astype(str) != "ok"]
        if len(failed):
            notes_extra.append(
                f"{len(failed)} configuration(s) not measured (status skipped/failed) are left out."
            )
        frame = frame[frame["status"].astype(str) == "ok"]
    for column in ("device", "device_name", "precision", "mode"):
        if column not in frame:
            frame[column] = ""
    frame = frame.sort_values(["device", "mode", "backbone", "precision", "batch_size"], kind="mergesort")
    frame = frame.reset_index(drop=True)
    present = [
        c
        for c in _THROUGHPUT_TITLES
        if c in frame
        and not (c in ("channels_last", "compiled") and frame[c].nunique() < 2)
        and not (c == "in_chans" and set(frame[c].dropna()) <= {1})  # shown when slices are channels
    ]
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column in present:
            value = record[column]
            if (
                column in _THROUGHPUT_DIGITS
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                row[_THROUGHPUT_TITLES[column]] = (
                    fmt_number(float(value), _THROUGHPUT_DIGITS[column])
                    if math.isfinite(float(value))
                    else "n/a"
                )
            else:
                row[_THROUGHPUT_TITLES[column]] = str(value)
        if "peak_mem_mb" in present:  # not measured on a CPU: n/a, never "0 MB"
            row[_THROUGHPUT_TITLES["peak_mem_mb"]] = peak_memory_text(
                record.get("device"), record["peak_mem_mb"]
            )
        if (
            "device_name" in present
            and record.get("device")
            and str(record["device"]) not in str(record["device_name"])
        ):
            row["Device"] = f"{record['device_name']} ({record['device']})"
        rows.append(row)
    bold = []
    if "images_per_s" in frame:
        for _, group in frame.groupby(["device", "mode"], sort=False):
            best = group["images_per_s"].astype(float)
            bold += [(int(i), "Images/s") for i in best.index[best == best.max()]]
    loaded = under_load(frame)
    if len(loaded):
        notes_extra.append(
            f"{len(loaded)} measurement(s) taken under load (latency p95 > {LOAD_RATIO:g} x p50): "
            + ", ".join(f"{r.backbone} {r.mode}" for r in loaded.itertuples())
            + "; their images/s understate an idle device."
        )
    table, unmeasured = _drop_unmeasured(pd.DataFrame(rows))
    notes = [
        "Measured by `sdc-bench throughput` on the device named. Bold: highest images/s per device and mode. "
        + _unmeasured_note(unmeasured),
        *notes_extra,
    ]
    return decorate(table, bold=bold, notes=notes, group="Device" if "device_name" in present else None)


def _unmeasured_note(unmeasured: Sequence[str]) -> str:
    if unmeasured:
        return f"Not measured on any device here (CPU), so left out: {', '.join(unmeasured)}."
    return "Peak memory n/a: not measured (CPU)."


def _drop_unmeasured(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop the columns that are n/a in every row (peak memory on a CPU): they only widen the table."""
    if table.empty:
        return table, []
    unmeasured = [str(c) for c in table.columns if (table[c].astype(str) == "n/a").all()]
    return table.drop(columns=unmeasured), unmeasured


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
    # many configurations crossed from a few methods and backbones: the legend names those, not every pair,
    # and takes the double column (16 long names in one single-column row each would crush the axes)
    by_factor = crossed(look.order)
    handles, labels = look.factor_legend_handles() if by_factor else look.legend_handles()
    labels.append("Pareto front (filled: optimal)")
    width = DOUBLE_COLUMN_IN if len(devices) > 1 or by_factor else SINGLE_COLUMN_IN
    figure, axes = plt.subplots(
        1, len(devices), figsize=(width, 2.6 + _legend_height_in(width, labels, 4)),
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
    handles.append(Line2D([], [], color="#555555", lw=0.8, ls="--", marker="o", mfc="#555555", mec="black"))
    _legend_below(figure, handles, labels, ncol=4)
    return save_figure(figure, stem)
