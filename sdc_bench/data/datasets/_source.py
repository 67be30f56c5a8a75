"""A suite's ``data.source = "dataset:NAME/TASK"``: the converted manifest of a registered dataset's task.

``sdc-bench data get NAME --task TASK`` without ``--out`` writes the converted task to
``<cache>/datasets/converted/NAME-TASK/``; a suite naming ``dataset:NAME/TASK`` reads its ``manifest.csv``
there. When it is missing, a dataset that downloads (an open licence and recorded sha256) is fetched and
converted on the spot; one the user must bring fails with one line saying which command to run first.
"""

from __future__ import annotations

from pathlib import Path

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.datasets._base import DATASETS, Dataset, Task

__all__ = [
    "DATASET_SOURCE_PREFIX",
    "converted_folder",
    "is_dataset_source",
    "missing_conversion",
    "parse_dataset_source",
]

DATASET_SOURCE_PREFIX = "dataset:"


def is_dataset_source(source: object) -> bool:
    """Whether a ``data.source`` value names a registered dataset's task (``dataset:spider/degeneration``)."""
    return isinstance(source, str) and source.startswith(DATASET_SOURCE_PREFIX)


def parse_dataset_source(source: str) -> tuple[Dataset, Task]:
    """The dataset and task of ``dataset:NAME/TASK`` (``dataset:NAME`` for a dataset with one task).

    >>> dataset, task = parse_dataset_source("dataset:spider/degeneration")
    >>> dataset.name, task.name
    ('spider', 'degeneration')

    Raises
    ------
    ConfigError
        An unknown dataset or task, or a value of another form.
    """
    name, _, task = source.removeprefix(DATASET_SOURCE_PREFIX).partition("/")
    if not name or "/" in task:
        raise ConfigError(
            f"data.source={source!r}: write dataset:NAME/TASK, e.g. dataset:spider/degeneration "
            "(sdc-bench list datasets)"
        )
    dataset = DATASETS[name]
    return dataset, dataset.task(task or None)


def converted_folder(cache: Path, dataset: Dataset, task: Task) -> Path:
    """Where ``data get`` without ``--out`` writes a converted task, and where a suite looks for it."""
    return cache / "datasets" / "converted" / f"{dataset.name}-{task.name}"


def missing_conversion(source: str, dataset: Dataset, task: Task, folder: Path) -> DataError:
    """The one line for a suite whose dataset task is not converted yet and cannot be downloaded."""
    return DataError(
        f"data.source={source!r}: {dataset.name}-{task.name} is not converted yet ({folder / 'manifest.csv'} is "
        f"missing); run `sdc-bench data get {dataset.name} --task {task.name} --from YOUR_COPY` first "
        f"({dataset.how_to_get or 'see sdc-bench list datasets'}), or give --data PATH/manifest.csv"
    )
