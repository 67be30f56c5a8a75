"""The report's Data section: the data the run saw, the dataset flow over folds, the split audit, samples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.run_manifest import DataRecord
from sdc_bench.reports import figures
from sdc_bench.reports.loaders import read_json
from sdc_bench.reports.report import Section
from sdc_bench.reports.sections.context import ReportContext
from sdc_bench.reports.tables import dataset_flow_table

__all__ = ["data_section"]

_AUDIT_FACTS = (
    ("n_images", "Images"),
    ("n_patients", "Patients"),
    ("images_per_class", "Images per class"),
    ("patients_per_class", "Patients per class"),
    ("images_per_modality", "Images per modality"),
    ("images_per_view", "Images per view"),
    ("image_aspect", "Image aspect (rows / columns, median)"),
    ("size_hw", "Model input (rows x columns)"),
    ("series", "DICOM series"),
    ("grouping", "Grouping"),
    ("images_per_patient", "Images per patient"),
    ("patients_in_several_classes", "Patients in several classes"),
    ("duplicate_groups", "Duplicate image groups"),
    ("cross_patient_duplicates", "Duplicates across patients"),
    ("unreadable", "Unreadable files"),
    ("small_classes", "Small classes"),
    ("patient_from", "Patient identity from"),
    ("fingerprint", "Data fingerprint"),
)


def data_section(ctx: ReportContext) -> Section:
    """What the data was, images (patients) per class and fold, the split audit and example images."""
    section = Section("Data")
    data = ctx.run.data
    if data:
        section.paragraphs.append(
            f"{data.n_images} images of {data.n_patients} patients from "
            f"`{data.origin}`; classes: {', '.join(map(str, data.classes))}; preprocessing: "
            + ", ".join(f"{k}={v}" for k, v in data.preprocess.items())
            + "."
        )
        section.paragraphs.append(_geometry_line(data))
    _add_dataset_flow(ctx, section, list(data.classes))
    _add_audit(ctx, section)
    _add_samples(ctx, section, list(data.classes))
    return section


def _geometry_line(data: DataRecord) -> str:
    """The input geometry in one line: a rectangle and slices as channels change what a model sees."""
    shape = "x".join(map(str, data.size_hw))
    slices = data.slices
    depth = f"{slices} adjacent slices as channels (2.5D)" if slices > 1 else "one slice or image per sample"
    return f"Model input: {shape} pixels (rows x columns), {depth}."


def _add_dataset_flow(ctx: ReportContext, section: Section, classes: Any) -> None:
    manifest_path, splits_path = ctx.root / "manifest.parquet", ctx.root / "splits.json"
    if not (manifest_path.is_file() and splits_path.is_file()):
        missing = [p.name for p in (manifest_path, splits_path) if not p.is_file()]
        section.paragraphs.append(f"Dataset flow skipped: {', '.join(missing)} absent.")
        ctx.skipped.append("dataset flow (" + ", ".join(missing) + ")")
        return
    manifest = pd.read_parquet(manifest_path)
    splits = read_json(splits_path)
    section.items.append(
        ctx.writer.table(
            "dataset_flow",
            dataset_flow_table(manifest, splits, classes=classes),
            "Dataset flow: images (patients) per class in the whole dataset and in each outer fold's train "
            f"and test parts (split seed {splits.get('seed', '?')}"
            + (
                "; the folds of the other protocol seeds are in splits.json)."
                if len(splits.get("seeds") or []) > 1
                else ")."
            ),
        )
    )


def _audit_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return (
            ", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
            or "none"
        )
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return "x".join(map(str, value))  # a shape such as size_hw [rows, columns]
    if isinstance(value, list):
        return str(len(value))
    return str(value)


def _add_audit(ctx: ReportContext, section: Section) -> None:
    audit = read_json(ctx.root / "audit.json")
    if not audit:
        section.paragraphs.append("Split audit skipped: `audit.json` absent.")
        ctx.skipped.append("data audit (audit.json)")
        return
    section.paragraphs.append("Split audit (`audit.json`):")
    section.facts += [(title, _audit_value(audit[key])) for key, title in _AUDIT_FACTS if key in audit]
    warnings_list = audit.get("warnings") or []
    section.facts.append(("Audit warnings", "; ".join(map(str, warnings_list)) if warnings_list else "none"))


def _add_samples(ctx: ReportContext, section: Section, classes: Any) -> None:
    samples_path = ctx.root / "samples.npz"
    if not samples_path.is_file():
        ctx.skipped.append("sample images (samples.npz)")
        return
    with np.load(samples_path, allow_pickle=False) as npz:
        # K slices as channels: show the middle slice, the one a 1-slice run would read
        samples = {k: npz[k][:, npz[k].shape[1] // 2] if npz[k].ndim == 4 else npz[k] for k in npz.files}
    section.items += ctx.writer.figure(
        "sample_grid",
        "Example images per class, as the models saw them after preprocessing.",
        lambda stem: figures.sample_grid(samples, stem, classes=classes),
    )
