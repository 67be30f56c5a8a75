from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sdc_bench.data.cache as cache_module
from sdc_bench.core.errors import DataError
from sdc_bench.data.cache import TensorCache, build_cache, cache_from_array, cache_key, open_cache
from sdc_bench.data.decode import Preprocess, load_preprocessed
from sdc_bench.data.manifest import validate_manifest
from sdc_bench.data.sources import load_source
from tests.data.conftest import ramp, save_dicom, save_image

PRE = Preprocess(size=16, resize="letterbox")


@pytest.fixture
def manifest(tmp_path: Path) -> pd.DataFrame:
    """Six images of mixed formats and shapes."""
    root = tmp_path / "src"
    rng = np.random.default_rng(0)
    for index in range(4):
        save_image(
            root / ("a" if index % 2 else "b") / f"P{index}_x.png",
            rng.integers(0, 255, (20 + index * 7, 30), dtype=np.uint8),
        )
    save_image(root / "a" / "P4_rgb.png", rng.integers(0, 255, (25, 25, 3), dtype=np.uint8))
    save_dicom(root / "b" / "P5.dcm", ramp(40, 20, 4000, np.uint16), photometric="MONOCHROME1")
    return load_source(root, patient_regex=r"^(P\d)")


@pytest.fixture
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = cache_module.load_input

    def counting(path: str, preprocess: Preprocess, max_pixels: int | None = None) -> np.ndarray:
        calls.append(path)
        return real(path, preprocess, max_pixels)

    monkeypatch.setattr(cache_module, "load_input", counting)
    return calls


def test_cache_contents_equal_direct_decoding(manifest: pd.DataFrame, tmp_path: Path) -> None:
    cache = build_cache(manifest, PRE, tmp_path / "cache", progress=False)
    assert isinstance(cache.images, np.memmap) and not cache.images.flags.writeable
    assert cache.images.shape == (6, 16, 16) and cache.images.dtype == np.uint8
    assert cache.sample_ids == manifest["sample_id"].tolist() and len(cache) == 6 and cache.size == 16
    for row, path in enumerate(manifest["path"]):
        np.testing.assert_array_equal(cache.images[row], load_preprocessed(path, PRE))
    wanted = [manifest["sample_id"].iloc[4], manifest["sample_id"].iloc[1]]
    np.testing.assert_array_equal(cache.indices(wanted), [4, 1])
    assert cache.indices([]).shape == (0,)
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert files == [f"{cache.key}.json", f"{cache.key}.u8"]
    meta = json.loads((tmp_path / "cache" / f"{cache.key}.json").read_text())
    assert meta["shape"] == [6, 16, 16] and meta["preprocess"]["size"] == 16


def test_second_build_reuses_without_decoding(
    manifest: pd.DataFrame, tmp_path: Path, count_decodes: list[str]
) -> None:
    first = build_cache(manifest, PRE, tmp_path, progress=False)
    assert len(count_decodes) == 6
    second = build_cache(manifest, PRE, tmp_path, progress=False)
    assert len(count_decodes) == 6, "a complete cache must not be decoded again"
    assert second.key == first.key
    np.testing.assert_array_equal(second.images, first.images)


def test_key_changes_with_settings_and_files(manifest: pd.DataFrame) -> None:
    key = cache_key(manifest, PRE)
    assert cache_key(manifest, PRE) == key
    assert cache_key(manifest, Preprocess(size=16, resize="center_crop")) != key
    assert cache_key(manifest, Preprocess(size=32)) != key
    assert cache_key(manifest.iloc[::-1], PRE) != key, "rows are stored in manifest order"
    path = manifest["path"].iloc[0]
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache_key(manifest, PRE) == key, "a touched file keeps its content, and its cache"
    data = bytearray(Path(path).read_bytes())
    data[-1] ^= 0xFF  # one byte of the last chunk (PNG's end marker CRC), same size
    Path(path).write_bytes(bytes(data))
    assert cache_key(manifest, PRE) != key


def test_crash_leftovers_are_ignored_and_rebuilt(
    manifest: pd.DataFrame, tmp_path: Path, count_decodes: list[str]
) -> None:
    key = cache_key(manifest, PRE)
    # a writer killed mid-run: a half temp file, and a data file moved in without its JSON
    (tmp_path / f".{key}.abc123.u8.tmp").write_bytes(b"\1" * 100)
    (tmp_path / f"{key}.u8").write_bytes(b"\7" * (6 * 16 * 16))
    assert open_cache(tmp_path, key) is None
    cache = build_cache(manifest, PRE, tmp_path, progress=False)
    assert len(count_decodes) == 6
    np.testing.assert_array_equal(cache.images[0], load_preprocessed(manifest["path"].iloc[0], PRE))


def test_data_file_of_wrong_size_is_rebuilt(
    manifest: pd.DataFrame, tmp_path: Path, count_decodes: list[str]
) -> None:
    cache = build_cache(manifest, PRE, tmp_path, progress=False)
    data_path = cache.path
    assert data_path is not None
    del cache
    with open(data_path, "r+b") as handle:
        handle.truncate(100)
    build_cache(manifest, PRE, tmp_path, progress=False)
    assert len(count_decodes) == 12


def test_failed_build_leaves_no_cache(manifest: pd.DataFrame, tmp_path: Path) -> None:
    bad = manifest.copy()
    Path(bad["path"].iloc[3]).write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"P\d_x\.png: not a readable image"):
        build_cache(bad, PRE, tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_stale_temp_files_are_removed(manifest: pd.DataFrame, tmp_path: Path) -> None:
    key = cache_key(manifest, PRE)
    stale, fresh = tmp_path / f".{key}.old.u8.tmp", tmp_path / f".{key}.live.u8.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    build_cache(manifest, PRE, tmp_path, progress=False)
    assert not stale.exists() and fresh.exists(), "only temp files no writer touched for an hour are removed"


def test_worker_processes_give_the_same_cache(manifest: pd.DataFrame, tmp_path: Path) -> None:
    serial = build_cache(manifest, PRE, tmp_path / "serial", progress=False)
    parallel = build_cache(manifest, PRE, tmp_path / "parallel", progress=False, num_workers=2)
    np.testing.assert_array_equal(serial.images, parallel.images)


def test_unknown_sample_id(manifest: pd.DataFrame, tmp_path: Path) -> None:
    cache = build_cache(manifest, PRE, tmp_path, progress=False)
    with pytest.raises(DataError, match=r"sample_id 'nope' is not in tensor cache"):
        cache.indices(["nope"])


def test_empty_manifest_is_an_error(manifest: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows"):
        build_cache(manifest.iloc[:0], PRE, tmp_path, progress=False)


def test_cache_from_array_roundtrip_and_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = np.random.default_rng(0).integers(0, 255, (5, 8, 8), dtype=np.uint8)
    ids = [f"s{i}" for i in range(5)]
    cache = cache_from_array(images, ids, tmp_path, "synth-v1")
    assert isinstance(cache.images, np.memmap) and not cache.images.flags.writeable
    np.testing.assert_array_equal(cache.images, images)
    assert cache.sample_ids == ids and cache.key == "synth-v1"
    written = (tmp_path / "synth-v1.u8").stat().st_mtime_ns

    def no_write(*args: object, **kwargs: object) -> None:
        raise AssertionError("a complete cache must be reused, not rewritten")

    monkeypatch.setattr(cache_module, "_commit", no_write)
    again = cache_from_array(images, ids, tmp_path, "synth-v1")
    np.testing.assert_array_equal(again.images, images)
    assert (tmp_path / "synth-v1.u8").stat().st_mtime_ns == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth-v1.json", "synth-v1.u8"]


def test_cache_from_array_validates_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        cache_from_array(np.zeros((2, 4, 4), np.float32), ["a", "b"], tmp_path, "k")
    with pytest.raises(ValueError, match="unique sample id"):
        cache_from_array(np.zeros((2, 4, 4), np.uint8), ["a", "a"], tmp_path, "k")
    with pytest.raises(ValueError, match="cache key"):
        cache_from_array(np.zeros((2, 4, 4), np.uint8), ["a", "b"], tmp_path, "../k")


def test_tensor_cache_in_memory() -> None:
    cache = TensorCache(np.zeros((2, 4, 4), np.uint8), ["x", "y"])
    assert len(cache) == 2 and cache.indices(["y"]).tolist() == [1] and cache.path is None
    with pytest.raises(ValueError, match="unique"):
        TensorCache(np.zeros((2, 4, 4), np.uint8), ["x", "x"])


def test_manifest_without_files_is_a_data_error(tmp_path: Path) -> None:
    df = validate_manifest(
        pd.DataFrame(
            {
                "sample_id": ["a"],
                "path": [str(tmp_path / "gone.png")],
                "label": ["x"],
                "patient_id": ["p"],
                "modality": ["xray"],
            }
        ),
        where="t",
    )
    with pytest.raises(DataError, match=r"gone\.png: image file does not exist"):
        build_cache(df, PRE, tmp_path / "c", progress=False)
