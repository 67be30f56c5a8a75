"""Reads the stored artifacts of a run folder that the reports are derived from.

Predictions, the run manifest and other JSON records, the throughput table (through the one reader,
:func:`sdc_bench.core.store.read_throughput`), the cell records and the Optuna storage a run searched in.
Absent optional artifacts read as None or empty; a damaged one raises a one-line error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.errors import DataError
from sdc_bench.core.optuna_storage import storage_file, storage_url
from sdc_bench.core.store import RunStore, read_throughput

__all__ = [
    "load_cells",
    "load_predictions",
    "load_throughput",
    "read_json",
    "run_storage_url",
]


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    """The run's predictions table (``predictions.parquet``)."""
    return RunStore(Path(run_dir)).read_predictions()


def read_json(path: Path) -> Any:
    """The payload of a JSON artifact, or None when it is absent."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not valid JSON ({error}); restore it from the run or delete it"
        ) from error


def load_throughput(run_dir: str | Path) -> pd.DataFrame | None:
    """``throughput.csv`` (or ``.parquet``) of the run, or None when absent."""
    root = Path(run_dir)
    for name in ("throughput.csv", "throughput.parquet"):
        table = read_throughput(root / name)
        if table is not None:
            return table
    return None


def load_cells(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``cells/<cell_id>.json`` record, in file-name order."""
    folder = RunStore(Path(run_dir)).cells_dir
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def run_storage_url(run_dir: str | Path) -> str:
    """The Optuna storage a run searched in, as ``run.json`` records it (``"storage"``).

    None there means ``optuna.db`` in the run folder. A journal or SQLite file recorded by a path
    that no longer exists (the run folder was moved) is looked up by its name in the run folder.
    """
    root = Path(run_dir)
    store = RunStore(root)
    url = storage_url(store.read_manifest().storage if store.has_manifest() else None, root)
    path = storage_file(url)
    if path is not None and not path.exists() and (root / path.name).is_file():
        url = url.replace(str(path), str((root / path.name).resolve()))
    return url
