"""The report's gallery: each method's most confidently wrong out-of-fold cases, with Grad-CAM overlays.

For every method of a run the wrong out-of-fold predictions are ranked by the probability the model gave
its (wrong) predicted class; the top few get an overlay made with the kept model of the cell that
predicted them (each case its own fold's model), on the original image, explaining the predicted class.
The reports floor may not load models, so this module writes everything the report section needs::

    figures/gallery/<method>/<sample id>.png
    figures/gallery/gallery.json    cases (method, sample_id, true, predicted, probability, png) per method,
                                    or the reason a method (or the whole run) has none

``pipeline.py::run_suite`` calls :func:`write_gallery` after the cells and before the reports, and
``sdc-bench report`` calls it again, so the gallery follows the run folder's models.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from sdc_bench.core.contracts import OOF_SPLIT, format_cell_id, probability_column
from sdc_bench.core.errors import SdcBenchError
from sdc_bench.core.geometry import resize_geometry
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.core.store import RunStore, write_json
from sdc_bench.data.decode import Preprocess, read_image
from sdc_bench.data.manifest import ColumnMap
from sdc_bench.data.slices import load_input
from sdc_bench.data.sources import load_source
from sdc_bench.serve.package import input_preprocess
from sdc_bench.zoo.augment import normalize, to_float
from sdc_bench.zoo.model_files import load_kept_model, read_kept_meta
from sdc_bench.zoo.saliency import cam_overlays, overlay_names

__all__ = ["GALLERY_FORMAT", "GALLERY_JSON", "PER_METHOD", "gallery_dir", "write_gallery"]

GALLERY_FORMAT = "sdc-bench-gallery"
GALLERY_JSON = "gallery.json"
#: Cases shown per method.
PER_METHOD = 6


def gallery_dir(run_dir: str | Path) -> Path:
    """``figures/gallery`` of a run folder."""
    return RunStore(Path(run_dir)).figures_dir / "gallery"


def _run_reason(store: RunStore, run: RunManifest | None) -> str | None:
    """Why a whole run has no gallery, or None when it may have one."""
    if importlib.util.find_spec("pytorch_grad_cam") is None:
        return "grad-cam is not installed; install it with pip install 'sdc-bench[saliency]' and run `sdc-bench report`"
    if run is not None and not run.keep_models:
        return "the run was made with --no-models, so no model is there to explain its predictions"
    if not store.models_dir.is_dir() or not any(store.models_dir.glob("*.json")):
        return "the run folder has no kept models (models/); a run made before kept models existed"
    if not (store.root / "predictions.parquet").is_file():
        return "the run folder has no predictions.parquet"
    return None


def _sample_paths(store: RunStore, run: RunManifest | None) -> dict[str, str]:
    """sample_id -> image file, from the run's manifest copy or, when it holds no paths, its source."""
    path = store.root / "manifest.parquet"
    manifest = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
    if "path" not in manifest:
        origin = run.data.origin if run is not None else ""
        if origin.startswith("synthspine:"):
            manifest = load_source(Path(origin.removeprefix("synthspine:")) / "manifest.csv", skip_bad=True)
        else:
            suite = run.suite if run is not None else None
            manifest = load_source(
                origin,
                columns=ColumnMap(**(suite.data_columns if suite else {})),
                patient_regex=suite.patient_regex if suite else None,
                skip_bad=True,
                allow_outside_root=suite.allow_outside_root if suite else False,
            )
    return dict(zip(manifest["sample_id"].astype(str), manifest["path"].astype(str), strict=True))


def _most_confidently_wrong(rows: pd.DataFrame, per_method: int) -> pd.DataFrame:
    wrong = rows[rows["y_true"].astype(str) != rows["y_pred"].astype(str)].copy()
    if wrong.empty:
        return wrong
    wrong["probability"] = [float(row[probability_column(str(row["y_pred"]))]) for _, row in wrong.iterrows()]
    wrong = wrong.sort_values(["probability", "sample_id"], ascending=[False, True], kind="stable")
    return wrong.drop_duplicates("sample_id").head(per_method)


def _model_input(path: str, meta: dict[str, Any]) -> tuple[torch.Tensor, np.ndarray, Preprocess]:
    spec = meta["input"]
    preprocess = input_preprocess(spec)
    pixels = torch.from_numpy(load_input(path, preprocess))
    square = pixels[None, None] if pixels.ndim == 2 else pixels[None]  # (1, K, H, W) for K slices
    original = read_image(path, frame=preprocess.frame, nifti_slice=preprocess.nifti_slices)
    return normalize(to_float(square), spec["mean"], spec["std"]), original, preprocess


def _case_overlay(
    case: pd.Series, model: nn.Module, meta: dict[str, Any], image_path: str, out: Path, name: str
) -> Path:
    inputs, original, preprocess = _model_input(image_path, meta)
    geometry = resize_geometry(original.shape, preprocess.size, preprocess.resize)
    predicted = list(meta["classes"]).index(str(case["y_pred"]))
    return cam_overlays(
        model, meta["backbone"]["name"], inputs, [original], [geometry], out, [name], predicted
    )[0]


def _method_gallery(
    store: RunStore, rows: pd.DataFrame, paths: dict[str, str], method: str, per_method: int
) -> dict[str, Any]:
    entry: dict[str, Any] = {"method": method, "reason": None, "cases": [], "left_out": []}
    cases = _most_confidently_wrong(rows, per_method)
    if cases.empty:
        entry["reason"] = "no wrong out-of-fold predictions"
        return entry
    folder = overlay_names([method])[0]
    names = overlay_names(list(cases["sample_id"].astype(str)))
    models: dict[str, tuple[nn.Module, dict[str, Any]]] = {}
    for name, (_, case) in zip(names, cases.iterrows(), strict=True):
        cell_id = format_cell_id(method, str(case["backbone"]), int(case["seed"]), int(case["outer_fold"]))
        try:
            meta = read_kept_meta(store.model_meta_path(cell_id))
            if not meta.get("exportable"):
                entry["reason"] = (
                    "a features-kind method (hand-crafted features + classifier) has no Grad-CAM"
                )
                return entry
            if cell_id not in models:
                models[cell_id] = load_kept_model(store.model_meta_path(cell_id))
            image = paths.get(str(case["sample_id"]), "")
            png = _case_overlay(case, *models[cell_id], image, store.figures_dir / "gallery" / folder, name)
        except SdcBenchError as error:  # a missing model or image leaves this case out, not the run
            entry["left_out"].append(f"{case['sample_id']}: {str(error).splitlines()[0]}")
            continue
        entry["cases"].append(
            {
                "method": method,
                "sample_id": str(case["sample_id"]),
                "backbone": str(case["backbone"]),
                "outer_fold": int(case["outer_fold"]),
                "seed": int(case["seed"]),
                "true": str(case["y_true"]),
                "predicted": str(case["y_pred"]),
                "probability": round(float(case["probability"]), 4),
                "png": png.relative_to(store.root).as_posix(),
            }
        )
    if not entry["cases"]:
        entry["reason"] = f"no overlay could be made ({entry['left_out'][0]})"
    return entry


def write_gallery(run_dir: str | Path, *, per_method: int = PER_METHOD) -> Path:
    """Write ``figures/gallery/`` of a run folder (replacing an earlier one); returns its gallery.json."""
    store = RunStore(Path(run_dir))
    out = gallery_dir(store.root)
    if out.is_dir():
        shutil.rmtree(out)
    run = store.read_manifest() if store.has_manifest() else None
    record: dict[str, Any] = {
        "format": GALLERY_FORMAT,
        "per_method": per_method,
        "reason": None,
        "methods": [],
    }
    record["reason"] = _run_reason(store, run)
    if record["reason"] is None:
        try:
            paths = _sample_paths(store, run)
        except SdcBenchError as error:
            record["reason"] = f"the run's images cannot be read ({str(error).splitlines()[0]})"
    if record["reason"] is None:
        predictions = store.read_predictions()
        oof = predictions[predictions["split"] == OOF_SPLIT]
        for method, rows in oof.groupby("method", sort=True):
            record["methods"].append(_method_gallery(store, rows, paths, str(method), per_method))
    shown = sum(len(entry["cases"]) for entry in record["methods"])
    write_json(out / GALLERY_JSON, record)
    store.log_line(f"gallery: {shown} confidently wrong cases of {len(record['methods'])} methods")
    return out / GALLERY_JSON
