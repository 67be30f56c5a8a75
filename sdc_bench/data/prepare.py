"""The data stage as the runner sees it: a suite's data spec -> manifest -> audit -> tensor cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.geometry import target_hw
from sdc_bench.data.auto_size import auto_hw, auto_side, median_aspect
from sdc_bench.data.cache import TensorCache, build_cache
from sdc_bench.data.decode import Preprocess
from sdc_bench.data.duplicates import check_duplicates
from sdc_bench.data.file_info import inspect_file
from sdc_bench.data.manifest import fingerprint
from sdc_bench.data.slices import SLICE_GAPS_FIX, find_slice_gaps
from sdc_bench.data.sources import load_source
from sdc_bench.data.spec import DataSpec

__all__ = ["PreparedData", "cache_root", "check_manifest_source", "prepare_data", "synthspine_dataset"]

CACHE_ENV = "SDC_BENCH_CACHE"
_AUTO_SAMPLE = 500  # images whose headers decide data.size = "auto" (evenly spread over the manifest)
_logger = logging.getLogger(__name__)


def cache_root() -> Path:
    """Where generated datasets and tensor caches live (``$SDC_BENCH_CACHE``, default ``~/.cache/sdc-bench``)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sdc-bench")


@dataclass(frozen=True)
class PreparedData:
    manifest: pd.DataFrame  # one row per image, index aligned with ``images``
    images: np.ndarray  # (N, size, size) uint8, memory-mapped
    classes: tuple[str, ...]
    fingerprint: str
    origin: str  # 'synthspine:<folder>' or the user's source path
    preprocess: Preprocess
    size_note: str = ""  # how data.size = "auto" chose the input shape ('' for a fixed size)
    gap_note: str = ""  # slice gaps accepted with data.allow_slice_gaps ('' when none)
    classes_note: str = ""  # where the classes came from, when they are the user's data's own ('' otherwise)

    @property
    def size_hw(self) -> tuple[int, int]:
        """``(rows, columns)`` of the model input."""
        return self.preprocess.hw

    @property
    def slices(self) -> int:
        """Input channels: adjacent slices per sample (1 for 2-D images)."""
        return self.preprocess.slices

    def labels(self) -> np.ndarray:
        lookup = {name: code for code, name in enumerate(self.classes)}
        return self.manifest["label"].map(lookup).to_numpy(dtype=np.int64)

    def rows(self, sample_ids: list[str] | tuple[str, ...]) -> np.ndarray:
        position = pd.Series(np.arange(len(self.manifest)), index=self.manifest["sample_id"])
        return position.loc[list(sample_ids)].to_numpy()


def _render_side(size: int | tuple[int, int] | str) -> int:
    """SynthSpine's square render side for a ``data.size``: at least 128, at least the input's long side."""
    return 128 if isinstance(size, str) else max(max(target_hw(size)), 128)


def _input_size(spec: DataSpec, manifest: pd.DataFrame) -> tuple[int | tuple[int, int], str]:
    """The model input's size, and for ``data.size = "auto"`` a line saying what it chose and why."""
    if not isinstance(spec.size, str):
        return spec.size, ""
    side = auto_side(spec.size)
    paths = manifest["path"].astype(str).tolist()
    step = max(1, len(paths) // _AUTO_SAMPLE)
    shapes = [inspect_file(p, max_pixels=spec.max_image_pixels).hw for p in paths[::step]]
    aspect = median_aspect(shapes)
    rows, columns = auto_hw(aspect, side)
    note = (
        f"data.size={spec.size}: median aspect (rows/columns) {aspect:.2f} of {len(shapes)} image(s) -> "
        f"input {rows}x{columns} (within {side}x{side} pixels, multiples of 32)"
    )
    _logger.info(note)
    return (rows if rows == columns else (rows, columns)), note


def synthspine_dataset(spec: DataSpec, seed: int, *, progress: bool = True) -> Path:
    """Generate (once) the SynthSpine dataset a data spec describes; return the folder holding manifest.csv."""
    from sdc_bench.data.synthspine import SynthConfig, generate

    config = SynthConfig(
        n_images=spec.n_images,
        seed=seed,
        size=_render_side(spec.size),  # render at >= 128 px; the cache downsamples with antialiasing
        classes=tuple(spec.classes) or SynthConfig().classes,
        prevalence=tuple(spec.prevalence) or None,
        modalities=tuple(spec.modalities),
        site=spec.site,
    )
    key = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = cache_root() / "synthspine" / key
    if (folder / "manifest.csv").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
    try:
        generate(staging, config, progress=progress)
        os.replace(staging, folder)  # a killed generation never leaves a half dataset behind
    except OSError:
        if not (folder / "manifest.csv").is_file():  # lost a race with another process: theirs is as good
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def prepare_data(
    spec: DataSpec,
    *,
    seed: int,
    source: str | Path | None = None,
    progress: bool = True,
    skip_bad: bool = False,
    classes_pinned_by: str = "",
) -> PreparedData:
    """Resolve the source, validate the manifest, and decode every image once into the tensor cache.

    ``classes_pinned_by``: who pinned ``spec.classes`` for this data (``run --data`` with a suite written for
    a dataset, :func:`sdc_bench.benchmark.suite.with_own_data`); the data's own classes must then be the
    same set, or a :class:`~sdc_bench.core.errors.ConfigError` names both lists and the ``--set`` fix.
    """
    chosen = source if source is not None else spec.source
    classes_filter = tuple(spec.classes) or None
    if isinstance(chosen, str) and chosen.startswith("dataset:"):
        from sdc_bench.data.datasets import resolve_dataset_source  # the registry imports this module

        chosen = resolve_dataset_source(chosen, progress=progress)
    if str(chosen) == "synthspine":
        folder = synthspine_dataset(spec, seed, progress=progress)
        manifest = load_source(folder / "manifest.csv", classes=classes_filter)
        origin = f"synthspine:{folder}"
    else:
        # pinned classes are checked against the data's own below, with a message naming both lists
        manifest = _load_user_source(spec, chosen, skip_bad, None if classes_pinned_by else classes_filter)
        origin = str(chosen)
        if classes_pinned_by and classes_filter is not None:
            _check_pinned_classes(manifest, classes_filter, classes_pinned_by, origin)
        if not spec.allow_duplicates:
            check_duplicates(manifest, origin)
    prepared = _cached(spec, manifest, classes_filter, origin, progress=progress, skip_bad=skip_bad)
    if classes_filter or origin.startswith("synthspine:"):
        return prepared
    return replace(prepared, classes_note=_own_classes_note(prepared.classes))


def _own_classes_note(classes: tuple[str, ...]) -> str:
    """The sentence saying that the classes are the data's own (no ``data.classes`` applies)."""
    listed = json.dumps(list(classes))
    return (
        f"Classes are the data's own: the {len(classes)} labels of the data, in name order ({', '.join(classes)}); "
        f"no suite's class list applies. To choose or order them: --set 'data.classes={listed}'."
    )


def _check_pinned_classes(
    manifest: pd.DataFrame, pinned: tuple[str, ...], pinned_by: str, origin: str
) -> None:
    """One line naming both lists and the fix when the data's classes are not those a suite pins."""
    own = sorted(map(str, manifest["label"].unique()))
    if set(own) == set(pinned):
        return
    raise ConfigError(
        f"{origin}: the data's classes {own} are not the classes {list(pinned)} that {pinned_by} pins; "
        f"to run on the data's classes give --set 'data.classes={json.dumps(own)}'"
    )


def _load_user_source(
    spec: DataSpec, source: str | Path, skip_bad: bool, classes: tuple[str, ...] | None
) -> pd.DataFrame:
    """The validated manifest of a user's source (a CSV manifest or class folders) under ``spec``, keeping
    ``classes`` only (None: every label)."""
    return load_source(
        source,
        columns=spec.column_map(),
        patient_regex=spec.patient_regex,
        classes=classes,
        skip_bad=skip_bad,
        allow_outside_root=spec.allow_outside_root,
        modality=spec.modality or None,
        view=spec.view,
        label_map=spec.label_map,
    )


def check_manifest_source(
    spec: DataSpec, source: str | Path | None = None, *, skip_bad: bool = False, classes_pinned_by: str = ""
) -> None:
    """Check a CSV source as :func:`prepare_data` will read it, without decoding an image or importing torch.

    Its header, rows, files, labels and classes are checked, so ``sdc-bench run`` refuses a bad CSV in
    about a second. SynthSpine, folder and ``dataset:NAME/TASK`` sources are left to :func:`prepare_data` (a
    folder is walked once; a dataset task is found, fetched or converted there, with its own one-line errors).

    Raises
    ------
    DataError, ConfigError
        One line, as :func:`prepare_data` would raise it.
    """
    given = str(source if source is not None else spec.source)
    if given == "synthspine" or given.startswith("dataset:"):
        return
    chosen = Path(given).expanduser()
    if not chosen.exists() or chosen.is_file() or (chosen / "manifest.csv").is_file():
        classes_filter = tuple(spec.classes) or None
        manifest = _load_user_source(spec, chosen, skip_bad, None if classes_pinned_by else classes_filter)
        if classes_pinned_by and classes_filter is not None:
            _check_pinned_classes(manifest, classes_filter, classes_pinned_by, str(chosen))
        _classes(manifest, classes_filter, str(chosen))


def _classes(manifest: pd.DataFrame, classes_filter: tuple[str, ...] | None, origin: str) -> tuple[str, ...]:
    """The classes of the run; an error when there is no image, or a chosen class has none."""
    if manifest.empty:
        raise DataError(f"{origin}: no images left to use; check the source and the suite's data.classes")
    classes = classes_filter or tuple(sorted(manifest["label"].unique()))
    missing = [c for c in classes if c not in set(manifest["label"])]
    if missing:
        raise DataError(
            f"{origin}: classes {missing} have no images; remove them from data.classes or add images"
        )
    if len(classes) < 2:
        raise DataError(
            f"{origin}: one class only ({classes[0]!r}, {len(manifest)} image(s)); a classifier needs at least "
            "two classes: add images of another class, or check the label column (--columns label=COLUMN)"
        )
    return tuple(classes)


def _without_failed(manifest: pd.DataFrame, cache: TensorCache) -> pd.DataFrame:
    """The manifest less the images the cache could not decode; they join ``attrs["skipped"]``."""
    failed = {sample_id: (path, reason) for sample_id, path, reason in cache.failed}
    kept = manifest[~manifest["sample_id"].astype(str).isin(failed)].reset_index(drop=True)
    kept.attrs = dict(manifest.attrs)
    kept.attrs["skipped"] = [*manifest.attrs.get("skipped", []), *failed.values()]
    kept.attrs.pop("csv_lines", None)  # rows moved; line numbers are only for the loader's messages
    return kept


def _cached(
    spec: DataSpec,
    manifest: pd.DataFrame,
    classes_filter: tuple[str, ...] | None,
    origin: str,
    *,
    progress: bool,
    skip_bad: bool,
) -> PreparedData:
    """Decode the manifest into the tensor cache (dropping undecodable images with ``skip_bad``)."""
    classes = _classes(manifest, classes_filter, origin)
    gap_note = _slice_gaps(spec, manifest, origin)
    # one setting rules Pillow's own bomb check too (it refuses at twice its cap)
    Image.MAX_IMAGE_PIXELS = spec.max_image_pixels
    size, size_note = _input_size(spec, manifest)
    preprocess = Preprocess(size=size, resize=spec.resize, slices=spec.slices)
    cache: TensorCache = build_cache(
        manifest,
        preprocess,
        cache_root() / "tensors",
        progress=progress,
        skip_bad=skip_bad,
        max_pixels=spec.max_image_pixels,
    )
    if cache.failed:  # before any fold is made: folds see only images that decode
        manifest = _without_failed(manifest, cache)
        classes = _classes(manifest, classes_filter, origin)
    manifest = manifest.reset_index(drop=True)
    images = (
        cache.images[cache.indices(manifest["sample_id"].tolist())]
        if list(cache.sample_ids) != manifest["sample_id"].tolist()
        else cache.images
    )
    return PreparedData(
        manifest, images, tuple(classes), fingerprint(manifest), origin, preprocess, size_note, gap_note
    )


def _slice_gaps(spec: DataSpec, manifest: pd.DataFrame, origin: str) -> str:
    """Refuse inputs of ``data.slices`` slices with a gap in their series; with ``data.allow_slice_gaps``
    the gaps are a note for the audit and the report instead (returned; '' when there is none)."""
    gaps = find_slice_gaps(manifest["path"].astype(str).tolist(), spec.slices)
    if not gaps:
        return ""
    row, gap = gaps[0]
    culprit = f"series {manifest['sample_id'].iat[row]!r} ({manifest['path'].iat[row]})"
    if not spec.allow_slice_gaps:
        raise DataError(
            f"{origin}: {culprit} under data.slices = {spec.slices}: {gap} ({len(gaps)} series in all); "
            + SLICE_GAPS_FIX
        )
    return (
        f"data.allow_slice_gaps: {len(gaps)} series have missing slices among their {spec.slices} input "
        f"slices, first {culprit}: {gap}"
    )
