"""What each command runs once its arguments are parsed: turn them into options and call the floors below.

Flags that are shorthands for suite settings (``--patient-regex``, ``--columns``) become ``--set`` overrides
here, so they behave exactly as ``--set data.patient_regex=...`` would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdc_bench.core.errors import ConfigError

__all__ = [
    "cmd_data_check",
    "cmd_data_get",
    "cmd_data_synth",
    "cmd_export",
    "cmd_list",
    "cmd_predict",
    "cmd_report",
    "cmd_run",
    "cmd_throughput",
    "cmd_worker",
    "data_overrides",
    "override_assignments",
]


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and not os.environ.get("CI")


def _parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` -> (0, 1, 2); a bad list is a user error (one line, exit 2)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: expected comma-separated integers >= 0, e.g. --seeds 0,1,2"
        ) from None


def data_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The data settings that ``--patient-regex`` and ``--columns`` stand for (absent flags: none)."""
    overrides: dict[str, Any] = {}
    if getattr(args, "patient_regex", None) is not None:
        overrides["data.patient_regex"] = args.patient_regex
    if getattr(args, "columns", None) is not None:
        from sdc_bench.data.columns import column_settings

        overrides["data.columns"] = column_settings(args.columns, "--columns")
    for name in ("modality", "view"):
        if getattr(args, name, None) is not None:
            overrides[f"data.{name}"] = getattr(args, name)
    return overrides


def _check_size(text: str) -> int | tuple[int, int] | str:
    """``data check --size``: ``64``, ``384x128`` or ``auto[:N]``, checked as ``data.size`` is."""
    from sdc_bench.data.spec import DataSpec

    parts = text.lower().split("x")
    value: Any = text
    if all(part.strip().isdigit() for part in parts) and len(parts) in (1, 2):
        value = int(parts[0]) if len(parts) == 1 else [int(parts[0]), int(parts[1])]
    return DataSpec(size=value).size


def _toml_value(value: Any) -> str:
    # a JSON string is a TOML basic string (ensure_ascii=False: TOML refuses \\ud800 surrogate escapes)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def override_assignments(overrides: dict[str, Any]) -> list[str]:
    """Settings as ``--set KEY=VALUE`` assignments, quoted so a regex is never read as a number."""
    return [f"{key}={_toml_value(value)}" for key, value in overrides.items()]


def _given_plugins(args: argparse.Namespace) -> list[str]:
    """``--plugin`` entries, files made absolute against the working folder."""
    from sdc_bench.benchmark.suite import resolve_plugin_entry

    return [resolve_plugin_entry(entry, Path.cwd()) for entry in getattr(args, "plugin", None) or ()]


def _recorded_plugins(args: argparse.Namespace, run_dir: Path) -> tuple[Any, ...]:
    """Load the plugins ``run.json`` of ``run_dir`` recorded (refusing changed ones); ``--plugin`` may only
    repeat one of them."""
    from sdc_bench.benchmark.run_folder import load_run_suite
    from sdc_bench.plugins import load_recorded

    manifest = load_run_suite(run_dir)[1]
    recorded = {plugin.source for plugin in manifest.plugins}
    for entry in _given_plugins(args):
        if entry not in recorded:
            raise ConfigError(
                f"--plugin {entry} was not loaded by the run in {run_dir}; a run keeps the plugins it began with "
                f"({', '.join(sorted(recorded)) or 'none'}); start a new run with --out"
            )
    return load_recorded(manifest.plugins, f"run.json of {run_dir}")


def _classes_given(assignments: list[str]) -> bool:
    """Whether ``--set`` chose ``data.classes`` (then they apply to ``--data`` as given)."""
    return any(a.partition("=")[0].strip() == "data.classes" for a in assignments)


def _load_run_suite(
    args: argparse.Namespace, changed: tuple[str, ...] = ()
) -> tuple[Any, tuple[str, ...], tuple[Any, ...], str]:
    """The suite of ``run``, the names of the suite's external sets that ``--data`` dropped, the plugins
    loaded for it (the suite's ``plugins``, ``--plugin``, installed entry points), and who pinned the
    suite's classes for ``--data`` (empty: the classes are the data's own, or the user's)."""
    from sdc_bench.benchmark.suite import apply_overrides, load_suite, validate_suite, with_own_data
    from sdc_bench.plugins import load_plugins

    if args.resume is not None:
        from sdc_bench.benchmark.run_folder import resumed_suite

        plugins = _recorded_plugins(args, Path(args.resume))
        return resumed_suite(Path(args.resume), changed), (), plugins, ""
    loaded: list[Any] = []

    def load_suite_plugins(suite: Any) -> None:
        loaded.extend(load_plugins([*suite.plugins, *_given_plugins(args)]))

    suite = load_suite(args.suite, before_validation=load_suite_plugins)
    assignments = [*(args.set or []), *override_assignments(data_overrides(args))]
    if assignments:
        suite = apply_overrides(suite, assignments)
    if args.seed is not None:
        suite = validate_suite(replace(suite, seed=args.seed), "--seed")
    if args.seeds is not None:
        suite = replace(suite, protocol=replace(suite.protocol, seeds=_parse_seeds(args.seeds)))
        validate_suite(suite, "--seeds")
    if args.data is None:
        return suite, (), tuple(loaded), ""
    own = with_own_data(suite, classes_given=_classes_given(assignments))
    return own.suite, own.dropped_externals, tuple(loaded), own.classes_pinned_by


def _say_dropped_externals(dropped: tuple[str, ...]) -> None:
    """After the work (a bad input stays one line): the suite's external sets that --data left out."""
    for name in dropped:
        print(
            f"sdc-bench: note: external set {name!r} of the suite is SynthSpine, not a second site of --data, "
            f"so it was not run; give one with --set 'external.{name}.source=PATH'",
            file=sys.stderr,
        )


def _print_plan(suite: Any) -> None:
    import sys

    from sdc_bench.benchmark.estimate import estimate_cost
    from sdc_bench.benchmark.plan import plan_cells
    from sdc_bench.benchmark.suite import protocol_seeds

    cells = plan_cells(suite, suite.protocol.outer_folds)
    seeds = protocol_seeds(suite)
    pairs = list(dict.fromkeys((c.method, c.backbone) for c in cells))
    once = sorted(
        {m for m, b in pairs if b not in suite.backbones}
    )  # e.g. fixed features: once, not per backbone
    note = f"; {', '.join(once)} once each, not per backbone" if once else ""
    print(
        f"suite {suite.name}: {len(cells)} cells = {len(pairs)} (method, backbone) pairs ({len(suite.methods)} "
        f"methods, {len(suite.backbones)} backbones{note}) x {len(seeds)} protocol seed{'s' if len(seeds) > 1 else ''} "
        f"({', '.join(map(str, seeds))}) x {suite.protocol.outer_folds} outer folds; "
        f"{suite.search.n_trials} trials per cell"
    )
    for cell in cells:
        print(f"  {cell.cell_id}  seed={cell.seed}  augment={cell.augment}  imbalance={cell.imbalance}")
    print(estimate_cost(suite, cells, progress=lambda line: print(line, file=sys.stderr, flush=True)))


def _suite_rows() -> list[dict[str, str]]:
    """Built-in suites with their descriptions (the TOML's ``description``, else its header comment).

    Read here with tomllib, not through :mod:`sdc_bench.benchmark.suite`, so listing them imports no torch.
    """
    import tomllib
    from importlib import resources

    rows = []
    for entry in sorted(resources.files("sdc_bench.suites").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        text = entry.read_text()
        header = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            header.append(line.lstrip("# ").strip())
        description = str(tomllib.loads(text).get("description", "")) or " ".join(header)
        rows.append({"name": entry.name.removesuffix(".toml"), "description": description})
    return rows


def _weight_options(args: argparse.Namespace) -> tuple[Path | None, tuple[Any, ...]]:
    """``--weights-dir`` and the ``--weights-file`` entries, checked before any data or training work."""
    from sdc_bench.zoo.backbones import check_weight_sources
    from sdc_bench.zoo.weights import WeightsFile

    weights_dir = Path(args.weights_dir) if args.weights_dir else None
    files = tuple(WeightsFile.parse(text) for text in args.weights_file or ())
    return weights_dir, check_weight_sources(files, weights_dir)


def _warn_storage_password(storage: str | None) -> None:
    """A password typed into --storage works, but it shows in the shell history: say once where it belongs."""
    from sdc_bench.core.optuna_storage import PASSWORD_ENV, masked, storage_password

    password = storage_password(storage)
    if password is not None:
        # later opens of the stored, password-less URL (the report, local workers) find it here, in memory
        os.environ[PASSWORD_ENV] = password  # the URL given now wins over an older value
        print(
            f"sdc-bench: warning: --storage {masked(storage)} carries a password; it is used but never written "
            f"or passed on a command line; better put it in ${PASSWORD_ENV}, $PGPASSWORD or ~/.pgpass",
            file=sys.stderr,
        )


def _check_data_first(suite: Any, args: argparse.Namespace, classes_pinned_by: str = "") -> None:
    """A CSV source's header, rows and classes, checked before torch is imported (about a second)."""
    if args.resume is not None:
        return
    from sdc_bench.data.prepare import check_manifest_source

    check_manifest_source(suite.data, args.data, skip_bad=args.skip_bad, classes_pinned_by=classes_pinned_by)


def cmd_run(args: argparse.Namespace) -> int:
    from sdc_bench.cli._resume_args import resume_changes
    from sdc_bench.core.device import parse_worker_devices
    from sdc_bench.core.optuna_storage import check_storage_spec

    if args.splits is not None and args.resume is not None:
        raise ConfigError(
            "--splits and --resume together: a resumed run keeps its own splits.json; drop --splits"
        )
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    devices = parse_worker_devices(args.devices, args.workers) if args.devices else ()
    workers = len(devices) if devices else (args.workers or 1)
    check_storage_spec(args.storage)  # an unknown engine fails before any data is prepared
    if args.track is not None:
        from sdc_bench.tracking import tracker_uri

        tracker_uri(args.track)  # its form; the store itself is opened before any data is prepared
    changed = resume_changes(args)
    suite, dropped, plugins, classes_pinned_by = _load_run_suite(args, changed)
    _check_data_first(suite, args, classes_pinned_by)  # the suite and the data's headers before heavy imports
    weights_dir, weights_files = _weight_options(args)
    from sdc_bench.cli._weights import check_run_weights

    if args.dry_run:
        _print_plan(suite)
        check_run_weights(suite, weights_dir, weights_files, show=True)
        _say_dropped_externals(dropped)
        return 0
    check_run_weights(suite, weights_dir, weights_files, show=False)  # before any data or training work
    from sdc_bench.benchmark.runner import RunOptions

    options = RunOptions(
        data=args.data,
        out=Path(args.out) if args.out else None,
        resume=Path(args.resume) if args.resume else None,
        progress=_progress_wanted(args),
        skip_bad=args.skip_bad,
        weights_dir=weights_dir,
        weights_files=weights_files,
        splits=Path(args.splits) if args.splits else None,
        storage=args.storage,
        workers=workers,
        devices=devices,
        keep_models=not args.no_models,
        changed_settings=changed,
        plugins=plugins,
        classes_pinned_by=classes_pinned_by,
    )
    _warn_storage_password(args.storage)
    from sdc_bench.pipeline import run_suite

    root = run_suite(suite, options, track=args.track)
    table = root / "tables" / "main_comparison.csv"
    if table.is_file():
        import pandas as pd

        from sdc_bench.reports.table_render import to_text

        print(to_text(pd.read_csv(table, keep_default_na=False)))
    print(f"run folder: {root}")
    report = root / "report.html"
    if report.is_file():
        print(f"report: {report}")
    _say_dropped_externals(dropped)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from sdc_bench.benchmark.runner import run_worker

    if args.weights_file:  # a --weights-file may name a plugin's backbone: the run's plugins load first
        _recorded_plugins(args, Path(args.run_dir))
        weights_dir, weights_files = _weight_options(args)
    else:  # a bad --weights-dir is named before the run folder is read
        weights_dir, weights_files = _weight_options(args)
        _recorded_plugins(args, Path(args.run_dir))
    _warn_storage_password(args.storage)
    ran = run_worker(
        Path(args.run_dir),
        args.storage,
        progress=_progress_wanted(args),
        weights_dir=weights_dir,
        weights_files=weights_files,
        device=args.device,
    )
    print(f"worker finished: {ran} cell(s) run here")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import importlib.metadata

    from sdc_bench.zoo.catalog import catalog

    plugins: tuple[Any, ...] = ()
    # without plugins, listing imports no torch; installed plugins (entry points) are listed too
    if args.plugin or importlib.metadata.entry_points(group="sdc_bench.plugins"):
        from sdc_bench.plugins import load_plugins

        plugins = load_plugins(_given_plugins(args))
    if args.registry == "datasets":
        from sdc_bench.data.datasets import catalog as dataset_catalog
        from sdc_bench.data.prepare import cache_root

        rows = dataset_catalog(cache_root())
    else:
        rows = _suite_rows() if args.registry == "suites" else catalog(args.registry)
    if plugins and args.registry not in ("suites", "datasets"):
        from sdc_bench.plugins import with_origins

        rows = with_origins(args.registry, rows)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sdc-bench {args.registry}")
    columns = list(rows[0]) if rows else ["name"]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console(width=200).print(table)
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from sdc_bench.data.synthspine import SynthConfig, contact_sheet, generate

    kwargs: dict[str, object] = {
        "n_images": args.n,
        "seed": args.seed,
        "size": args.size,
        "site": args.site,
        "bit_depth": args.bit_depth,
    }
    if args.classes:
        kwargs["classes"] = tuple(args.classes.split(","))
    if args.modalities:
        kwargs["modalities"] = tuple(args.modalities.split(","))
    config = SynthConfig(**kwargs)  # type: ignore[arg-type]
    out = Path(args.out)
    manifest = generate(out, config, fmt=args.format, progress=_progress_wanted(args))
    print(
        f"wrote {len(manifest)} images of {manifest['patient_id'].nunique()} patients to {out} (manifest: {out / 'manifest.csv'})"
    )
    if args.preview:
        sheet = contact_sheet(out / "contact_sheet.png", seed=args.seed, site=args.site)
        print(f"contact sheet: {sheet}")
    return 0


def cmd_data_get(args: argparse.Namespace) -> int:
    from sdc_bench.data.datasets import get_dataset

    written = get_dataset(
        args.name,
        Path(args.out) if args.out else None,
        task=args.task,
        local_copy=Path(args.local_copy) if args.local_copy else None,
        offline=True if args.offline else None,
        progress=_progress_wanted(args),
    )
    counts = ", ".join(f"{label} {n}" for label, n in written.counts.items())
    print(f"{args.name}: {counts}; {written.dropped} dropped (why: {written.card})")
    print(f"manifest: {written.manifest}   audit: {written.audit}")
    for warning in written.warnings:
        print(warning)
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from sdc_bench.cli._data_check_args import data_check_spec
    from sdc_bench.core.errors import DataError
    from sdc_bench.data.audit import audit_manifest
    from sdc_bench.data.sources import load_source
    from sdc_bench.data.spec import DataSpec

    flags = {key.removeprefix("data."): value for key, value in data_overrides(args).items()}
    spec = data_check_spec(args, DataSpec(size=_check_size(args.size), **flags))
    # a linter: every bad row and file is collected (skip_bad), then all are listed and counted
    manifest = load_source(
        args.source,
        columns=spec.column_map(),
        patient_regex=spec.patient_regex,
        skip_bad=True,
        modality=spec.modality or None,
        view=spec.view,
        allow_outside_root=spec.allow_outside_root,
        label_map=spec.label_map,
    )
    report = audit_manifest(
        manifest,
        n_folds=args.folds,
        progress=_progress_wanted(args),
        decode=True,
        skipped_ok=args.skip_bad,
        target_size=spec.size,
        allow_duplicates=spec.allow_duplicates,
        max_pixels=spec.max_image_pixels,
    )
    report = _with_slice_gaps(report, manifest, spec)
    print(report.table())
    out = Path(args.out) if args.out else Path("audit.json")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"--out {out}: cannot create its folder ({error.strerror}); choose another --out"
        ) from None
    report.to_json(out)
    print(f"audit written to {out}")
    blocking = report.blocking()
    if blocking:
        first = blocking[0]
        raise DataError(
            f"{args.source}: {len(blocking)} problem(s) would stop a run, first {first.kind}: {first.culprit}: "
            f"{first.reason}; {first.fix} (all listed above and in {out})"
        )
    return 0


def _with_slice_gaps(report: Any, manifest: Any, spec: Any) -> Any:
    """The audit with the inputs of ``data.slices`` slices whose series has a gap: problems that stop a
    run, or with ``data.allow_slice_gaps`` warnings."""
    from sdc_bench.data.problems import Problem, problem_counts
    from sdc_bench.data.slices import SLICE_GAPS_FIX, find_slice_gaps

    gaps = find_slice_gaps(manifest["path"].astype(str).tolist(), spec.slices)
    if not gaps:
        return report
    if spec.allow_slice_gaps:
        notes = tuple(
            f"slice gap accepted (data.allow_slice_gaps): {manifest['path'].iat[r]}: {gap}" for r, gap in gaps
        )
        return replace(report, warnings=(*report.warnings, *notes))
    found = [
        Problem(
            "slice gap",
            f"series {manifest['sample_id'].iat[r]!r} ({manifest['path'].iat[r]})",
            gap,
            SLICE_GAPS_FIX,
            True,
        )
        for r, gap in gaps
    ]
    problems = (*found, *report.problems)
    return replace(report, problems=problems, problem_counts=problem_counts(problems))


def cmd_throughput(args: argparse.Namespace) -> int:
    from sdc_bench.pipeline import throughput_command

    return throughput_command(args)


def cmd_report(args: argparse.Namespace) -> int:
    from sdc_bench.reports.build import build_reports
    from sdc_bench.serve.gallery_overlays import write_gallery

    write_gallery(Path(args.run_dir))  # from the kept models; says why not when there are none
    written = build_reports(Path(args.run_dir), n_bootstrap=args.bootstrap)
    print(f"rebuilt {len(written)} files in {args.run_dir}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sdc_bench.pipeline import export_command

    return export_command(args)


def cmd_predict(args: argparse.Namespace) -> int:
    from sdc_bench.pipeline import predict_command

    return predict_command(args)
