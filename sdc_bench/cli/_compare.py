"""The ``compare`` command: a report comparing two or more run folders from their stored artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdc_bench.reports.compare import BaselineBands

__all__ = ["add_compare_parser", "baseline_bands", "cmd_compare"]


def add_compare_parser(sub: Any) -> None:
    """Add ``sdc-bench compare RUN_A RUN_B [RUN_C ...] --out DIR``."""
    compare = sub.add_parser(
        "compare",
        help="compare two or more runs (paired on the same data, side by side otherwise)",
        description="Compare run folders from their stored artifacts: what differs (config, seeds, data, code, "
        "versions, machine); on the same data, paired differences per method and metric with a paired patient "
        "bootstrap CI and McNemar, Holm-adjusted, and each difference judged against the spread between "
        "training seeds (multi-seed runs, or --baseline), which the paired CIs then add; on different data, "
        "side-by-side tables and rank agreement. Writes compare.md, compare.html, CSV and LaTeX tables into --out.",
    )
    compare.add_argument(
        "run_dirs", nargs="+", help="run folders; the first is the baseline of the differences"
    )
    compare.add_argument("--out", required=True, help="folder for the comparison report, e.g. compare/")
    compare.add_argument(
        "--classes",
        help="map class names before comparing, OLD=NEW comma-separated, e.g. disc=disc_degeneration",
    )
    compare.add_argument(
        "--bootstrap", type=int, default=1000, help="patient-level bootstrap resamples (default: 1000)"
    )
    compare.add_argument(
        "--baseline",
        help="baseline JSON of the runs' suite (sdc-bench baseline), whose bands and SDs give the seed spread "
        "of runs with one seed each, e.g. baselines/smoke.json",
    )
    compare.add_argument("--no-figures", action="store_true", help="write no figures (faster)")
    compare.set_defaults(func=cmd_compare)


def baseline_bands(path: str | Path) -> BaselineBands:
    """A baseline file's bands as the comparison reads them (the reports floor does not import ``regress``)."""
    from sdc_bench.benchmark.regress import load_baseline, load_baseline_environments
    from sdc_bench.reports.compare import BaselineBands

    expected = load_baseline(path)
    environments, rule = load_baseline_environments(path)
    return BaselineBands(
        source=str(path),
        bands={item.key: (item.tolerance.band(item.value), item.gated) for item in expected},
        sds={item.key: item.sd for item in expected},
        rule=rule,
        data_fingerprints=tuple(
            str(environment["data_fingerprint"])
            for environment in environments
            if environment.get("data_fingerprint")
        ),
        n_runs=len(environments),
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from sdc_bench.core.errors import ConfigError
    from sdc_bench.reports.compare import compare_runs, parse_class_map

    if args.bootstrap < 1:
        raise ConfigError(f"--bootstrap {args.bootstrap}: give a positive number of resamples, e.g. 1000")
    result = compare_runs(
        args.run_dirs,
        Path(args.out),
        class_map=parse_class_map(args.classes),
        n_bootstrap=args.bootstrap,
        draw_figures=not args.no_figures,
        baseline=baseline_bands(args.baseline) if args.baseline else None,
    )
    path = "paired (same data)" if result.same_data else "side by side (different data, no paired test)"
    verdicts = ""
    if result.same_data:
        spread = (
            "seed spread unknown (one seed per run, no --baseline)"
            if result.judged_by == "unknown"
            else f"{result.n_beyond_seed_spread} beyond the seed spread ({result.judged_by})"
        )
        paired = f"{result.n_significant} paired difference(s) significant after Holm"
        if result.paired_with_seeds:
            paired += " (CIs over patients and training seeds)"
        elif result.seed_only:
            paired += " (these two trained models only: the runs differ only in seed)"
        verdicts = f"; {spread}; {paired}" if result.seed_only else f"; {paired}; {spread}"
    print(f"compared {len(args.run_dirs)} runs, {path}: {Path(args.out) / 'compare.html'}{verdicts}")
    return 0
