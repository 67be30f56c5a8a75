"""The pipeline above the floors: a run is plan -> cells (benchmark) -> throughput -> reports.

Kept models leave a run through ``export`` (serve packages them; a ``--refit-all`` model is trained by the
benchmark floor first) and come back through ``predict`` (serve).

The benchmark floor runs the cells and measures speed; the reports floor turns stored artifacts into
tables, figures and pages. Neither imports the other; this module calls one after the other, and the
command line (:mod:`sdc_bench.cli`) calls this module.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sdc_bench.benchmark.cell import study_name
from sdc_bench.benchmark.run_folder import resumed_suite
from sdc_bench.benchmark.runner import (
    RunOptions,
    RunState,
    finish_run,
    measure_throughput,
    run_cells,
)
from sdc_bench.benchmark.suite import Suite
from sdc_bench.core.determinism import deterministic, torch_threads
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.store import RunStore, read_throughput
from sdc_bench.serve.gallery_overlays import write_gallery
from sdc_bench.tracking import Tracker, open_tracker, resume_tracker

__all__ = [
    "RunOptions",
    "export_command",
    "predict_command",
    "run_suite",
    "throughput_command",
]


def run_suite(suite: Suite, options: RunOptions | None = None, track: str | None = None) -> Path:
    """Run every cell of ``suite`` (skipping finished ones on resume) and write all derived reports.

    ``track``: ``--track KIND:URI``, the experiment tracker to log into; a resumed run that was tracked
    continues in its tracker without it. Returns the run folder.
    """
    from sdc_bench.reports.build import build_reports  # the reports (matplotlib) load only when needed

    options = options or RunOptions()
    if options.resume is not None:
        suite = resumed_suite(Path(options.resume), options.changed_settings)
    tracker = _tracker(suite, options, track)
    options = replace(options, observer=tracker) if tracker is not None else options
    with torch_threads(suite.train.threads):
        try:
            state = run_cells(suite, options)
            with deterministic(False):  # timing, not results: no deterministic-kernel slowdown
                _throughput_stage(state)
            # finished first, so the report built next shows the run's final status, not 'running'
            finish_run(state)
            write_gallery(state.store.root)  # Grad-CAM of the confidently wrong cases, for the report
            build_reports(state.store.root)
        except BaseException as error:
            if tracker is not None:
                tracker.stopped("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            raise
    if tracker is not None:
        searched = state.suite.search.n_trials > 0
        run_id = state.manifest.run_id
        tracker.finish(
            state.store.root,
            {c.cell_id: study_name(run_id, c.cell_id) if searched else None for c in state.cells},
        )
    return state.store.root


def _tracker(suite: Suite, options: RunOptions, track: str | None) -> Tracker | None:
    """The run's tracker: ``--track``, or the one a resumed run recorded; opened before any work is done."""
    if options.resume is not None:
        record = RunStore(Path(options.resume)).read_manifest().tracking
        if record is not None:
            return resume_tracker(record, track)
    return open_tracker(track, suite.name) if track is not None else None


def _throughput_stage(state: RunState) -> None:
    from sdc_bench.reports.throughput_view import write_throughput

    table = measure_throughput(state)
    if table is None:
        return
    write_throughput(table, state.store.root / "throughput.csv")
    backbones = table["backbone"].nunique()
    state.store.log_line(f"throughput: {backbones} backbones measured on {state.device}")


def throughput_command(args: argparse.Namespace) -> int:
    """Run ``sdc-bench throughput`` from parsed arguments; print the Markdown view; return the exit code."""
    from sdc_bench.benchmark.throughput import ThroughputConfig, measure
    from sdc_bench.reports.throughput_view import markdown_table, write_throughput

    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--out {args.out!r} must end in .csv or .parquet")
    config = ThroughputConfig(
        backbones=args.backbones,
        batch_sizes=args.batch_sizes,
        precisions=args.precision,
        channels_last=(False, True) if args.channels_last else (False,),
        compile=(False, True) if args.compile else (False,),
        modes=args.modes,
        img_size=args.img_size,
        in_chans=args.in_chans,
        device=args.device,
        warmup_steps=args.warmup,
        timed_steps=args.steps,
        repeats=args.repeats,
    )
    previous = read_throughput(out) if args.resume else None
    if previous is not None:
        print(f"resuming from {out} ({len(previous)} row(s) there)")
    table = measure(
        config, progress=not args.quiet, previous=previous, on_row=lambda rows: write_throughput(rows, out)
    )
    paths = write_throughput(table, out)
    print(markdown_table(table))
    not_ok = int((table["status"] != "ok").sum())
    if not_ok:
        print(f"{not_ok} configuration(s) skipped or failed; see the error column")
    print(f"written: {', '.join(map(str, paths))}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Run ``sdc-bench export``: pick a run's kept models, optionally refit on all patients, write the package."""
    from sdc_bench.benchmark.run_folder import load_run_suite
    from sdc_bench.plugins import load_plugins, load_recorded
    from sdc_bench.serve.export import Refit, export_package
    from sdc_bench.serve.select import select_members

    run_dir = Path(args.run_dir)
    manifest = load_run_suite(run_dir)[1]
    load_recorded(manifest.plugins, f"run.json of {run_dir}")  # a plugin's network is rebuilt below
    load_plugins(getattr(args, "plugin", None) or ())
    selection = select_members(run_dir, args.method, args.backbone, args.seed)
    refit = None
    if args.refit_all:
        from sdc_bench.benchmark.refit import refit_all

        refit = Refit(*refit_all(selection.store.root, selection.metas, progress=not args.quiet))
    package = export_package(selection, Path(args.out), refit=refit, onnx=args.onnx, plugins=manifest.plugins)
    kind = "refit model" if refit is not None else f"ensemble of {len(selection.metas)} out-of-fold models"
    print(f"exported {args.method} on {selection.backbone} ({kind}) to {package.parent}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """Run ``sdc-bench predict``: a package's probabilities for every image of a source, as CSV."""
    from sdc_bench.plugins import load_plugins, load_recorded
    from sdc_bench.serve.package import package_plugins
    from sdc_bench.serve.predict import PredictOptions, predict_source, write_predictions

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    options = PredictOptions(
        batch_size=args.batch_size,
        device=args.device,
        skip_bad=args.skip_bad,
        member=args.member,
        cam_dir=Path(args.cam) if args.cam else None,
    )
    load_recorded(package_plugins(args.model_dir), f"package.json of {args.model_dir}")
    load_plugins(getattr(args, "plugin", None) or ())
    result = predict_source(Path(args.model_dir), args.data, options)
    out = write_predictions(result, args.out)
    for path, reason in result.skipped:
        print(f"skipped {path}: {reason}")
    flagged = int(result.frame[["unseen_modality", "unseen_size", "unseen_bit_depth"]].any(axis=1).sum())
    print(f"{len(result.frame)} predictions written to {out} ({flagged} flagged as unlike the training data)")
    if args.cam:
        print(f"{len(result.frame)} Grad-CAM overlays written to {args.cam} (column cam_png of {out})")
    print(f"{result.images_per_s:.1f} images/s")
    return 0
