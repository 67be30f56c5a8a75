"""User plugins: load them (files, modules, entry points) into the registries, and record them for run.json.

A plugin is Python code that registers entries with the calls the package itself uses
(``METHODS.add(Method(...))``, ``BACKBONES.add(BackboneSpec(...))``, ``AUGMENTATIONS.add(...)``,
``IMBALANCE.add(...)``, ``FEATURES.add(...)``, ``METHOD_KINDS.add(...)``). It comes from one of:

- a file, ``my_methods.py`` (a suite's ``plugins = [...]``, relative to the suite file, or ``--plugin``);
- a module on ``sys.path``, ``my_package.sdc_plugins`` (same places);
- an installed package's entry point in the group :data:`ENTRY_POINT_GROUP`, loaded by every command
  (``[project.entry-points."sdc_bench.plugins"] my_plugins = "my_package.sdc_plugins"``; an entry
  naming a callable, ``module:register``, is called once after import).

Each new entry passes the quick checks of :mod:`sdc_bench.testing` as it is loaded, so a plugin that fails
to import, registers a name twice or breaks a contract stops the command with one line naming the plugin
and the entry (:class:`~sdc_bench.core.errors.PluginError`, exit 2), and its entries are taken back out.
A loaded plugin is a :class:`~sdc_bench.core.run_manifest.PluginRecord` (path or module, sha256 or
version, what it registered); ``run.json`` keeps them, and ``--resume``, ``worker`` and ``export`` load
the same plugins through :func:`load_recorded`, which refuses a file whose sha256 changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sdc_bench.benchmark.suite import is_plugin_file, resolve_plugin_entry
from sdc_bench.core.errors import PluginError, SdcBenchError
from sdc_bench.core.run_manifest import PluginRecord
from sdc_bench.zoo.catalog import REGISTRIES, registry
from sdc_bench.zoo.registry import Registry, registering_as

__all__ = [
    "ENTRY_POINT_GROUP",
    "is_plugin_file",
    "load_plugins",
    "load_recorded",
    "loaded_plugins",
    "resolve_plugin_entry",
    "restored_registries",
    "with_origins",
]

#: The entry-point group installed packages declare their plugins in.
ENTRY_POINT_GROUP = "sdc_bench.plugins"

#: The registry key of method kinds in a :class:`PluginRecord` (``sdc-bench list`` has no such table).
_KINDS = "method kinds"

#: What this process loaded: (kind, source) -> its record; loading the same plugin again is a no-op.
_LOADED: dict[tuple[str, str], PluginRecord] = {}


def _registries() -> dict[str, Registry[Any]]:
    from sdc_bench.benchmark.kinds import METHOD_KINDS

    return {**{name: registry(name) for name in REGISTRIES}, _KINDS: METHOD_KINDS}


def _checks() -> dict[str, Callable[[str], None]]:
    """The quick conformance check run on each entry a plugin registers (no training: the kit's
    ``check_method`` with ``fit=True`` is for the author's own tests)."""
    from sdc_bench import testing

    return {
        "backbones": testing.check_backbone,
        "augmentations": testing.check_augmentation,
        "imbalance": testing.check_imbalance,
        "methods": lambda name: testing.check_method(name, fit=False),
        "features": testing.check_feature_extractor,
        _KINDS: testing.check_method_kind,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _distribution_version(module: str) -> str | None:
    top = module.split(".")[0]
    for distribution in importlib.metadata.packages_distributions().get(top, []):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(distribution)
    found = sys.modules.get(module)
    version = getattr(found, "__version__", None)
    return str(version) if version is not None else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _import_error(label: str, error: BaseException) -> PluginError:
    """The one line for a plugin whose import raised ``error``."""
    if isinstance(error, SyntaxError):
        where = f"line {error.lineno}" if error.lineno else "its source"
        return PluginError(f"plugin {label}: syntax error at {where}: {error.msg}; fix the plugin file")
    if isinstance(error, ValueError) and "registered twice" in str(error):
        return PluginError(f"plugin {label}: {_first_line(error)}; give the entry a name of its own")
    if isinstance(error, SdcBenchError):
        return PluginError(f"plugin {label}: {_first_line(error)}")
    return PluginError(
        f"plugin {label}: importing it raised {type(error).__name__}: {_first_line(error)}; fix the plugin"
    )


def _load_one(
    kind: str,
    source: str,
    label: str,
    run: Callable[[], None],
    sha256: str | None,
    version: Callable[[], str | None],
) -> PluginRecord:
    """Run ``run`` (the import) with the registries watched; check and record what it added."""
    key = (kind, source)
    same_bytes = [r for r in _LOADED.values() if sha256 is not None and r.sha256 == sha256]
    if same_bytes:  # the same file under another path (a package's copy of the run's plugin): loaded already
        return same_bytes[0]
    if key in _LOADED:
        loaded = _LOADED[key]
        if sha256 is not None and loaded.sha256 != sha256:
            raise PluginError(
                f"plugin {label} changed since it was loaded in this process; restart the command"
            )
        return loaded
    registries = _registries()
    before = {name: set(reg.names()) for name, reg in registries.items()}

    def added() -> dict[str, tuple[str, ...]]:
        now = {
            name: tuple(n for n in reg.names() if n not in before[name]) for name, reg in registries.items()
        }
        return {name: names for name, names in now.items() if names}

    try:
        with registering_as(label):
            run()
        registered = added()
        checks = _checks()
        for name, names in registered.items():
            for entry in names:
                try:
                    checks[name](entry)
                except AssertionError as error:  # the kit's ConformanceError
                    raise PluginError(f"plugin {label}: {_first_line(error)}") from None
    except (Exception, SyntaxError) as error:
        for name, names in added().items():
            for entry in names:
                registries[name].remove(entry)
        if isinstance(error, PluginError):
            raise
        raise _import_error(label, error) from None
    if not registered:
        raise PluginError(
            f"plugin {label} registered nothing; add entries with e.g. METHODS.add(Method(...)) "
            "(see examples/my_method/)"
        )
    record = PluginRecord(kind, source, sha256, version(), registered)
    _LOADED[key] = record
    return record


def _load_file(source: str) -> PluginRecord:
    path = Path(source)
    if not path.is_file():
        raise PluginError(
            f"plugin {source}: no such file; give the path of a .py file or an importable module name"
        )
    sha256 = _sha256(path)
    module_name = f"sdc_bench_plugin_{path.stem}_{sha256[:8]}"

    def run() -> None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"plugin {source}: cannot be imported as Python; give a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look their module up here
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise

    return _load_one("file", str(path.resolve()), str(path), run, sha256, lambda: None)


def _load_module(source: str) -> PluginRecord:
    def run() -> None:
        try:
            importlib.import_module(source)
        except ModuleNotFoundError as error:
            if error.name is not None and source.startswith(error.name):
                raise PluginError(
                    f"plugin {source}: no such file or module; give a .py path, or install the package that "
                    "provides the module"
                ) from None
            raise

    return _load_one("module", source, source, run, None, lambda: _distribution_version(source))


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _load_entry_point(entry: importlib.metadata.EntryPoint) -> PluginRecord:
    def run() -> None:
        loaded = entry.load()
        if callable(loaded) and entry.attr:
            loaded()

    version = entry.dist.version if entry.dist is not None else None
    return _load_one("entry_point", f"{entry.name} = {entry.value}", entry.value, run, None, lambda: version)


def load_plugins(sources: Sequence[str] = (), *, entry_points: bool = True) -> tuple[PluginRecord, ...]:
    """Load the installed entry points (with ``entry_points``) and each of ``sources`` (a ``.py`` path or a
    module name), in that order; returns their records, each plugin once.

    Raises
    ------
    PluginError
        One line naming the plugin (and the entry) that failed to import, registered a name twice or
        broke a contract; what that plugin registered is taken back out.
    """
    records: list[PluginRecord] = []
    if entry_points:
        records += [_load_entry_point(entry) for entry in _entry_points()]
    for source in sources:
        records.append(_load_file(source) if is_plugin_file(source) else _load_module(source))
    return _unique(records)


def load_recorded(records: Sequence[PluginRecord], where: str) -> tuple[PluginRecord, ...]:
    """Load the plugins a run (or a model package) recorded, refusing any that changed since.

    ``where`` names the record (``run.json of RUN_DIR``) in the one-line refusals: a plugin file missing
    or with another sha256, a module or entry point missing or of another version.
    """
    loaded: list[PluginRecord] = []
    installed = {f"{e.name} = {e.value}": e for e in _entry_points()}
    for record in records:
        if record.kind == "file":
            path = Path(record.source)
            if not path.is_file():
                raise PluginError(
                    f"plugin {record.source} recorded in {where} is missing; restore it (its sha256 is "
                    f"{record.sha256})"
                )
            now = _sha256(path)
            if now != record.sha256:
                raise PluginError(
                    f"plugin {record.source} changed since the run began (sha256 {now[:12]}, {where} has "
                    f"{str(record.sha256)[:12]}); restore it, or start a new run with --out"
                )
            loaded.append(_load_file(record.source))
            continue
        if record.kind == "entry_point":
            if record.source not in installed:
                raise PluginError(
                    f"plugin entry point {record.source} recorded in {where} is not installed; install its package"
                )
            current = _load_entry_point(installed[record.source])
        else:
            current = _load_module(record.source)
        if current.version != record.version:
            raise PluginError(
                f"plugin {record.source} is version {current.version}, {where} has {record.version}; install "
                f"that version, or start a new run with --out"
            )
        loaded.append(current)
    return _unique([*loaded, *load_plugins(entry_points=True)])


def _unique(records: Sequence[PluginRecord]) -> tuple[PluginRecord, ...]:
    """``records`` without repeats (the first of each path or module), in order."""
    return tuple({(r.kind, r.source): r for r in records}.values())


def loaded_plugins() -> tuple[PluginRecord, ...]:
    """Every plugin this process loaded, in load order."""
    return tuple(_LOADED.values())


def with_origins(cli_name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``sdc-bench list`` rows with an ``origin`` column (``sdc_bench`` or the plugin) before the description."""
    reg = registry(cli_name)
    out = []
    for row in rows:
        items = {k: v for k, v in row.items() if k != "description"}
        out.append(
            {**items, "origin": reg.origin(str(row["name"])), "description": row.get("description", "")}
        )
    return out


@contextlib.contextmanager
def restored_registries() -> Iterator[None]:
    """Every registry (and the record of loaded plugins) as it was before the block: for tests that load
    plugins into a long-lived process."""
    registries = _registries()
    saved = {name: reg.state() for name, reg in registries.items()}
    loaded = dict(_LOADED)
    try:
        yield
    finally:
        for name, reg in registries.items():
            reg.restore(saved[name])
        _LOADED.clear()
        _LOADED.update(loaded)
