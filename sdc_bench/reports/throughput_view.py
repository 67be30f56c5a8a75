"""A measured throughput table as people read it: a compact Markdown view written beside the CSV or parquet
table, the rows measured under load, and peak memory as a cell."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.store import write_text, write_throughput_table
from sdc_bench.reports.table_render import to_markdown

__all__ = ["LOAD_LIMIT", "LOAD_RATIO", "markdown_table", "peak_memory_text", "under_load", "write_throughput"]

_MARKDOWN = (
    ("backbone", "{}"), ("mode", "{}"), ("precision", "{}"), ("channels_last", "{}"), ("compiled", "{}"),
    ("batch_size", "{}"), ("img_size", "{}"), ("in_chans", "{}"), ("images_per_s", "{:.1f}"), ("load", "{:.2f}"), ("contention", "{}"), ("latency_ms_p50", "{:.2f}"),
    ("latency_ms_p95", "{:.2f}"), ("peak_mem_mb", "{:.0f}"), ("gflops", "{:.3f}"), ("achieved_tflops", "{:.3f}"),
    ("fraction_of_peak", "{:.1%}"), ("status", "{}"),
)  # fmt: skip


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return fmt.format(value)


def markdown_table(table: pd.DataFrame) -> str:
    """A compact Markdown view of a throughput table, headed by the devices and torch version."""
    compact = pd.DataFrame(
        {c: [_cell(v, fmt) for v in table[c]] for c, fmt in _MARKDOWN if c in table}, index=table.index
    )
    if "contention" in compact and not _contended(table).any():  # a column only when some row was contended
        compact = compact.drop(columns="contention")
    if "peak_mem_mb" in compact:  # CPU runs do not measure it: 0 is "not measured", not 0 MB
        compact["peak_mem_mb"] = [
            peak_memory_text(d, v) for d, v in zip(table["device"], table["peak_mem_mb"])
        ]
    devices = ", ".join(
        f"{name} ({threads} threads)" if kind == "cpu" else name
        for name, kind, threads in table[["device_name", "device", "threads"]]
        .drop_duplicates()
        .itertuples(index=False)
    )
    versions = ", ".join(sorted(set(map(str, table["torch_version"]))))
    waits = ", ".join(sorted(set(map(str, table["omp_wait"])))) if "omp_wait" in table else ""
    wait = f"; OpenMP wait {waits}" if waits else ""
    header = f"Throughput on {devices}; torch {versions}{wait}.\n\n" if len(table) else ""
    loaded = under_load(table)
    if len(loaded):  # said beside the numbers, not only in the report: a noisy neighbour makes them low
        header = (
            f"**Measured under load: {len(loaded)} of {len(table)} row(s)** (load per core above "
            f"{LOAD_LIMIT}, p95 latency above {LOAD_RATIO:g}x p50, or other load or CPU steal in the contention "
            "column): other processes competed for the cores, so those rows read low; measure again on an "
            "idle machine.\n\n" + header
        )
    notes = [
        f"- {row.backbone} {row.mode} {row.precision} batch {row.requested_batch_size}: {row.status}: {row.error}"
        for row in table.itertuples(index=False)
        if row.status != "ok"
    ]
    return header + to_markdown(compact) + ("\n" + "\n".join(notes) + "\n" if notes else "")


def write_throughput(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``out`` (``.csv`` or ``.parquet``, by suffix) and a Markdown view ``<stem>.md`` beside it.

    Both writes are atomic. Returns the paths written.
    """
    out = write_throughput_table(table, out)
    markdown = out.with_suffix(".md")
    write_text(markdown, markdown_table(table))
    return [out, markdown]


#: Latency spread that marks a measurement taken under load: p95 above this multiple of p50.
LOAD_RATIO = 2.0
#: Load average per core above which other work competed with the measurement (its own threads: ~1).
LOAD_LIMIT = 1.25


def under_load(table: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of a throughput table measured under load: ``load`` (per core) above ``LOAD_LIMIT`` (or an older
    table's ``load`` flag set), p95 latency > ``LOAD_RATIO`` x p50, or a ``contention`` note (other load
    above the free cores, or CPU steal: :mod:`sdc_bench.benchmark.throughput.contention`)."""
    if table is None or table.empty or not {"latency_ms_p50", "latency_ms_p95"} <= set(table.columns):
        return pd.DataFrame() if table is None else table.iloc[0:0]
    ratio = table["latency_ms_p95"].astype(float) / table["latency_ms_p50"].astype(float)
    loaded = (ratio > LOAD_RATIO).fillna(False)
    if "load" in table.columns:
        load = table["load"]
        if load.dtype == bool or load.dtype == object:  # an older table's flag
            loaded |= load.fillna(False).astype(bool)
        else:  # the load average per core: this process's own threads read up to ~1
            loaded |= (load.astype(float) > LOAD_LIMIT).fillna(False)
    loaded |= _contended(table)
    return table[loaded.to_numpy()]


def _contended(table: pd.DataFrame) -> pd.Series:
    """Rows whose ``contention`` column holds a note (an older table without the column: none)."""
    if "contention" not in table.columns:
        return pd.Series(False, index=table.index)
    # an all-empty column reads back from CSV as float NaN: test for text, not fill NaN with it
    notes = table["contention"]
    return notes.notna() & (notes.astype(str).str.len() > 0)


def peak_memory_text(device: Any, value: Any, digits: int = 0) -> str:
    """Peak memory as a cell: ``n/a`` where it was not measured (a CPU device, or 0 / missing)."""
    if str(device) == "cpu" or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return "n/a"
    return f"{float(value):.{digits}f}"
