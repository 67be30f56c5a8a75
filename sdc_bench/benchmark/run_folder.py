"""A run folder's life: checks on a new ``--out``, ``run.json`` at the start, what ``--resume`` continues,
and the run's time segments.

``--resume`` continues a run exactly as it was configured: the suite comes from ``run.json``, the data must
have the fingerprint recorded there, and only settings that cannot change a result may differ
(:data:`RESULT_NEUTRAL_SETTINGS`, with ``--allow-changed-config``). A run interrupted and resumed several
times keeps one ``segments`` entry per sitting, so ``seconds`` is their sum.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from sdc_bench.benchmark.faults import active_faults
from sdc_bench.benchmark.suite import Suite, _build, apply_overrides, proposed_method, protocol_seeds
from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.optuna_storage import without_password
from sdc_bench.core.run_manifest import (
    DataRecord,
    EnvironmentRecord,
    RunManifest,
    SearchRecord,
    Segment,
    SuiteRecord,
)
from sdc_bench.core.store import RunStore, environment_info, git_revision, package_versions
from sdc_bench.data.prepare import PreparedData
from sdc_bench.zoo.methods import METHODS

__all__ = [
    "KILLED",
    "RESULT_NEUTRAL_SETTINGS",
    "RESUME_PINNED",
    "RUNNING",
    "absolute_source",
    "add_segment",
    "check_out_folder",
    "check_resumed_data",
    "check_resumed_versions",
    "earlier_segments",
    "load_run_suite",
    "resumed_suite",
    "start_manifest",
    "stored_source",
    "total_seconds",
]

#: Suite settings ``--resume --allow-changed-config`` may change: how fast cells run, never what they
#: compute. ``train.threads`` sets torch's intra-op threads; like another machine, it can move the last
#: digits of a float sum, so cells already finished keep the numbers they were computed with.
RESULT_NEUTRAL_SETTINGS: tuple[str, ...] = ("train.threads",)


def load_run_suite(run_dir: Path) -> tuple[Suite, RunManifest]:
    """The suite and the ``run.json`` manifest of an earlier run; a missing or damaged file is one line."""
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    return _build(Suite, dict(manifest.suite.tree), str(store.run_json)), manifest


def resumed_suite(run_dir: Path, changed: tuple[str, ...] = ()) -> Suite:
    """The suite of the run in ``run_dir`` with the result-neutral ``--set`` assignments ``changed`` applied.

    Raises
    ------
    ConfigError
        When the run was made with another sdc-bench or torch (:func:`check_resumed_versions`).
    """
    suite, manifest = load_run_suite(run_dir)
    check_resumed_versions(manifest, run_dir)
    return apply_overrides(suite, list(changed)) if changed else suite


#: Packages whose version must match for ``--resume``: another one can compute other numbers.
RESUME_PINNED = ("sdc-bench", "torch")


def check_resumed_versions(previous: RunManifest, run_dir: Path) -> None:
    """Refuse to continue a run made with another sdc-bench or torch: its cells and the new ones would
    mix two versions' numbers under one version record."""
    installed = package_versions()
    for name in RESUME_PINNED:
        recorded = previous.environment.packages.get(name)
        if recorded != installed.get(name):
            raise ConfigError(
                f"--resume {run_dir}: the run was made with {name} {recorded or 'unknown'}, this is "
                f"{name} {installed.get(name) or 'not installed'}; finish it with {name} {recorded or 'of that run'} "
                "(e.g. in its own environment), or start a new run with --out"
            )


def check_out_folder(root: Path) -> None:
    """A new run folder must be a folder that can be made and written; checked before any data are read."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file, not a folder; choose a folder for the run")
    parent = root
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {root} lies under {parent}, which is a file; choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {root}: cannot write in {parent} (permission denied); choose another --out")


def absolute_source(source: str | None) -> str | None:
    """A data source as stored in ``run.json``: a path made absolute, so ``--resume`` and workers started in
    another folder find the same data; ``synthspine`` and other names stay as they are."""
    if source is None or not Path(source).exists():
        return source
    return str(Path(source).resolve())


def check_resumed_data(previous: RunManifest, fingerprint: str, run_dir: Path) -> None:
    """Refuse to continue a run on data other than those its finished cells were computed on."""
    recorded = previous.data.fingerprint
    if recorded != fingerprint:
        made_with = previous.environment.packages.get("sdc-bench") or "unknown"
        raise DataError(
            f"--resume {run_dir}: the data changed since the run started (fingerprint {fingerprint}, run.json has "
            f"{recorded}; the run was made with sdc-bench {made_with}); results on other data cannot be "
            "merged; start a new run with --out"
        )


#: Status of the segment of a sitting still under way; one found on ``--resume`` was killed (SIGKILL,
#: power loss) and is kept with status :data:`KILLED` and the seconds of its last update.
RUNNING = "running"
KILLED = "killed"


def _stamp(started: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))


def add_segment(
    manifest: RunManifest, started: float, status: str, changed: tuple[str, ...] = ()
) -> RunManifest:
    """Record this sitting of the run in ``segments`` (start, seconds so far, status), total ``seconds``,
    and ``status``: a sitting's entry is written when it starts (status ``running``), updated after each
    cell and closed when it stops, so a killed sitting keeps the time of its last finished cell."""
    segment = Segment(
        started_utc=_stamp(started),
        seconds=round(time.time() - started, 1),
        status=status,
        changed_settings=tuple(changed),
    )
    earlier = tuple(manifest.segments or ())
    if earlier and earlier[-1].status == RUNNING and earlier[-1].started_utc == segment.started_utc:
        earlier = earlier[:-1]  # this sitting's own entry, updated
    segments = (*earlier, segment)
    return manifest.replace(status=status, segments=segments, seconds=total_seconds(segments))


def total_seconds(segments: Sequence[Segment]) -> float:
    return round(sum(s.seconds for s in segments), 1)


def earlier_segments(previous: RunManifest) -> tuple[Segment, ...]:
    """The sittings recorded before this one; one still ``running`` was killed and says so."""
    return tuple(replace(s, status=KILLED) if s.status == RUNNING else s for s in previous.segments or ())


def display_names(methods: Sequence[str]) -> dict[str, str]:
    """Method id -> the name tables show (``Method.display_name``, else the id), for ``run.json``."""
    return {name: METHODS.get(name).display_name or name for name in methods}


def _start_manifest(
    suite: Suite,
    data: PreparedData,
    run_id: str,
    source: str | None,
    storage_spec: str | None,
    device: str,
    started: float,
) -> RunManifest:
    """``run.json`` as written at the start of a run (status ``running``)."""
    return RunManifest(
        run_id=run_id,
        suite=SuiteRecord(suite.to_dict()),
        seed=suite.seed,
        seeds=tuple(protocol_seeds(suite)),
        proposed_method=proposed_method(suite),
        # the reports floor cannot ask the method registry: the names it shows travel in run.json
        display_names=display_names(suite.methods),
        keep_models=True,  # the caller sets the run's choice
        source=source,
        storage=storage_spec,
        data=DataRecord(
            origin=data.origin,
            fingerprint=data.fingerprint,
            n_images=len(data.manifest),
            n_patients=int(data.manifest["patient_id"].nunique()),
            classes=tuple(data.classes),
            preprocess=asdict(data.preprocess),
            size_hw=(int(data.size_hw[0]), int(data.size_hw[1])),
            slices=data.slices,
            classes_note=data.classes_note,
        ),
        search=SearchRecord(**asdict(suite.search)),
        git_revision=git_revision(),
        environment=EnvironmentRecord(**environment_info()),
        faults=active_faults().describe(),
        device=device,
        started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        status="running",
        skip_bad=False,  # the caller sets the run's choice
    )


def stored_source(suite: Suite, data: str | None) -> str | None:
    """The data source ``run.json`` records: ``--data``, or the suite's own path, made absolute."""
    if data is not None:
        return absolute_source(data)
    if suite.data.source != "synthspine" and Path(suite.data.source).exists():
        return absolute_source(suite.data.source)
    return None


def _stored_storage(spec: str | None) -> str | None:
    """The ``--storage`` value ``run.json`` records: a journal file made absolute, never a password."""
    if spec and spec.endswith(".log") and not spec.startswith("journal:"):
        return str(Path(spec).resolve())
    return without_password(spec)


def start_manifest(
    suite: Suite,
    data: PreparedData,
    run_id: str,
    source: str | None,
    storage_spec: str | None,
    device: str,
    started: float,
    previous: RunManifest | None,
) -> RunManifest:
    """``run.json`` of this sitting; a resumed run keeps its start, its config and its earlier segments."""
    manifest = _start_manifest(suite, data, run_id, source, _stored_storage(storage_spec), device, started)
    if previous is not None:
        # as configured; allowed changes are listed in the segments
        manifest = manifest.replace(
            suite=previous.suite, started_utc=previous.started_utc, segments=earlier_segments(previous)
        )
    return add_segment(manifest, started, RUNNING)
