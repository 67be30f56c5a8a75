"""Write one converted task as a self-contained dataset folder: images, manifest.csv, audit.json, DATASET.md.

The images are hard-linked (copied where a link cannot be made) below ``<out>/images/``, so the manifest's
paths stay inside its folder, as every source of a run must (:mod:`sdc_bench.data.paths`).
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from sdc_bench.core.errors import DataError
from sdc_bench.core.store import write_json, write_text
from sdc_bench.data.audit import audit_manifest
from sdc_bench.data.datasets._base import Conversion, Dataset, Task
from sdc_bench.data.decode import is_dicom
from sdc_bench.data.dicom_meta import VOLUME_MODALITIES, series_files
from sdc_bench.data.sources import load_source

__all__ = ["WrittenDataset", "count_warnings", "write_dataset"]

_FIRST_COLUMNS = ("sample_id", "path", "label", "patient_id", "modality", "view")


@dataclass(frozen=True)
class WrittenDataset:
    """What ``data get`` wrote, and the counts to say."""

    manifest: Path
    audit: Path
    card: Path
    counts: dict[str, int]
    dropped: int
    warnings: tuple[str, ...] = ()


def _companions(path: Path, row: dict[str, str]) -> list[Path]:
    """Files an image needs beside it: a ``.mhd`` header's ``ElementDataFile``; an MRI/CT DICOM series' slices."""
    if is_dicom(path) and row.get("modality") in VOLUME_MODALITIES:
        return [file for file in series_files(path) if file != path]
    if path.suffix.lower() != ".mhd":
        return []
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ElementDataFile" and value.strip() not in ("", "LOCAL"):
            return [path.parent / value.strip()]
    return []


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def _link_images(root: Path, out: Path, conversion: Conversion) -> list[dict[str, str]]:
    rows = []
    for row in conversion.rows:
        source = root / row["path"]
        relative = Path("images") / row["path"]
        for file in (source, *_companions(source, row)):
            if not file.is_file():
                raise DataError(f"{file}: listed by the converter but missing from the copy; check --from")
            _place(file, out / relative.parent / file.name)
        rows.append({**row, "sample_id": row.get("sample_id") or row["path"], "path": relative.as_posix()})
    return rows


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    extra = sorted({key for row in rows for key in row} - set(_FIRST_COLUMNS))
    columns = [*_FIRST_COLUMNS, *extra]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})


def counts_table(task: Task, counts: dict[str, int]) -> list[str]:
    """Markdown rows: each class's converted count beside its documented one."""
    lines = [f"| class | {task.unit}s converted | documented |", "|---|---:|---:|"]
    for label in task.classes:
        documented = task.documented_counts.get(label)
        lines.append(
            f"| {label} | {counts.get(label, 0)} | {documented if documented is not None else '-'} |"
        )
    return lines


def count_warnings(
    dataset: Dataset, task: Task, counts: dict[str, int], totals: dict[str, int] | None = None
) -> list[str]:
    """One line per converted count that differs from the documented one (class counts, then totals).

    Examples
    --------
    >>> from sdc_bench.data.datasets import DATASETS
    >>> fraiwan = DATASETS["fraiwan"]
    >>> count_warnings(fraiwan, fraiwan.task("3class"), {"normal": 71, "scoliosis": 188, "spondylolisthesis": 79})
    []
    >>> count_warnings(fraiwan, fraiwan.task("3class"), {"normal": 2, "scoliosis": 188, "spondylolisthesis": 79})[0][:58]
    'warning: fraiwan-3class: normal: 2 images converted but 71'
    """
    lines = []
    where = f"{dataset.name}-{task.name}"
    for label, documented in task.documented_counts.items():
        if counts.get(label, 0) != documented:
            lines.append(
                f"warning: {where}: {label}: {counts.get(label, 0)} {task.unit}s converted but {documented} "
                "documented (DATASET.md cites where); a partial or changed copy, or a converter that drops or "
                "mislabels"
            )
    for name, documented in dataset.documented_totals.items():
        found = (totals or {}).get(name)
        if found is not None and found != documented:
            lines.append(
                f"warning: {dataset.name}: the copy holds {found} {name} but {documented} are documented "
                "(DATASET.md cites where); a partial or changed copy"
            )
    return lines


def _documented_line(dataset: Dataset, task: Task) -> str:
    if task.documented_counts:
        return f"Documented counts: {task.counts_source}."
    if dataset.documented_totals:
        totals = ", ".join(f"{n} {name}" for name, n in dataset.documented_totals.items())
        return (
            f"Documented counts: no per-task class counts are published; the dataset's documented totals are "
            f"{totals} ({dataset.totals_source}), compared below with this copy's."
        )
    return (
        "Documented counts: none recorded in the registry for this task; the converted counts above are this "
        "copy's own."
    )


def _card(
    dataset: Dataset,
    task: Task,
    conversion: Conversion,
    counts: dict[str, int],
    warnings: list[str],
) -> str:
    lines = [
        f"# {dataset.title}: task {dataset.name}-{task.name}",
        "",
        f"Written by `sdc-bench data get {dataset.name} --task {task.name}`. Homepage: {dataset.homepage}",
        "",
        "## Licence",
        "",
        dataset.licence,
        "",
        "## Task",
        "",
        f"{task.description} (one label per {task.unit}).",
        "",
        *counts_table(task, counts),
        "",
        _documented_line(dataset, task),
        "",
    ]
    if conversion.totals:
        lines += [
            "This copy held: " + ", ".join(f"{n} {name}" for name, n in conversion.totals.items()) + ".",
            "",
        ]
    if warnings:
        lines += [*(f"- **{line}**" for line in warnings), ""]
    else:
        if task.documented_counts or dataset.documented_totals:
            lines += ["The converted counts match the documented ones.", ""]
    lines += [
        "## Dropped by the converter",
        "",
    ]
    if conversion.dropped:
        for reason, ids in conversion.dropped.items():
            shown = ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")
            lines.append(f"- {len(ids)} {task.unit}(s): {reason}: {shown}")
    else:
        lines.append("Nothing.")
    if conversion.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in conversion.notes)]
    lines += ["", "## Citation", "", "```bibtex", dataset.citation.strip(), "```", ""]
    return "\n".join(lines)


def write_dataset(
    dataset: Dataset, task: Task, conversion: Conversion, root: Path, out: Path
) -> WrittenDataset:
    """Write ``<out>/images/``, ``manifest.csv``, ``audit.json`` and ``DATASET.md`` for one converted task.

    Raises
    ------
    DataError
        When the conversion has no rows, or a listed file is missing.
    """
    if not conversion.rows:
        raise DataError(
            f"{dataset.name}-{task.name}: the converter found no labelled {task.unit} under {root}; "
            "check that --from points at the dataset's folder as published"
        )
    out.mkdir(parents=True, exist_ok=True)
    rows = _link_images(root, out, conversion)
    manifest_path = out / "manifest.csv"
    _write_manifest(manifest_path, rows)
    counts = conversion.counts("path" if task.unit == "image" else "patient_id")
    warnings = count_warnings(dataset, task, counts, dict(conversion.totals))
    manifest = load_source(manifest_path, classes=task.classes)
    report = audit_manifest(manifest, n_folds=5, read_headers=True)
    report = replace(report, warnings=(*report.warnings, *conversion.notes, *warnings))
    audit_path = out / "audit.json"
    write_json(
        audit_path,
        {
            **report.to_dict(),
            "dataset": {
                "name": dataset.name,
                "task": f"{dataset.name}-{task.name}",
                "licence": dataset.licence,
                "unit": task.unit,
                "converted_counts": counts,
                "documented_counts": dict(task.documented_counts),
                "totals": dict(conversion.totals),
                "documented_totals": dict(dataset.documented_totals),
                "count_warnings": warnings,
                "dropped": {reason: list(ids) for reason, ids in conversion.dropped.items()},
                "notes": list(conversion.notes),
            },
        },
    )
    card_path = out / "DATASET.md"
    write_text(card_path, _card(dataset, task, conversion, counts, warnings))
    dropped = sum(len(ids) for ids in conversion.dropped.values())
    return WrittenDataset(manifest_path, audit_path, card_path, counts, dropped, tuple(warnings))
