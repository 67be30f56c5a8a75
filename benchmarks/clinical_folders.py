"""Clinic-shaped folders through ``data check`` and the smoke suite, as a user would run them.

Step 6's acceptance, end to end with the real command line (no test fixtures):

1. a folder of full-spine AP radiographs rendered 3:1 tall, as PNG (patient id in the file name) and as
   DICOM (file names say nothing; PatientID, Modality and ViewPosition only in the headers);
2. a folder of sagittal MRI DICOM series, several series per patient, one file per slice, no patient id
   in any path.

Each folder is audited with ``sdc-bench data check`` and run through ``sdc-bench run --suite smoke``: the
X-rays with a rectangular input (``--set "data.size=[96, 32]"``), the MRI series with 3 slices as channels
(``--set data.slices=3``). The script writes what the audit found (patients, modality, views) and the
smoke run's pooled balanced accuracy per method to a Markdown file. About 2 minutes on 2 cores::

    python benchmarks/clinical_folders.py --out benchmarks/results/clinical_folders.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from sdc_bench.cli import main
from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.data.synthspine import write_mri_series, write_tall_xrays
from sdc_bench.reports.table_render import to_markdown

#: The smoke suite's classes: a class folder outside data.classes is refused (or skipped with --skip-bad).
SMOKE_CLASSES = ("normal", "spondylolisthesis", "vertebral_fracture")
SMOKE_PREVALENCE = (0.5, 0.3, 0.2)
XRAY_CLASSES = ("normal", "scoliosis")
#: The audit lines a reader checks: where patients, modality and views came from.
AUDIT_KEYS = ("grouping", "patients", "modalit", "view", "series", "images")


def check(data: Path, *flags: str) -> tuple[int, list[str]]:
    """``sdc-bench data check DATA``: its exit code and the audit lines that name grouping and metadata."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            ["data", "check", str(data), "--out", str(data.parent / f"audit_{data.name}.json"), *flags]
        )
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return code, [line for line in lines if any(k in line.lower() for k in AUDIT_KEYS)]


def smoke(data: Path, out: Path, flags: list[str], *settings: str) -> dict[str, object]:
    """``sdc-bench run --suite smoke --data DATA FLAGS --set ...``: wall time, geometry and pooled scores."""
    args = [
        "run",
        "--suite",
        "smoke",
        "--data",
        str(data),
        "--out",
        str(out),
        "--quiet",
        "--no-models",
        *flags,
    ]
    for setting in settings:
        args += ["--set", setting]
    started = time.perf_counter()
    code = main(args)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"sdc-bench {' '.join(args)} exited {code}")
    run = json.loads((out / "run.json").read_text())
    metrics = pd.read_csv(out / "metrics.csv")
    pooled = metrics[
        (metrics["metric"] == "balanced_accuracy")
        & (metrics["scope"] == "pooled")
        & (metrics["split"] == OOF_SPLIT)
    ]
    scores = {
        str(r["method"]): f"{r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        for r in pooled.to_dict("records")
    }
    data = run.get("data") or {}
    geometry = {"size_hw": data.get("size_hw"), "slices": data.get("slices")}
    return {"wall_s": round(wall), "geometry": geometry, "scores": scores}


def section(title: str, command: str, audit: tuple[int, list[str]], result: dict[str, object]) -> str:
    code, lines = audit
    scores = pd.DataFrame(
        [{"method": m, "balanced accuracy (pooled OOF, 95% CI)": s} for m, s in result["scores"].items()]  # type: ignore[union-attr]
    )
    return "\n".join(
        [
            f"## {title}",
            "",
            f"`sdc-bench data check` exit {code}; the audit's grouping and metadata lines:",
            "",
            "```",
            *lines,
            "```",
            "",
            f"`{command}`: {result['wall_s']} s; geometry in run.json: `{json.dumps(result['geometry'])}`",
            "",
            to_markdown(scores),
            "",
        ]
    )


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/clinical_folders.md")
    parser.add_argument("--xrays", type=int, default=240)
    parser.add_argument("--mri-patients", type=int, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="clinical_folders_"))
    parts = []
    try:
        # full-spine AP radiographs show scoliosis, not the smoke suite's sagittal classes: the X-ray runs
        # take normal vs scoliosis (data.classes); PNG names carry the patient (<patient>_<n>.png)
        classes = "data.classes=['normal', 'scoliosis']"
        png_flags = ["--patient-regex", r"^(.+)_\d+\.png$", "--view", "ap", "--modality", "xray"]
        folders = {
            "Tall X-rays, PNG": (write_tall_xrays(work / "xray_png", n_images=args.xrays, width=32,
                                                  classes=XRAY_CLASSES), png_flags),
            "Tall X-rays, DICOM": (write_tall_xrays(work / "xray_dicom", n_images=args.xrays, width=32,
                                                    fmt="dicom", classes=XRAY_CLASSES), []),
        }  # fmt: skip
        for title, (data, flags) in folders.items():
            command = " ".join(
                [
                    "sdc-bench run --suite smoke --data DIR",
                    *flags,
                    f'--set "data.size=[96, 32]" --set "{classes}"',
                ]
            )
            result = smoke(data, work / f"run_{data.name}", flags, "data.size=[96, 32]", classes)
            parts.append(section(title, command, check(data, *flags), result))
        mri = write_mri_series(
            work / "mri", n_patients=args.mri_patients, series_per_patient=2, slices=5, seed=4,
            classes=SMOKE_CLASSES, prevalence=SMOKE_PREVALENCE,
        )  # fmt: skip
        command = "sdc-bench run --suite smoke --data DIR --set data.slices=3"
        parts.append(
            section(
                "MRI DICOM series", command, check(mri), smoke(mri, work / "run_mri", [], "data.slices=3")
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(
        [
            "# Clinic-shaped folders through `data check` and the smoke suite",
            "",
            f"`python benchmarks/clinical_folders.py` ({time.strftime('%Y-%m-%d')}; {args.xrays} tall "
            f"X-rays 96x32 per format, {args.mri_patients} MRI patients x 2 series x 5 slices). "
            f"Classes: X-rays {', '.join(XRAY_CLASSES)} (an AP view shows a scoliosis, not the smoke "
            f"suite's sagittal classes); MRI the smoke suite's ({', '.join(SMOKE_CLASSES)}). SynthSpine renders at smoke scale: the scores say the pipeline runs on these inputs, not how "
            "well a method reads full-spine radiographs.",
            "",
            *parts,
        ]
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main_cli()
