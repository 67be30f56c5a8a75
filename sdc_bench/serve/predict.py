"""``sdc-bench predict``: class probabilities of a model package for every image of a source.

A source is anything ``run`` reads (a CSV manifest, a folder of class sub-folders, DICOM, NIfTI) or, for
unlabelled images, one image file or a folder of loose image files. Every image goes through the package's
own preprocessing with the same decoder the tensor cache uses (:func:`sdc_bench.data.slices.load_input`),
so a training image gives the probabilities its run gave it. Each row is flagged when the image's modality,
size or bit depth never occurred in the training data (the training audit stored in the package); a DICOM
file's modality is read from its header (CT, MR, CR/DX ...), so a CT slice is flagged for an X-ray package.

With ``--cam DIR`` every image also gets a Grad-CAM overlay PNG on its original geometry (the letterbox
undone), explaining the predicted class; an ensemble's members' maps are averaged. The overlays are named
after the sample ids (:func:`sdc_bench.zoo.saliency.overlay_names`) and listed in the ``cam_png`` column.
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
from sdc_bench.core.geometry import resize_geometry
from sdc_bench.core.store import write_text
from sdc_bench.data.audit import inspect_file
from sdc_bench.data.decode import is_dicom, read_image
from sdc_bench.data.slices import load_input
from sdc_bench.data.sources import is_image_file, load_source
from sdc_bench.serve.package import ModelPackage, as_batch, input_preprocess, load_package
from sdc_bench.zoo.augment import normalize, to_float
from sdc_bench.zoo.saliency import cam_overlays, overlay_names

__all__ = ["PREDICTION_FLAGS", "PredictOptions", "PredictResult", "predict_source", "source_manifest"]

#: Out-of-distribution flags of a prediction row: seen in training or not, by the training audit.
PREDICTION_FLAGS = ("unseen_modality", "unseen_size", "unseen_bit_depth")


@dataclass(frozen=True)
class PredictOptions:
    batch_size: int = 128
    device: str = "cpu"
    skip_bad: bool = False
    member: str | None = None  # one member of the package instead of the ensemble
    cam_dir: Path | None = None  # write a Grad-CAM overlay PNG per image there (members' maps averaged)


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


# DICOM Modality codes of projection radiographs; MR is the project's "mri"; any other code is itself
_DICOM_XRAY = frozenset({"CR", "DX", "DR", "RG", "RF", "XA"})


def _dicom_modality(path: str) -> str:
    """The project's name for a DICOM file's Modality (``CT`` -> ``ct``); '' when not DICOM or not set."""
    if not is_dicom(path):
        return ""
    import pydicom

    try:
        code = str(pydicom.dcmread(path, stop_before_pixels=True, force=True).get("Modality", "") or "")
    except Exception:  # an unreadable header is reported by the decoder, not here
        return ""
    code = code.strip().upper()
    return "xray" if code in _DICOM_XRAY else "mri" if code == "MR" else code.lower()


def _flags(package: ModelPackage, manifest: pd.DataFrame) -> dict[str, list[bool]]:
    seen = package.info["training"]["seen"]
    flags: dict[str, list[bool]] = {name: [] for name in PREDICTION_FLAGS}
    for path, listed in zip(manifest["path"], manifest["modality"], strict=True):
        info = inspect_file(path)
        # a DICOM header says what the scanner was; a folder source only says what the user declared
        modality = _dicom_modality(path) or listed
        flags["unseen_modality"].append(
            bool(modality) and bool(seen["modalities"]) and modality not in seen["modalities"]
        )
        flags["unseen_size"].append(bool(seen["image_sizes"]) and info.size not in seen["image_sizes"])
        flags["unseen_bit_depth"].append(
            bool(seen["bit_depths"]) and str(info.bit_depth) not in seen["bit_depths"]
        )
    return flags


@dataclass
class _Batch:
    """One batch of decoded images: their manifest rows, the model inputs and, for --cam, the originals."""

    rows: list[int] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    originals: list[np.ndarray] = field(default_factory=list)


def _decode_batch(
    package: ModelPackage,
    paths: pd.Series,
    first_row: int,
    originals: bool,
    skip_bad: bool,
    skipped: list[tuple[str, str]],
) -> _Batch:
    preprocess, batch = package.preprocess, _Batch()
    for row, path in enumerate(paths, start=first_row):
        try:
            batch.images.append(load_input(path, preprocess))  # (K, H, W) for K slices, as the cache
            if originals:  # decoded again, so the model input is exactly the cache's with or without --cam
                batch.originals.append(
                    read_image(path, frame=preprocess.frame, nifti_slice=preprocess.nifti_slices)
                )
        except DataError as error:
            if not skip_bad:
                raise
            skipped.append((str(path), str(error).split(": ", 1)[-1]))
            del batch.images[len(batch.rows) :]
            continue
        batch.rows.append(row)
    return batch


def _write_cams(
    package: ModelPackage, batch: _Batch, proba: np.ndarray, names: list[str], options: PredictOptions
) -> list[str]:
    chosen = [package.member(options.member)] if options.member else list(package.members)
    spec = package.info["input"]
    tensor = as_batch(np.stack(batch.images)).to(options.device)
    inputs = normalize(to_float(tensor), spec["mean"], spec["std"])
    size = input_preprocess(spec).size
    geometries = [resize_geometry(o.shape[-2:], size, str(spec["resize"])) for o in batch.originals]
    assert options.cam_dir is not None
    paths = cam_overlays(
        [m.model for m in chosen],
        str(package.info["backbone"]["name"]),
        inputs,
        batch.originals,
        geometries,
        options.cam_dir,
        names,
        [int(c) for c in proba.argmax(axis=1)],
    )
    return [str(path) for path in paths]


def _no_image(skipped: list[tuple[str, str]]) -> DataError:
    first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
    return DataError(f"no image of the source could be read; {len(skipped)} skipped{first}")


def predict_source(
    model_dir: str | Path, source: str | Path, options: PredictOptions = PredictOptions()
) -> PredictResult:
    """Probabilities, predicted class and out-of-distribution flags for every readable image of ``source``.

    Images are decoded, predicted and (with ``options.cam_dir``) explained one batch at a time, so the
    originals of a large source are never all in memory. ``images_per_s`` times the forward passes only.
    """
    package = load_package(model_dir)
    manifest = source_manifest(source, skip_bad=options.skip_bad)
    skipped = list(manifest.attrs.get("skipped", []))
    cam_names = overlay_names(list(manifest["sample_id"])) if options.cam_dir is not None else []
    kept: list[int] = []
    probas: list[np.ndarray] = []
    cams: list[str] = []
    seconds = 0.0
    for start in range(0, len(manifest), options.batch_size):
        paths = manifest["path"].iloc[start : start + options.batch_size]
        batch = _decode_batch(package, paths, start, options.cam_dir is not None, options.skip_bad, skipped)
        if not batch.rows:
            continue
        started = time.perf_counter()
        proba = package.predict_proba(
            np.stack(batch.images),
            member=options.member,
            batch_size=options.batch_size,
            device=options.device,
        )
        seconds += time.perf_counter() - started
        if options.cam_dir is not None:
            cams += _write_cams(package, batch, proba, [cam_names[row] for row in batch.rows], options)
        kept += batch.rows
        probas.append(proba)
    if not kept:
        raise _no_image(skipped)
    return _result(
        package,
        manifest.iloc[kept].reset_index(drop=True),
        np.concatenate(probas),
        cams,
        seconds,
        skipped,
        options.member,
    )


def _result(
    package: ModelPackage,
    manifest: pd.DataFrame,
    proba: np.ndarray,
    cams: list[str],
    seconds: float,
    skipped: list[tuple[str, str]],
    member: str | None = None,
) -> PredictResult:
    columns: dict[str, Any] = {
        "sample_id": manifest["sample_id"],
        "path": manifest["path"],
        "label": manifest["label"],
    }
    for code, name in enumerate(package.classes):
        columns[probability_column(name)] = proba[:, code]
    columns["predicted"] = package.predicted(proba, member)  # the package's stored decision rule
    columns.update(_flags(package, manifest))
    if cams:
        columns["cam_png"] = cams
    return PredictResult(pd.DataFrame(columns), len(manifest) / max(seconds, 1e-9), skipped)


def write_predictions(result: PredictResult, out: str | Path) -> Path:
    """The predictions as CSV (atomic write)."""
    out = Path(out)
    write_text(out, result.frame.to_csv(index=False))
    return out
