"""SynthSpine generation: patients of five classes drawn, rendered and written with their manifest.

Generates patients (1-4 images each, one label per patient) of five classes -- ``normal``,
``scoliosis`` (coronal curve, Cobb angle), ``spondylolisthesis`` (anterior slip), ``vertebral_fracture``
(wedge / compression) and ``disc_degeneration`` (narrow, dark, bulging disc) -- as AP and lateral
radiographs and sagittal T2 MRI, at a named acquisition site.  Severity is continuous with a mild tail
near the normal range; everything that is not the disorder (anatomy size, position, tilt, exposure,
noise, field of view) is drawn the same way for every class, so the class is in the anatomy and not in
global image statistics.  Output is deterministic from the seed: the same config gives byte-identical
images and manifest, and a larger ``n_images`` only appends patients.

Examples
--------
>>> from sdc_bench.data.synthspine import SynthConfig, generate_arrays
>>> images, manifest = generate_arrays(SynthConfig(n_images=4, size=32))
>>> images.shape, list(manifest.columns[:3])
((4, 32, 32), ['sample_id', 'label', 'patient_id'])
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.synthspine.anatomy import (
    ImageSpec,
    Patient,
    caption,
    finding,
    sample_image,
    sample_patient,
)
from sdc_bench.data.synthspine.dicom import write_dicom
from sdc_bench.data.synthspine.layout import build_layout
from sdc_bench.data.synthspine.mri import render_mri
from sdc_bench.data.synthspine.sites import SITES, SiteProfile
from sdc_bench.data.synthspine.xray import render_xray

__all__ = [
    "CLASSES",
    "DEFAULT_PREVALENCE",
    "MANIFEST_COLUMNS",
    "MODALITIES",
    "SITES",
    "VIEWS",
    "SiteProfile",
    "SynthConfig",
    "contact_sheet",
    "generate",
    "generate_arrays",
]

CLASSES: tuple[str, ...] = (
    "normal",
    "scoliosis",
    "spondylolisthesis",
    "vertebral_fracture",
    "disc_degeneration",
)
DEFAULT_PREVALENCE: tuple[float, ...] = (0.45, 0.20, 0.15, 0.12, 0.08)
MODALITIES: tuple[str, ...] = ("xray", "mri")
VIEWS: dict[str, tuple[str, ...]] = {"xray": ("ap", "lateral"), "mri": ("sagittal_t2",)}
MANIFEST_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "path",
    "label",
    "patient_id",
    "modality",
    "view",
    "source",
    "site",
    "severity",
    "cobb_angle_deg",
    "slip_percent",
    "height_loss_percent",
    "disc_height_loss_percent",
    "lesion_level",
    "finding",
)
SOURCE = "synthspine"
_BLOCK = 100  # labels are dealt in blocks of this many patients with exact quotas
_PIXELS_PER_BATCH = 1 << 18  # pixels rendered at once (cache-sized)
_CHUNK_PIXELS = 1 << 21  # pixels rendered before they are handed to the writer thread


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Parameters
    ----------
    n_images : int
        Exact number of images; patients are drawn until it is reached and the last one is trimmed.
    seed : int
        Non-negative seed; the same config gives byte-identical output.
    size : int
        Output square size in pixels (32-2048).
    classes : tuple of str
        Subset of :data:`CLASSES` to generate.
    prevalence : tuple of float or None
        Patient-level class prevalence in the order of ``classes`` (must sum to 1); ``None`` takes
        :data:`DEFAULT_PREVALENCE` restricted to ``classes`` and renormalised.
    modalities : tuple of str
        Subset of ``("xray", "mri")``; each image draws its modality uniformly from it.
    site : str
        Acquisition site, a key of :data:`SITES`.
    images_per_patient : tuple of int
        Inclusive range of images per patient.
    bit_depth : int
        8 or 16 bits per pixel.
    """

    n_images: int = 1000
    seed: int = 0
    size: int = 256
    classes: tuple[str, ...] = CLASSES
    prevalence: tuple[float, ...] | None = None
    modalities: tuple[str, ...] = ("xray", "mri")
    site: str = "site_a"
    images_per_patient: tuple[int, int] = (1, 4)
    bit_depth: int = 8
    _weights: tuple[float, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not _is_int(self.n_images) or self.n_images < 1:
            raise ConfigError(f"SynthConfig.n_images must be a positive integer, got {self.n_images!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"SynthConfig.seed must be a non-negative integer, got {self.seed!r}")
        if not _is_int(self.size) or not 32 <= self.size <= 2048:
            raise ConfigError(
                f"SynthConfig.size must be an integer from 32 to 2048 pixels, got {self.size!r}"
            )
        classes = self._names("classes", self.classes, CLASSES)
        modalities = self._names("modalities", self.modalities, MODALITIES)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "modalities", modalities)
        if self.prevalence is None:
            weights = np.array([DEFAULT_PREVALENCE[CLASSES.index(c)] for c in classes])
        else:
            try:
                weights = np.array([float(w) for w in self.prevalence])
            except (TypeError, ValueError):
                raise ConfigError(
                    f"SynthConfig.prevalence must be a sequence of numbers, got {self.prevalence!r}"
                ) from None
            if weights.shape != (len(classes),):
                raise ConfigError(
                    f"SynthConfig.prevalence needs one value per class ({len(classes)}), got {len(weights)}"
                )
            if not np.all(np.isfinite(weights)) or np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-3:
                raise ConfigError(
                    f"SynthConfig.prevalence must be positive and sum to 1, got {tuple(self.prevalence)}"
                )
            object.__setattr__(self, "prevalence", tuple(float(w) for w in weights))
        object.__setattr__(self, "_weights", tuple(float(w) for w in weights / weights.sum()))
        if not isinstance(self.site, str) or self.site not in SITES:
            raise ConfigError(f"SynthConfig.site must be one of {sorted(SITES)}, got {self.site!r}")
        ipp = self.images_per_patient
        if (
            not isinstance(ipp, (tuple, list))
            or len(ipp) != 2
            or not all(_is_int(x) for x in ipp)
            or not 1 <= ipp[0] <= ipp[1] <= 16
        ):
            raise ConfigError(
                f"SynthConfig.images_per_patient must be (low, high) with 1 <= low <= high <= 16, got {ipp!r}"
            )
        object.__setattr__(self, "images_per_patient", (int(ipp[0]), int(ipp[1])))
        if self.bit_depth not in (8, 16) or not _is_int(self.bit_depth):
            raise ConfigError(f"SynthConfig.bit_depth must be 8 or 16, got {self.bit_depth!r}")

    @staticmethod
    def _names(name: str, value: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) == 0:
            raise ConfigError(
                f"SynthConfig.{name} must be a non-empty tuple of names from {allowed}, got {value!r}"
            )
        names = tuple(value)
        bad = [x for x in names if x not in allowed]
        if bad:
            raise ConfigError(f"SynthConfig.{name} has unknown name(s) {bad}; choose from {allowed}")
        if len(set(names)) != len(names):
            raise ConfigError(f"SynthConfig.{name} lists a name twice: {names}")
        return names

    @property
    def class_weights(self) -> tuple[float, ...]:
        """Resolved patient-level prevalence, one value per entry of ``classes``, summing to 1."""
        return self._weights


@dataclass(frozen=True)
class _Planned:
    patient_index: int
    patient: Patient
    spec: ImageSpec
    row: dict[str, object]


def _site_salt(site: str) -> int:
    return zlib.crc32(site.encode())


def _labels_for_block(config: SynthConfig, block: int) -> list[str]:
    """Exact class quotas for one block of patients (largest remainder), in shuffled order."""
    weights = np.array(config.class_weights)
    raw = weights * _BLOCK
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: _BLOCK - counts.sum()]] += 1
    labels = [c for c, k in zip(config.classes, counts, strict=True) for _ in range(k)]
    rng = np.random.default_rng([config.seed, _site_salt(config.site), block, 0xB10C])
    return [labels[i] for i in rng.permutation(len(labels))]


def _plan(config: SynthConfig) -> list[_Planned]:
    site = SITES[config.site]
    salt = _site_salt(config.site)
    planned: list[_Planned] = []
    block_labels: list[str] = []
    p_index = 0
    lo, hi = config.images_per_patient
    while len(planned) < config.n_images:
        if p_index % _BLOCK == 0:
            block_labels = _labels_for_block(config, p_index // _BLOCK)
        label = block_labels[p_index % _BLOCK]
        patient = sample_patient(np.random.default_rng([config.seed, salt, p_index, 0]), label)
        acq = np.random.default_rng([config.seed, salt, p_index, 1])
        n_img = int(acq.integers(lo, hi + 1))
        modalities = [str(acq.choice(config.modalities)) for _ in range(n_img)]
        patient_id = f"{config.site}-s{config.seed}-p{p_index:05d}"
        lesion, finding_text = finding(patient)
        n_xray = 0
        first_view = "ap"
        for k, modality in enumerate(modalities):
            if len(planned) >= config.n_images:
                break
            if modality == "mri":
                view = "sagittal_t2"
            else:
                # a patient's first two radiographs are one AP and one lateral, in either order
                if n_xray == 0:
                    first_view = str(acq.choice(["ap", "lateral"]))
                    view = first_view
                elif n_xray == 1:
                    view = "lateral" if first_view == "ap" else "ap"
                else:
                    view = str(acq.choice(["ap", "lateral"]))
                n_xray += 1
            rng = np.random.default_rng([config.seed, salt, p_index, 2 + k])
            spec = sample_image(rng, view, (config.seed, salt, p_index, 1000 + k), site.fov_scale)
            row: dict[str, object] = {
                "sample_id": f"{patient_id}-i{k}",
                "label": label,
                "patient_id": patient_id,
                "modality": modality,
                "view": view,
                "source": SOURCE,
                "site": config.site,
                "severity": round(patient.severity, 6),
                "cobb_angle_deg": round(patient.cobb_deg, 3),
                "slip_percent": round(patient.slip_percent, 3),
                "height_loss_percent": round(patient.height_loss_percent, 3),
                "disc_height_loss_percent": round(patient.disc_height_loss_percent, 3),
                "lesion_level": lesion,
                "finding": finding_text,
            }
            planned.append(_Planned(p_index, patient, spec, row))
        p_index += 1
    return planned


def _noise(specs: list[ImageSpec], size: int, fields: int) -> np.ndarray:
    shape = (size, size) if fields == 1 else (fields, size, size)
    return np.stack(
        [np.random.default_rng(list(s.key)).standard_normal(shape, dtype=np.float32) for s in specs]
    )


def _render(items: list[_Planned], size: int, site: SiteProfile) -> tuple[np.ndarray, np.ndarray]:
    """Render planned images (any views) to display floats in [0, 1] and their pixel spacing (mm).

    Images are grouped by view and rendered in small batches: a batch's temporaries then stay in
    the CPU cache, which is faster than one large batch.  Each image draws its own noise, so the
    output does not depend on the batching.
    """
    out = np.zeros((len(items), size, size), dtype=np.float32)
    spacing = np.zeros(len(items))
    step = max(1, _PIXELS_PER_BATCH // (size * size))
    for view in ("ap", "lateral", "sagittal_t2"):
        of_view = [i for i, it in enumerate(items) if it.spec.view == view]
        for start in range(0, len(of_view), step):
            idx = of_view[start : start + step]
            patients = [items[i].patient for i in idx]
            specs = [items[i].spec for i in idx]
            layout = build_layout(patients, specs, size)
            if view == "sagittal_t2":
                img = render_mri(layout, patients, specs, site, _noise(specs, size, 2))
            else:
                img = render_xray(layout, patients, specs, site, _noise(specs, size, 1))
            out[idx] = img
            spacing[idx] = 1.0 / layout.scale
    return out, spacing


def _quantize(img: np.ndarray, bit_depth: int) -> np.ndarray:
    top = (1 << bit_depth) - 1
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.floor(img * top + 0.5).astype(dtype)


def _batches(n: int, size: int) -> list[tuple[int, int]]:
    step = max(1, _CHUNK_PIXELS // (size * size))
    return [(i, min(n, i + step)) for i in range(0, n, step)]


def _manifest(rows: list[dict[str, object]], with_path: bool) -> pd.DataFrame:
    columns = [c for c in MANIFEST_COLUMNS if with_path or c != "path"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype(
        {c: "float64" for c in columns[columns.index("severity") : columns.index("lesion_level")]}
    )


def generate_arrays(config: SynthConfig) -> tuple[np.ndarray, pd.DataFrame]:
    """Render the dataset in memory.

    Returns
    -------
    images : ndarray, shape (n_images, size, size)
        uint8 (or uint16 for ``bit_depth=16``), bone/CSF bright (MONOCHROME2 display).
    manifest : DataFrame
        One row per image in the order of ``images``: the columns of :data:`MANIFEST_COLUMNS` except ``path``.
    """
    planned = _plan(config)
    site = SITES[config.site]
    dtype = np.uint8 if config.bit_depth == 8 else np.uint16
    images = np.zeros((len(planned), config.size, config.size), dtype=dtype)
    for start, stop in _batches(len(planned), config.size):
        rendered, _ = _render(planned[start:stop], config.size, site)
        images[start:stop] = _quantize(rendered, config.bit_depth)
    return images, _manifest([p.row for p in planned], with_path=False)


def _write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)


def generate(
    out_dir: str | Path, config: SynthConfig, *, fmt: str = "png", progress: bool = True
) -> pd.DataFrame:
    """Write the dataset to ``out_dir/images/<sample_id>.png|.dcm`` and ``out_dir/manifest.csv``.

    Returns the manifest (columns :data:`MANIFEST_COLUMNS`; ``path`` relative to ``out_dir``, posix).
    Existing files of the same names are overwritten; the manifest is written atomically last, so a
    folder with a manifest is complete.
    """
    if fmt not in ("png", "dicom"):
        raise ConfigError(f"generate(fmt=...) must be 'png' or 'dicom', got {fmt!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"SynthSpine output folder {out} is a file; choose a folder path")
    images_dir = out / "images"
    try:
        images_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create SynthSpine output folder {images_dir}: {exc.strerror}") from None
    planned = _plan(config)
    site = SITES[config.site]
    suffix = ".png" if fmt == "png" else ".dcm"
    rows = [{**item.row, "path": f"images/{item.row['sample_id']}{suffix}"} for item in planned]

    def write(first: int, pixels: np.ndarray, spacing: np.ndarray) -> None:
        for offset, (px, sp) in enumerate(zip(pixels, spacing, strict=True)):
            row = rows[first + offset]
            target = out / str(row["path"])
            if fmt == "png":
                _write_png(target, px)
            else:
                write_dicom(target, px, row, site, float(sp), config.seed)

    # A writer thread compresses and writes one chunk while the next is rendered (zlib and file
    # writes release the GIL), so the two cores of a small machine both work.
    pending: Future[None] | None = None
    pending_count = 0
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthspine-writer") as writer,
        tqdm(total=len(planned), desc=f"SynthSpine {config.site}", unit="img", disable=not progress) as bar,
    ):
        try:
            for start, stop in _batches(len(planned), config.size):
                rendered, spacing = _render(planned[start:stop], config.size, site)
                pixels = _quantize(rendered, config.bit_depth)
                if pending is not None:
                    pending.result()
                    bar.update(pending_count)
                pending = writer.submit(write, start, pixels, spacing)
                pending_count = stop - start
            if pending is not None:
                pending.result()
                bar.update(pending_count)
        except OSError as exc:
            raise DataError(f"cannot write SynthSpine images under {images_dir}: {exc}") from None
    manifest = _manifest(rows, with_path=True)
    tmp = out / "manifest.csv.tmp"
    manifest.to_csv(tmp, index=False)
    os.replace(tmp, out / "manifest.csv")
    return manifest


def contact_sheet(
    out_path: str | Path, *, seed: int = 0, size: int = 128, site: str = "site_a", per_cell: int = 3
) -> Path:
    """Write a PNG grid showing what each class looks like: rows are classes, column groups are views.

    Pathological examples step from mild to severe left to right within each view group; each cell
    is captioned with its finding.
    """
    config = SynthConfig(n_images=1, seed=seed, size=size, site=site)  # validates seed, size, site
    if not _is_int(per_cell) or not 1 <= per_cell <= 8:
        raise ConfigError(f"contact_sheet(per_cell=...) must be an integer from 1 to 8, got {per_cell!r}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    profile = SITES[config.site]
    views = ("ap", "lateral", "sagittal_t2")
    salt = _site_salt(config.site)
    items: list[_Planned] = []
    for ci, label in enumerate(CLASSES):
        for vi, view in enumerate(views):
            for j in range(per_cell):
                severity = 0.25 + 0.7 * j / max(per_cell - 1, 1)
                rng = np.random.default_rng([config.seed, salt, 0xC0DE, ci, vi, j])
                patient = sample_patient(rng, label, severity=severity)
                spec = sample_image(rng, view, (config.seed, salt, 0xC0DE, ci, vi, j), profile.fov_scale)
                items.append(_Planned(0, patient, spec, {"caption": caption(patient)}))
    rendered, _ = _render(items, config.size, profile)

    cols = len(views) * per_cell
    fig = Figure(figsize=(1.55 * cols + 1.2, 1.75 * len(CLASSES) + 0.6), dpi=110)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        len(CLASSES), cols, left=0.07, right=0.995, top=0.93, bottom=0.025, wspace=0.04, hspace=0.3
    )
    for i, item in enumerate(items):
        ci, rest = divmod(i, cols)
        ax = fig.add_subplot(grid[ci, rest])
        ax.imshow(rendered[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(item.row["caption"]), fontsize=6.5)
        if rest == 0:
            ax.set_ylabel(CLASSES[ci], fontsize=9)
    for vi, view in enumerate(views):
        x = 0.07 + (0.995 - 0.07) * (vi + 0.5) / len(views)
        fig.text(
            x,
            0.965,
            {"ap": "X-ray AP", "lateral": "X-ray lateral", "sagittal_t2": "MRI sagittal T2"}[view],
            ha="center",
            fontsize=11,
            weight="bold",
        )
    fig.text(
        0.005,
        0.003,
        f"SynthSpine {config.site}, seed {config.seed}, {config.size} px",
        fontsize=7,
        va="bottom",
    )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
