"""Cost as the work grows: wall time and peak memory of each stage at sizes ~10x apart, with growth exponents.

Run on an otherwise idle machine (the full run takes tens of minutes and a few GB of disk under ``--work``)::

    python benchmarks/bench_scale.py                    # writes benchmarks/results/scale.md
    python benchmarks/bench_scale.py --quick --out /tmp/scale.md   # one small size per stage, seconds
    python benchmarks/bench_scale.py --stages report,resume         # some stages only

Every measurement runs in a fresh Python process: wall time is the parent's clock around that process
(imports included, as a user meets them), peak RSS is the child's own ``ru_maxrss``. Inputs are generated
first, untimed: run folders by the report tests' fixture writer (``tests/reports/fixtures.py``, through
``RunStore``), PNG and DICOM trees by small writers here. The exponent is the slope of a least-squares
line through log(wall time) against log(work): 1 is linear.

Stages and what each measures:

- ``report``: ``sdc-bench report`` (1,000 bootstrap resamples, figures drawn) on synthetic run folders
  from the smoke size (2 configurations, 2 folds, 800 images) up to the full suite (64 configurations,
  5 folds, 4,000 images, 5 classes, 30 trials per cell) and 3 protocol seeds of it; work = prediction rows.
- ``data-check``: ``sdc-bench data check`` of 1k, 10k and 100k tiny PNG files (8x8 grey, 5 class folders,
  patient from the file name): file listing, header reads, duplicate hashing, the audit; work = files.
- ``dicom``: ``sdc-bench data check`` of a DICOM tree of 1k and 10k files in 100 series (16x16 slices).
- ``resume``: the ``--resume`` bookkeeping of a run folder with 12, 120 and 1,200 finished cells (each
  800 prediction rows): setting aside unreadable cells and finding the finished ones; work = cells.
- ``compare`` and ``regress``: ``sdc-bench compare`` of two runs and ``sdc-bench regress`` of a run against
  a baseline of itself, at the report sizes.

Bounds (issue 26, on 2 cores): a full-suite report <= 120 s and <= 4 GB; data check of 100k files <= 120 s;
resume planning <= 5 s; everything at most linear in the work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdc_bench.core.store import cpu_model  # noqa: E402

_METHODS = (
    "sdc_dl", "sdc_dl_no_staging", "sdc_dl_no_aug", "sdc_dl_no_imbalance", "finetune_noaug", "linear_probe",
    "scratch", "method_8",
)  # fmt: skip
_BACKBONES = (
    "resnet18", "tf_efficientnet_lite0", "resnet50", "densenet121", "efficientnet_b0", "mobilenetv3_small_100",
    "convnext_atto", "regnety_008",
)  # fmt: skip

# Runs one CLI command (argv after the code) and prints this process's peak RSS (KiB on Linux) last.
_WRAP = (
    "import resource, sys\nfrom sdc_bench.cli import main\ncode = main(sys.argv[1:])\n"
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)\n"
)


@dataclass(frozen=True)
class Size:
    """One size of a stage: its label, its work (the x of the fit) and what to build."""

    label: str
    work: int
    params: dict[str, int]


@dataclass(frozen=True)
class Measurement:
    size: Size
    seconds: float
    peak_mb: float


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}


def _timed(argv: Sequence[str], *, code: str = _WRAP) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -c code argv`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=_environment(), check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    line = next(x for x in reversed(done.stderr.splitlines()) if x.startswith("MAXRSS"))
    return seconds, int(line.split()[1]) / 1024


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], env=_environment(), check=True)


# --------------------------------------------------------------------------- generated inputs


def _make_run(
    folder: Path, configurations: int, folds: int, images: int, trials: int, seeds: int = 1
) -> None:
    """A synthetic run folder; ``configurations`` = methods x backbones (8 x 8 at most)."""
    if (folder / "run.json").exists():
        return
    backbones = min(len(_BACKBONES), max(1, configurations // len(_METHODS)) if configurations > 8 else 1)
    methods = max(1, configurations // backbones)
    code = f"""
from pathlib import Path
import pandas as pd
from tests.reports.fixtures import SyntheticRun, make_synthetic_run
from sdc_bench.core.store import RunStore, write_parquet
folder = Path({str(folder)!r})
def spec(seed):
    return SyntheticRun(methods={_METHODS[:methods]!r}, backbones={_BACKBONES[:backbones]!r}, n_folds={folds},
                        n_patients={max(images // 2, 15)}, n_trials={trials}, external=False, seed=seed)
make_synthetic_run(folder, spec(0))
if {seeds} > 1:
    store = RunStore(folder)
    frames = [pd.read_parquet(store.predictions)]
    for seed in range(1, {seeds}):
        other = make_synthetic_run(folder.with_name(folder.name + f"-seed{{seed}}"), spec(seed))
        frames.append(pd.read_parquet(RunStore(other).predictions).assign(run_id="synthetic"))
        for cell in RunStore(other).cells_dir.glob("*.json"):
            (store.cells_dir / cell.name).write_bytes(cell.read_bytes())
    write_parquet(store.predictions, pd.concat(frames, ignore_index=True))
    store.write_manifest(store.read_manifest().replace(seeds=tuple(range({seeds}))))
"""
    _python(code)


def _make_pngs(folder: Path, files: int) -> None:
    if folder.exists():
        return
    code = f"""
from pathlib import Path
import numpy as np
from PIL import Image
folder, rng = Path({str(folder)!r}), np.random.default_rng(0)
classes = ["normal", "scoliosis", "spondylolisthesis", "disc_degeneration", "fracture"]
for name in classes:
    (folder / name).mkdir(parents=True, exist_ok=True)
for index in range({files}):
    pixels = rng.integers(0, 255, size=(8, 8), dtype=np.uint8)
    patient = index // 2  # two images per patient, one class per patient
    Image.fromarray(pixels).save(folder / classes[patient % 5] / f"p{{patient:06d}}_{{index % 2}}.png")
"""
    _python(code)


def _make_dicoms(folder: Path, files: int, series: int = 100) -> None:
    if folder.exists():
        return
    code = f"""
from pathlib import Path
import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
folder, rng = Path({str(folder)!r}), np.random.default_rng(0)
classes = ["normal", "spondylolisthesis", "fracture"]
per_series = max(1, {files} // {series})
for s in range({series}):
    target = folder / classes[s % 3] / f"p{{s:04d}}"
    target.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    for k in range(per_series):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MRImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(target / f"{{k:04d}}.dcm"), {{}}, file_meta=meta, preamble=b"\\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.SeriesInstanceUID, ds.Modality = f"p{{s:04d}}", series_uid, "MR"
        ds.InstanceNumber, ds.ImagePositionPatient = k + 1, [0.0, 0.0, float(k)]
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = rng.integers(0, 4000, size=(16, 16), dtype=np.uint16).tobytes()
        ds.save_as(target / f"{{k:04d}}.dcm", enforce_file_format=True)
"""
    _python(code)


def _make_cells(folder: Path, cells: int) -> None:
    if folder.exists():
        return
    code = f"""
from pathlib import Path
import numpy as np, pandas as pd
from sdc_bench.core.store import RunStore
store, rng = RunStore(Path({str(folder)!r})), np.random.default_rng(0)
rows = pd.DataFrame({{"sample_id": [f"s{{i}}" for i in range(800)], "y_true": "a", "y_pred": "a",
                      "p_a": rng.uniform(size=800), "p_b": rng.uniform(size=800)}})
for index in range({cells}):
    store.write_cell(f"m{{index // 5}}__b__s0__f{{index % 5}}", rows, {{"seconds": 1.0}})
"""
    _python(code)


_RESUME = """
import resource, sys, time
from pathlib import Path
from sdc_bench.core.store import RunStore
store = RunStore(Path(sys.argv[1]))
lines = store.set_aside_unreadable_cells()
ids = [p.stem for p in sorted(store.cells_dir.glob("*.json"))]
done = [cell for cell in ids if store.cell_done(cell)]
assert len(done) == len(ids) and not lines
print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


# --------------------------------------------------------------------------- stages


def _report_sizes(quick: bool) -> list[Size]:
    # prediction rows = configurations x images (out-of-fold: each image once per configuration) x seeds
    sizes = [
        Size("2 configurations x 2 folds x 800 images, 6 trials", 2 * 800, dict(c=2, f=2, i=800, t=6, s=1)),
        Size("8 x 5 folds x 2,000 images, 30 trials", 8 * 2000, dict(c=8, f=5, i=2000, t=30, s=1)),
        Size("64 x 5 folds x 4,000 images, 30 trials (full suite)", 64 * 4000, dict(c=64, f=5, i=4000, t=30, s=1)),
        Size("the full suite x 3 seeds", 3 * 64 * 4000, dict(c=64, f=5, i=4000, t=30, s=3)),
    ]  # fmt: skip
    return (
        [Size("2 configurations x 2 folds x 200 images, 2 trials", 400, dict(c=2, f=2, i=200, t=2, s=1))]
        if quick
        else sizes
    )


def _run_folder(work: Path, size: Size, name: str = "run") -> Path:
    p = size.params
    folder = work / f"{name}-{p['c']}c-{p['f']}f-{p['i']}i-{p['t']}t-{p['s']}s"
    _make_run(folder, p["c"], p["f"], p["i"], p["t"], p["s"])
    return folder


def stage_report(work: Path, quick: bool) -> list[Measurement]:
    out = []
    bootstrap = "100" if quick else "1000"
    for size in _report_sizes(quick):
        folder = _run_folder(work, size)
        out.append(Measurement(size, *_timed(["report", str(folder), "--bootstrap", bootstrap])))
    return out


def stage_compare(work: Path, quick: bool) -> list[Measurement]:
    out = []
    for size in _report_sizes(quick):
        first, second = _run_folder(work, size), _run_folder(work, size, "other")
        argv = ["compare", str(first), str(second), "--out", str(work / "compare-out"), "--no-figures"]
        out.append(Measurement(size, *_timed([*argv, "--bootstrap", "100" if quick else "1000"])))
    return out


def stage_regress(work: Path, quick: bool) -> list[Measurement]:
    out = []
    for size in _report_sizes(quick):
        folder = _run_folder(work, size)
        baseline = work / f"baseline-{folder.name}.json"
        _timed(["baseline", str(folder), "--out", str(baseline)])
        out.append(Measurement(size, *_timed(["regress", str(folder), "--baseline", str(baseline)])))
    return out


def stage_data_check(work: Path, quick: bool) -> list[Measurement]:
    out = []
    for files in (100,) if quick else (1_000, 10_000, 100_000):
        folder = work / f"png-{files}"
        _make_pngs(folder, files)
        argv = ["data", "check", str(folder), "--patient-regex", r"^(p\d+)_", "--quiet"]
        argv += ["--out", str(work / f"audit-png-{files}.json")]
        out.append(Measurement(Size(f"{files:,} PNG files", files, {}), *_timed(argv)))
    return out


def stage_dicom(work: Path, quick: bool) -> list[Measurement]:
    out = []
    for files in (300,) if quick else (1_000, 10_000):
        folder = work / f"dicom-{files}"
        _make_dicoms(folder, files, series=30 if quick else 100)
        argv = ["data", "check", str(folder), "--quiet", "--folds", "3"]
        argv += ["--out", str(work / f"audit-dicom-{files}.json")]
        label = f"{files:,} DICOM files in {30 if quick else 100} series"
        out.append(Measurement(Size(label, files, {}), *_timed(argv)))
    return out


def stage_resume(work: Path, quick: bool) -> list[Measurement]:
    out = []
    for cells in (12,) if quick else (12, 120, 1_200):
        folder = work / f"cells-{cells}"
        _make_cells(folder, cells)
        size = Size(f"{cells:,} finished cells", cells, {})
        out.append(Measurement(size, *_timed([str(folder)], code=_RESUME)))
    return out


STAGES: dict[str, tuple[str, Callable[[Path, bool], list[Measurement]]]] = {
    "report": ("`sdc-bench report` (bootstrap 1,000, figures)", stage_report),
    "data-check": ("`sdc-bench data check`, PNG files", stage_data_check),
    "dicom": ("`sdc-bench data check`, a DICOM tree", stage_dicom),
    "resume": ("`--resume` bookkeeping (set aside unreadable cells, find finished ones)", stage_resume),
    "compare": ("`sdc-bench compare` of two runs (no figures)", stage_compare),
    "regress": ("`sdc-bench regress` against a baseline of the run", stage_regress),
}


def growth_exponent(measurements: Sequence[Measurement]) -> float:
    """Slope of log(seconds) on log(work) by least squares; NaN with fewer than 2 distinct sizes.

    Examples
    --------
    >>> sizes = [Measurement(Size("", w, {}), 0.5 * w, 0.0) for w in (10, 100, 1000)]
    >>> round(growth_exponent(sizes), 3)
    1.0
    """
    points = [(math.log(m.size.work), math.log(m.seconds)) for m in measurements if m.seconds > 0]
    if len({x for x, _ in points}) < 2:
        return math.nan
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def markdown(results: dict[str, list[Measurement]], command: str) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    lines = [
        "# Cost as the work grows",
        "",
        f"`{command}` on {cpu_model()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}; 1-minute load average at the end: {load:.2f}. Each measurement is a "
        "fresh process: wall time includes imports, peak RSS is that process's maximum resident set. The "
        "exponent is the least-squares slope of log(time) on log(work) (1 = linear). Re-run: "
        "`python benchmarks/bench_scale.py` (see its docstring for the stages and bounds).",
    ]
    for name, measurements in results.items():
        title = STAGES[name][0]
        lines += ["", f"## {name}: {title}", ""]
        lines += ["| size | work | wall time (s) | peak RSS (MB) |", "|---|---|---|---|"]
        lines += [
            f"| {m.size.label} | {m.size.work:,} | {m.seconds:.1f} | {m.peak_mb:.0f} |" for m in measurements
        ]
        exponent = growth_exponent(measurements)
        lines += ["", f"Growth exponent: {'n/a (one size)' if math.isnan(exponent) else f'{exponent:.2f}'}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size of each stage (seconds)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--work", help="folder for generated inputs (kept; default: a temporary one)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.md"))
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)}")
    work = (
        Path(args.work) if args.work else Path(os.environ.get("TMPDIR", "/tmp")) / f"sdc-scale-{os.getpid()}"
    )
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[Measurement]] = {}
    try:
        for name in names:
            results[name] = STAGES[name][1](work, args.quick)
            for m in results[name]:
                print(f"{name}: {m.size.label}: {m.seconds:.1f} s, {m.peak_mb:.0f} MB", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    command = "python benchmarks/bench_scale.py" + (" --quick" if args.quick else "")
    if args.stages != parser.get_default("stages"):
        command += f" --stages {args.stages}"
    text = markdown(results, command)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(json.dumps({"written": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
