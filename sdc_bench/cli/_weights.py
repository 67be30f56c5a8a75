"""``sdc-bench weights fetch|check`` and the weight-source check every run makes before training.

A pretrained method on a machine without the hub and without local weights used to fail in its first
cell, after the data work; :func:`check_run_weights` says so up front, with the command that fixes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["check_run_weights", "cmd_weights_check", "cmd_weights_fetch"]


def check_run_weights(
    suite: Any, weights_dir: Path | None, weights_files: tuple[Any, ...], *, show: bool
) -> None:
    """Raise the one-line :class:`WeightsError` when a pretrained backbone has no weights now.

    ``show`` (``--dry-run``) first prints each backbone's source: file, dir, package, hub or random.
    """
    from sdc_bench.benchmark.faults import active_faults
    from sdc_bench.zoo.backbones import NO_WEIGHTS, missing_weights_error, plan_weight_sources
    from sdc_bench.zoo.methods import METHODS

    no_pretrained = active_faults().no_pretrained  # an injected fault trains from random weights
    pretrained = {
        backbone: any(METHODS.get(m).pretrained and METHODS.get(m).kind == "cnn" for m in suite.methods)
        and not no_pretrained
        for backbone in suite.backbones
    }
    plan = plan_weight_sources(pretrained, weights_files, weights_dir)
    stand_in = suite.train.random_weights_if_missing  # the rehearsal: random weights where none are here
    if stand_in:
        plan = {name: "random stand-in" if source == NO_WEIGHTS else source for name, source in plan.items()}
    if show:
        print("weights: " + ", ".join(f"{name}={source}" for name, source in plan.items()))
    missing = [name for name, source in plan.items() if source == NO_WEIGHTS]
    if missing:
        raise missing_weights_error(missing[0])


def cmd_weights_fetch(args: argparse.Namespace) -> int:
    from sdc_bench.zoo.weights_folder import fetch_weights

    names = [name.strip() for name in str(args.backbones).split(",") if name.strip()]
    for entry in fetch_weights(names, args.out):
        print(f"{entry['file']}  sha256 {entry['sha256']}  {entry['source']}  licence {entry['license']}")
    print(f"weights folder: {args.out} (pass it as --weights-dir or $SDC_BENCH_WEIGHTS_DIR)")
    return 0


def cmd_weights_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    import pandas as pd

    from sdc_bench.core.errors import WeightsError
    from sdc_bench.reports.table_render import to_text
    from sdc_bench.zoo.weights_folder import check_weights

    rows = check_weights(args.folder)
    table = pd.DataFrame([{**asdict(row), "problem": row.problem or "ok"} for row in rows])
    print(to_text(table))
    bad = [row for row in rows if row.problem]
    if bad:
        raise WeightsError(
            f"{args.folder}: {len(bad)} of {len(rows)} weights files are bad; first: {bad[0].file}: {bad[0].problem}"
        )
    return 0
