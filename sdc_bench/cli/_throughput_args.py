"""The arguments of ``sdc-bench throughput``: what to measure and how each configuration runs.

Only argparse here, so ``sdc-bench --help`` stays fast; the command itself is
:func:`sdc_bench.pipeline.throughput_command`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_throughput_cli"]


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
    Markdown view (:func:`sdc_bench.pipeline.throughput_command`).
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
            "--precision fp32,bf16 --channels-last --out runs/throughput.csv"
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
