"""The MLflow tracker: the run folder mirrored as nested MLflow runs, resumed without duplicates.

Every MLflow run this module creates carries the tag ``sdc_bench_key`` (unique within the sdc-bench
run: the run id, ``RUN/GROUP``, ``RUN/CELL`` or ``RUN/CELL/trial N``) and ``sdc_bench_run``; a resumed run
looks its runs up by these tags and logs only what is missing. A cell's run is written in one go once
the cell is done, and tagged ``sdc_bench_logged`` last: one left without the tag by a kill is deleted and
written again.

Trials are logged here from the cell's Optuna study rather than by ``optuna_integration.MLflowCallback``:
that callback is a separate package (``optuna-integration``), it logs into MLflow's process-global
"active run", which does not nest under our cell runs, and it would couple the sweep to the tracker.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.errors import ConfigError
from sdc_bench.core.optuna_storage import open_storage
from sdc_bench.core.run_manifest import RunManifest, TrackingRecord
from sdc_bench.core.store import RunStore

__all__ = ["MlflowTracker", "absolute_uri"]

KEY, RUN, LOGGED, LEVEL = "sdc_bench_key", "sdc_bench_run", "sdc_bench_logged", "sdc_bench_level"
_GROUP_COLUMNS = ("method", "backbone", "augment", "imbalance")
#: the report files logged as the parent run's artifacts (folders: every file in them)
_ARTIFACTS = ("report.html", "report.md", "metrics.csv", "comparisons.csv", "run.json", "log.txt")
_ARTIFACT_FOLDERS = ("tables", "figures")
_MAX_PARAM = 6000  # MLflow's longest parameter value


def absolute_uri(uri: str) -> str:
    """A ``file:`` URI (or a plain path) made absolute, so a resume from another folder finds the store."""
    if uri.startswith("file:"):
        path = uri.removeprefix("file:").removeprefix("//")
        return Path(path).resolve().as_uri()
    if "://" not in uri and ":" not in uri.split("/")[0]:
        return Path(uri).resolve().as_uri()
    return uri


def _client(uri: str) -> Any:
    """An ``MlflowClient`` on ``uri``, checked by listing one experiment; one line if it cannot be."""
    if uri.startswith("file:"):
        # MLflow 3 refuses a file store unless asked; --track file:... asks for one explicitly
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(
            "--track mlflow:...: MLflow is not installed; pip install 'sdc-bench[mlflow]'"
        ) from None
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as error:  # MLflow raises several kinds for a bad URI; each becomes one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"--track mlflow:{uri}: cannot open the tracking store: {first}") from None
    return client


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow parameters: dotted keys, lists as JSON, values cut to MLflow's limit."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[name] = text[:_MAX_PARAM]
    return flat


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class MlflowTracker:
    """A run as nested MLflow runs (see the module docstring); the runner's ``RunObserver``."""

    def __init__(self, uri: str, experiment: str | None = None, record: TrackingRecord | None = None) -> None:
        self.uri = absolute_uri(uri)
        self.client = _client(self.uri)
        self.experiment = experiment
        self.record = record
        self.experiment_id = record.experiment_id if record is not None else ""
        self.storage_url = ""
        self.run_id = ""
        self.runs: dict[str, Any] = {}  # sdc_bench_key -> MLflow run, of this sdc-bench run

    # -- the runs, found or made -------------------------------------------------------------------
    def _experiment_id(self) -> str:
        if self.record is not None:
            return self.record.experiment_id
        name = self.experiment or "sdc-bench"
        found = self.client.get_experiment_by_name(name)
        return str(found.experiment_id if found is not None else self.client.create_experiment(name))

    def _load_runs(self) -> None:
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.{RUN} = '{self.run_id}'", max_results=50000
        )
        self.runs = {run.data.tags[KEY]: run for run in runs if KEY in run.data.tags}

    def _child(self, key: str, name: str, parent: str | None, level: str, params: Mapping[str, Any]) -> str:
        """The MLflow run id of ``key``, created (with ``params``) under ``parent`` when it is not there."""
        if key in self.runs:
            return str(self.runs[key].info.run_id)
        tags = {KEY: key, RUN: self.run_id, LEVEL: level}
        if parent is not None:
            tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        self._log(run.info.run_id, params=params)
        self.runs[key] = run
        return str(run.info.run_id)

    def _log(
        self,
        run_id: str,
        params: Mapping[str, Any] = {},
        metrics: Iterable[tuple[str, float, int]] = (),
    ) -> None:
        """Parameters and (key, value, step) metrics, in MLflow's batch limits; non-finite values left out."""
        from mlflow.entities import Metric, Param

        items = [Param(k, str(v)[:_MAX_PARAM]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])
        now = int(time.time() * 1000)
        points = [Metric(k, float(v), now, step) for k, v, step in metrics if _finite(v)]
        for start in range(0, len(points), 1000):
            self.client.log_batch(run_id, metrics=points[start : start + 1000])

    # -- the runner's observer ---------------------------------------------------------------------
    def run_started(self, manifest: RunManifest, storage_url: str) -> RunManifest:
        """Find (resume) or create the parent run; returns ``manifest`` with its :class:`TrackingRecord`."""
        self.storage_url, self.run_id = storage_url, manifest.run_id
        self.experiment_id = self._experiment_id()
        self._load_runs()  # a resumed run's runs, found by their tags
        parent = self._child(self.run_id, self.run_id, None, "run", _flatten(manifest.suite.tree))
        self.client.update_run(parent, status="RUNNING")
        self.record = TrackingRecord("mlflow", self.uri, self.experiment_id, parent)
        return manifest.replace(tracking=self.record)

    def cell_done(self, cell_id: str, info: Mapping[str, Any], study: str | None) -> None:
        """Log a finished cell (and its trials) once, under its method group's run."""
        assert self.record is not None
        key = f"{self.run_id}/{cell_id}"
        earlier = self.runs.get(key)
        if earlier is not None and earlier.data.tags.get(LOGGED) == "true":
            return
        if earlier is not None:  # half written by a killed process: written again, whole
            for run in [r for k, r in self.runs.items() if k.startswith(f"{key}/")] + [earlier]:
                self.client.delete_run(run.info.run_id)
            self.runs = {k: r for k, r in self.runs.items() if k != key and not k.startswith(f"{key}/")}
        cell = info["cell"]
        group = _group_name(cell)
        group_id = self._child(
            f"{self.run_id}/{group}", group, self.record.parent_run_id, "method",
            {c: cell[c] for c in _GROUP_COLUMNS},
        )  # fmt: skip
        params = {**{k: v for k, v in cell.items() if k not in _GROUP_COLUMNS}, **info["params"]}
        run_id = self._child(key, cell_id, group_id, "cell", params)
        summary = ("n_fit", "n_val", "n_test", "best_epoch", "epochs_trained", "seconds")
        metrics = [(name, info[name], 0) for name in summary if name in info]
        for record in info.get("history", []):
            for name in ("train_loss", "val_loss", "val_balanced_accuracy"):
                metrics.append((name, record.get(name, math.nan), int(record["epoch"])))
        self._log(run_id, metrics=metrics)
        if study is not None:
            self._log_trials(key, run_id, study)
        self.client.set_tag(run_id, LOGGED, "true")
        self.client.set_terminated(run_id, "FINISHED")

    def _log_trials(self, key: str, cell_run: str, study: str) -> None:
        """One run per finished trial of the cell's study: its parameters, score and per-epoch reports."""
        import optuna

        for trial in optuna.load_study(study_name=study, storage=open_storage(self.storage_url)).trials:
            if not trial.state.is_finished():
                continue
            run_id = self._child(
                f"{key}/trial {trial.number}", f"trial {trial.number}", cell_run, "trial", trial.params
            )
            steps = [("val_balanced_accuracy", v, int(s)) for s, v in trial.intermediate_values.items()]
            self._log(
                run_id, metrics=[("value", trial.value if trial.value is not None else math.nan, 0), *steps]
            )
            self.client.set_tag(run_id, "state", trial.state.name)
            self.client.set_terminated(run_id, "FINISHED")

    # -- the end of a sitting ----------------------------------------------------------------------
    def finish(self, root: Path, studies: Mapping[str, str | None]) -> None:
        """Log the cells other processes ran, ``metrics.csv`` and the report files; close the runs."""
        assert self.record is not None
        store = RunStore(root)
        cells = {}
        for cell_id, study in studies.items():
            info = json.loads((store.cells_dir / f"{cell_id}.json").read_text())
            self.cell_done(cell_id, info, study)
            cells[_cell_key(info["cell"])] = cell_id
        if store.metrics.is_file():
            self._log_metrics(pd.read_csv(store.metrics, keep_default_na=False), cells)
        parent = self.record.parent_run_id
        for name in _ARTIFACTS:
            if (root / name).is_file():
                self.client.log_artifact(parent, str(root / name))
        for folder in _ARTIFACT_FOLDERS:
            if (root / folder).is_dir():
                self.client.log_artifacts(parent, str(root / folder), folder)
        for run in self.runs.values():
            if run.data.tags.get(LEVEL) == "method":
                self.client.set_terminated(run.info.run_id, "FINISHED")
        self.client.set_terminated(parent, "FINISHED")

    def _log_metrics(self, table: pd.DataFrame, cells: Mapping[tuple[Any, ...], str]) -> None:
        """Pooled rows on the group runs (and, prefixed by the group, on the parent); fold rows on the cells."""
        assert self.record is not None
        logged: dict[str, list[tuple[str, float, int]]] = {}
        for row in table.to_dict("records"):
            name = _metric_name(row)
            values = [
                (name, row["value"]),
                (f"{name}.ci_low", row["ci_low"]),
                (f"{name}.ci_high", row["ci_high"]),
            ]
            if row["scope"] == "pooled":
                group = _group_name(row)
                group_id = self.runs[f"{self.run_id}/{group}"].info.run_id
                logged.setdefault(group_id, []).extend((k, _number(v), 0) for k, v in values)
                parent = logged.setdefault(self.record.parent_run_id, [])
                parent.extend((f"{group}/{k}", _number(v), 0) for k, v in values)
            elif row["scope"] == "fold":
                cell_id = cells.get(
                    (*(row[c] for c in _GROUP_COLUMNS), int(row["seed"]), int(row["outer_fold"]))
                )
                if cell_id is not None:
                    cell_run = self.runs[f"{self.run_id}/{cell_id}"].info.run_id
                    logged.setdefault(cell_run, []).extend((k, _number(v), 0) for k, v in values)
        for run_id, metrics in logged.items():
            # a second finish (a resumed, finished run) adds no second point of an unchanged value
            latest = self.client.get_run(run_id).data.metrics
            self._log(run_id, metrics=[m for m in metrics if latest.get(m[0]) != m[1]])

    def stopped(self, status: str) -> None:
        """The sitting stopped early (``FAILED`` or ``KILLED``); ``--resume`` sets the run running again."""
        if self.record is not None and self.record.parent_run_id:
            self.client.set_terminated(self.record.parent_run_id, status)


def _group_name(row: Mapping[Any, Any]) -> str:
    return "/".join(str(row[c]) for c in _GROUP_COLUMNS)


def _cell_key(cell: Mapping[str, Any]) -> tuple[Any, ...]:
    return (*(cell[c] for c in _GROUP_COLUMNS), int(cell["repeat_seed"]), int(cell["outer_fold"]))


def _metric_name(row: Mapping[Any, Any]) -> str:
    """``metric.class``, prefixed by the split when it is not the outer test folds (``external_site_b.``)."""
    name = f"{row['metric']}.{row['class_name']}"
    if row["split"] != "test":
        name = f"{row['split']}.{name}"
    return re.sub(r"[^\w\-. /]", "_", name)  # MLflow's metric names: letters, digits, _ - . space /


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
