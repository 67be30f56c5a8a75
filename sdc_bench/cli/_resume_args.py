"""What ``run --resume`` accepts: it continues a run as it was configured, so options that would change
its results are refused, not silently ignored.

Only the settings in :data:`~sdc_bench.benchmark.run_folder.RESULT_NEUTRAL_SETTINGS` may change, with
``--set`` and ``--allow-changed-config``; everything else needs a new run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sdc_bench.core.errors import ConfigError

__all__ = ["resume_changes"]

_DEFAULT_SUITE = "smoke"  # the parser's default for --suite: not a choice the user made


def _refuse(culprit: str) -> ConfigError:
    from sdc_bench.benchmark.run_folder import RESULT_NEUTRAL_SETTINGS

    return ConfigError(
        f"{culprit} with --resume: --resume continues the run as it was configured; start a new run "
        "(--out), or pass --allow-changed-config for settings that cannot change results "
        f"({', '.join(RESULT_NEUTRAL_SETTINGS)})"
    )


def _changed_set_keys(args: argparse.Namespace) -> tuple[str, ...]:
    """The ``--set`` assignments given with ``--resume``, when every one is allowed to change."""
    from sdc_bench.benchmark.run_folder import RESULT_NEUTRAL_SETTINGS

    assignments = tuple(args.set or ())
    for assignment in assignments:
        key = assignment.partition("=")[0].strip()
        if not args.allow_changed_config or key not in RESULT_NEUTRAL_SETTINGS:
            raise _refuse(f"--set {assignment}")
    return assignments


def resume_changes(args: argparse.Namespace) -> tuple[str, ...]:
    """Check ``run``'s options against ``--resume``; returns the allowed ``--set`` assignments."""
    if args.resume is None:
        if args.allow_changed_config:
            raise ConfigError("--allow-changed-config only applies with --resume RUN_DIR; drop it")
        return ()
    from sdc_bench.benchmark.run_folder import absolute_source, load_run_suite

    suite, previous = load_run_suite(Path(args.resume))
    if args.suite not in (_DEFAULT_SUITE, suite.name):
        raise _refuse(f"--suite {args.suite}")
    for flag, given in (
        ("--seed", args.seed is not None),
        ("--seeds", args.seeds is not None),
        ("--patient-regex", args.patient_regex is not None),
        ("--columns", args.columns is not None),
    ):
        if given:
            raise _refuse(flag)
    if args.data is not None and absolute_source(args.data) != previous.source:
        raise _refuse(f"--data {args.data}")
    if args.no_models and previous.keep_models:
        raise _refuse("--no-models")
    return _changed_set_keys(args)
