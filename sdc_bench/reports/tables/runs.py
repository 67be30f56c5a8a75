"""Tables of the data and the run: dataset flow, throughput, selected parameters per cell, the search."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.reports.names import display_name
from sdc_bench.reports.tables._format import decorate, fmt_number
from sdc_bench.reports.throughput import LOAD_RATIO, peak_memory_text, under_load

__all__ = [
    "dataset_flow_counts",
    "dataset_flow_table",
    "search_table",
    "selected_params_table",
    "throughput_table",
]


def dataset_flow_counts(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """Images and patients per class in the whole dataset and in each fold's train / test part.

    Parameters
    ----------
    manifest : pandas.DataFrame
        ``sample_id``, ``label`` and ``patient_id`` columns.
    splits : mapping
        The ``splits.json`` payload (``folds``: ``outer_fold``, ``train``, ``test``).
    classes : sequence of str, optional
        Class order (the run's); classes of the manifest not in it follow, sorted.

    Returns
    -------
    pandas.DataFrame
        Columns ``outer_fold`` (-1 for the whole dataset), ``part`` (``all``/``train``/``test``),
        ``class_name`` (a class or ``total``), ``n_images``, ``n_patients``.
    """
    manifest = manifest.astype({"sample_id": str, "label": str, "patient_id": str})
    present = set(manifest["label"])
    classes = [str(c) for c in (classes or []) if str(c) in present]
    classes += sorted(present - set(classes))
    by_id = manifest.set_index("sample_id")
    records = []

    def count(outer_fold: int, part: str, ids: Sequence[str] | None) -> None:
        rows = (
            manifest
            if ids is None
            else by_id.loc[by_id.index.intersection([str(i) for i in ids])].reset_index()
        )
        for class_name in [*classes, "total"]:
            chosen = rows if class_name == "total" else rows[rows["label"] == class_name]
            records.append(
                {
                    "outer_fold": outer_fold,
                    "part": part,
                    "class_name": class_name,
                    "n_images": len(chosen),
                    "n_patients": int(chosen["patient_id"].nunique()),
                }
            )

    count(-1, "all", None)
    for fold in sorted(splits.get("folds", []), key=lambda f: int(f["outer_fold"])):
        for part in ("train", "test"):
            count(int(fold["outer_fold"]), part, fold.get(part, []))
    return pd.DataFrame.from_records(records).astype(
        {"outer_fold": np.int64, "n_images": np.int64, "n_patients": np.int64}
    )


def dataset_flow_table(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """CLAIM-style flow: ``images (patients)`` per class, whole dataset then each fold's train / test."""
    counts = dataset_flow_counts(manifest, splits, classes=classes)
    classes = list(dict.fromkeys(counts["class_name"]))
    rows = []
    for fold, part in counts[["outer_fold", "part"]].drop_duplicates().itertuples(index=False):
        group = counts[(counts["outer_fold"] == fold) & (counts["part"] == part)]
        row = {"Fold": "all" if int(fold) < 0 else str(fold), "Set": str(part)}
        for class_name in classes:
            hit = group[group["class_name"] == class_name].iloc[0]
            row["Total" if class_name == "total" else class_name] = f"{hit['n_images']} ({hit['n_patients']})"
        rows.append(row)
    notes = [
        "Images (patients) per class. Outer folds are patient-grouped: no patient is in both the train and "
        "the test part of a fold. Hyperparameter search uses an inner split of the train part only."
    ]
    return decorate(pd.DataFrame(rows), notes=notes, group="Fold")


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


def _params_text(params: Mapping[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _search_cell(search: Any) -> str:
    if not isinstance(search, Mapping) or not search.get("n_trials"):
        return "none"
    best = search.get("best_value")
    best_text = f", best {fmt_number(float(best))}" if isinstance(best, int | float) else ""
    return f"{search['n_trials']} trials ({search.get('n_pruned', 0)} pruned){best_text}"


def _fold_text(fold: Any, repeat_seed: Any, repeated: bool) -> str:
    """An outer fold, with its protocol seed when the run repeated the cross-validation."""
    return f"{fold} (seed {repeat_seed})" if repeated else str(fold)


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
                "Fold": _fold_text(cell.get("outer_fold", ""), cell.get("repeat_seed", 0), repeated),
                "Fit / val / test": f"{info.get('n_fit', '?')} / {info.get('n_val', '?')} / {info.get('n_test', '?')}",
                "Epochs (best)": f"{info.get('epochs_trained', '?')} ({info.get('best_epoch', '?')})",
                "Search": _search_cell(info.get("search")),
                "Seconds": fmt_number(float(info["seconds"]), 1)
                if isinstance(info.get("seconds"), int | float)
                else "n/a",
                "Parameters": _params_text(info.get("params", {})),
            }
        )
    notes = [
        "Images in the inner fit and validation parts and the outer test fold; parameters used for the outer fit."
    ]
    return decorate(pd.DataFrame(rows), notes=notes, group="Method")


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
        states = group["state"].value_counts()
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
                "Fold": _fold_text(fold, repeat, repeated),
                "Trials": str(len(group)),
                "Complete": str(int(states.get("COMPLETE", 0))),
                "Pruned": str(int(states.get("PRUNED", 0))),
                "Failed": str(int(states.get("FAIL", 0))),
                "Best value": fmt_number(float(best["value"])) if best is not None else "n/a",
                "Best parameters": _params_text({k: v for k, v in params.items() if pd.notna(v)}),
            }
        )
    notes = ["Value: the inner-validation score the search maximised (never the outer test fold)."]
    return decorate(pd.DataFrame(rows), notes=notes, group="Method")
