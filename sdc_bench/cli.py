"""The ``sdc-bench`` command line: run, list, data, report, regress."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdc_bench import __version__
from sdc_bench.core.errors import ConfigError, SdcBenchError
from sdc_bench.zoo.catalog import REGISTRIES

__all__ = ["build_parser", "main"]


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and not os.environ.get("CI")


def _parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2`` -> (0, 1, 2); a bad list is a user error (one line, exit 2)."""
    from sdc_bench.core.errors import ConfigError

    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: expected comma-separated integers >= 0, e.g. --seeds 0,1,2"
        ) from None


def _cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sdc_bench.benchmark.plan import plan_cells
    from sdc_bench.benchmark.runner import RunOptions
    from sdc_bench.benchmark.suite import apply_overrides, load_suite, validate_suite

    if args.resume is not None:
        from sdc_bench.benchmark.runner import load_run_suite

        suite = load_run_suite(Path(args.resume))[0]
    else:
        suite = load_suite(args.suite)
        if args.set:
            suite = apply_overrides(suite, args.set)
        if args.seed is not None:
            suite = replace(suite, seed=args.seed)
        if args.seeds is not None:
            suite = replace(suite, protocol=replace(suite.protocol, seeds=_parse_seeds(args.seeds)))
            validate_suite(suite, "--seeds")
    if args.dry_run:
        from sdc_bench.benchmark.estimate import estimate_cost
        from sdc_bench.benchmark.suite import protocol_seeds

        cells = plan_cells(suite, suite.protocol.outer_folds)
        seeds = protocol_seeds(suite)
        print(
            f"suite {suite.name}: {len(cells)} cells ({len(suite.methods)} methods x {len(suite.backbones)} backbones x {len(seeds)} protocol seeds ({', '.join(map(str, seeds))}) x {suite.protocol.outer_folds} outer folds), {suite.search.n_trials} trials per cell"
        )
        for cell in cells:
            print(f"  {cell.cell_id}  seed={cell.seed}  augment={cell.augment}  imbalance={cell.imbalance}")
        print(estimate_cost(suite, cells))
        return 0
    options = RunOptions(
        data=args.data,
        out=Path(args.out) if args.out else None,
        resume=Path(args.resume) if args.resume else None,
        progress=_progress_wanted(args),
        skip_bad=args.skip_bad,
        weights_dir=Path(args.weights_dir) if args.weights_dir else None,
        storage=args.storage,
        workers=args.workers,
    )
    from sdc_bench.pipeline import run_suite

    root = run_suite(suite, options)
    print(f"run folder: {root}")
    table = root / "tables" / "main_comparison.md"
    if table.is_file():
        print(table.read_text())
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from sdc_bench.benchmark.runner import run_worker

    ran = run_worker(
        Path(args.run_dir),
        args.storage,
        progress=_progress_wanted(args),
        weights_dir=Path(args.weights_dir) if args.weights_dir else None,
    )
    print(f"worker finished: {ran} cell(s) run here")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from sdc_bench.benchmark.suite import builtin_suites
    from sdc_bench.zoo.catalog import catalog

    if args.registry == "suites":
        rows = [{"name": name} for name in builtin_suites()]
    else:
        rows = catalog(args.registry)
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


def _cmd_data_synth(args: argparse.Namespace) -> int:
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


def _cmd_data_check(args: argparse.Namespace) -> int:
    from sdc_bench.data.audit import audit_manifest
    from sdc_bench.data.sources import load_source

    manifest = load_source(args.source, skip_bad=args.skip_bad)
    report = audit_manifest(manifest, n_folds=args.folds, progress=_progress_wanted(args))
    print(report.table())
    out = Path(args.out) if args.out else Path("audit.json")
    report.to_json(out)
    print(f"audit written to {out}")
    return 0


def _cmd_throughput(args: argparse.Namespace) -> int:
    from sdc_bench.pipeline import throughput_command

    return throughput_command(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from sdc_bench.reports.build import build_reports

    written = build_reports(Path(args.run_dir), n_bootstrap=args.bootstrap)
    print(f"rebuilt {len(written)} files in {args.run_dir}")
    return 0


def _band_rules(args: argparse.Namespace) -> tuple[Any, Any]:
    from sdc_bench.benchmark.regress import BandRule

    if args.k_sd <= 0 or args.floor < 0 or args.max_band <= 0 or args.speed_floor < 0:
        raise ConfigError(
            "--k-sd and --max-band must be positive, --floor and --speed-floor zero or more; e.g. --k-sd 4 --floor 0.02"
        )
    metric_rule = BandRule(k_sd=args.k_sd, floor=args.floor, max_band=args.max_band)
    speed_rule = BandRule(k_sd=args.k_sd, floor=0.0, floor_relative=args.speed_floor, max_band=math.inf)
    return metric_rule, speed_rule


def _write_baseline(run_dirs: Sequence[str], out: Path, args: argparse.Namespace) -> int:
    from sdc_bench.benchmark.regress import baseline_from_samples, samples_from_run, write_baseline

    metric_rule, speed_rule = _band_rules(args)
    samples = [sample for run_dir in run_dirs for sample in samples_from_run(run_dir)]
    suites = {
        json.loads((Path(r) / "run.json").read_text()).get("suite", {}).get("name", "") for r in run_dirs
    }
    payload = baseline_from_samples(
        samples, suite="+".join(sorted(suites)), rule=metric_rule, speed_rule=speed_rule
    )
    write_baseline(out, payload)
    ungated = [m for m in payload["metrics"] if not m["gated"]]
    print(
        f"baseline written: {out} (K={len(samples)} runs, {len(payload['metrics'])} metrics, "
        f"{len(payload.get('throughput', {}).get('ratios', []))} speed ratios; {metric_rule.text()})"
    )
    if len(samples) < 3:
        print(
            f"warning: K={len(samples)} run(s) give no usable spread, so only the floor ({metric_rule.floor:g}) "
            "sets the bands; build it from 5 or more runs (seeds, thread counts)"
        )
    for entry in ungated:
        print(
            f"not gated (band {entry['band']:.3f} > {metric_rule.max_band:g}): {entry['method']} {entry['metric']}"
        )
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    return _write_baseline(args.run_dirs, Path(args.out), args)


def _print_environment(baseline: Path, run_dir: Path) -> None:
    from sdc_bench.benchmark.regress import (
        environment_differences,
        load_baseline_environments,
        run_environment,
    )

    runs, rule = load_baseline_environments(baseline)
    candidate = run_environment(json.loads((run_dir / "run.json").read_text()))
    differences = environment_differences(runs, candidate)
    if runs:
        print(f"baseline: K={len(runs)} runs; {rule}")
    if differences:
        print(f"environment: the candidate differs from every baseline run in {len(differences)} fact(s):")
        for line in differences:
            print(f"  {line}")
    elif runs:
        print(
            "environment: the candidate's CPU model, threads, versions, data and faults all occur in the baseline"
        )


def _cmd_regress(args: argparse.Namespace) -> int:
    import pandas as pd

    from sdc_bench.benchmark.regress import (
        compare,
        compare_throughput,
        load_baseline,
        load_throughput_baseline,
        verdict_table,
    )
    from sdc_bench.core.store import RunStore
    from sdc_bench.reports.build import build_reports
    from sdc_bench.reports.render import to_markdown

    store = RunStore(Path(args.run_dir))
    if not store.run_json.is_file():
        raise ConfigError(f"{store.root}: no run.json there; give the folder of an sdc-bench run")
    if not store.metrics.is_file():
        build_reports(store.root)
    baseline = Path(args.baseline)
    if args.update_baseline:
        return _write_baseline([args.run_dir], baseline, args)
    expected = load_baseline(baseline)
    if args.methods:
        chosen = set(args.methods.split(","))
        expected = [e for e in expected if e.key[0] in chosen]
        if not expected:
            raise ConfigError(
                f"--methods {args.methods}: the baseline {baseline} tracks none of these methods"
            )
    metrics = pd.read_csv(store.metrics, dtype={"outer_fold": int}, keep_default_na=False, na_values=[""])
    verdicts = compare(expected, metrics)
    reference, expected_speed = load_throughput_baseline(baseline)
    throughput_csv = store.root / "throughput.csv"
    speed_note = ""
    if expected_speed and args.skip_speed:
        speed_note = "speed ratios not checked (--skip-speed)"
    elif expected_speed and not throughput_csv.is_file():
        raise ConfigError(
            f"the baseline has speed ratios but {throughput_csv} is missing; run with the throughput stage enabled or pass --skip-speed"
        )
    elif expected_speed:
        verdicts += compare_throughput(expected_speed, pd.read_csv(throughput_csv), reference)
    failed = [v for v in verdicts if v.failed]
    if failed:
        print(f"REGRESSION: {len(failed)} of {len(verdicts)} metrics outside their bands")
    _print_environment(baseline, store.root)
    table = verdict_table(verdicts)
    for column, fmt in (
        ("baseline", "{:.4f}"),
        ("candidate", "{:.4f}"),
        ("delta", "{:+.4f}"),
        ("band", "{:.4f}"),
    ):
        table[column] = table[column].map(lambda x, f=fmt: f.format(x) if pd.notna(x) else "n/a")
    print(to_markdown(table.drop(columns=["augment", "imbalance"])))
    if speed_note:
        print(speed_note)
    improved = [v for v in verdicts if v.status == "improved"]
    if improved:
        print(
            f"{len(improved)} metric(s) improved beyond their bands; rebuild the baseline with `sdc-bench baseline`"
        )
    if failed:
        print(f"REGRESSION: {len(failed)} of {len(verdicts)} metrics outside their bands (see above)")
        return 1
    print(f"ok: no metric outside its band ({len(verdicts)} checked against {baseline})")
    return 0


def _add_band_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k-sd", type=float, default=4.0, help="band = max(K_SD * SD, floor) (default: 4)")
    parser.add_argument("--floor", type=float, default=0.02, help="smallest metric band (default: 0.02)")
    parser.add_argument(
        "--max-band",
        type=float,
        default=0.08,
        help="metrics with a wider band are shown, not gated (default: 0.08)",
    )
    parser.add_argument(
        "--speed-floor",
        type=float,
        default=0.3,
        help="smallest speed-ratio band, relative: CPU models differ this much (default: 0.3)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdc-bench",
        description="Benchmark transfer-learning recipes for spinal-disorder classification against baselines, with confidence intervals.",
    )
    parser.add_argument("--version", action="version", version=f"sdc-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a benchmark suite end to end",
        description="Run a suite: data, patient-grouped folds, training of every method, predictions, metrics, tables and figures.",
    )
    run.add_argument(
        "--suite",
        default="smoke",
        help="built-in suite name (smoke, quick, full) or a path to a .toml suite (default: smoke)",
    )
    run.add_argument(
        "--data",
        help="use this dataset instead of the suite's (a CSV manifest or a folder of class sub-folders)",
    )
    run.add_argument("--out", help="run folder (default: reports/<suite>-<timestamp>)")
    run.add_argument(
        "--seed", type=int, help="run seed; every cell's seed is derived from it (default: the suite's)"
    )
    run.add_argument(
        "--seeds",
        metavar="S1,S2,...",
        help="repeat the whole cross-validation once per protocol seed (own folds and cell seeds each), "
        "e.g. --seeds 0,1,2; the data stay those of --seed (default: the suite's protocol.seeds, else one run)",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a suite value, e.g. --set data.size=128 (repeatable)",
    )
    run.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run; finished cells are not recomputed"
    )
    run.add_argument("--dry-run", action="store_true", help="print the planned cells and exit")
    run.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable or invalid images (listed in the audit) instead of stopping",
    )
    run.add_argument(
        "--weights-dir",
        help="folder of <backbone>.safetensors/.pth weight files (also $SDC_BENCH_WEIGHTS_DIR)",
    )
    run.add_argument(
        "--storage",
        help="Optuna storage: default SQLite in the run folder; a .log file (JournalStorage) for processes on one machine; postgresql://USER@HOST/DB for workers on many machines",
    )
    run.add_argument(
        "--workers", type=int, default=1, help="local worker processes sharing the run (default: 1)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=_cmd_run)

    worker = sub.add_parser(
        "worker",
        help="join a run as a worker",
        description="Join an existing run (its folder must be reachable) and claim cells from its queue until none is left.",
    )
    worker.add_argument("run_dir", help="the run folder (shared file system)")
    worker.add_argument(
        "--storage",
        help="the run's Optuna storage, e.g. postgresql://USER@HOST/DB (default: the one in run.json)",
    )
    worker.add_argument("--weights-dir", help="folder of <backbone>.safetensors/.pth weight files")
    worker.add_argument("--quiet", action="store_true", help="no progress bars")
    worker.set_defaults(func=_cmd_worker)

    listing = sub.add_parser(
        "list",
        help="list a registry of the zoo",
        description="List backbones, augmentations, imbalance strategies, methods, feature extractors or suites "
        "with their metadata.",
    )
    listing.add_argument("registry", choices=[*REGISTRIES, "suites"])
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_cmd_list)

    data = sub.add_parser(
        "data", help="generate or check datasets", description="Generate SynthSpine data or audit a dataset."
    )
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    synth = data_sub.add_parser(
        "synth",
        help="generate a SynthSpine dataset",
        description="Render a procedural spine dataset (PNG or DICOM) with a manifest.csv.",
    )
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--n", type=int, default=1000, help="number of images (default: 1000)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.add_argument("--size", type=int, default=256, help="image size in px (default: 256)")
    synth.add_argument("--format", choices=["png", "dicom"], default="png", help="file format (default: png)")
    synth.add_argument("--site", default="site_a", help="acquisition site profile (default: site_a)")
    synth.add_argument("--classes", help="comma-separated subset of classes (default: all five)")
    synth.add_argument("--modalities", help="comma-separated subset of xray,mri (default: both)")
    synth.add_argument("--bit-depth", type=int, choices=[8, 16], default=8, help="PNG bit depth (default: 8)")
    synth.add_argument(
        "--preview", action="store_true", help="also write contact_sheet.png (classes x views)"
    )
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_cmd_data_synth)
    check = data_sub.add_parser(
        "check",
        help="audit a dataset",
        description="Count classes, patients, modalities; find duplicates, unreadable files and classes too small for the folds.",
    )
    check.add_argument("source", help="a CSV manifest or a folder of class sub-folders")
    check.add_argument("--folds", type=int, default=5, help="planned number of outer folds (default: 5)")
    check.add_argument("--out", help="where to write audit.json (default: ./audit.json)")
    check.add_argument(
        "--skip-bad", action="store_true", help="skip bad files and list them instead of stopping"
    )
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=_cmd_data_check)

    report = sub.add_parser(
        "report",
        help="rebuild metrics, tables and figures of a run",
        description="Re-derive metrics.csv, tables and figures from a run folder's stored predictions, without training.",
    )
    report.add_argument("run_dir", help="a run folder")
    report.add_argument(
        "--bootstrap", type=int, default=1000, help="patient-level bootstrap resamples (default: 1000)"
    )
    report.set_defaults(func=_cmd_report)

    from sdc_bench.pipeline import add_throughput_cli

    add_throughput_cli(sub).set_defaults(func=_cmd_throughput)

    regress = sub.add_parser(
        "regress",
        help="check a run against a baseline",
        description="Compare a run's metrics and speed ratios with a baseline (a distribution over K runs); "
        "exit 1 when a gated metric falls outside its band. A failure starts with what differs between the "
        "baseline's environments and this run's (CPU model, threads, versions, data, injected faults).",
    )
    regress.add_argument("run_dir", help="a run folder")
    regress.add_argument("--baseline", required=True, help="baseline JSON, e.g. baselines/smoke.json")
    regress.add_argument(
        "--update-baseline",
        action="store_true",
        help="write this one run as the new baseline instead of checking (K=1: prefer `sdc-bench baseline`)",
    )
    regress.add_argument("--methods", help="check only these methods (comma-separated), e.g. sdc_dl")
    regress.add_argument(
        "--skip-speed", action="store_true", help="do not check speed ratios (a run without throughput stage)"
    )
    _add_band_options(regress)
    regress.set_defaults(func=_cmd_regress)

    baseline = sub.add_parser(
        "baseline",
        help="build a regression baseline from K runs",
        description="Build a baseline from K run folders (different seeds, thread counts, machines): per metric "
        "the mean, SD, min, max and K, each run's environment, and a band = max(k_sd*SD, floor). A "
        "multi-seed run (--seeds) gives one sample per seed.",
    )
    baseline.add_argument("run_dirs", nargs="+", help="run folders of the same suite")
    baseline.add_argument("--out", required=True, help="baseline JSON to write, e.g. baselines/smoke.json")
    _add_band_options(baseline)
    baseline.set_defaults(func=_cmd_baseline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SdcBenchError as exc:
        print(f"sdc-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "sdc-bench: interrupted; finished cells are kept, continue with --resume RUN_DIR", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
