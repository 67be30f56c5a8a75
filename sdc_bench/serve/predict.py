"""``sdc-bench predict``: class probabilities of a model package for every image of a source.

A source is anything ``run`` reads (a CSV manifest, a folder of class sub-folders, DICOM, NIfTI) or, for
unlabelled images, one image file or a folder of loose image files. Every image goes through the package's
own preprocessing with the same decoder the tensor cache uses (:func:`sdc_bench.data.decode.load_preprocessed`),
so a training image gives the probabilities its run gave it. Each row is flagged when the image's modality,
size or bit depth never occurred in the training data (the training audit stored in the package).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import probability_column
from sdc_bench.core.errors import DataError
from sdc_bench.core.store import write_text
from sdc_bench.data.audit import inspect_file
from sdc_bench.data.decode import load_preprocessed
from sdc_bench.data.sources import is_image_file, load_source
from sdc_bench.serve.package import ModelPackage, load_package

__all__ = ["PREDICTION_FLAGS", "PredictOptions", "PredictResult", "predict_source", "source_manifest"]

#: Out-of-distribution flags of a prediction row: seen in training or not, by the training audit.
PREDICTION_FLAGS = ("unseen_modality", "unseen_size", "unseen_bit_depth")


@dataclass(frozen=True)
class PredictOptions:
    batch_size: int = 128
    device: str = "cpu"
    skip_bad: bool = False
    member: str | None = None  # one member of the package instead of the ensemble


@dataclass(frozen=True)
class PredictResult:
    frame: pd.DataFrame
    images_per_s: float
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _loose_images(path: Path) -> list[Path] | None:
    """Unlabelled input: one image file, or a folder of image files without class sub-folders."""
    if path.is_file() and path.suffix.lower() != ".csv":
        return [path]
    if path.is_dir() and not (path / "manifest.csv").is_file():
        entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        if entries and not any(p.is_dir() for p in entries):
            return [p for p in entries if is_image_file(p)]
    return None


def source_manifest(source: str | Path, *, skip_bad: bool = False) -> pd.DataFrame:
    """sample_id, path, label ('' when unlabelled) and modality of every image of a source."""
    path = Path(source).expanduser()
    loose = _loose_images(path)
    if loose is None:
        manifest = load_source(path, skip_bad=skip_bad)
        frame = manifest[["sample_id", "path", "label", "modality"]].astype(str).reset_index(drop=True)
        frame.attrs["skipped"] = list(manifest.attrs.get("skipped", []))
        return frame
    if not loose:
        raise DataError(f"{path}: no image files there (PNG, JPEG, TIFF, BMP, DICOM, NIfTI)")
    root = path if path.is_dir() else path.parent
    rows = [
        {"sample_id": p.relative_to(root).as_posix(), "path": str(p.resolve()), "label": "", "modality": ""}
        for p in loose
    ]
    frame = pd.DataFrame(rows, columns=["sample_id", "path", "label", "modality"])
    frame.attrs["skipped"] = []
    return frame


def _flags(package: ModelPackage, manifest: pd.DataFrame) -> dict[str, list[bool]]:
    seen = package.info["training"]["seen"]
    flags: dict[str, list[bool]] = {name: [] for name in PREDICTION_FLAGS}
    for path, modality in zip(manifest["path"], manifest["modality"], strict=True):
        info = inspect_file(path)
        flags["unseen_modality"].append(
            bool(modality) and bool(seen["modalities"]) and modality not in seen["modalities"]
        )
        flags["unseen_size"].append(bool(seen["image_sizes"]) and info.size not in seen["image_sizes"])
        flags["unseen_bit_depth"].append(
            bool(seen["bit_depths"]) and str(info.bit_depth) not in seen["bit_depths"]
        )
    return flags


def _decode(
    package: ModelPackage, manifest: pd.DataFrame, skip_bad: bool
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    preprocess = package.preprocess
    images, kept, skipped = [], [], list(manifest.attrs.get("skipped", []))
    for row, path in enumerate(manifest["path"]):
        try:
            images.append(load_preprocessed(path, preprocess))
        except DataError as error:
            if not skip_bad:
                raise
            skipped.append((str(path), str(error).split(": ", 1)[-1]))
            continue
        kept.append(row)
    if not images:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"no image of the source could be read; {len(skipped)} skipped{first}")
    return manifest.iloc[kept].reset_index(drop=True), np.stack(images), skipped


def predict_source(
    model_dir: str | Path, source: str | Path, options: PredictOptions = PredictOptions()
) -> PredictResult:
    """Probabilities, predicted class and out-of-distribution flags for every readable image of ``source``."""
    package = load_package(model_dir)
    manifest, images, skipped = _decode(
        package, source_manifest(source, skip_bad=options.skip_bad), options.skip_bad
    )
    started = time.perf_counter()
    proba = package.predict_proba(
        images, member=options.member, batch_size=options.batch_size, device=options.device
    )
    images_per_s = len(images) / max(time.perf_counter() - started, 1e-9)
    classes = np.asarray(package.classes)
    columns: dict[str, Any] = {
        "sample_id": manifest["sample_id"],
        "path": manifest["path"],
        "label": manifest["label"],
    }
    for code, name in enumerate(package.classes):
        columns[probability_column(name)] = proba[:, code]
    columns["predicted"] = classes[proba.argmax(axis=1)]
    columns.update(_flags(package, manifest))
    return PredictResult(pd.DataFrame(columns), images_per_s, skipped)


def write_predictions(result: PredictResult, out: str | Path) -> Path:
    """The predictions as CSV (atomic write)."""
    out = Path(out)
    write_text(out, result.frame.to_csv(index=False))
    return out
