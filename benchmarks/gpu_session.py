"""The GPU check of the throughput issue as one prepared command: throughput table + training path.

Sized for one call on a lent H100/H200 (the ``device`` tool: at most 10 minutes a call, 15 a session).
Run from the repository root on the GPU machine, with the packages its image lacks carried as wheels::

    bash benchmarks/gpu_session.sh fetch      # here, once: wheels into .whl/ (git-ignored)
    bash benchmarks/gpu_session.sh run "$OUT"  # there, with carry=[".whl"]

or directly ``python benchmarks/gpu_session.py --out DIR [--part throughput|training|all]``.

- ``throughput``: ``BACKBONES`` (10 backbones, 8 families), bf16 autocast, channels_last, batch 256,
  224 px, inference and training step, each without and with ``torch.compile``. Written after every
  configuration to ``gpu_throughput_224px.csv`` / ``.md``; run again with the same ``--out`` (e.g. after a
  call was cut off at its limit) and it measures only what is missing.
- ``training``: ``benchmarks/bench_training.py`` on CUDA (bf16, batch ``--train-batch``): sdc-bench's epoch
  against a naive ImageFolder loop, and its training step against the bare model step; JSON and log.

``--dry-run`` runs the same code on the CPU at toy sizes (2 backbones, batch 2, 32 px, no compile) to check
the script without a GPU. Copy the results to ``benchmarks/results/`` and note the exact command there.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from sdc_bench.benchmark.throughput import ThroughputConfig, measure
from sdc_bench.core.store import read_throughput
from sdc_bench.reports.throughput_view import write_throughput

BACKBONES = (
    "tf_efficientnet_lite0",
    "efficientnet_b0",
    "resnet18",
    "resnet50",
    "densenet121",
    "mobilenetv3_large_100",
    "convnext_atto",
    "regnety_008",
    "deit_tiny_patch16_224",
    "resnet10t",
)


def run_throughput(out: Path, *, dry_run: bool) -> Path:
    target = out / ("cpu_dry_run_throughput.csv" if dry_run else "gpu_throughput_224px.csv")
    config = ThroughputConfig(
        ("resnet10t", "mobilenetv3_small_100") if dry_run else BACKBONES,
        batch_sizes=(2,) if dry_run else (256,),
        precisions=("bf16",),
        channels_last=(True,),
        compile=(False,) if dry_run else (False, True),
        modes=("infer", "train"),
        img_size=32 if dry_run else 224,
        device="cpu" if dry_run else "cuda",
        warmup_steps=1 if dry_run else 5,  # compilation happens in the warm-up
        timed_steps=2 if dry_run else 20,
        repeats=1 if dry_run else 3,
    )
    started = time.perf_counter()

    def written(rows: pd.DataFrame) -> None:
        write_throughput(rows, target)  # after every configuration: a call cut off keeps what it measured
        last = rows.iloc[-1].to_dict()
        print(
            f"[{time.perf_counter() - started:5.0f}s] {last['backbone']} {last['mode']}"
            f"{' compiled' if last['compiled'] else ''}: {last['images_per_s']:.0f} images/s {last['status']}",
            flush=True,
        )

    previous = read_throughput(target)  # a second call measures only what the first one left out
    write_throughput(measure(config, progress=False, previous=previous, on_row=written), target)
    return target


def run_training(out: Path, *, dry_run: bool, batch: int) -> int:
    env = {
        **os.environ,
        "SDC_BENCH_BENCH_DEVICE": "cpu" if dry_run else "cuda",
        "SDC_BENCH_BENCH_BATCH": str(batch),
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks/bench_training.py",
        "--benchmark-only",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={out / 'bench_training.json'}",
    ]
    if dry_run:
        command += ["-k", "bare_step"]
    with (out / "bench_training.log").open("w") as log:
        log.write(" ".join(command) + "\n")
        log.flush()
        return subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--part", choices=("throughput", "training", "all"), default="all")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--dry-run", action="store_true", help="CPU, toy sizes: checks the script")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_session: no CUDA device visible; use --dry-run to check the script on a CPU", file=sys.stderr
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    (args.out / "environment.txt").write_text(
        f"python {platform.python_version()}, torch {torch.__version__}, device {device}\n"
        f"command: {' '.join([sys.executable, *sys.argv])}\n"
    )
    status = 0
    if args.part in ("throughput", "all"):
        print(f"wrote {run_throughput(args.out, dry_run=args.dry_run)}", flush=True)
    if args.part in ("training", "all"):
        status = run_training(args.out, dry_run=args.dry_run, batch=2 if args.dry_run else args.train_batch)
        print((args.out / "bench_training.log").read_text()[-3000:], flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
