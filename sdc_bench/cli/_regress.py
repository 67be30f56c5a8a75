"""The ``regress`` and ``baseline`` commands: check a run against a baseline, or build one from K runs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdc_bench.core.errors import ConfigError, DataError

__all__ = ["add_band_options", "cmd_baseline", "cmd_regress"]


def add_band_options(parser: argparse.ArgumentParser) -> None:
    """The band options ``regress --update-baseline`` and ``baseline`` share."""
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
    from sdc_bench.core.store import RunStore

    metric_rule, speed_rule = _band_rules(args)
    samples = [sample for run_dir in run_dirs for sample in samples_from_run(run_dir)]
    suites = {RunStore(Path(r)).read_manifest().suite.name for r in run_dirs}
    extend = getattr(args, "extend", None)
    if extend is not None:
        from sdc_bench.benchmark.regress import samples_from_baseline

        kept_suite, kept = samples_from_baseline(extend)
        if {kept_suite} != suites:
            raise DataError(
                f"--extend {extend} is a baseline of suite {kept_suite!r}, the runs are of {sorted(suites)}; "
                "extend a baseline of the same suite"
            )
        samples = [*kept, *samples]
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


def cmd_baseline(args: argparse.Namespace) -> int:
    return _write_baseline(args.run_dirs, Path(args.out), args)


def _print_environment(baseline: Path, run_dir: Path) -> None:
    from sdc_bench.benchmark.regress import (
        environment_differences,
        load_baseline_environments,
        run_environment,
    )
    from sdc_bench.core.store import RunStore

    runs, rule = load_baseline_environments(baseline)
    candidate = run_environment(RunStore(run_dir).read_manifest())
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


def _verdicts(
    args: argparse.Namespace, expected: list[Any], root: Path, baseline: Path
) -> tuple[list[Any], str]:
    """Metric verdicts, plus speed-ratio verdicts when the baseline has them; and a note on skipped speed."""
    import pandas as pd

    from sdc_bench.benchmark.regress import compare, compare_throughput, load_throughput_baseline

    metrics = pd.read_csv(
        root / "metrics.csv", dtype={"outer_fold": int}, keep_default_na=False, na_values=[""]
    )
    verdicts = compare(expected, metrics)
    reference, expected_speed = load_throughput_baseline(baseline)
    throughput_csv = root / "throughput.csv"
    if expected_speed and args.skip_speed:
        return verdicts, "speed ratios not checked (--skip-speed)"
    if expected_speed and not throughput_csv.is_file():
        raise ConfigError(
            f"the baseline has speed ratios but {throughput_csv} is missing; run with the throughput stage enabled or pass --skip-speed"
        )
    if expected_speed:
        verdicts += compare_throughput(expected_speed, pd.read_csv(throughput_csv), reference)
    return verdicts, ""


def _print_verdicts(verdicts: list[Any]) -> None:
    import pandas as pd

    from sdc_bench.benchmark.regress import verdict_table
    from sdc_bench.reports.table_render import to_text

    table = verdict_table(verdicts)
    for column, fmt in (
        ("baseline", "{:.4f}"),
        ("candidate", "{:.4f}"),
        ("delta", "{:+.4f}"),
        ("band", "{:.4f}"),
    ):
        table[column] = table[column].map(lambda x, f=fmt: f.format(x) if pd.notna(x) else "n/a")
    print(to_text(table.drop(columns=["augment", "imbalance"])))


def cmd_regress(args: argparse.Namespace) -> int:
    from sdc_bench.benchmark.regress import load_baseline
    from sdc_bench.core.store import RunStore
    from sdc_bench.reports.build import build_reports

    store = RunStore(Path(args.run_dir))
    store.read_manifest()  # one line when the folder holds no run.json, a damaged one or another version
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
    verdicts, speed_note = _verdicts(args, expected, store.root, baseline)
    failed = [v for v in verdicts if v.failed]
    if failed:
        print(f"REGRESSION: {len(failed)} of {len(verdicts)} metrics outside their bands")
    _print_environment(baseline, store.root)
    _print_verdicts(verdicts)
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
