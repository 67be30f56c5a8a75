"""Runs a suite's cells: data -> folds -> cells (search, refit, predict) -> predictions.

Each finished cell is written atomically to ``cells/``; ``--resume`` skips those, so a killed run loses at
most the cell in flight (and, inside it, only the trial in flight: finished trials live in the Optuna
storage). Everything downstream (throughput, reports) is run by :mod:`sdc_bench.pipeline` and
re-derived from the stored predictions.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sdc_bench.benchmark.cell import CellContext, run_cell, study_name
from sdc_bench.benchmark.faults import active_faults
from sdc_bench.benchmark.plan import Cell, plan_cells
from sdc_bench.benchmark.run_folder import (
    RUNNING,
    add_segment,
    check_out_folder,
    check_resumed_data,
    load_run_suite,
    resumed_suite,
    start_manifest,
    stored_source,
)
from sdc_bench.benchmark.suite import (
    Suite,
    data_seed,
    external_data,
    protocol_seeds,
)
from sdc_bench.core.decision import check_decision
from sdc_bench.core.determinism import deterministic, torch_threads
from sdc_bench.core.device import VISIBLE_DEVICES_ENV, pinned_worker, resolve_device
from sdc_bench.core.errors import ConfigError, SdcBenchError
from sdc_bench.core.optuna_storage import (
    PASSWORD_ENV,
    open_storage,
    storage_password,
    storage_url,
    without_password,
)
from sdc_bench.core.run_manifest import PluginRecord, RunManifest, WorkerRecord
from sdc_bench.core.store import (
    RunStore,
    write_parquet,
)
from sdc_bench.data.audit import audit_manifest, audit_warnings
from sdc_bench.data.prepare import PreparedData, prepare_data
from sdc_bench.data.splits import Fold, load_splits, outer_folds, reuse_splits, save_splits
from sdc_bench.zoo.weights import WeightsFile

__all__ = [
    "RunObserver",
    "RunOptions",
    "RunState",
    "finish_run",
    "load_run_suite",
    "measure_throughput",
    "run_cells",
    "run_worker",
    "worker_command",
]


class RunObserver(Protocol):
    """Watches a run from this process (``run --track``): told when it starts and when each cell is done.

    Cells that other worker processes finish are not reported here; the observer reads them from the
    run folder afterwards.
    """

    def run_started(self, manifest: RunManifest, storage_url: str) -> RunManifest:
        """Called before ``run.json`` is written; returns the manifest to write (with what to resume)."""
        ...

    def cell_done(self, cell_id: str, info: Mapping[str, Any], study: str | None) -> None:
        """Called once a cell's record is written; ``study``: its Optuna study, None without a search."""
        ...


@dataclass(frozen=True)
class RunOptions:
    data: str | None = None  # overrides the suite's data source
    out: Path | None = None  # run folder; default runs/<suite>-<timestamp>
    runs_dir: Path = Path("runs")
    resume: Path | None = None
    progress: bool = True
    skip_bad: bool = False
    weights_dir: Path | None = None
    weights_files: tuple[WeightsFile, ...] = ()  # --weights-file: one local file per backbone
    splits: Path | None = None  # --splits: outer folds of an earlier run's splits.json instead of new ones
    storage: str | None = None  # Optuna storage; default SQLite in the run folder
    workers: int = 1  # local worker processes (JournalStorage unless --storage is given)
    # --devices: one per local worker, each started pinned to its device (this process only follows them)
    devices: tuple[str, ...] = ()
    keep_models: bool = True  # save each cell's final model in models/ (run --no-models: False)
    # --resume --allow-changed-config: --set assignments of result-neutral settings (run_folder.py)
    changed_settings: tuple[str, ...] = ()
    # user plugins loaded for this run (sdc_bench.plugins), recorded in run.json
    plugins: tuple[PluginRecord, ...] = ()
    observer: RunObserver | None = None  # run --track: the experiment tracker
    # run --data with a suite that pins data.classes for its own dataset: who pinned them (with_own_data);
    # the data's own classes must then match them, or the run stops with one line naming both lists
    classes_pinned_by: str = ""


def _write_data_artifacts(store: RunStore, data: PreparedData, seed: int, per_class: int = 6) -> None:
    """The run's own copy of the manifest (for the dataset-flow table) and a few images per class (sample grid)."""
    columns = [
        c
        for c in ("sample_id", "label", "patient_id", "modality", "view", "source", "site")
        if c in data.manifest
    ]
    write_parquet(store.root / "manifest.parquet", data.manifest[columns].astype(str))
    rng = np.random.default_rng(seed)
    labels = data.manifest["label"].to_numpy()
    rows = np.sort(
        np.concatenate(
            [
                rng.choice(
                    np.flatnonzero(labels == name),
                    size=min(per_class, int((labels == name).sum())),
                    replace=False,
                )
                for name in data.classes
            ]
        )
    )
    tmp = store.root / ".samples.tmp.npz"
    np.savez_compressed(
        tmp,
        images=np.asarray(data.images[rows]),
        labels=labels[rows].astype(str),
        sample_ids=data.manifest["sample_id"].to_numpy()[rows].astype(str),
        modality=data.manifest["modality"].to_numpy()[rows].astype(str),
    )
    tmp.replace(store.root / "samples.npz")


def _external_sets(suite: Suite, data: PreparedData, progress: bool) -> dict[str, PreparedData]:
    """External validation sets, restricted to the training classes (another site, another seed)."""
    sets: dict[str, PreparedData] = {}
    for index, name in enumerate(suite.external):
        spec = replace(external_data(suite, name), classes=data.classes)
        external = prepare_data(spec, seed=data_seed(suite) + 1000 + index, progress=progress)
        overlap = set(external.manifest["patient_id"]) & set(data.manifest["patient_id"])
        if overlap:
            raise ConfigError(
                f"external set {name!r} shares {len(overlap)} patients with the training data; it must be disjoint"
            )
        sets[name] = external
    return sets


def _context(
    suite: Suite, data: PreparedData, store: RunStore, run_id: str, device: str, url: str, options: RunOptions
) -> CellContext:
    folds_by_seed = {seed: load_splits(store.splits_json, seed) for seed in protocol_seeds(suite)}
    return CellContext(
        suite=suite,
        data=data,
        folds=next(iter(folds_by_seed.values())),
        folds_by_seed=folds_by_seed,
        run_id=run_id,
        device=device,
        storage_url=url,
        progress=options.progress,
        weights_dir=options.weights_dir,
        weights_files=options.weights_files,
        external=_external_sets(suite, data, options.progress),
        keep_models=store if options.keep_models else None,
    )


def _do_cell(
    cell: Cell,
    ctx: CellContext,
    store: RunStore,
    bar: Any | None = None,
    observer: RunObserver | None = None,
) -> None:
    if store.cell_done(cell.cell_id):
        return
    frame, info = run_cell(cell, ctx)
    info["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    info["device"] = ctx.device
    info["cuda_visible_devices"] = os.environ.get(VISIBLE_DEVICES_ENV)
    store.write_cell(cell.cell_id, frame, info)
    if observer is not None:
        observer.cell_done(
            cell.cell_id, info, study_name(ctx.run_id, cell.cell_id) if info["search"] else None
        )
    accuracy = float((frame["y_true"] == frame["y_pred"]).mean())
    trials = (
        f", {info['search']['n_trials']} trials ({info['search']['n_pruned']} pruned)"
        if info["search"]
        else ""
    )
    line = f"{cell.cell_id}: accuracy {accuracy:.3f} on {len(frame)} images{trials}, {info['epochs_trained']} epochs, {info['seconds']:.1f}s"
    store.log_line(line)
    if bar is not None:
        bar.write(line)


@dataclass
class RunState:
    """A run whose cells are all done and whose predictions are collected: what the later stages need."""

    suite: Suite
    store: RunStore
    cells: list[Cell]
    manifest: RunManifest  # run.json as written at the start; :func:`finish_run` completes it
    started: float
    device: str
    progress: bool
    changed_settings: tuple[str, ...] = ()  # --allow-changed-config: recorded in this sitting's segment


def _run_folder(suite: Suite, options: RunOptions) -> tuple[Suite, RunOptions, Path, str, RunManifest | None]:
    """The run's suite, options, folder, id and earlier ``run.json``: the earlier run's on ``--resume``."""
    if options.resume is not None:
        root = Path(options.resume)
        previous = load_run_suite(root)[1]
        suite = resumed_suite(root, options.changed_settings)
        # replace, not asdict: asdict would turn the WeightsFile entries into dicts
        options = replace(
            options,
            data=previous.source,
            storage=options.storage or previous.storage,
            keep_models=previous.keep_models,  # a resumed run keeps its choice
            skip_bad=options.skip_bad or previous.skip_bad,
        )
        return suite, options, root, previous.run_id, previous
    root = Path(options.out) if options.out else RunStore.new_run_dir(options.runs_dir, suite.name)
    check_out_folder(root)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(
            f"--out {root} exists and is not empty; choose a new folder or pass --resume {root}"
        )
    # unique across machines and folders: runs may share one Optuna database
    return suite, options, root, f"{root.name}-{secrets.token_hex(3)}", None


def _write_data_and_splits(
    suite: Suite,
    data: PreparedData,
    store: RunStore,
    options: RunOptions,
    reused: dict[int, list[Fold]] | None = None,
) -> None:
    """The audit, the run's copy of the data artifacts, and one set of outer folds per protocol seed.

    ``reused``: the folds of ``--splits``, already checked against the data, used instead of new ones.
    """
    audit = audit_manifest(
        data.manifest,
        n_folds=suite.protocol.outer_folds,
        progress=options.progress,
        target_size=data.preprocess.size,
        inner_folds=max(2, round(1 / suite.protocol.inner_val_fraction)),
        allow_duplicates=suite.data.allow_duplicates,
        max_pixels=suite.data.max_image_pixels,
    )
    if data.size_note:
        store.log_line(data.size_note)
    if data.gap_note:  # accepted with data.allow_slice_gaps: said in the log, the audit and the report
        store.log_line(data.gap_note)
        audit = replace(audit, warnings=(*audit.warnings, data.gap_note))
    if data.classes_note:
        store.log_line(data.classes_note)
        audit = replace(audit, classes_note=data.classes_note)
    audit.to_json(store.root / "audit.json")
    for line in audit_warnings(audit.problems, Path("audit.json")):  # the run folder is printed at the end
        store.log_line(line)
        print(f"sdc-bench: warning: {line}", file=sys.stderr)
    _write_data_artifacts(store, data, suite.seed)
    seeds = protocol_seeds(suite)
    if not store.splits_json.is_file():
        # one set of outer folds per protocol seed; the data stay those of suite.seed
        repeats = reused or {
            seed: outer_folds(data.manifest, suite.protocol.outer_folds, seed) for seed in seeds
        }
        save_splits(
            store.splits_json,
            repeats[seeds[0]],
            {"seed": seeds[0], "n_folds": suite.protocol.outer_folds, "fingerprint": data.fingerprint},
            repeats=repeats,
        )


def _is_distributed(options: RunOptions, storage_spec: str | None) -> bool:
    """Cells go through a work queue: several local workers, or a storage that other machines share."""
    spec = storage_spec or ""
    local = options.workers > 1 or bool(options.devices)
    return local or spec.startswith(("postgresql", "journal:")) or spec.endswith(".log")


def _run_all(
    ctx: CellContext,
    store: RunStore,
    cells: list[Cell],
    url: str,
    options: RunOptions,
    distributed: bool,
    started: float,
) -> None:
    """Every cell not done yet, in this process or through the work queue, under one progress bar."""
    done_before = sum(store.cell_done(c.cell_id) for c in cells)
    if done_before:
        store.log_line(f"resume: {done_before} of {len(cells)} cells already done")
    bar = tqdm(
        total=len(cells),
        initial=done_before,
        desc=f"{ctx.suite.name} cells",
        unit="cell",
        disable=not options.progress,
    )
    if distributed:
        _run_distributed(ctx, store, cells, url, options, bar)
    else:
        for cell in cells:
            if not store.cell_done(cell.cell_id):
                _do_cell(cell, ctx, store, bar, options.observer)
                bar.update(1)
                # this sitting's time so far: a SIGKILL loses at most the cell in flight from segments
                store.update_manifest(lambda m: add_segment(m, started, RUNNING, options.changed_settings))
    bar.close()


def run_cells(suite: Suite, options: RunOptions = RunOptions()) -> RunState:
    """Run every cell of ``suite`` (skipping finished ones on resume) and write ``predictions.parquet``.

    The caller runs the later stages (throughput, reports) and then :func:`finish_run`;
    :func:`sdc_bench.pipeline.run_suite` does all of it.
    """
    suite, options, root, run_id, previous = _run_folder(suite, options)
    if options.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {options.workers}")
    if options.devices and len(options.devices) != options.workers:
        raise ConfigError(
            f"--workers {options.workers} but --devices names {len(options.devices)} device(s); "
            "give one device per worker"
        )
    for worker_device in options.devices:  # a GPU this machine lacks fails before any data work
        resolve_device(worker_device, "--devices")
    store = RunStore(root)
    device = str(resolve_device(suite.train.device, "train.device"))
    started = time.time()
    # the data are checked before anything is written, so a bad source leaves no half run folder behind
    data = prepare_data(
        suite.data,
        seed=data_seed(suite),
        source=options.data,
        progress=options.progress,
        skip_bad=options.skip_bad,
        classes_pinned_by=options.classes_pinned_by,
    )
    check_decision(suite.protocol.decision, data.classes)  # before the run folder: K > 2 is one line
    if previous is not None:
        check_resumed_data(previous, data.fingerprint, root)
    seeds = protocol_seeds(suite)
    reused = (  # --splits is checked against the data before the run folder is made, like the data
        reuse_splits(options.splits, data.manifest, seeds, suite.protocol.outer_folds)
        if options.splits is not None
        else None
    )
    root.mkdir(parents=True, exist_ok=True)
    store.log_line(
        f"run {run_id}: suite {suite.name}, seed {suite.seed}, device {device}, data {data.origin}"
    )
    if active_faults().describe():
        store.log_line(f"INJECTED FAULTS (a test hook, not a real result): {active_faults().describe()}")
    for line in store.set_aside_unreadable_cells() if previous is not None else []:
        store.log_line(line)
    _write_data_and_splits(suite, data, store, options, reused)
    storage_spec = options.storage
    if (options.workers > 1 or options.devices) and not storage_spec:
        storage_spec = str(root / "optuna-journal.log")
    url = storage_url(storage_spec, root)
    source = options.data if previous is not None else stored_source(suite, options.data)
    manifest = start_manifest(suite, data, run_id, source, storage_spec, device, started, previous)
    manifest = manifest.replace(
        keep_models=options.keep_models,
        skip_bad=options.skip_bad,
        plugins=previous.plugins if previous is not None else options.plugins,
        tracking=previous.tracking if previous is not None else None,
    )
    if options.observer is not None:
        manifest = options.observer.run_started(manifest, url)
    store.write_manifest(manifest)
    ctx = _context(suite, data, store, run_id, device, url, options)
    cells = plan_cells(suite, len(ctx.folds))
    try:
        with deterministic(suite.train.deterministic and device == "cpu"):
            _run_all(ctx, store, cells, url, options, _is_distributed(options, storage_spec), started)
    except BaseException as error:
        # the time spent so far counts towards the run's seconds when it is resumed
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        store.update_manifest(lambda m: add_segment(m, started, status, options.changed_settings))
        store.log_line(f"{status}: {type(error).__name__}: {error}; finished cells are kept for --resume")
        raise
    write_parquet(store.predictions, store.collect_predictions([c.cell_id for c in cells]))
    return RunState(
        suite, store, cells, manifest, started, device, options.progress, options.changed_settings
    )


def _run_distributed(
    ctx: CellContext, store: RunStore, cells: list[Cell], url: str, options: RunOptions, bar: Any
) -> None:
    from sdc_bench.benchmark.queue import init_queue, queue_counts, work_queue

    storage = open_storage(url)
    init_queue(storage, ctx.run_id, cells, lambda c: store.cell_done(c.cell_id))
    launches = (
        [worker_command(store.root, url, options, device) for device in options.devices]
        if options.devices
        else [worker_command(store.root, url, options)] * (options.workers - 1)
    )
    helpers = [subprocess.Popen(command, env=env) for command, env in launches]

    def follow() -> None:
        bar.n = sum(store.cell_done(c.cell_id) for c in cells)
        bar.refresh()

    def handle(cell: Cell) -> None:
        _do_cell(cell, ctx, store, bar, options.observer)
        follow()

    if options.devices:
        # every device has its pinned worker: this process only follows them
        while any(helper.poll() is None for helper in helpers):
            follow()
            time.sleep(1.0)
    else:
        work_queue(storage, ctx.run_id, cells, handle)
    for helper in helpers:
        helper.wait()
    # remote workers may still hold cells: wait for them (a dead one's cell is re-queued by its heartbeat)
    heartbeats = url.startswith("postgresql")
    while not all(store.cell_done(c.cell_id) for c in cells):
        work_queue(storage, ctx.run_id, cells, handle)
        counts = queue_counts(storage, ctx.run_id)
        # nothing waiting and no claim that can still finish: a worker failed; never wait forever
        if counts["waiting"] == 0 and (counts["running"] == 0 or not heartbeats):
            missing = [c.cell_id for c in cells if not store.cell_done(c.cell_id)]
            raise SdcBenchError(
                f"{len(missing)} cell(s) were not finished by any worker (first: {missing[0]}); "
                f"see {store.log} and the workers' output, then `sdc-bench run --resume {store.root}`"
            )
        time.sleep(2.0)
    failed = [h.returncode for h in helpers if h.returncode]
    if failed:
        store.log_line(f"{len(failed)} local worker(s) exited with errors {failed}; their cells were re-run")


def worker_command(
    root: Path, url: str, options: RunOptions, device: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """A local worker's command line and environment: the storage password, if any, goes in the environment
    (a command line is visible to every user in ``ps``), never in the arguments.

    ``device`` (one of ``--devices``): the worker is pinned to it (``CUDA_VISIBLE_DEVICES`` and ``--device``,
    :func:`~sdc_bench.core.device.pinned_worker`); None: it trains on the suite's ``train.device``.
    """
    # local workers load the same weights as this process
    weights = ["--weights-dir", str(options.weights_dir)] if options.weights_dir else []
    weights += [arg for f in options.weights_files for arg in ("--weights-file", f.argument)]
    public = without_password(url) or url
    command = [
        sys.executable,
        "-m",
        "sdc_bench",
        "worker",
        str(root),
        "--storage",
        public,
        "--quiet",
        *weights,
    ]
    env = dict(os.environ)
    if device is not None:
        device_argument, env = pinned_worker(device, env)
        command += ["--device", device_argument]
    password = storage_password(url)
    if password is not None:
        env[PASSWORD_ENV] = password
    return command, env


def measure_throughput(state: RunState) -> pd.DataFrame | None:
    """Speed of the trained backbones (and the reference model) on this machine, beside the results.

    None when the suite has no throughput stage or the run folder already holds ``throughput.csv``.
    """
    from sdc_bench.benchmark.kinds import kind_of
    from sdc_bench.benchmark.throughput import ThroughputConfig, measure
    from sdc_bench.zoo.methods import METHODS

    suite, store = state.suite, state.store
    spec = suite.throughput
    if not spec.enabled or store.root.joinpath("throughput.csv").is_file():
        return None
    measured = any(kind_of(METHODS.get(m)).has_throughput_backbone for m in suite.methods)
    trained = [b for b in suite.backbones if measured]
    backbones = tuple(dict.fromkeys([*trained, spec.reference_backbone]))
    geometry = state.manifest.data
    config = ThroughputConfig(
        backbones=backbones,
        batch_sizes=(spec.batch_size,),
        precisions=(spec.precision,),
        channels_last=(suite.train.channels_last,),
        modes=spec.modes,
        # the run's real geometry (run.json: "auto" resolved): (rows, columns), K slices as channels
        img_size=geometry.size_hw,
        in_chans=geometry.slices,
        device=state.device,
        timed_steps=spec.timed_steps,
    )
    return measure(config, progress=state.progress)


def _worker_records(store: RunStore, cells: list[Cell], device: str) -> tuple[WorkerRecord, ...]:
    """Which worker ran which cell on which device, from the cell records (in the order of first cells).

    A cell record of an older sitting without ``device`` counts as run on the run's ``device``.
    """
    by_worker: dict[str, tuple[str, str | None, list[str]]] = {}
    for cell in cells:
        info = json.loads((store.cells_dir / f"{cell.cell_id}.json").read_text())
        worker = str(info.get("worker", "unknown"))
        entry = by_worker.setdefault(
            worker, (str(info.get("device", device)), info.get("cuda_visible_devices"), [])
        )
        entry[2].append(cell.cell_id)
    return tuple(
        WorkerRecord(worker, worker_device, visible, tuple(cell_ids))
        for worker, (worker_device, visible, cell_ids) in by_worker.items()
    )


def finish_run(state: RunState) -> None:
    """Mark the run done in ``run.json``: finish time, duration and each cell's weights."""
    store = state.store
    weights = {}
    for cell in state.cells:
        info = json.loads((store.cells_dir / f"{cell.cell_id}.json").read_text())
        weights[cell.cell_id] = str(info["weights"])
    finished_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    workers = _worker_records(store, state.cells, state.device)
    state.manifest = store.update_manifest(
        lambda m: add_segment(
            m.replace(finished_utc=finished_utc, weights=weights, workers=workers),
            state.started,
            "done",
            state.changed_settings,
        )
    )
    store.log_line(f"done in {state.manifest.seconds}s")


def run_worker(
    run_dir: Path,
    storage: str | None,
    *,
    progress: bool = False,
    weights_dir: Path | None = None,
    weights_files: tuple[WeightsFile, ...] = (),
    device: str | None = None,
) -> int:
    """Join a run: claim cells from its queue until none is left. Returns the number of cells run here.

    ``device`` (``worker --device``): train on it instead of the suite's ``train.device``.
    """
    from sdc_bench.benchmark.queue import work_queue

    suite, manifest = load_run_suite(run_dir)
    store = RunStore(run_dir)
    url = storage or storage_url(manifest.storage, run_dir)
    device = str(
        resolve_device(device, "--device")
        if device is not None
        else resolve_device(suite.train.device, "train.device")
    )
    options = RunOptions(
        progress=progress,
        weights_dir=weights_dir,
        weights_files=weights_files,
        keep_models=manifest.keep_models,
    )
    data = prepare_data(suite.data, seed=data_seed(suite), source=manifest.source, progress=progress)
    ctx = _context(suite, data, store, manifest.run_id, device, url, options)
    cells = plan_cells(suite, len(ctx.folds))
    with deterministic(suite.train.deterministic and device == "cpu"), torch_threads(suite.train.threads):
        return work_queue(open_storage(url), ctx.run_id, cells, lambda cell: _do_cell(cell, ctx, store))
