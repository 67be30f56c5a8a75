"""The pipeline above the floors: a run is plan -> cells (benchmark) -> throughput -> reports.

The benchmark floor runs the cells and measures speed; the reports floor turns stored artifacts into
tables, figures and pages. Neither imports the other; this module calls one after the other, and the
command line (:mod:`sdc_bench.cli`) calls this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdc_bench.benchmark.runner import (
    RunOptions,
    RunState,
    finish_run,
    load_run_suite,
    measure_throughput,
    run_cells,
)
from sdc_bench.benchmark.suite import Suite
from sdc_bench.core.determinism import deterministic, torch_threads
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.store import read_throughput

__all__ = ["RunOptions", "add_throughput_cli", "run_suite", "throughput_command"]


def run_suite(suite: Suite, options: RunOptions | None = None) -> Path:
    """Run every cell of ``suite`` (skipping finished ones on resume) and write all derived reports.

    Returns the run folder.
    """
    from sdc_bench.reports.build import build_reports  # the reports (matplotlib) load only when needed

    options = options or RunOptions()
    if options.resume is not None:
        suite = load_run_suite(Path(options.resume))[0]
    with torch_threads(suite.train.threads):
        state = run_cells(suite, options)
        with deterministic(False):  # timing, not results: no deterministic-kernel slowdown
            _throughput_stage(state)
        build_reports(state.store.root)
        finish_run(state)
    return state.store.root


def _throughput_stage(state: RunState) -> None:
    from sdc_bench.reports.throughput import write_throughput

    table = measure_throughput(state)
    if table is None:
        return
    write_throughput(table, state.store.root / "throughput.csv")
    backbones = table["backbone"].nunique()
    state.store.log_line(f"throughput: {backbones} backbones measured on {state.device}")


def throughput_command(args: argparse.Namespace) -> int:
    """Run ``sdc-bench throughput`` from parsed arguments; print the Markdown view; return the exit code."""
    from sdc_bench.benchmark.throughput import ThroughputConfig, measure
    from sdc_bench.reports.throughput import markdown_table, write_throughput

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


def _list_of(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(part.strip()) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from exc

    return parse


def add_throughput_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``throughput`` command to an ``argparse`` subparsers object; the caller sets what it runs.

    The command measures (:func:`sdc_bench.benchmark.throughput.measure`) and writes the table and its
    Markdown view (:func:`throughput_command`): the arguments live here, beside the command they feed.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "throughput",
        help="measure inference and training throughput of backbones",
        description=(
            "Measure images/s, per-step latency (p50/p95), peak memory and achieved TFLOP/s of backbones for "
            "every combination of batch size, precision, memory format, compilation and mode, the way timm's "
            "benchmark.py does: warm-up steps, device-synchronised timed steps, batch-size halving on "
            "out-of-memory. Writes a CSV or parquet table and a Markdown view (<stem>.md) beside it."
        ),
        epilog=(
            "example: sdc-bench throughput --backbones resnet18,efficientnet_b0 --batch-sizes 8,32 "
            "--precision fp32,bf16 --channels-last --out reports/throughput.csv"
        ),
    )
    parser.add_argument(
        "--backbones",
        required=True,
        type=_list_of(str),
        help="comma-separated backbone names (see `sdc-bench list backbones`)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=_list_of(int),
        default=(8, 32),
        help="comma-separated batch sizes (default: 8,32)",
    )
    parser.add_argument(
        "--precision",
        type=_list_of(str),
        default=("fp32",),
        help="comma-separated fp32, bf16, fp16 (autocast; fp16 is skipped on CPU) (default: fp32)",
    )
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="measure every configuration both without and with channels_last memory format",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="measure every configuration both without and with torch.compile (compilation happens in the warm-up steps)",
    )
    parser.add_argument(
        "--modes",
        type=_list_of(str),
        default=("infer", "train"),
        help="comma-separated infer, train (default: infer,train)",
    )
    _add_run_options(parser)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Input shape, device, step counts, output table and resume: how each configuration runs."""
    parser.add_argument(
        "--img-size", type=int, help="input size in px (default: each backbone's default size)"
    )
    parser.add_argument(
        "--in-chans", type=int, choices=[1, 3], default=1, help="input channels (default: 1, grayscale)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repeat (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default: 3)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="blocks of timed steps; the median over blocks is reported (default: 1)",
    )
    parser.add_argument(
        "--out", required=True, help="output table, .csv or .parquet (a .md view is written beside it)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the ok/skipped rows already in --out for the same configurations on this device and "
        "measure only the rest (the table is rewritten after every configuration)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
