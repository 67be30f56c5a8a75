"""A run folder's life: checks on a new ``--out``, ``run.json`` at the start, what ``--resume`` continues,
and the run's time segments.

``--resume`` continues a run exactly as it was configured: the suite comes from ``run.json``, the data must
have the fingerprint recorded there, and only settings that cannot change a result may differ
(:data:`RESULT_NEUTRAL_SETTINGS`, with ``--allow-changed-config``). A run interrupted and resumed several
times keeps one ``segments`` entry per sitting, so ``seconds`` is their sum.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sdc_bench.benchmark.faults import active_faults
from sdc_bench.benchmark.suite import Suite, _build, apply_overrides, proposed_method, protocol_seeds
from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.storage import without_password
from sdc_bench.core.store import KEEP_MODELS_KEY, PROPOSED_METHOD_KEY, environment_info, git_revision
from sdc_bench.data.prepare import PreparedData
from sdc_bench.zoo.methods import METHODS

__all__ = [
    "RESULT_NEUTRAL_SETTINGS",
    "absolute_source",
    "add_segment",
    "check_out_folder",
    "check_resumed_data",
    "earlier_segments",
    "load_run_suite",
    "resumed_suite",
    "start_payload",
    "stored_source",
    "total_seconds",
]

#: Suite settings ``--resume --allow-changed-config`` may change: how fast cells run, never what they
#: compute. ``train.threads`` sets torch's intra-op threads; like another machine, it can move the last
#: digits of a float sum, so cells already finished keep the numbers they were computed with.
RESULT_NEUTRAL_SETTINGS: tuple[str, ...] = ("train.threads",)


def load_run_suite(run_dir: Path) -> tuple[Suite, dict[str, Any]]:
    """The suite and the ``run.json`` payload of an earlier run; a missing or damaged file is one line."""
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise ConfigError(f"{run_dir}: no run.json there; give the folder of an earlier sdc-bench run")
    try:
        payload = json.loads(run_json.read_text())
        suite_values, run_id = payload["suite"], payload["run_id"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        reason = error.__class__.__name__ if isinstance(error, KeyError | TypeError) else str(error)
        raise ConfigError(
            f"{run_json} is damaged ({reason}); it cannot be resumed: restore it from a backup, "
            "or start a new run (its finished cells in cells/ cannot be reused without it)"
        ) from None
    if not isinstance(suite_values, dict) or not run_id:
        raise ConfigError(f"{run_json} is damaged (no suite or run_id); restore it, or start a new run")
    return _build(Suite, suite_values, str(run_json)), payload


def resumed_suite(run_dir: Path, changed: tuple[str, ...] = ()) -> Suite:
    """The suite of the run in ``run_dir`` with the result-neutral ``--set`` assignments ``changed`` applied."""
    suite = load_run_suite(run_dir)[0]
    return apply_overrides(suite, list(changed)) if changed else suite


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


def check_resumed_data(previous: dict[str, Any], fingerprint: str, run_dir: Path) -> None:
    """Refuse to continue a run on data other than those its finished cells were computed on."""
    recorded = (previous.get("data") or {}).get("fingerprint")
    if recorded is None:
        try:
            recorded = json.loads((run_dir / "splits.json").read_text()).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            recorded = None
    if recorded is not None and recorded != fingerprint:
        raise DataError(
            f"--resume {run_dir}: the data changed since the run started (fingerprint {fingerprint}, run.json has "
            f"{recorded}); results on other data cannot be merged; start a new run with --out"
        )


def add_segment(payload: dict[str, Any], started: float, status: str, changed: tuple[str, ...] = ()) -> None:
    """Close this sitting of the run: one ``segments`` entry (start, seconds, how it ended), total ``seconds``."""
    segment: dict[str, Any] = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "status": status,
    }
    if changed:
        segment["changed_settings"] = list(changed)
    payload["segments"] = [*payload.get("segments", []), segment]
    payload["seconds"] = total_seconds(payload["segments"])


def total_seconds(segments: list[dict[str, Any]]) -> float:
    return round(sum(float(s.get("seconds", 0.0)) for s in segments), 1)


def earlier_segments(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """The sittings recorded before this one (a run.json older than ``segments``: its ``seconds`` as one)."""
    segments = previous.get("segments")
    if isinstance(segments, list):
        return segments
    if previous.get("seconds") is not None:
        return [
            {"started_utc": previous.get("started_utc"), "seconds": previous["seconds"], "status": "done"}
        ]
    return []


def display_names(methods: Sequence[str]) -> dict[str, str]:
    """Method id -> the name tables show (``Method.display_name``, else the id), for ``run.json``."""
    return {name: METHODS.get(name).display_name or name for name in methods}


def _run_payload(
    suite: Suite,
    data: PreparedData,
    run_id: str,
    source: str | None,
    storage_spec: str | None,
    device: str,
    started: float,
) -> dict[str, Any]:
    """``run.json`` as written at the start of a run (status ``running``)."""
    return {
        "run_id": run_id,
        "suite": suite.to_dict(),
        "seed": suite.seed,
        "seeds": list(protocol_seeds(suite)),
        PROPOSED_METHOD_KEY: proposed_method(suite),
        # the reports floor cannot ask the method registry: the names it shows travel in run.json
        "display_names": display_names(suite.methods),
        KEEP_MODELS_KEY: True,  # the caller sets the run's choice
        "source": source,
        "storage": storage_spec,
        "data": {
            "origin": data.origin,
            "fingerprint": data.fingerprint,
            "n_images": len(data.manifest),
            "n_patients": int(data.manifest["patient_id"].nunique()),
            "classes": list(data.classes),
            "preprocess": asdict(data.preprocess),
            "size_hw": list(data.size_hw),
            "slices": data.slices,
        },
        "search": asdict(suite.search),
        "git_revision": git_revision(),
        "environment": environment_info(),
        "faults": active_faults().describe(),
        "device": device,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "status": "running",
    }


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


def start_payload(
    suite: Suite,
    data: PreparedData,
    run_id: str,
    source: str | None,
    storage_spec: str | None,
    device: str,
    started: float,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """``run.json`` of this sitting; a resumed run keeps its start, its config and its earlier segments."""
    payload = _run_payload(suite, data, run_id, source, _stored_storage(storage_spec), device, started)
    if previous is not None:
        payload["suite"] = previous["suite"]  # as configured; allowed changes are listed in the segments
        payload["started_utc"] = previous.get("started_utc", payload["started_utc"])
        payload["segments"] = earlier_segments(previous)
    return payload
