"""Experiment trackers (``run --track``): a run, its method groups, cells and trials mirrored into MLflow.

The run folder stays the record; a tracker is a copy of it in the lab's tracking server, written while
the run goes and completed from the stored artifacts at its end. ``--track mlflow:URI`` logs the run as
a parent run, one nested run per (method, backbone, augment, imbalance) with the pooled rows of
``metrics.csv``, under it one run per cell (its parameters, per-epoch losses and its fold's metrics),
and under a searched cell one run per Optuna trial. The report files are the parent run's artifacts.

The tracker's package (the ``[mlflow]`` extra) is imported only when a run is tracked, so ``sdc-bench
list`` and untracked runs never load it.

>>> tracker_uri("mlflow:file:./mlruns")
('mlflow', 'file:./mlruns')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from sdc_bench.core.errors import ConfigError
from sdc_bench.core.run_manifest import RunManifest, TrackingRecord

__all__ = ["TRACKERS", "Tracker", "open_tracker", "resume_tracker", "tracker_uri"]

#: ``--track`` kinds and the optional extra that installs each one's package.
TRACKERS: Mapping[str, str] = {"mlflow": "mlflow"}


class Tracker(Protocol):
    """What the pipeline asks of a tracker (it is also the runner's ``RunObserver``)."""

    def run_started(self, manifest: RunManifest, storage_url: str) -> RunManifest: ...

    def cell_done(self, cell_id: str, info: Mapping[str, Any], study: str | None) -> None: ...

    def finish(self, root: Path, studies: Mapping[str, str | None]) -> None: ...

    def stopped(self, status: str) -> None: ...


def tracker_uri(spec: str) -> tuple[str, str]:
    """``KIND:URI`` as (kind, URI), checked for form only (nothing is imported or opened).

    Raises
    ------
    ConfigError
        If the kind is not one of :data:`TRACKERS` or the URI is empty.
    """
    kind, _, uri = spec.partition(":")
    if kind not in TRACKERS or not uri.strip():
        known = ", ".join(f"{name}:URI" for name in TRACKERS)
        raise ConfigError(f"--track {spec!r}: expected {known}, e.g. --track mlflow:file:./mlruns")
    return kind, uri.strip()


def open_tracker(spec: str, experiment: str) -> Tracker:
    """The tracker of ``--track spec``, its store opened, logging into ``experiment`` (the suite's name)."""
    uri = tracker_uri(spec)[1]
    from sdc_bench.tracking._mlflow import MlflowTracker

    return MlflowTracker(uri, experiment=experiment)


def resume_tracker(record: TrackingRecord, spec: str | None) -> Tracker:
    """The tracker a resumed run recorded in ``run.json``; ``spec`` (a ``--track`` given again) must match it."""
    from sdc_bench.tracking._mlflow import MlflowTracker, absolute_uri

    if spec is not None and absolute_uri(tracker_uri(spec)[1]) != record.uri:
        raise ConfigError(
            f"--track {spec}: this run is tracked at {record.tracker}:{record.uri}; "
            "drop --track (the resumed run continues there) or give that URI"
        )
    return MlflowTracker(record.uri, record=record)
