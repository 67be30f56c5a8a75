"""Public spine datasets in one command: a registry of datasets, their verified downloads, and converters.

Each module of this package declares one dataset (files, licence, citation, tasks with their documented
class counts) and converts its published layout to a manifest; they are all imported here, so a new
dataset is one new module and nothing else. ``sdc-bench list datasets`` shows :data:`DATASETS`;
``sdc-bench data get`` runs :func:`get_dataset`.

Examples
--------
>>> from sdc_bench.data.datasets import DATASETS
>>> DATASETS["spider"].task("degeneration").classes
('severe', 'mild')
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sdc_bench.data.datasets._base import DATASETS, Conversion, Dataset, RemoteFile, Task, register, require
from sdc_bench.data.datasets._fetch import (
    BASE_URL_ENV,
    OFFLINE_ENV,
    ResumableDownload,
    dataset_cache,
    fetch,
    file_url,
)
from sdc_bench.data.datasets._source import (
    DATASET_SOURCE_PREFIX,
    converted_folder,
    is_dataset_source,
    missing_conversion,
    parse_dataset_source,
)
from sdc_bench.data.datasets._write import WrittenDataset, count_warnings, write_dataset

__all__ = [
    "BASE_URL_ENV",
    "DATASETS",
    "DATASET_SOURCE_PREFIX",
    "OFFLINE_ENV",
    "Conversion",
    "Dataset",
    "RemoteFile",
    "ResumableDownload",
    "Task",
    "WrittenDataset",
    "catalog",
    "converted_folder",
    "count_warnings",
    "dataset_cache",
    "fetch",
    "file_url",
    "get_dataset",
    "is_dataset_source",
    "parse_dataset_source",
    "register",
    "require",
    "resolve_dataset_source",
    "write_dataset",
]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")


def catalog(cache: Path | None = None) -> list[dict[str, str]]:
    """The ``sdc-bench list datasets`` rows, by name."""
    return [DATASETS[name].catalog_row(cache) for name in DATASETS]


def get_dataset(
    name: str,
    out: Path | None = None,
    *,
    task: str | None = None,
    local_copy: Path | None = None,
    cache: Path | None = None,
    base_url: str | None = None,
    offline: bool | None = None,
    progress: bool = False,
) -> WrittenDataset:
    """Fetch (or take from ``local_copy``) dataset ``name``, convert one task, and write it to ``out``.

    Parameters
    ----------
    name : str
        A registered dataset, e.g. ``spider``.
    out : pathlib.Path, optional
        The folder to write: ``images/``, ``manifest.csv``, ``audit.json``, ``DATASET.md``; default the
        cache's converted folder (:func:`converted_folder`), where a suite's ``dataset:NAME/TASK`` finds it.
    task : str, optional
        The task (``degeneration`` or ``spider-degeneration``); needed when the dataset has several.
    local_copy : pathlib.Path, optional
        A copy in the published layout; nothing is downloaded. Required for a bring-your-own dataset.
    cache : pathlib.Path, optional
        The cache root for downloads (default: ``$SDC_BENCH_CACHE``).
    base_url, offline, progress
        As in :func:`fetch`.

    Raises
    ------
    ConfigError
        An unknown dataset or task.
    DataError
        One line: a missing file of the layout, a failed download, nothing left to write.
    """
    dataset = DATASETS[name]
    chosen = dataset.task(task)
    if cache is None:
        from sdc_bench.data.prepare import cache_root

        cache = cache_root()
    if out is None:
        out = converted_folder(cache, dataset, chosen)
    if local_copy is not None:
        if not local_copy.is_dir():
            from sdc_bench.core.errors import DataError

            raise DataError(
                f"--from {local_copy}: not a folder; give the folder of a {name} copy as published"
            )
        source = local_copy
    else:
        source = fetch(dataset, cache, base_url=base_url, offline=offline, progress=progress)
    root = dataset.root(source)
    return write_dataset(dataset, chosen, dataset.convert(root, chosen), root, out)


def resolve_dataset_source(source: str, cache: Path | None = None, *, progress: bool = False) -> Path:
    """The converted ``manifest.csv`` a suite's ``data.source = "dataset:NAME/TASK"`` stands for.

    Converted already (``sdc-bench data get NAME --task TASK`` without ``--out``): its manifest. Not yet, and
    the dataset downloads: fetched, verified and converted now. Not yet, and the user must bring it: one line
    saying which command to run.

    Raises
    ------
    ConfigError
        An unknown dataset or task.
    DataError
        Not converted and not downloadable, or a failed download.
    """
    dataset, task = parse_dataset_source(source)
    if cache is None:
        from sdc_bench.data.prepare import cache_root

        cache = cache_root()
    folder = converted_folder(cache, dataset, task)
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return manifest
    if not dataset.downloadable:
        raise missing_conversion(source, dataset, task, folder)
    return get_dataset(dataset.name, folder, task=task.name, cache=cache, progress=progress).manifest
