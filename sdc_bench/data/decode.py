"""Decode one image file (PNG, JPEG, TIFF, BMP, DICOM, NIfTI, MetaImage) to a 2-D float array and resize it.

Every reader returns a ``float32`` array of shape ``(rows, columns)`` with values in
``[0, 1]``; the tensor cache stores it, resized, as ``uint8``. Intensity rules:

* 8-bit images (PNG, JPEG, TIFF, BMP) are divided by 255, so the stored contrast is kept.
* Every other source (16-bit and float images, DICOM without a window, NIfTI) is
  min-max normalised per image, because its nominal range (e.g. 16 bits) rarely
  matches the range of values actually used (often 10-12 bits).
* Colour images become grayscale by ITU-R BT.601 luma,
  ``Y = 0.299 R + 0.587 G + 0.114 B`` (alpha is ignored), computed in floating point.
* DICOM follows the display pipeline of PS3.3 C.11: the modality LUT (rescale
  slope/intercept or a Modality LUT Sequence) first; then the VOI transform (window
  centre/width with the LINEAR, LINEAR_EXACT or SIGMOID function, which maps the
  window onto ``[0, 1]``, or a VOI LUT Sequence) when present, else min-max;
  MONOCHROME1 is then inverted so that bone is bright in every image. A multi-frame
  object is reduced to one frame by the ``frame`` policy.
* A NIfTI volume is reoriented to RAS and one mid slice is taken (by default the
  mid-sagittal one, shown with superior up and anterior to the right); a 4-D series
  uses its first volume.
* A MetaImage volume (``.mha``, or ``.mhd`` with its raw file; read by SimpleITK) is reoriented to
  RAS from its direction cosines and sliced exactly as a NIfTI volume; a 2-D MetaImage is read as is.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.geometry import resize_geometry, target_hw

__all__ = [
    "FRAME_POLICIES",
    "IMAGE_SUFFIXES",
    "METAIMAGE_SUFFIXES",
    "NIFTI_SLICES",
    "NIFTI_SUFFIXES",
    "RESIZE_MODES",
    "VOLUME_SUFFIXES",
    "Preprocess",
    "check_pixel_count",
    "is_dicom",
    "load_preprocessed",
    "metaimage_plane_hw",
    "metaimage_voxels",
    "nifti_plane",
    "nifti_volume",
    "nifti_voxels",
    "pixel_type",
    "read_image",
    "read_volume",
    "resize_image",
    "to_uint8",
]

RESIZE_MODES: tuple[str, ...] = ("letterbox", "resize", "center_crop")
"""``letterbox``: keep the aspect ratio and pad with 0; ``resize``: stretch; ``center_crop``: fit the short side and crop."""

FRAME_POLICIES: tuple[str, ...] = ("middle", "first", "mip")
"""How a multi-frame DICOM becomes one image: middle frame, first frame, or maximum intensity projection."""

NIFTI_SLICES: tuple[str, ...] = ("mid_sagittal", "mid_coronal", "mid_axial")
"""Which slice of a 3-D NIfTI volume is read."""

PIL_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom")
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
METAIMAGE_SUFFIXES: tuple[str, ...] = (".mha", ".mhd")
VOLUME_SUFFIXES: tuple[str, ...] = NIFTI_SUFFIXES + METAIMAGE_SUFFIXES
"""File name endings of the volumes :func:`read_volume` reads (and 2.5D slices are taken from)."""
IMAGE_SUFFIXES: tuple[str, ...] = PIL_SUFFIXES + DICOM_SUFFIXES + VOLUME_SUFFIXES
"""File name endings :func:`read_image` reads (lower case); files without a suffix are read when they are DICOM."""

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Preprocess:
    """How every image becomes one ``uint8`` model input for the tensor cache.

    Parameters
    ----------
    size : int or (int, int)
        Side of the square output, or its ``(rows, columns)``; a square pair is stored as one int, so
        ``(128, 128)`` and ``128`` share one cache.
    resize : str
        One of :data:`RESIZE_MODES`.
    frame : str
        Multi-frame DICOM policy, one of :data:`FRAME_POLICIES`.
    nifti_slices : str
        Slice policy of a volume (NIfTI or MetaImage), one of :data:`NIFTI_SLICES`.
    slices : int
        Adjacent slices around the middle one of a volume (NIfTI, MetaImage) or a DICOM series, stacked as
        channels (2.5D); odd. 1 reads one slice, as every 2-D image.

    Examples
    --------
    >>> Preprocess(size=128, resize="center_crop")
    Preprocess(size=128, resize='center_crop', frame='middle', nifti_slices='mid_sagittal', slices=1)
    >>> Preprocess(size=(96, 32)).hw
    (96, 32)
    """

    size: int | tuple[int, int] = 224
    resize: str = "letterbox"
    frame: str = "middle"
    nifti_slices: str = "mid_sagittal"
    slices: int = 1

    def __post_init__(self) -> None:
        try:
            rows, columns = target_hw(self.size)
        except ConfigError:
            raise ConfigError(
                f"Preprocess.size={self.size!r} must be a positive integer (e.g. 224) or [rows, columns]"
            ) from None
        object.__setattr__(self, "size", rows if rows == columns else (rows, columns))
        _check_choice("Preprocess.resize", self.resize, RESIZE_MODES)
        _check_choice("Preprocess.frame", self.frame, FRAME_POLICIES)
        _check_choice("Preprocess.nifti_slices", self.nifti_slices, NIFTI_SLICES)
        slices = self.slices
        if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1 or slices % 2 == 0:
            raise ConfigError(f"Preprocess.slices={slices!r} must be a positive odd integer (1, 3, 5, ...)")

    @property
    def hw(self) -> tuple[int, int]:
        """``(rows, columns)`` of the output."""
        return target_hw(self.size)

    def settings(self) -> dict[str, Any]:
        """The settings that define a cache; ``slices`` only when not 1, so older caches keep their key."""
        values = asdict(self)
        if self.slices == 1:
            del values["slices"]
        return values


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not supported; use one of {', '.join(choices)}")


def check_pixel_count(path: str | Path, count: int, what: str, limit: int | None) -> None:
    """Refuse an image whose header claims more than ``limit`` pixels (default: Pillow's cap), before decoding.

    Parameters
    ----------
    path : str or pathlib.Path
        The file, named in the message.
    count : int
        Pixels (or voxels) the header claims.
    what : str
        How the header states them, e.g. ``"4096x4096x4096 voxels of int16"``.
    limit : int or None
        The largest count read; ``None`` takes :data:`PIL.Image.MAX_IMAGE_PIXELS`.

    Raises
    ------
    DataError
        When ``count`` is over the limit.
    """
    limit = int(limit if limit is not None else (Image.MAX_IMAGE_PIXELS or 0)) or None
    if limit is not None and count > limit:
        raise DataError(
            f"{path}: header claims {what} ({count:,} pixels), over data.max_image_pixels={limit:,} "
            "(a decompression bomb guard); downscale the image or raise data.max_image_pixels"
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_dicom(path: str | Path, data: bytes | None = None) -> bool:
    """Whether a file is DICOM: a ``.dcm``/``.dicom`` suffix or the ``DICM`` marker at byte 128.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    data : bytes, optional
        Its content when already read: the marker is looked up there instead of opening the file.

    Returns
    -------
    bool
    """
    if str(path).lower().endswith(DICOM_SUFFIXES):
        return True
    if data is not None:
        return data[128:132] == b"DICM"
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _is_volume(path: str | Path) -> bool:
    return str(path).lower().endswith(VOLUME_SUFFIXES)


def _min_max(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        finite = values[np.isfinite(values)]
        fill = float(finite.min()) if finite.size else 0.0
        values = np.nan_to_num(values, nan=fill, posinf=finite.max() if finite.size else 0.0, neginf=fill)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of the last axis' first three channels."""
    return rgb[..., :3].astype(np.float32) @ _LUMA


# ----------------------------------------------------------------------------- PIL formats
def _read_pil(path: Path, max_pixels: int | None, data: bytes | None = None) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if data is not None else path) as image:
                width, height = image.size
                check_pixel_count(path, width * height, f"{height}x{width} pixels", max_pixels)
                image.load()
                return _pil_to_array(image)
    except UnidentifiedImageError:
        raise DataError(
            f"{path}: not a readable image (format not recognised); expected PNG, JPEG, TIFF, BMP, DICOM, NIfTI or MetaImage"
        ) from None
    except Image.DecompressionBombError as error:
        raise DataError(
            f"{path}: image is too large to decode safely ({_first_line(error)}); downscale it"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise DataError(
            f"{path}: corrupt or truncated image ({_first_line(error)}); replace or remove the file"
        ) from None


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("1", "L", "P", "PA", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        if mode in ("L", "LA"):
            return np.asarray(image.getchannel(0), dtype=np.float32) / 255.0
        if mode == "1":
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        rgb = image if mode in ("RGB", "RGBA", "RGBX") else image.convert("RGB")
        return _luma(np.asarray(rgb)) / 255.0
    # 16-bit ("I;16*"), 32-bit integer ("I") and float ("F") images keep their precision.
    values = np.asarray(image)
    if values.ndim == 3:
        values = _luma(values)
    return _min_max(values)


# ----------------------------------------------------------------------------- DICOM
def _dicom_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """VOI window of PS3.3 C.11.2.1.2, mapped onto [0, 1]."""
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (values - center) / max(width, 1e-6)))).astype(np.float32)
    if function == "LINEAR_EXACT":
        if width <= 0:
            width = 1.0
        scaled = (values - center) / width + 0.5
    else:  # LINEAR
        width = max(width, 1.0)
        if width == 1.0:
            return (values >= center - 0.5).astype(np.float32)
        scaled = (values - (center - 0.5)) / (width - 1.0) + 0.5
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def _first_value(value: Any) -> float:
    try:
        return (
            float(value[0])
            if not isinstance(value, (str, bytes)) and hasattr(value, "__len__")
            else float(value)
        )
    except (TypeError, ValueError, IndexError):
        return float("nan")


def _dicom_pixel_count(dataset: Any) -> tuple[int, str]:
    """Rows x Columns x frames x samples a DICOM header claims, and how to say it."""
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    bits = int(dataset.get("BitsAllocated", 0) or 0)
    what = f"{rows}x{columns} pixels x {frames} frame(s) x {samples} sample(s) of {bits} bits"
    return max(rows, 0) * max(columns, 0) * max(frames, 1) * max(samples, 1), what


def _read_dicom(path: Path, frame: str, max_pixels: int | None, data: bytes | None = None) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    def source() -> Path | io.BytesIO:
        return io.BytesIO(data) if data is not None else path

    try:
        try:
            dataset = pydicom.dcmread(source())
        except InvalidDicomError:
            # Files written without the 128-byte preamble are common in the wild.
            dataset = pydicom.dcmread(source(), force=True)
    except Exception as error:  # pydicom raises many exception types on bad input
        raise DataError(
            f"{path}: not a readable DICOM file ({_first_line(error)}); replace or remove it"
        ) from None

    if not any(tag in dataset for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DataError(
            f"{path}: DICOM file has no pixel data (e.g. a report or structured document); remove it from the source"
        )
    try:
        count, what = _dicom_pixel_count(dataset)
    except Exception as error:  # a malformed Rows/Columns/frames value; pydicom parses tags lazily
        raise DataError(
            f"{path}: DICOM header is malformed ({_first_line(error)}); replace the file"
        ) from None
    check_pixel_count(path, count, what, max_pixels)
    try:
        pixels = dataset.pixel_array
    except (NotImplementedError, RuntimeError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise DataError(
            f"{path}: cannot decode DICOM pixel data with transfer syntax {syntax} ({_first_line(error)}); "
            "install pylibjpeg[all] or python-gdcm, or convert the file"
        ) from None
    except Exception as error:  # truncated pixel data and similar
        raise DataError(
            f"{path}: corrupt or truncated DICOM pixel data ({_first_line(error)}); replace the file"
        ) from None

    samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if samples > 1:
        # Colour DICOM: pydicom returns RGB; no modality/VOI LUT applies to colour data.
        display = _min_max(_luma(np.asarray(pixels)))
        is_stack = frames > 1
    else:
        values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
        is_stack = frames > 1 and values.ndim == 3
        center = _first_value(dataset.get("WindowCenter"))
        width = _first_value(dataset.get("WindowWidth"))
        function = str(dataset.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        if np.isfinite(center) and np.isfinite(width) and width > 0:
            display = _dicom_window(values, center, width, function)
        elif "VOILUTSequence" in dataset:
            display = _min_max(apply_voi_lut(values, dataset, prefer_lut=True))
        else:
            display = _min_max(values)
        if str(dataset.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
            display = 1.0 - display
    if is_stack:
        if frame == "first":
            display = display[0]
        elif frame == "mip":
            display = display.max(axis=0)
        else:
            display = display[display.shape[0] // 2]
    if display.ndim != 2:
        raise DataError(
            f"{path}: DICOM pixel data has shape {display.shape}; expected a 2-D image or a frame stack"
        )
    return np.ascontiguousarray(display, dtype=np.float32)


# ----------------------------------------------------------------------------- NIfTI
def nifti_voxels(image: Any) -> tuple[int, str]:
    """Voxels a NIfTI header claims (from its dims alone), and how to say it."""
    shape = tuple(int(n) for n in image.shape)
    dtype = image.header.get_data_dtype()
    return int(np.prod(shape, dtype=object)), "x".join(map(str, shape)) + f" voxels of {dtype}"


def nifti_volume(path: Path, max_pixels: int | None) -> np.ndarray:
    """The voxels of a NIfTI file, reoriented to RAS (a 4-D series: its first volume); 2-D or 3-D."""
    import nibabel as nib

    try:
        image: Any = nib.load(path)
        # the header alone says how much memory the volume needs: refuse a bomb before reading it
        count, what = nifti_voxels(image)
    except Exception as error:  # nibabel raises many exception types on bad input
        raise DataError(
            f"{path}: not a readable NIfTI file ({_first_line(error)}); replace or remove it"
        ) from None
    check_pixel_count(path, count, what, max_pixels)
    try:
        if image.ndim >= 3:
            image = nib.as_closest_canonical(
                image
            )  # RAS+: axis 0 left->right, 1 posterior->anterior, 2 inferior->superior
        data = np.asanyarray(image.dataobj)
    except Exception as error:  # nibabel raises many exception types on bad input
        raise DataError(
            f"{path}: not a readable NIfTI file ({_first_line(error)}); replace or remove it"
        ) from None
    if data.ndim > 3:
        data = data.reshape((*data.shape[:3], -1))[..., 0]
    if data.ndim not in (2, 3):
        raise DataError(f"{path}: NIfTI data has shape {data.shape}; expected a 2-D image or a 3-D volume")
    return data


def nifti_plane(data: np.ndarray, nifti_slice: str, offset: int = 0) -> np.ndarray:
    """One slice of a RAS volume from :func:`nifti_volume`, min-max normalised to ``[0, 1]``.

    ``offset`` moves from the mid slice along the slicing axis (clamped to the volume), for
    the adjacent slices of a 2.5D input.
    """
    if data.ndim == 2:
        return _min_max(np.ascontiguousarray(data))
    axis = NIFTI_SLICES.index(nifti_slice)  # mid_sagittal: axis 0, mid_coronal: 1, mid_axial: 2
    index = min(max(data.shape[axis] // 2 + offset, 0), data.shape[axis] - 1)
    # sagittal: (anterior, superior); coronal: (right, superior); axial: (right, anterior)
    slice_ = np.take(data, index, axis=axis)
    # Rows from the second axis' far end (superior / anterior) down, columns along the first.
    return _min_max(np.ascontiguousarray(slice_.T[::-1, :]))


# ----------------------------------------------------------------------------- MetaImage
def _metaimage_header(path: Path) -> Any:
    """A SimpleITK reader that has read ``path``'s header only (no voxel is loaded)."""
    try:
        import SimpleITK as sitk
    except ImportError:  # pragma: no cover - SimpleITK is a dependency; a broken install says so
        raise DataError(
            f"{path}: reading MetaImage (.mha/.mhd) needs SimpleITK; pip install SimpleITK"
        ) from None
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise DataError(
            f"{path}: not a readable MetaImage file ({_itk_reason(error)}); replace or remove it"
        ) from None
    return reader


def _itk_reason(error: BaseException) -> str:
    """The useful part of an ITK exception, whose first lines name ITK's own source files."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("/", "sitk::", "Exception thrown"))]
    return (useful or lines or [type(error).__name__])[-1][:200]


def pixel_type(reader: Any) -> str:
    """How a header-only SimpleITK reader names its pixel type, e.g. ``16-bit signed integer``."""
    import SimpleITK as sitk

    return str(sitk.GetPixelIDValueAsString(reader.GetPixelIDValue()))


def metaimage_voxels(reader: Any) -> tuple[int, str]:
    """Voxels (times components) a MetaImage header claims, and how to say it, from a header-only reader."""
    shape = tuple(int(n) for n in reader.GetSize())
    components = int(reader.GetNumberOfComponents() or 1)
    count = int(np.prod(shape, dtype=object)) * max(components, 1)
    what = "x".join(map(str, shape)) + f" voxels of {pixel_type(reader)}"
    return count, what + (f" x {components} components" if components > 1 else "")


def metaimage_plane_hw(reader: Any, nifti_slice: str = "mid_sagittal") -> tuple[int, int]:
    """``(rows, columns)`` of the slice :func:`read_image` takes from a MetaImage, from its header alone."""
    shape = tuple(int(n) for n in reader.GetSize())
    if len(shape) < 3:
        return (shape[1], shape[0]) if len(shape) == 2 else (0, 0)
    # ITK directions are LPS: a column of the direction matrix is the physical direction of one index axis
    direction = np.asarray(reader.GetDirection(), dtype=np.float64).reshape(len(shape), len(shape))
    ras = {int(np.argmax(np.abs(direction[:3, axis]))): shape[axis] for axis in range(3)}
    across, up = {"mid_sagittal": (1, 2), "mid_coronal": (0, 2), "mid_axial": (0, 1)}[nifti_slice]
    return ras.get(up, 0), ras.get(across, 0)


def _metaimage_volume(path: Path, max_pixels: int | None) -> np.ndarray:
    """A MetaImage's voxels with axes in RAS order as :func:`nifti_volume` gives them; a 2-D image as rows x columns."""
    import SimpleITK as sitk

    reader = _metaimage_header(path)
    check_pixel_count(path, *metaimage_voxels(reader), max_pixels)
    try:
        image = reader.Execute()
        if image.GetDimension() == 3:
            # same RAS+ axes as nibabel's as_closest_canonical (SimpleITK arrays are z, y, x)
            data = sitk.GetArrayFromImage(sitk.DICOMOrient(image, "RAS"))
            data = np.moveaxis(data, (0, 1, 2), (2, 1, 0))
        else:
            data = sitk.GetArrayFromImage(image)
    except RuntimeError as error:
        raise DataError(
            f"{path}: corrupt or truncated MetaImage ({_itk_reason(error)}); replace the file"
        ) from None
    if image.GetNumberOfComponentsPerPixel() > 1:
        data = _luma(data) if data.shape[-1] >= 3 else data[..., 0]
    if data.ndim not in (2, 3):
        raise DataError(
            f"{path}: MetaImage data has shape {data.shape}; expected a 2-D image or a 3-D volume"
        )
    return np.asarray(data)


def read_volume(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """The voxels of a NIfTI or MetaImage file, axes in RAS order (a 2-D image: rows x columns).

    The header's voxel count is checked against ``max_pixels`` before any voxel is read.

    Raises
    ------
    DataError
        When the file is not a readable volume, or its header claims too many voxels.
    """
    path = Path(path)
    if str(path).lower().endswith(METAIMAGE_SUFFIXES):
        return _metaimage_volume(path, max_pixels)
    return nifti_volume(path, max_pixels)


def _read_volume_slice(path: Path, nifti_slice: str, max_pixels: int | None) -> np.ndarray:
    return nifti_plane(read_volume(path, max_pixels), nifti_slice)


# ----------------------------------------------------------------------------- public
def read_image(
    path: str | Path,
    *,
    frame: str = "middle",
    nifti_slice: str = "mid_sagittal",
    max_pixels: int | None = None,
    data: bytes | None = None,
) -> np.ndarray:
    """Decode one image file to a 2-D ``float32`` array in ``[0, 1]``.

    The format is chosen by suffix, and by the ``DICM`` marker for DICOM files
    without one; see the module docstring for the intensity rules.

    Parameters
    ----------
    path : str or pathlib.Path
        PNG, JPEG, TIFF, BMP (8- or 16-bit, grayscale or colour), DICOM, NIfTI
        (``.nii``/``.nii.gz``) or MetaImage (``.mha``/``.mhd``) file.
    frame : str
        Multi-frame DICOM policy, one of :data:`FRAME_POLICIES`.
    nifti_slice : str
        Slice policy of a volume (NIfTI or MetaImage), one of :data:`NIFTI_SLICES`.
    max_pixels : int, optional
        Largest pixel (voxel) count a header may claim; ``None`` takes Pillow's
        ``Image.MAX_IMAGE_PIXELS``. Checked before pixel data is loaded.
    data : bytes, optional
        The file's whole content when the caller has read it already (the audit hashes every file), so
        a PIL or DICOM file is decoded from memory, not opened again; volumes are always read by path.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(rows, columns)``, values in ``[0, 1]``.

    Raises
    ------
    DataError
        When the file is missing, corrupt or truncated, not an image, or a DICOM
        without pixel data; the message names the file.

    Examples
    --------
    >>> image = read_image("spine/scoliosis/p01.dcm", frame="middle")  # doctest: +SKIP
    >>> image.dtype, image.min() >= 0, image.max() <= 1  # doctest: +SKIP
    (dtype('float32'), True, True)
    """
    _check_choice("frame", frame, FRAME_POLICIES)
    _check_choice("nifti_slice", nifti_slice, NIFTI_SLICES)
    path = Path(path)
    if data is None and not path.is_file():
        raise DataError(f"{path}: image file does not exist; check the path")
    if (len(data) if data is not None else os.path.getsize(path)) == 0:
        raise DataError(f"{path}: image file is empty; replace or remove it")
    if _is_volume(path):
        return _read_volume_slice(path, nifti_slice, max_pixels)
    if is_dicom(path, data):
        return _read_dicom(path, frame, max_pixels, data)
    return _read_pil(path, max_pixels, data)


def _pil_resize(image: np.ndarray, rows: int, columns: int) -> np.ndarray:
    # Pillow's bilinear filter widens its support when shrinking, i.e. it antialiases.
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F").resize(
        (columns, rows), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32)


def resize_image(image: np.ndarray, size: int | tuple[int, int], mode: str = "letterbox") -> np.ndarray:
    """Resize a 2-D image to a ``size`` x ``size`` square, or to ``(rows, columns)``.

    Antialiased bilinear resampling (Pillow), so shrinking does not alias. The offsets and scale
    are those of :func:`sdc_bench.core.geometry.resize_geometry`.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array (any real dtype), typically from :func:`read_image`.
    size : int or (int, int)
        Side of the output square, or the output's ``(rows, columns)``.
    mode : str
        ``letterbox`` scales the image to fit the output and pads the rest symmetrically with 0
        (aspect kept; an image of the output's aspect is not padded); ``resize`` stretches;
        ``center_crop`` scales the image to cover the output and crops the centre.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(size, size)`` or ``(rows, columns)``.

    Examples
    --------
    >>> import numpy as np
    >>> resize_image(np.ones((100, 50), np.float32), 64).shape
    (64, 64)
    >>> resize_image(np.ones((300, 100), np.float32), (96, 32)).shape
    (96, 32)
    """
    _check_choice("resize mode", mode, RESIZE_MODES)
    if isinstance(size, np.integer):
        size = int(size)
    image = np.asarray(image)
    if image.ndim != 2 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"resize_image expects a non-empty 2-D array, got shape {image.shape}")
    geometry = resize_geometry(image.shape, size, mode)
    height, width = geometry.target_hw
    if mode == "resize":
        return _pil_resize(image, height, width)
    resized = _pil_resize(image, geometry.rows, geometry.columns)
    if mode == "letterbox":
        out = np.zeros((height, width), dtype=np.float32)
        top, left = geometry.top, geometry.left
        out[top : top + geometry.rows, left : left + geometry.columns] = resized
        return out
    top, left = -geometry.top, -geometry.left
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Map a ``[0, 1]`` float image to ``uint8`` (rounded, clipped)."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def load_preprocessed(path: str | Path, preprocess: Preprocess, max_pixels: int | None = None) -> np.ndarray:
    """Decode, resize and quantise one image exactly as the tensor cache stores it.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file.
    preprocess : Preprocess
        Output size, resize mode and frame/slice policies.
    max_pixels : int, optional
        Largest pixel count a header may claim (see :func:`read_image`).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(preprocess.size, preprocess.size)``.

    Raises
    ------
    DataError
        When the file cannot be decoded (see :func:`read_image`).
    """
    image = read_image(
        path, frame=preprocess.frame, nifti_slice=preprocess.nifti_slices, max_pixels=max_pixels
    )
    return to_uint8(resize_image(image, preprocess.size, preprocess.resize))
