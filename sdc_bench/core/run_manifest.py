"""The run manifest (``run.json``): one frozen, typed definition of what a run folder says about its run.

The benchmark writes it when a run starts (status ``running``, this sitting's ``segments`` entry), updates
that entry after each cell and when the sitting stops, completes it when the run is done (``finished_utc``,
``weights``), and the reports, ``regress`` and ``serve`` read it. :class:`~sdc_bench.core.store.RunStore`
is the only reader and writer of the file; it adds ``content_sha256``, so a file edited by hand is refused.

The file carries :data:`FORMAT_VERSION` (key ``format_version``); a folder of another version, or of a
version of sdc-bench that wrote none, is refused in one line: re-run the suite, or read the folder with
the sdc-bench version that made it.

>>> manifest = RunManifest.from_json(example_payload(), "run.json")
>>> manifest.data.fingerprint, manifest.suite.name, manifest.seeds
('0123456789abcdef', 'example', (0,))
>>> RunManifest.from_json(manifest.to_json(), "run.json") == manifest
True
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sdc_bench.core.errors import RunManifestError

__all__ = [
    "FORMAT_VERSION",
    "FORMAT_VERSION_KEY",
    "DataRecord",
    "EnvironmentRecord",
    "PluginRecord",
    "RunManifest",
    "SearchRecord",
    "Segment",
    "SuiteRecord",
    "TrackingRecord",
    "WorkerRecord",
    "example_payload",
]

#: Version of the ``run.json`` layout this sdc-bench writes and reads.
FORMAT_VERSION = 1
#: The key holding it, the first one of the file.
FORMAT_VERSION_KEY = "format_version"

_FIX = "re-run the suite with this sdc-bench, or read the folder with the sdc-bench version that made it"


@dataclass(frozen=True)
class SuiteRecord:
    """The suite as it was configured: the suite's own TOML tree (``Suite.to_dict()``), read by accessor.

    The suite's dataclasses live on the benchmark floor, which this floor cannot import; the tree is
    kept as written, and every value another floor reads has an accessor here.
    """

    tree: Mapping[str, Any]

    #: (section, key) pairs every accessor reads; a run.json without one is refused when read.
    REQUIRED: typing.ClassVar[tuple[tuple[str, ...], ...]] = (
        ("name",), ("description",), ("seed",), ("methods",), ("backbones",), ("data", "source"),
        ("protocol", "outer_folds"), ("protocol", "inner_val_fraction"), ("train",),
        ("throughput", "reference_backbone"),
    )  # fmt: skip

    def _at(self, *keys: str) -> Any:
        value: Any = self.tree
        for key in keys:
            value = value[key]
        return value

    @property
    def name(self) -> str:
        return str(self._at("name"))

    @property
    def description(self) -> str:
        return str(self._at("description"))

    @property
    def seed(self) -> int:
        return int(self._at("seed"))

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(map(str, self._at("methods")))

    @property
    def backbones(self) -> tuple[str, ...]:
        return tuple(map(str, self._at("backbones")))

    @property
    def data(self) -> Mapping[str, Any]:
        """The suite's data settings (``[data]``): source, size, resize, ..."""
        return typing.cast(Mapping[str, Any], self._at("data"))

    @property
    def data_source(self) -> str:
        return str(self._at("data", "source"))

    @property
    def data_columns(self) -> Mapping[str, str]:
        """The manifest's column names (``data.columns``; empty: the default names)."""
        return typing.cast(Mapping[str, str], self._at("data", "columns") or {})

    @property
    def patient_regex(self) -> str | None:
        value = self._at("data", "patient_regex")
        return None if value is None else str(value)

    @property
    def allow_outside_root(self) -> bool:
        return bool(self._at("data", "allow_outside_root"))

    @property
    def outer_folds(self) -> int:
        return int(self._at("protocol", "outer_folds"))

    @property
    def inner_val_fraction(self) -> float:
        return float(self._at("protocol", "inner_val_fraction"))

    @property
    def train(self) -> Mapping[str, Any]:
        """The suite's training settings (``[train]``), in the suite's order."""
        return typing.cast(Mapping[str, Any], self._at("train"))

    @property
    def reference_backbone(self) -> str:
        """The throughput stage's reference model (``throughput.reference_backbone``)."""
        return str(self._at("throughput", "reference_backbone"))


@dataclass(frozen=True)
class DataRecord:
    """The data a run was computed on (``run.json`` ``data``)."""

    origin: str
    fingerprint: str
    n_images: int
    n_patients: int
    classes: tuple[str, ...]
    preprocess: Mapping[str, Any]
    size_hw: tuple[int, int]
    slices: int
    classes_note: str = ""  # the classes are the user's data's own (run --data): the report's sentence


@dataclass(frozen=True)
class SearchRecord:
    """The hyperparameter search settings of a run (``run.json`` ``search``)."""

    n_trials: int
    sampler: str
    n_startup_trials: int
    pruner: str
    objective: str


@dataclass(frozen=True)
class EnvironmentRecord:
    """The machine and software a run ran on (``run.json`` ``environment``)."""

    python: str
    platform: str
    host: str
    cpu_count: int | None
    cpu_model: str
    torch_threads: int
    cuda: str | None
    device: str
    packages: Mapping[str, str | None]
    # how idle OpenMP threads waited (sdc_bench.core.openmp.wait_setting) and the cores the process
    # could use; absent in run folders written before they were recorded
    openmp_wait: str | None = None
    usable_cores: int | None = None


@dataclass(frozen=True)
class PluginRecord:
    """One user plugin a run loaded (``run.json`` ``plugins``): what it is, which version, what it added.

    ``kind`` is ``file`` (``source`` an absolute path; ``sha256`` of its bytes), ``module`` (an importable
    module name; ``version`` of its distribution, if any) or ``entry_point`` (``group`` entry ``name =
    module:attr`` of an installed package). ``registered`` maps a registry (``methods``, ``backbones``,
    ``augmentations``, ``imbalance``, ``features``, ``method kinds``) to the names the plugin added there.
    """

    kind: str
    source: str
    sha256: str | None
    version: str | None
    registered: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Segment:
    """One sitting of a run (start, seconds, how it ended); ``changed_settings`` of ``--allow-changed-config``."""

    started_utc: str
    seconds: float
    status: str
    changed_settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackingRecord:
    """Where ``--track`` logs the run: the tracker's URI, its experiment and the run's parent tracker run.

    A resumed run continues this parent run (and finds its cell runs by tag) instead of starting new ones.
    """

    tracker: str  # "mlflow"
    uri: str  # file: URIs made absolute, so a resume from another folder finds the same store
    experiment_id: str
    parent_run_id: str


@dataclass(frozen=True)
class WorkerRecord:
    """One worker process of a run and the cells it ran (``run.json`` ``workers``).

    ``worker`` is ``HOST:PID``, as in each cell record; ``device`` the device its cells trained on, as
    that process named it; ``cuda_visible_devices`` its ``CUDA_VISIBLE_DEVICES`` (None: not set; ``""``:
    no GPU), so a worker pinned by ``--devices cuda:1`` reads ``device`` ``cuda:0`` on GPU ``1``.
    """

    worker: str
    device: str
    cuda_visible_devices: str | None
    cells: tuple[str, ...]


@dataclass(frozen=True)
class RunManifest:
    """``run.json``: what a run was, on what, where, and how far it got.

    Keys are written in this order, ``format_version`` first; ``finished_utc`` and ``weights`` are absent
    until the run is done; ``segments`` holds one entry per sitting from its start; ``workers`` is
    written when the run is done, ``tracking`` only when the run is tracked (``run --track``) and
    ``plugins`` only when the run loaded some.
    """

    run_id: str
    suite: SuiteRecord
    seed: int
    seeds: tuple[int, ...]
    proposed_method: str  # the method every comparison is made against (the suite's ``proposed`` role)
    display_names: Mapping[
        str, str
    ]  # method id -> the name tables show (the reports cannot ask the registry)
    keep_models: bool  # one model per cell kept in models/ (``run --no-models``: False)
    source: str | None  # the data source given to the run (``--data``, absolute), None for the suite's own
    storage: str | None  # the ``--storage`` given (never a password); None: optuna.db in the folder
    data: DataRecord
    search: SearchRecord
    git_revision: str
    environment: EnvironmentRecord
    faults: Mapping[str, object]  # injected faults (a test hook); empty in a real run
    device: str
    started_utc: str
    status: str  # running | interrupted | failed | done
    skip_bad: bool
    finished_utc: str | None = None
    weights: Mapping[str, str] | None = None  # cell id -> where its starting weights came from
    segments: tuple[Segment, ...] | None = None
    seconds: float | None = None
    plugins: tuple[PluginRecord, ...] = ()  # user plugins the run loaded; written only when there are some
    tracking: TrackingRecord | None = None  # ``run --track``: absent when the run is not tracked
    workers: tuple[WorkerRecord, ...] = ()  # which worker ran which cell on which device (once done)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``run.json`` (``format_version`` first; absent optional keys left out)."""
        payload: dict[str, Any] = {FORMAT_VERSION_KEY: FORMAT_VERSION}
        for item in fields(self):
            value = getattr(self, item.name)
            if (value is None and item.default is None) or (value == () and item.default == ()):
                continue
            payload[item.name] = _plain(value)
        return payload

    @classmethod
    def from_json(cls, payload: Any, where: object = "run.json") -> RunManifest:
        """Check and type a ``run.json`` object; ``where`` names the file in the one-line errors.

        Raises
        ------
        RunManifestError
            If the object is not one, has another format version, or lacks a key or holds one unknown here.
        """
        if not isinstance(payload, Mapping):
            raise RunManifestError(f"{where} is damaged (not a JSON object); restore it, or {_FIX}")
        version = payload.get(FORMAT_VERSION_KEY)
        if version != FORMAT_VERSION:
            found = "none (written before run.json had a version)" if version is None else repr(version)
            raise RunManifestError(
                f"{where}: run folder format version {found}, this sdc-bench reads version {FORMAT_VERSION}; "
                f"{_FIX}"
            )
        body = {k: v for k, v in payload.items() if k != FORMAT_VERSION_KEY}
        manifest = _build(cls, body, str(where), "")
        for keys in SuiteRecord.REQUIRED:
            try:
                manifest.suite._at(*keys)
            except (KeyError, TypeError):
                raise RunManifestError(
                    f"{where} is damaged: no suite.{'.'.join(keys)}; restore it, or {_FIX}"
                ) from None
        return manifest

    def replace(self, **changes: Any) -> RunManifest:
        """A copy with ``changes`` (the runner's status and segment updates)."""
        return dataclasses.replace(self, **changes)


def _plain(value: Any) -> Any:
    """A manifest value as JSON data: records as objects, tuples as lists, the suite as its tree."""
    if isinstance(value, SuiteRecord):
        return _plain(value.tree)
    if isinstance(value, Segment):
        plain = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if not value.changed_settings:
            del plain["changed_settings"]  # written only when a sitting changed a setting
        return plain
    if isinstance(value, DataRecord):
        plain = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if not value.classes_note:
            del plain["classes_note"]  # written only when the classes are the user's data's own
        return plain
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # an optional field left at its default None is not written (older readers never saw it)
        return {
            f.name: _plain(getattr(value, f.name))
            for f in fields(value)
            if not (f.default is None and getattr(value, f.name) is None)
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _build(cls: type, values: Any, where: str, prefix: str) -> Any:
    """``cls`` from a JSON object: every required field present, no unknown key, each value of its type."""
    if cls is SuiteRecord:
        if not isinstance(values, Mapping):
            raise RunManifestError(f"{where} is damaged: suite is not an object; restore it, or {_FIX}")
        return SuiteRecord(dict(values))
    if not isinstance(values, Mapping):
        raise RunManifestError(
            f"{where} is damaged: {prefix.rstrip('.')} is not an object; restore it, or {_FIX}"
        )
    known = {f.name: f for f in fields(cls)}
    unknown = [k for k in values if k not in known]
    if unknown:
        raise RunManifestError(
            f"{where}: unknown key {prefix}{unknown[0]} for run.json format version {FORMAT_VERSION}; {_FIX}"
        )
    kwargs: dict[str, Any] = {}
    for name, item in known.items():
        if name not in values:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise RunManifestError(f"{where} is damaged: no {prefix}{name}; restore it, or {_FIX}")
            continue
        kwargs[name] = _typed(_hints(cls)[name], values[name], where, f"{prefix}{name}")
    return cls(**kwargs)


def _typed(hint: Any, value: Any, where: str, name: str) -> Any:
    """``value`` checked against (and converted to) the annotation ``hint``."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        hint = next(a for a in arguments if a is not type(None))
        origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where, f"{name}.")
    if origin is tuple and isinstance(value, list):
        inner = arguments[0]
        return tuple(_typed(inner, v, where, f"{name}[{i}]") for i, v in enumerate(value))
    if origin is Mapping and isinstance(value, dict):
        return {key: _typed(arguments[1], item, where, f"{name}.{key}") for key, item in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is Any or (
        isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        return value
    raise RunManifestError(
        f"{where} is damaged: {name} is {type(value).__name__} {value!r:.40}, not {getattr(hint, '__name__', hint)}; "
        f"restore it, or {_FIX}"
    )


def example_payload() -> dict[str, Any]:
    """A small, complete ``run.json`` object (for examples and tests)."""
    return {
        FORMAT_VERSION_KEY: FORMAT_VERSION,
        "run_id": "example-000000",
        "suite": {
            "name": "example", "description": "", "seed": 0, "methods": ["sdc_dl"], "backbones": ["resnet18"],
            "data": {"source": "synthspine"}, "protocol": {"outer_folds": 2, "inner_val_fraction": 0.25},
            "train": {"batch_size": 32}, "throughput": {"reference_backbone": "resnet18"},
        },
        "seed": 0,
        "seeds": [0],
        "proposed_method": "sdc_dl",
        "display_names": {"sdc_dl": "SDC-DL"},
        "keep_models": True,
        "source": None,
        "storage": None,
        "data": {
            "origin": "synthspine", "fingerprint": "0123456789abcdef", "n_images": 10, "n_patients": 5,
            "classes": ["normal", "abnormal"], "preprocess": {"size": 64}, "size_hw": [64, 64], "slices": 1,
        },
        "search": {
            "n_trials": 0, "sampler": "tpe", "n_startup_trials": 4, "pruner": "hyperband",
            "objective": "balanced_accuracy",
        },
        "git_revision": "unknown",
        "environment": {
            "python": "3.11.7", "platform": "Linux", "host": "example", "cpu_count": 2, "cpu_model": "cpu",
            "torch_threads": 2, "cuda": None, "device": "x86_64", "packages": {"torch": "2.5.0"},
        },
        "faults": {},
        "device": "cpu",
        "started_utc": "2026-01-01T00:00:00Z",
        "status": "running",
        "skip_bad": False,
    }  # fmt: skip
