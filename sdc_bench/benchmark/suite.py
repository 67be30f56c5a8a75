"""Suite specs: TOML files (package data or a user's path) parsed into frozen dataclasses, with overrides."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sdc_bench.core.device import PRECISIONS
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.validation import Interval, Options, check_param
from sdc_bench.data.decode import RESIZE_MODES
from sdc_bench.data.spec import FREE_TYPED, DataSpec

__all__ = [
    "BUILT_IN_KINDS",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "THROUGHPUT_MODES",
    "DataSpec",
    "OwnData",
    "ProtocolSpec",
    "Suite",
    "TrainSpec",
    "apply_overrides",
    "builtin_suites",
    "is_plugin_file",
    "load_suite",
    "proposed_method",
    "protocol_seeds",
    "resolve_plugin_entry",
    "with_own_data",
]


@dataclass(frozen=True)
class ProtocolSpec:
    outer_folds: int = 5
    inner_val_fraction: float = 0.25
    # repeated cross-validation: one whole patient-grouped CV per protocol seed (its own folds and cell
    # seeds); empty means one repetition with ``suite.seed``. The data never depend on these seeds.
    seeds: tuple[int, ...] = ()
    # how probabilities become labels: 'argmax', or 'inner_threshold' (2 classes: an operating point chosen
    # on each cell's inner data, core/decision.py)
    decision: str = "argmax"


@dataclass(frozen=True)
class TrainSpec:
    batch_size: int = 32
    patience: int = 3
    # False: without a search, train each method's fixed epochs on all outer-training patients and keep
    # the final (cosine-annealed) weights. No checkpoint is picked on a small inner split, so a seed or a
    # CPU's rounding cannot flip which epoch is kept: the recipe a regression suite wants.
    early_stopping: bool = True
    # 0: no cap beyond each method's own epochs; a cap counts fine-tuning epochs, a head warm-up is extra
    max_epochs: int = 0
    min_epochs: int = 0  # early stopping never stops the final stage before this many epochs (0: no floor)
    device: str = "auto"  # 'auto' | 'cpu' | 'cuda' | 'cuda:N'
    deterministic: bool = True
    precision: str = "fp32"  # 'fp32' | 'bf16' | 'fp16' (autocast; fp16 only on CUDA)
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default (one per core)
    channels_last: bool = True  # measured on this CPU: +55% training speed for EfficientNet-Lite0
    # True (the rehearsal suite): a pretrained backbone with no weights here (no file, folder, package or
    # hub) starts from random weights, recorded as RANDOM_STAND_IN in its cells, run.json and the report
    random_weights_if_missing: bool = False


@dataclass(frozen=True)
class SearchSpec:
    """The Optuna search of each cell; ``n_trials = 0`` trains each method's defaults without a search."""

    n_trials: int = 0
    sampler: str = "tpe"  # multivariate TPE, seeded per cell
    n_startup_trials: int = 4  # random trials before TPE models the space
    pruner: str = "hyperband"  # 'hyperband' | 'median' | 'none'
    objective: str = "balanced_accuracy"  # inner-validation score to maximise


@dataclass(frozen=True)
class ThroughputSpec:
    """The run's throughput stage: the suite's backbones (plus a reference model) at the suite's size.

    Regression checks compare each backbone's speed as a ratio to ``reference_backbone`` measured in the
    same run, so a slower or busier machine does not read as a regression.
    """

    enabled: bool = True
    batch_size: int = 32
    precision: str = "fp32"
    modes: tuple[str, ...] = ("infer", "train")
    timed_steps: int = 10
    reference_backbone: str = "resnet18"


@dataclass(frozen=True)
class Suite:
    name: str = "custom"
    description: str = ""
    seed: int = 0
    methods: tuple[str, ...] = ("sdc_dl", "scratch")
    backbones: tuple[str, ...] = ("tf_efficientnet_lite0",)
    data: DataSpec = field(default_factory=DataSpec)
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    search: SearchSpec = field(default_factory=SearchSpec)
    throughput: ThroughputSpec = field(default_factory=ThroughputSpec)
    # external validation sets: name -> data-spec values that differ from [data] (e.g. site = "site_b")
    external: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> hyperparameter overrides
    # user plugins to load before the suite is checked: .py files (absolute once loaded) or module names
    plugins: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(known)}")
        default = getattr(cls(), key)
        if is_dataclass(default) and isinstance(value, dict):
            value = _build(type(default), value, f"{where}.{key}")
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple):
                raise ConfigError(f"{where}.{key} must be a list, got {value!r}")
            value = tuple(value)
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
        elif known[key].metadata.get(FREE_TYPED):
            pass  # the spec checks a value that may take several types (data.size) itself
        elif isinstance(default, int | float) and not isinstance(default, bool):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
            value = type(default)(value)
        kwargs[key] = value
    return cls(**kwargs)


def builtin_suites() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files("sdc_bench.suites").iterdir()
        if p.name.endswith(".toml")
    )


def _builtin_hint() -> str:
    """The built-in suites in a few words: the first ones by name, then how many more and where to see them."""
    names = builtin_suites()
    shown = [n for n in ("smoke", "quick", "full") if n in names] or names[:3]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more (`sdc-bench list suites`)" if more else "")


def is_plugin_file(entry: str) -> bool:
    """A plugin named by a path (``my_methods.py``, ``plugins/x.py``), not by a module name."""
    return entry.endswith(".py") or "/" in entry or "\\" in entry


def resolve_plugin_entry(entry: str, base: Path | None = None) -> str:
    """A plugin entry as a run keeps it: a file made absolute against ``base`` (the suite's folder), a module
    name unchanged."""
    if not is_plugin_file(entry):
        return entry
    path = Path(entry).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path.resolve())


def load_suite(
    name_or_path: str | Path, *, before_validation: Callable[[Suite], object] | None = None
) -> Suite:
    """A built-in suite by name (``smoke``, ``quick``, ``full``) or a TOML file by path.

    A suite's ``plugins`` (paths relative to the suite file) are made absolute; ``before_validation``
    is called with the parsed suite before its names are checked against the registries (the command
    line loads the plugins there, so the suite may name what they register).
    """
    text: str
    where = str(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(
                f"suite file {path} does not exist; give a built-in name ({_builtin_hint()}) or a .toml path"
            )
        text = path.read_text()
    else:
        resource = resources.files("sdc_bench.suites") / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(
                f"unknown suite {name_or_path!r}; built-in suites: {_builtin_hint()}, or pass a .toml path"
            )
        text = resource.read_text()
        where = f"suite {name_or_path}"
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    values.setdefault("name", path.stem if path.suffix == ".toml" else str(name_or_path))
    suite: Suite = _build(Suite, values, where)
    if suite.plugins:
        base = path.resolve().parent if path.suffix == ".toml" else None
        suite = replace(suite, plugins=tuple(resolve_plugin_entry(str(p), base) for p in suite.plugins))
    if before_validation is not None:
        before_validation(suite)
    return validate_suite(suite, where)


#: ``search.sampler`` values: multivariate TPE (seeded per cell) or random search.
SAMPLERS: tuple[str, ...] = ("tpe", "random")
#: ``search.objective`` values: the inner-validation score every trial reports and the study maximises.
OBJECTIVES: tuple[str, ...] = ("balanced_accuracy",)
#: ``search.pruner`` values: Hyperband (brackets keyed by cell), the median rule, or no pruning.
PRUNERS: tuple[str, ...] = ("hyperband", "median", "none")

#: ``throughput.modes`` values (``sdc_bench.benchmark.throughput`` measures them).
THROUGHPUT_MODES: tuple[str, ...] = ("infer", "train")

#: Method kinds of ``sdc_bench/benchmark/kinds/`` (registered when that package loads, which imports
#: torch): a suite of these is checked without it, so a bad suite or source is refused fast.
BUILT_IN_KINDS: tuple[str, ...] = ("cnn", "features")


def validate_suite(suite: Suite, where: str) -> Suite:
    # imported here: the registries' modules import this one
    from sdc_bench.core.decision import DECISIONS
    from sdc_bench.zoo.backbones import BACKBONES
    from sdc_bench.zoo.methods import METHODS

    for name in suite.methods:
        spec = METHODS.get(name)  # an unknown method fails here
        if spec.kind not in BUILT_IN_KINDS:  # a method of an unregistered kind fails here too
            from sdc_bench.benchmark.kinds import kind_of

            kind_of(spec)
    for backbone in suite.backbones:
        BACKBONES.get(backbone)
    if not suite.methods or not suite.backbones:
        raise ConfigError(f"{where}: a suite needs at least one method and one backbone")
    for method, overrides in suite.params.items():
        METHODS.get(method).params(overrides)
    check_param("data.resize", suite.data.resize, Options(RESIZE_MODES), where=where)
    check_param("protocol.decision", suite.protocol.decision, Options(tuple(DECISIONS)), where=where)
    for name, values in suite.external.items():
        external_data(suite, name)
        if not isinstance(values, dict):
            raise ConfigError(
                f"{where}: external.{name} must be a table of data settings, e.g. site = 'site_b'"
            )
    check_param("train.precision", suite.train.precision, Options(PRECISIONS), where=where)
    check_param("search.pruner", suite.search.pruner, Options(PRUNERS), where=where)
    check_param("search.sampler", suite.search.sampler, Options(SAMPLERS), where=where)
    # the fit loop scores trials by inner-validation balanced accuracy; another name would be silently ignored
    check_param("search.objective", suite.search.objective, Options(OBJECTIVES), where=where)
    _check_numbers(suite, where)
    _check_choices(suite, where)
    _check_seeds(suite.protocol.seeds, where)
    return suite


#: Every numeric setting and what it allows; checked up front, so a bad value fails before any work.
_NUMBERS: tuple[tuple[str, Interval], ...] = (
    ("seed", Interval(int, 0)),
    ("data.seed", Interval(int, -1)),  # -1 takes the suite's seed
    ("data.n_images", Interval(int, 1)),
    ("protocol.outer_folds", Interval(int, 2)),
    # data/splits.py::inner_split takes round(1 / fraction) inner folds, so it needs [0.05, 0.5]
    ("protocol.inner_val_fraction", Interval(float, 0.05, 0.5)),
    ("train.batch_size", Interval(int, 1)),
    ("train.patience", Interval(int, 0)),
    ("train.max_epochs", Interval(int, 0)),
    ("train.threads", Interval(int, 0)),
    ("search.n_trials", Interval(int, 0)),
    ("search.n_startup_trials", Interval(int, 0)),
    ("throughput.batch_size", Interval(int, 1)),
    ("throughput.timed_steps", Interval(int, 1)),
)

#: ``train.device`` values: ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N`` (whether one is visible is
#: checked when the run starts, so a GPU suite can be planned on a laptop).
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_MODALITIES = ("xray", "mri")


def _setting(suite: Suite, dotted: str) -> Any:
    value: Any = suite
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _check_numbers(suite: Suite, where: str) -> None:
    for name, constraint in _NUMBERS:
        check_param(name, _setting(suite, name), constraint, where=where)


def _check_choices(suite: Suite, where: str) -> None:
    from sdc_bench.zoo.backbones import BACKBONES

    device = suite.train.device
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ConfigError(
            f"{where}: train.device must be one of auto, cpu, mps, cuda, cuda:N, got {device!r}"
        )
    for modality in suite.data.modalities:
        check_param("data.modalities", modality, Options(_MODALITIES), where=where)
    check_param("throughput.precision", suite.throughput.precision, Options(PRECISIONS), where=where)
    for mode in suite.throughput.modes:
        check_param("throughput.modes", mode, Options(THROUGHPUT_MODES), where=where)
    BACKBONES.get(suite.throughput.reference_backbone)


def _check_seeds(seeds: tuple[int, ...], where: str) -> None:
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ConfigError(f"{where}: protocol.seeds must be integers >= 0, got {bad[0]!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: protocol.seeds has duplicates ({list(seeds)}); list each seed once")


def protocol_seeds(suite: Suite) -> tuple[int, ...]:
    """The seeds of the repeated cross-validation; a suite without ``protocol.seeds`` runs once, with its seed."""
    return tuple(suite.protocol.seeds) or (suite.seed,)


def proposed_method(suite: Suite) -> str:
    """The suite's method whose role is ``proposed`` (the first method when none is): every comparison's reference.

    Written into ``run.json`` so the reports, which may not ask the method registry, compare against it.
    """
    from sdc_bench.zoo.methods import METHODS  # the zoo pulls in torch

    proposed = [m for m in suite.methods if METHODS.get(m).role == "proposed"]
    return proposed[0] if proposed else suite.methods[0]


def data_seed(suite: Suite) -> int:
    """The seed SynthSpine is generated from: ``data.seed``, or the suite's seed when that is -1."""
    return suite.data.seed if suite.data.seed >= 0 else suite.seed


def external_data(suite: Suite, name: str) -> DataSpec:
    """The data spec of external set ``name``: the suite's [data] with that set's values changed."""
    values = suite.external.get(name)
    if values is None:
        raise ConfigError(f"no external dataset {name!r}; known: {', '.join(suite.external) or 'none'}")
    spec: DataSpec = _build(DataSpec, {**asdict(suite.data), **values}, f"external.{name}")
    return spec


@dataclass(frozen=True)
class OwnData:
    """The suite for ``run --data`` and what changed in it (:func:`with_own_data`).

    Attributes
    ----------
    suite : Suite
        The suite to run on the user's data.
    dropped_externals : tuple of str
        External sets of the suite that were SynthSpine second sites, not run.
    classes_pinned_by : str
        Who pinned ``data.classes`` for this data (the suite, in words), checked against the data's own
        classes when they are read; empty when the classes are the data's own or the user's.
    """

    suite: Suite
    dropped_externals: tuple[str, ...] = ()
    classes_pinned_by: str = ""


def with_own_data(suite: Suite, *, classes_given: bool = False) -> OwnData:
    """The suite for ``run --data``: the classes of the data, and no SynthSpine external set.

    An external set without a ``source`` of its own is the suite's [data] with a few values changed
    (``site = "site_b"``): a SynthSpine second site. Scored beside a model trained on the user's images it
    would be read as external validation of that model on a second hospital, which it is not; it is dropped
    (the caller says so).

    The suite's ``data.classes`` apply to the user's data only when they were declared for it: given on
    the command line (``classes_given``, ``--set 'data.classes=[...]'``), or pinned by a suite written for
    a dataset (its ``data.source`` is ``dataset:NAME/TASK`` or a path), whose class order the data must
    match. A SynthSpine suite's classes (and prevalence) describe SynthSpine only: they are dropped and the
    classes are the data's own.

    >>> suite = Suite(name="s", data=DataSpec(classes=("normal", "fracture"), prevalence=(0.5, 0.5)))
    >>> with_own_data(suite).suite.data.classes
    ()
    >>> with_own_data(suite, classes_given=True).suite.data.classes
    ('normal', 'fracture')
    >>> pinned = replace(suite, data=replace(suite.data, source="dataset:fraiwan/3class"))
    >>> with_own_data(pinned).classes_pinned_by
    "suite 's' (data.source = 'dataset:fraiwan/3class')"
    """
    kept = {name: values for name, values in suite.external.items() if "source" in values}
    dropped = tuple(n for n in suite.external if n not in kept)
    suite = replace(suite, external=kept)
    if classes_given or not suite.data.classes:
        return OwnData(suite, dropped)
    if suite.data.source == "synthspine":
        data = replace(suite.data, classes=(), prevalence=())
        return OwnData(replace(suite, data=data), dropped)
    return OwnData(suite, dropped, f"suite {suite.name!r} (data.source = {suite.data.source!r})")


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def apply_overrides(suite: Suite, assignments: list[str]) -> Suite:
    """Apply ``key=value`` overrides with dotted keys (``data.size=128``, ``params.sdc_dl.lr=3e-4``)."""
    values = suite.to_dict()
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"--set {assignment!r}: expected key=value, e.g. data.size=128")
        key, _, raw = assignment.partition("=")
        parts = key.strip().split(".")
        node = values
        for part in parts[:-1]:
            if part not in node and parts[0] not in {"params", "external"}:
                raise ConfigError(f"--set {key}: unknown key {part!r}")
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a table")
        node[parts[-1]] = _parse_value(raw.strip())
    rebuilt: Suite = _build(Suite, values, "--set")
    return validate_suite(replace(rebuilt), "--set")
