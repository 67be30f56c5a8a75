"""Fuzz the readers: random bytes, random CSV text and random image headers raise only SdcBenchError.

Fixed examples (``derandomize=True``) keep CI reproducible; the whole file stays well under a minute.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import struct
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdc_bench.core.errors import DataError, SdcBenchError
from sdc_bench.data.decode import read_image
from sdc_bench.data.file_info import inspect_file
from sdc_bench.data.sources import load_source
from tests.data.conftest import save_dicom

FUZZ = settings(
    max_examples=40,
    deadline=2000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LIMIT = 1 << 22  # a small pixel cap, so a header claiming a big image is refused, not allocated


def _read(path: Path) -> None:
    with contextlib.suppress(SdcBenchError):
        read_image(path, max_pixels=LIMIT)
    assert inspect_file(path, decode=True, max_pixels=LIMIT) is not None  # never raises


@FUZZ
@given(
    data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".dcm", ".nii", ".nii.gz", ".tif"])
)
def test_random_bytes_as_images(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(data)
        _read(path)


@FUZZ
@given(
    dims=st.lists(st.integers(-3, 70000), min_size=8, max_size=8),
    datatype=st.sampled_from([0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 2304, 7]),
    bitpix=st.integers(-8, 128),
    offset=st.floats(-10, 1e6) | st.just(float("nan")),
    tail=st.binary(max_size=256),
)
def test_random_nifti_headers(
    dims: list[int], datatype: int, bitpix: int, offset: float, tail: bytes
) -> None:
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, *(max(-32768, min(32767, d)) for d in dims))
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    struct.pack_into("<f", header, 108, offset)
    header[344:348] = b"n+1\x00"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.nii.gz"
        path.write_bytes(gzip.compress(bytes(header) + b"\x00" * 4 + tail))
        _read(path)


@FUZZ
@given(
    rows=st.integers(0, 65535),
    columns=st.integers(0, 65535),
    frames=st.integers(0, 5000),
    bits=st.sampled_from([0, 1, 7, 8, 12, 16, 32, 64]),
    samples=st.integers(0, 4),
    photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", ""]),
)
def test_random_dicom_headers(
    rows: int, columns: int, frames: int, bits: int, samples: int, photometric: str
) -> None:
    import pydicom

    with tempfile.TemporaryDirectory() as folder:
        path = save_dicom(Path(folder) / "x.dcm", np.zeros((4, 4), dtype=np.uint16))
        dataset = pydicom.dcmread(path)
        dataset.Rows, dataset.Columns, dataset.NumberOfFrames = rows, columns, frames
        dataset.BitsAllocated, dataset.BitsStored, dataset.SamplesPerPixel = bits, bits, samples
        dataset.PhotometricInterpretation = photometric
        dataset.save_as(path)
        _read(path)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("ab,;\t\n\"' ./-_pathlbeP0123")), max_size=400))
def test_random_csv_manifests(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "manifest.csv"
        csv.write_text(text)
        try:
            result = load_source(csv, skip_bad=True)
        except SdcBenchError:
            return
        assert isinstance(result, pd.DataFrame)


def test_full_disk_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from sdc_bench.data.cache import build_cache
    from sdc_bench.data.decode import Preprocess
    from tests.robustness._fixtures import good_folder

    manifest = load_source(good_folder(tmp_path / "spine"))

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        build_cache(manifest, Preprocess(size=16), cache, progress=False)
    message = str(caught.value)
    assert "\n" not in message and "not enough free disk space" in message
    assert f"{12 * 16 * 16:,} bytes" in message and str(cache) in message
    assert list(cache.iterdir()) == []


def test_nifti_bomb_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.robustness._fixtures import bomb_nifti

    path = bomb_nifti(tmp_path / "bomb.nii.gz")
    assert path.stat().st_size < 2000
    monkeypatch.setattr(np, "asanyarray", lambda *a, **k: pytest.fail("pixel data was read"))
    with pytest.raises(
        DataError, match=r"bomb\.nii\.gz: header claims 4096x4096x4096 voxels .*max_image_pixels"
    ):
        read_image(path)
