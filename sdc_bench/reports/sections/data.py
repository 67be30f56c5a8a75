"""The report's Data section: the data the run saw, the dataset flow over folds (its table), the split audit and
the sample images (its figure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sdc_bench.core.run_manifest import DataRecord
from sdc_bench.reports.document import Section
from sdc_bench.reports.loaders import read_json
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    SINGLE_COLUMN_IN,
    apply_style,
    save_figure,
    wrap_label,
)
from sdc_bench.reports.table_format import decorate

__all__ = ["data_section", "dataset_flow_counts", "dataset_flow_table", "sample_grid"]


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


@report_section("data", title="Data", order=30)
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
        if data.classes_note:
            section.paragraphs.append(data.classes_note)
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
        lambda stem: sample_grid(samples, stem, classes=classes),
    )


def dataset_flow_counts(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """Images and patients per class in the whole dataset and in each fold's train / test part.

    Parameters
    ----------
    manifest : pandas.DataFrame
        ``sample_id``, ``label`` and ``patient_id`` columns.
    splits : mapping
        The ``splits.json`` payload (``folds``: ``outer_fold``, ``train``, ``test``).
    classes : sequence of str, optional
        Class order (the run's); classes of the manifest not in it follow, sorted.

    Returns
    -------
    pandas.DataFrame
        Columns ``outer_fold`` (-1 for the whole dataset), ``part`` (``all``/``train``/``test``),
        ``class_name`` (a class or ``total``), ``n_images``, ``n_patients``.
    """
    manifest = manifest.astype({"sample_id": str, "label": str, "patient_id": str})
    present = set(manifest["label"])
    classes = [str(c) for c in (classes or []) if str(c) in present]
    classes += sorted(present - set(classes))
    by_id = manifest.set_index("sample_id")
    records = []

    def count(outer_fold: int, part: str, ids: Sequence[str] | None) -> None:
        rows = (
            manifest
            if ids is None
            else by_id.loc[by_id.index.intersection([str(i) for i in ids])].reset_index()
        )
        for class_name in [*classes, "total"]:
            chosen = rows if class_name == "total" else rows[rows["label"] == class_name]
            records.append(
                {
                    "outer_fold": outer_fold,
                    "part": part,
                    "class_name": class_name,
                    "n_images": len(chosen),
                    "n_patients": int(chosen["patient_id"].nunique()),
                }
            )

    count(-1, "all", None)
    for fold in sorted(splits.get("folds", []), key=lambda f: int(f["outer_fold"])):
        for part in ("train", "test"):
            count(int(fold["outer_fold"]), part, fold.get(part, []))
    return pd.DataFrame.from_records(records).astype(
        {"outer_fold": np.int64, "n_images": np.int64, "n_patients": np.int64}
    )


def dataset_flow_table(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """CLAIM-style flow: ``images (patients)`` per class, whole dataset then each fold's train / test."""
    counts = dataset_flow_counts(manifest, splits, classes=classes)
    classes = list(dict.fromkeys(counts["class_name"]))
    rows = []
    for fold, part in counts[["outer_fold", "part"]].drop_duplicates().itertuples(index=False):
        group = counts[(counts["outer_fold"] == fold) & (counts["part"] == part)]
        row = {"Fold": "all" if int(fold) < 0 else str(fold), "Set": str(part)}
        for class_name in classes:
            hit = group[group["class_name"] == class_name].iloc[0]
            row["Total" if class_name == "total" else class_name] = f"{hit['n_images']} ({hit['n_patients']})"
        rows.append(row)
    notes = [
        "Images (patients) per class. Outer folds are patient-grouped: no patient is in both the train and "
        "the test part of a fold. Hyperparameter search uses an inner split of the train part only."
    ]
    return decorate(pd.DataFrame(rows), notes=notes, group="Fold")


def sample_grid(
    samples: Mapping[str, np.ndarray],
    stem: str | Path,
    *,
    per_class: int = 6,
    classes: Sequence[str] | None = None,
) -> list[Path]:
    """A few images of each class (rows), as stored in ``samples.npz``."""
    images = np.asarray(samples.get("images", np.empty((0, 0, 0))))
    labels = np.asarray(samples.get("labels", np.empty(0))).astype(str)
    if images.ndim < 3 or len(images) == 0:
        return []
    apply_style()
    order = [c for c in (classes or sorted(set(labels))) if c in set(labels)]
    order += sorted(set(labels) - set(order))
    columns = min(per_class, max(int((labels == c).sum()) for c in order))
    width = SINGLE_COLUMN_IN if columns <= 4 else DOUBLE_COLUMN_IN * 0.75
    cell = (width - 1.0) / columns
    figure, axes = plt.subplots(
        len(order), columns, figsize=(width, cell * len(order) + 0.2), squeeze=False, layout="constrained"
    )
    modality = np.asarray(samples.get("modality", np.full(len(labels), ""))).astype(str)
    if len(set(modality)) < 2:  # name the modality only when the samples mix several
        modality = np.full(len(labels), "")
    for row, name in enumerate(order):
        indices = np.flatnonzero(labels == name)[:columns]
        for column in range(columns):
            ax: Axes = axes[row][column]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if column < len(indices):
                image = images[indices[column]]
                ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
                if modality[indices[column]]:
                    ax.text(
                        0.03,
                        0.03,
                        modality[indices[column]],
                        color="yellow",
                        fontsize=5,
                        transform=ax.transAxes,
                        va="bottom",
                    )
        axes[row][0].set_ylabel(wrap_label(name, 14), rotation=0, ha="right", va="center", fontsize=7)
    return save_figure(figure, stem)
