"""The ``sdc-bench`` command line: parses arguments and dispatches to the command they name.

One ``_add_<command>_parser`` per subcommand declares its options; what each command runs is in
:mod:`sdc_bench.cli._commands` (``regress`` and ``baseline``: :mod:`sdc_bench.cli._regress`).
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from typing import Any

from sdc_bench import __version__
from sdc_bench.cli import _commands as commands
from sdc_bench.cli._compare import add_compare_parser
from sdc_bench.cli._errors import EXIT_USER_ERROR, report_error
from sdc_bench.cli._leaderboard import add_leaderboard_parsers
from sdc_bench.cli._regress import add_band_options, cmd_baseline, cmd_regress
from sdc_bench.core.openmp import configure_openmp
from sdc_bench.zoo.catalog import REGISTRIES

__all__ = ["build_parser", "main"]

_Subparsers = Any  # argparse's _SubParsersAction, which is private


class UsageError(SystemExit):
    """A command line argparse cannot parse: one line (exit 2), not argparse's usage block.

    A ``SystemExit`` with code 2, as argparse's own, so a caller of ``parse_args`` sees what it always saw.
    """

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USER_ERROR)
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line naming the option and where its help is."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{self.prog}: {message}; see {self.prog} --help")


def _add_weight_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weights-dir",
        help="folder of <backbone>.safetensors/.pth weight files (default: $SDC_BENCH_WEIGHTS_DIR); it must exist",
    )
    parser.add_argument(
        "--weights-file",
        action="append",
        metavar="BACKBONE=PATH[@sha256:HEX]",
        help="a local weights file (.safetensors, or a torch state dict) for one backbone, ahead of "
        "--weights-dir, packages and the hub; @sha256:HEX checks it (repeatable)",
    )


def _add_plugin_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--plugin",
        action="append",
        metavar="PATH_OR_MODULE",
        help=f"a user plugin to load first: a .py file or an importable module that registers methods, "
        f"backbones, augmentations, imbalance strategies, method kinds or feature extractors (repeatable); {what}",
    )


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--patient-regex",
        metavar="REGEX",
        help="take the patient id from each file name: the first group of REGEX (sets data.patient_regex)",
    )
    parser.add_argument(
        "--columns",
        metavar="FIELD=COLUMN,...",
        help="CSV column names, e.g. path=file,label=dx (sets data.columns)",
    )
    parser.add_argument(
        "--modality",
        help="modality of images whose source names none, e.g. PNG folders: xray, mri or ct "
        "(sets data.modality; a DICOM header's Modality wins)",
    )
    parser.add_argument("--view", help="view of images whose source names none, e.g. ap (sets data.view)")


def _add_run_parser(sub: _Subparsers) -> None:
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
    _add_data_options(run)
    run.add_argument("--out", help="run folder (default: runs/<suite>-<timestamp>)")
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
        "--splits",
        metavar="FILE",
        help="reuse the outer folds of an earlier run's splits.json (checked against the data) instead of making new ones",
    )
    run.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run; finished cells are not recomputed"
    )
    run.add_argument(
        "--allow-changed-config",
        action="store_true",
        help="with --resume: accept --set for settings that cannot change results (train.threads)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the planned cells and exit")
    run.add_argument(
        "--no-models",
        action="store_true",
        help="do not keep each cell's final model in models/ (then `sdc-bench export` has nothing to package)",
    )
    run.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable or invalid images (listed in the audit) instead of stopping",
    )
    _add_weight_options(run)
    _add_plugin_option(run, "with the suite's plugins = [...]; --resume loads those run.json recorded")
    run.add_argument(
        "--storage",
        help="Optuna storage: default SQLite in the run folder; a .log file (JournalStorage) for processes on one machine; postgresql://USER@HOST/DB for workers on many machines",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes sharing the run (default: 1, or one per --devices entry)",
    )
    run.add_argument(
        "--devices",
        metavar="D1,D2,...",
        help="one local worker per device, each pinned to it (CUDA_VISIBLE_DEVICES), e.g. --devices cuda:0,cuda:1 "
        "(cpu or cuda:N; --workers, if given, must match); run.json records which worker ran which cell where",
    )
    run.add_argument(
        "--track",
        metavar="mlflow:URI",
        help="also log the run, each cell (nested) and each trial to MLflow, e.g. --track mlflow:file:./mlruns "
        "(needs the [mlflow] extra); a resumed run continues the same MLflow runs",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=commands.cmd_run)


def _add_worker_parser(sub: _Subparsers) -> None:
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
    _add_weight_options(worker)
    _add_plugin_option(
        worker, "the worker loads the run's plugins from run.json; one not recorded there is refused"
    )
    worker.add_argument(
        "--device",
        help="train on this device instead of the suite's train.device, e.g. cuda:0 or cpu",
    )
    worker.add_argument("--quiet", action="store_true", help="no progress bars")
    worker.set_defaults(func=commands.cmd_worker)


def _add_list_parser(sub: _Subparsers) -> None:
    listing = sub.add_parser(
        "list",
        help="list a registry of the zoo",
        description="List backbones, augmentations, imbalance strategies, methods, feature extractors, suites "
        "or public datasets (licence, download status, tasks) with their metadata.",
    )
    listing.add_argument("registry", choices=[*REGISTRIES, "suites", "datasets"])
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_plugin_option(listing, "its entries are listed with their origin")
    listing.set_defaults(func=commands.cmd_list)


def _add_synth_parser(data_sub: _Subparsers) -> None:
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
    synth.set_defaults(func=commands.cmd_data_synth)


def _add_check_parser(data_sub: _Subparsers) -> None:
    check = data_sub.add_parser(
        "check",
        help="audit a dataset",
        description="Count classes, patients, modalities; find duplicates, unreadable files and classes too small for the folds.",
    )
    check.add_argument("source", help="a CSV manifest or a folder of class sub-folders")
    _add_data_options(check)
    check.add_argument("--folds", type=int, default=5, help="planned number of outer folds (default: 5)")
    check.add_argument(
        "--size",
        default="64",
        help="the planned model input (data.size): a side (64), ROWSxCOLUMNS (384x128) or auto[:N] (default: 64)",
    )
    check.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a data setting as in a suite, e.g. --set data.allow_duplicates=true or --set 'data.size=[384, 128]' "
        "(data.allow_outside_root, allow_duplicates, max_image_pixels, size, patient_regex, columns, "
        "modality, view, label_map, slices, allow_slice_gaps; repeatable, wins over the flags)",
    )
    check.add_argument("--out", help="where to write audit.json (default: ./audit.json)")
    check.add_argument(
        "--skip-bad", action="store_true", help="skip bad files and list them instead of stopping"
    )
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=commands.cmd_data_check)


def _add_get_parser(data_sub: _Subparsers) -> None:
    get = data_sub.add_parser(
        "get",
        help="fetch and convert a public spine dataset",
        description="Download (verified, cached, resumable) or take a local copy of a public dataset, convert one "
        "of its tasks and write OUT/images/, OUT/manifest.csv, OUT/audit.json and OUT/DATASET.md (licence, "
        "citation, class counts, what the converter dropped and why). See `sdc-bench list datasets`.",
    )
    get.add_argument("name", help="a dataset of `sdc-bench list datasets`, e.g. spider")
    get.add_argument("--task", help="its task, e.g. degeneration (needed when it has several)")
    get.add_argument(
        "--out",
        help="the folder to write (default: $SDC_BENCH_CACHE/datasets/converted/NAME-TASK, where a suite's "
        "data.source = 'dataset:NAME/TASK' finds it)",
    )
    get.add_argument(
        "--from",
        dest="local_copy",
        metavar="LOCAL_COPY",
        help="a copy in the dataset's published layout; nothing is downloaded (required for bring-your-own sets)",
    )
    get.add_argument(
        "--offline",
        action="store_true",
        help="use only the download cache ($SDC_BENCH_CACHE/datasets; also $SDC_BENCH_OFFLINE=1)",
    )
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(func=commands.cmd_data_get)


def _add_data_parser(sub: _Subparsers) -> None:
    data = sub.add_parser(
        "data",
        help="generate, fetch or check datasets",
        description="Generate SynthSpine data, fetch a public spine dataset, or audit a dataset.",
    )
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    _add_synth_parser(data_sub)
    _add_get_parser(data_sub)
    _add_check_parser(data_sub)


def _add_report_parser(sub: _Subparsers) -> None:
    report = sub.add_parser(
        "report",
        help="rebuild metrics, tables and figures of a run",
        description="Re-derive metrics.csv, tables and figures from a run folder's stored predictions, without training.",
    )
    report.add_argument("run_dir", help="a run folder")
    report.add_argument(
        "--bootstrap", type=int, default=1000, help="patient-level bootstrap resamples (default: 1000)"
    )
    report.set_defaults(func=commands.cmd_report)


def _add_throughput_parser(sub: _Subparsers) -> None:
    from sdc_bench.cli._throughput_args import add_throughput_cli

    add_throughput_cli(sub).set_defaults(func=commands.cmd_throughput)


def _add_regress_parser(sub: _Subparsers) -> None:
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
    add_band_options(regress)
    regress.set_defaults(func=cmd_regress)


def _add_baseline_parser(sub: _Subparsers) -> None:
    baseline = sub.add_parser(
        "baseline",
        help="build a regression baseline from K runs",
        description="Build a baseline from K run folders (different seeds, thread counts, machines): per metric "
        "the mean, SD, min, max and K, each run's environment, and a band = max(k_sd*SD, floor). A "
        "multi-seed run (--seeds) gives one sample per seed.",
    )
    baseline.add_argument("run_dirs", nargs="+", help="run folders of the same suite")
    baseline.add_argument("--out", required=True, help="baseline JSON to write, e.g. baselines/smoke.json")
    baseline.add_argument(
        "--extend",
        metavar="BASELINE",
        help="keep this baseline's runs and add the given ones (e.g. another machine's), then rebuild the bands",
    )
    add_band_options(baseline)
    baseline.set_defaults(func=cmd_baseline)


def _add_export_parser(sub: _Subparsers) -> None:
    export = sub.add_parser(
        "export",
        help="package a run's kept models with a model card",
        description="Write a self-contained model package from a run's kept models: the out-of-fold models as an "
        "ensemble (probabilities averaged) or one model refit on all patients, package.json, MODEL_CARD.md, "
        "optionally ONNX files checked against PyTorch.",
    )
    export.add_argument("run_dir", help="a finished run folder (with models/)")
    export.add_argument("--method", required=True, help="the method to export, e.g. sdc_dl")
    export.add_argument("--backbone", help="its backbone (needed when the run used several)")
    export.add_argument("--seed", type=int, help="only the models of this protocol seed (default: all)")
    export.add_argument("--out", required=True, help="the package folder to write (new or empty)")
    export.add_argument(
        "--refit-all",
        action="store_true",
        help="one model refit on every patient with the median of the folds' selected hyperparameters",
    )
    export.add_argument(
        "--onnx", action="store_true", help="also write model.onnx per member, checked against PyTorch (1e-4)"
    )
    _add_plugin_option(export, "the run's own plugins are loaded from run.json and copied into the package")
    export.add_argument("--quiet", action="store_true", help="no progress bars")
    export.set_defaults(func=commands.cmd_export)


def _add_predict_parser(sub: _Subparsers) -> None:
    predict = sub.add_parser(
        "predict",
        help="predict images with an exported model package",
        description="Class probabilities of a model package for every image of a source (CSV manifest, class "
        "folders, a folder of images, DICOM, NIfTI), preprocessed as in training; flags inputs unlike the "
        "training data.",
    )
    predict.add_argument("model_dir", help="a package folder written by `sdc-bench export`")
    predict.add_argument(
        "--data", required=True, help="the images: any source `run` reads, or a folder of images"
    )
    predict.add_argument("--out", required=True, help="predictions CSV to write")
    predict.add_argument("--batch-size", type=int, default=128, help="images per forward pass (default: 128)")
    predict.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    predict.add_argument(
        "--skip-bad", action="store_true", help="skip unreadable images and list them instead of stopping"
    )
    predict.add_argument("--member", help="use one member of an ensemble (e.g. fold0) instead of their mean")
    predict.add_argument(
        "--cam",
        metavar="DIR",
        help="also write a Grad-CAM overlay PNG per image into DIR, on the original image, for the predicted "
        "class (an ensemble's members' maps averaged; --member: that member's); named after the sample ids",
    )
    _add_plugin_option(predict, "the package's own plugins (package.json) are loaded without it")
    predict.set_defaults(func=commands.cmd_predict)


def _add_weights_parser(sub: _Subparsers) -> None:
    from sdc_bench.cli._weights import cmd_weights_check, cmd_weights_fetch

    weights = sub.add_parser(
        "weights",
        help="fetch or check a folder of pretrained weights",
        description="Make a --weights-dir folder on a machine with internet (fetch), check it offline (check).",
    )
    actions = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="download ImageNet weights (needs the hub)",
        description="Download each backbone's ImageNet weights through timm and write DIR/<backbone>.safetensors "
        "plus DIR/weights.json (sha256, source, licence per file).",
    )
    fetch.add_argument(
        "--backbones", required=True, help="comma-separated backbones, e.g. resnet50,densenet121"
    )
    fetch.add_argument("--out", required=True, help="the weights folder to write (created if absent)")
    fetch.set_defaults(func=cmd_weights_fetch)
    check = actions.add_parser(
        "check",
        help="check a weights folder offline",
        description="Check every file of a weights folder offline: it loads, fits its backbone and matches "
        "its sha256 in weights.json; exit 2 when any file is bad.",
    )
    check.add_argument("folder", help="a folder written by `sdc-bench weights fetch`")
    check.set_defaults(func=cmd_weights_check)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sdc-bench",
        description="Benchmark transfer-learning recipes for spinal-disorder classification against baselines, with confidence intervals.",
    )
    parser.add_argument("--version", action="version", version=f"sdc-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_run_parser,
        _add_worker_parser,
        _add_list_parser,
        _add_data_parser,
        _add_report_parser,
        _add_throughput_parser,
        _add_regress_parser,
        _add_baseline_parser,
        add_compare_parser,
        add_leaderboard_parsers,
        _add_export_parser,
        _add_predict_parser,
        _add_weights_parser,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a user's mistake is one line on stderr and exit 2, Ctrl-C exit 130, a bug exit 1.

    The OpenMP wait policy and thread count are set first (:func:`~sdc_bench.core.openmp.configure_openmp`,
    never over a value the user set): torch, which the commands import when they run, reads them as it loads.
    """
    configure_openmp()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(f"sdc-bench: error: {error.message}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as error:  # the one boundary: see cli/_errors.py
        return report_error(error, args)
