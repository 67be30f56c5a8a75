"""What a public dataset is to sdc-bench: its files, licence, citation, tasks, and a converter to a manifest.

One module of :mod:`sdc_bench.data.datasets` per dataset subclasses :class:`Dataset`, the benchopt way: it
declares its files and tasks as data and overrides one hook, :meth:`Dataset.convert`, which reads the
dataset's published layout and returns the manifest rows of one task, with what it dropped and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sdc_bench.core.errors import ConfigError, DataError

__all__ = [
    "DATASETS",
    "Conversion",
    "Dataset",
    "DatasetRegistry",
    "RemoteFile",
    "Task",
    "register",
    "require",
]


@dataclass(frozen=True)
class RemoteFile:
    """One file a dataset downloads: its name in the cache, where it comes from, and its checksum.

    Parameters
    ----------
    name : str
        File name in the cache folder, e.g. ``images.zip``.
    url : str
        Where to download it; a path relative to ``$SDC_BENCH_DATASETS_URL`` when that is set (tests).
    sha256 : str
        Expected SHA-256 (hex); empty when not yet recorded, and then the download is refused.
    size : int
        Size in bytes (0 when unknown); shown before the download.
    unpack : bool
        A zip archive to extract beside it.
    """

    name: str
    url: str
    sha256: str = ""
    size: int = 0
    unpack: bool = False


@dataclass(frozen=True)
class Task:
    """One label rule of a dataset: its classes and the counts its paper or label files document.

    Parameters
    ----------
    name : str
        Short name, e.g. ``degeneration``; the suite and ``--task`` say ``<dataset>-<name>`` or ``<name>``.
    description : str
        The rule in one line, e.g. ``max Pfirrmann grade 5 vs <= 3 (4: dropped)``.
    classes : tuple of str
        The labels the converter writes, in order.
    unit : str
        What one label belongs to: ``patient``, ``study`` or ``image``.
    documented_counts : mapping of str to int
        Class counts from the dataset's paper or published label statistics; empty when none is
        published (then the converter's own counts are reported alone, and DATASET.md says so).
    counts_source : str
        Where the documented counts come from.
    """

    name: str
    description: str
    classes: tuple[str, ...]
    unit: str = "patient"
    documented_counts: Mapping[str, int] = field(default_factory=dict)
    counts_source: str = ""


@dataclass(frozen=True)
class Conversion:
    """A converter's result: manifest rows, and what it dropped with why.

    Attributes
    ----------
    rows : tuple of dict
        One dict per image: ``path`` (relative to the dataset's root), ``label``, ``patient_id``,
        ``modality``, ``view``, then the dataset's own ids as extra columns.
    dropped : mapping of str to tuple of str
        A reason -> the ids (patients, studies or images) dropped for it.
    notes : tuple of str
        What a user must know about this conversion (e.g. no patient ids in the files).
    totals : mapping of str to int
        What the copy held before any task rule, in the words of :attr:`Dataset.documented_totals`
        (e.g. ``{"patients": 218, "series": 447}``); compared with the documented totals.
    """

    rows: tuple[dict[str, str], ...]
    dropped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    totals: Mapping[str, int] = field(default_factory=dict)

    def counts(self, unit_column: str = "patient_id") -> dict[str, int]:
        """Labelled units per class (distinct ``unit_column`` values per label)."""
        units: dict[str, set[str]] = {}
        for row in self.rows:
            units.setdefault(row["label"], set()).add(row[unit_column])
        return {label: len(ids) for label, ids in sorted(units.items())}


class Dataset:
    """Base of every dataset module: declare the class attributes, override :meth:`convert`."""

    name: ClassVar[str]
    title: ClassVar[str]
    licence: ClassVar[str]
    citation: ClassVar[str]  # BibTeX
    homepage: ClassVar[str]
    modality: ClassVar[str]
    view: ClassVar[str] = ""
    files: ClassVar[tuple[RemoteFile, ...]] = ()
    tasks: ClassVar[tuple[Task, ...]] = ()
    how_to_get: ClassVar[str] = ""  # for a dataset the user brings: where and how to obtain it
    # Dataset-level totals its paper or release page publishes (e.g. {"patients": 218}), for datasets whose
    # per-task class counts are not published; compared with :attr:`Conversion.totals` of the same names.
    documented_totals: ClassVar[Mapping[str, int]] = {}
    totals_source: ClassVar[str] = ""

    @property
    def downloadable(self) -> bool:
        """Whether ``data get`` can download it: an open licence and files whose sha256 is recorded."""
        return bool(self.files) and all(file.sha256 for file in self.files)

    def task(self, name: str | None) -> Task:
        """The task called ``name`` (``degeneration`` or ``spider-degeneration``); ``None``: the only one."""
        if name is None:
            if len(self.tasks) == 1:
                return self.tasks[0]
            raise ConfigError(
                f"dataset {self.name!r} has {len(self.tasks)} tasks; choose one with --task "
                f"({', '.join(t.name for t in self.tasks)})"
            )
        short = name.removeprefix(f"{self.name}-")
        for task in self.tasks:
            if task.name == short:
                return task
        raise ConfigError(
            f"dataset {self.name!r} has no task {name!r}; its tasks: {', '.join(t.name for t in self.tasks)}"
        )

    def root(self, source: Path) -> Path:
        """The folder :meth:`convert` reads, given a downloaded or brought copy (default: ``source``)."""
        return source

    def convert(self, root: Path, task: Task) -> Conversion:  # pragma: no cover - every dataset overrides it
        """Read the published layout under ``root`` into the manifest rows of ``task``."""
        raise NotImplementedError(f"dataset {self.name!r} must override convert(root, task)")

    def catalog_row(self, cache: Path | None = None) -> dict[str, str]:
        """The ``sdc-bench list datasets`` row: licence, how it is obtained, whether it is cached, tasks."""
        if self.files and not self.downloadable:
            status = "open, fetch by hand (no sha256 recorded yet; --from)"
        elif not self.downloadable:
            status = "bring your own (--from)"
        elif cache is not None and all(
            (cache / "datasets" / self.name / f.name).is_file() for f in self.files
        ):
            status = "downloads (cached)"
        else:
            status = "downloads"
        tasks = []
        for task in self.tasks:
            counts = ", ".join(f"{c} {n}" for c, n in task.documented_counts.items())
            tasks.append(f"{self.name}-{task.name}" + (f" ({counts})" if counts else ""))
        return {
            "name": self.name,
            "title": self.title,
            "licence": self.licence,
            "status": status,
            "tasks": "; ".join(tasks),
        }


class DatasetRegistry(Mapping[str, Dataset]):
    """The datasets by name; a module adds its own with :func:`register`."""

    def __init__(self) -> None:
        self._datasets: dict[str, Dataset] = {}

    def add(self, dataset: Dataset) -> None:
        if dataset.name in self._datasets:
            raise ValueError(f"dataset {dataset.name!r} is registered twice")
        self._datasets[dataset.name] = dataset

    def __getitem__(self, name: str) -> Dataset:
        try:
            return self._datasets[name]
        except KeyError:
            raise ConfigError(
                f"unknown dataset {name!r}; known: {', '.join(sorted(self._datasets))} (sdc-bench list datasets)"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._datasets))

    def __len__(self) -> int:
        return len(self._datasets)


DATASETS = DatasetRegistry()
"""Every dataset sdc-bench knows, by name (``sdc-bench list datasets``)."""


def register(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: add one instance of a :class:`Dataset` subclass to :data:`DATASETS`."""
    DATASETS.add(cls())
    return cls


def require(root: Path, relative: str, dataset: str, what: str) -> Path:
    """``root / relative``, or one line naming the missing file, the dataset's layout and what it holds.

    Raises
    ------
    DataError
        When the file or folder does not exist.
    """
    path = root / relative
    if not path.exists():
        raise DataError(
            f"{path}: missing from the {dataset} copy ({what}); point --from at the folder that holds "
            f"{relative} as published"
        )
    return path
