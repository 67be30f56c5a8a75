"""The tables every floor agrees on, defined once: predictions, metrics, throughput, and cell ids.

The predictions table (one row per image per cell, DESIGN.md) is written by the benchmark and read by the
reports; the metrics table is what :func:`sdc_bench.reports.metrics.compute_metrics` returns and regression
checks read; the throughput table is what a throughput measurement writes. Cell ids name a cell's
result files, its Optuna study and its model.

>>> format_cell_id("sdc_dl", "resnet18", 0, 2)
'sdc_dl__resnet18__seed0__fold2'
>>> parse_cell_id("run-1/sdc_dl__resnet18__seed0__fold2")
CellKey(method='sdc_dl', backbone='resnet18', repeat_seed=0, outer_fold=2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ALL_SEEDS",
    "CONFIGURATION_COLUMNS",
    "METRIC_TABLE_COLUMNS",
    "OOF_SPLIT",
    "PREDICTION_COLUMNS",
    "PROBABILITY_PREFIX",
    "REQUIRED_PREDICTION_COLUMNS",
    "THROUGHPUT_COLUMNS",
    "CellKey",
    "format_cell_id",
    "parse_cell_id",
    "probability_column",
]

# ------------------------------------------------------------------------------------- predictions

#: Columns that identify a configuration; pooled out-of-fold rows pool its outer folds.
CONFIGURATION_COLUMNS: tuple[str, ...] = ("method", "backbone", "augment", "imbalance")
#: Prefix of the per-class probability columns, in class order.
PROBABILITY_PREFIX = "p_"
#: Value of ``split`` for outer-fold out-of-fold predictions.
OOF_SPLIT = "test"
#: ``seed`` of rows that pool every protocol seed (and of tables that do not record one).
ALL_SEEDS = -1
#: Columns of the predictions table, in order; one :func:`probability_column` per class follows them.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "run_id",
    *CONFIGURATION_COLUMNS,
    "seed",
    "outer_fold",
    "split",
    "sample_id",
    "patient_id",
    "y_true",
    "y_pred",
)
#: Columns metrics cannot be computed without.
REQUIRED_PREDICTION_COLUMNS: tuple[str, ...] = (
    *CONFIGURATION_COLUMNS,
    "split",
    "outer_fold",
    "sample_id",
    "patient_id",
    "y_true",
    "y_pred",
)


def probability_column(class_name: str) -> str:
    """The predictions column holding the probability of ``class_name``: ``p_<class>``."""
    return f"{PROBABILITY_PREFIX}{class_name}"


# ----------------------------------------------------------------------------------------- metrics

#: Columns of the metrics table (``metrics.csv``), in order.
METRIC_TABLE_COLUMNS: tuple[str, ...] = (
    *CONFIGURATION_COLUMNS,
    "split",
    "scope",
    "seed",
    "outer_fold",
    "metric",
    "class_name",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_images",
    "n_patients",
)

# -------------------------------------------------------------------------------------- throughput

THROUGHPUT_COLUMNS: tuple[str, ...] = (
    "backbone", "device", "device_name", "threads", "load", "omp_wait", "contention", "precision", "channels_last",
    "compiled",
    "requested_batch_size", "batch_size", "img_size", "in_chans", "mode", "images_per_s", "latency_ms_p50",
    "latency_ms_p95", "peak_mem_mb", "params_m", "gflops", "achieved_tflops", "peak_tflops",
    "fraction_of_peak", "status", "error", "torch_version", "timestamp",
)  # fmt: skip
"""Columns of the throughput table, in order: the DESIGN.md schema plus ``threads``, ``load``
(the 1-minute load average per core when the row was measured: above ~1 other work competed),
``omp_wait`` (how idle OpenMP threads waited: :func:`sdc_bench.core.openmp.wait_setting`),
``contention`` (empty, or what competed for the CPU while the row was measured: other processes' load
above the free cores, or hypervisor steal time; :mod:`sdc_bench.benchmark.throughput.contention`),
``requested_batch_size`` (before any out-of-memory decay), ``in_chans`` (input channels: 1 grey, K slices),
the TFLOP/s columns, ``status``
(``ok`` | ``skipped`` | ``failed``), ``error`` (why a row is skipped or failed; empty when ok),
``torch_version`` and ``timestamp`` (UTC, ISO 8601)."""

# ------------------------------------------------------------------------------------------ cell ids

# ``<method>__<backbone>__seed<s>__fold<k>``
_CELL_ID = re.compile(r"^(?P<method>.+?)__(?P<backbone>.+?)__seed(?P<seed>\d+)__fold(?P<fold>\d+)$")


@dataclass(frozen=True)
class CellKey:
    """What a cell id says: method, backbone, protocol seed and outer fold."""

    method: str
    backbone: str
    repeat_seed: int
    outer_fold: int


def format_cell_id(method: str, backbone: str, repeat_seed: int, outer_fold: int) -> str:
    return f"{method}__{backbone}__seed{repeat_seed}__fold{outer_fold}"


def parse_cell_id(cell_id: str) -> CellKey | None:
    """The parts of a cell id (an Optuna study name ``<run_id>/<cell_id>`` works too); None if it is none."""
    match = _CELL_ID.match(cell_id.rsplit("/", 1)[-1])
    if match is None:
        return None
    return CellKey(
        match.group("method"), match.group("backbone"), int(match.group("seed")), int(match.group("fold"))
    )
