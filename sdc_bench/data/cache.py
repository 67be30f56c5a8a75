"""The tensor cache: every image of a manifest decoded and resized once, stored as one ``uint8`` memmap.

A cache is two files in ``cache_dir``: ``<key>.u8`` (raw ``uint8`` of shape
``(N, rows, columns)``, or ``(N, K, rows, columns)`` for K slices as channels) and ``<key>.json`` (sample ids, shape, settings). The key hashes
the manifest fingerprint with the preprocessing settings, so a changed image, label
or setting gives a new cache. Both files are written to a temporary name and moved
into place with :func:`os.replace`, the JSON last: a cache counts as present only
when its JSON exists and the data file has the size the JSON states, so a run killed
mid-write leaves at most an ignored temporary file, never a half cache that is used.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sdc_bench.core.errors import DataError
from sdc_bench.data.decode import Preprocess
from sdc_bench.data.manifest import fingerprint
from sdc_bench.data.slices import load_input

__all__ = [
    "CACHE_FORMAT_VERSION",
    "TensorCache",
    "build_cache",
    "cache_from_array",
    "cache_key",
    "open_cache",
]

CACHE_FORMAT_VERSION = 1
"""Bumped whenever decoding or the file layout changes, so old caches are not reused."""

_STALE_TEMP_S = 3600.0  # a live writer touches its temp file with every image


class TensorCache:
    """Preprocessed images of a manifest, indexed by sample id.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, rows, columns)`` (or ``(N, K, rows, columns)``, K slices as channels) ``uint8``
        array, a read-only :class:`numpy.memmap` when opened from disk.
    sample_ids : list of str
        The sample id of each row of ``images``.
    key : str
        The cache key (file stem in the cache folder).
    path : pathlib.Path or None
        The ``.u8`` data file, or ``None`` for an in-memory cache.
    failed : tuple of (str, str, str)
        ``(sample_id, path, reason)`` of images that could not be decoded when the cache was
        built with ``skip_bad``; their rows hold zeros and must not be used.

    Notes
    -----
    Index ``images`` with an array of rows (``images[cache.indices(ids)]``): that
    copies into ordinary memory, ready for :func:`torch.from_numpy`. A plain slice is
    a read-only view of the file, which ``torch.from_numpy`` warns about.

    Examples
    --------
    >>> cache = build_cache(manifest, Preprocess(size=128), "cache/")  # doctest: +SKIP
    >>> batch = torch.from_numpy(cache.images[cache.indices(["a", "b"])])  # doctest: +SKIP
    """

    def __init__(
        self,
        images: np.ndarray,
        sample_ids: Sequence[str],
        *,
        key: str = "",
        path: Path | None = None,
        failed: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        if images.ndim not in (3, 4) or images.dtype != np.uint8:
            raise ValueError(
                f"TensorCache needs a (N, rows, columns) or (N, K, rows, columns) uint8 array, "
                f"got {images.dtype} {images.shape}"
            )
        if len(sample_ids) != images.shape[0]:
            raise ValueError(f"TensorCache got {len(sample_ids)} sample ids for {images.shape[0]} images")
        self.images = images
        self.sample_ids = [str(s) for s in sample_ids]
        self.key = key
        self.path = path
        self.failed = tuple((str(s), str(p), str(r)) for s, p, r in failed)
        self._row = {sample_id: row for row, sample_id in enumerate(self.sample_ids)}
        if len(self._row) != len(self.sample_ids):
            raise ValueError("TensorCache sample ids must be unique")

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __repr__(self) -> str:
        return f"TensorCache(key={self.key!r}, images={self.images.shape}, path={self.path})"

    @property
    def size(self) -> int:
        """Rows of the stored images, in pixels (the side, for squares)."""
        return int(self.images.shape[-2])

    @property
    def hw(self) -> tuple[int, int]:
        """``(rows, columns)`` of the stored images."""
        return int(self.images.shape[-2]), int(self.images.shape[-1])

    def indices(self, sample_ids: Sequence[str]) -> np.ndarray:
        """Rows of ``images`` holding the given samples.

        Parameters
        ----------
        sample_ids : sequence of str
            Sample ids, e.g. one fold's test set.

        Returns
        -------
        numpy.ndarray
            ``int64`` row indices, in the order given.

        Raises
        ------
        DataError
            When a sample id is not in the cache (e.g. splits from another dataset).
        """
        try:
            return np.fromiter((self._row[str(s)] for s in sample_ids), dtype=np.int64, count=len(sample_ids))
        except KeyError as error:
            raise DataError(
                f"sample_id {error.args[0]!r} is not in tensor cache {self.key or '(in memory)'}; "
                "the splits or predictions belong to another manifest - rebuild them"
            ) from None


def cache_key(manifest: pd.DataFrame, preprocess: Preprocess) -> str:
    """The cache key of a manifest under a preprocessing setting.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A validated manifest.
    preprocess : Preprocess
        The preprocessing settings.

    Returns
    -------
    str
        24 hex digits of ``sha256(fingerprint + settings + sample order + format version)``.
    """
    payload = {
        "fingerprint": fingerprint(manifest),
        "preprocess": preprocess.settings(),
        # The cache is stored in manifest order, so the order is part of the key.
        "order": hashlib.sha256("\x1e".join(map(str, manifest["sample_id"])).encode()).hexdigest(),
        "version": CACHE_FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"{key}.u8", cache_dir / f"{key}.json"


def open_cache(cache_dir: str | Path, key: str) -> TensorCache | None:
    """Open a complete cache, or return ``None`` when it is absent or incomplete.

    Parameters
    ----------
    cache_dir : str or pathlib.Path
        The cache folder.
    key : str
        The cache key.

    Returns
    -------
    TensorCache or None
        The cache with its images memory-mapped read-only.
    """
    data_path, meta_path = _paths(Path(cache_dir), key)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        shape = tuple(int(n) for n in meta["shape"])
        sample_ids = [str(s) for s in meta["sample_ids"]]
        if (
            meta.get("version") != CACHE_FORMAT_VERSION
            or len(shape) not in (3, 4)
            or len(sample_ids) != shape[0]
        ):
            return None
        if data_path.stat().st_size != int(np.prod(shape)):
            return None
        failed = [(str(s), str(p), str(r)) for s, p, r in meta.get("failed", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    images = np.memmap(data_path, dtype=np.uint8, mode="r", shape=shape)
    return TensorCache(images, sample_ids, key=key, path=data_path, failed=failed)


def _remove_stale_temps(cache_dir: Path, key: str) -> None:
    now = time.time()
    for leftover in cache_dir.glob(f".{key}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _STALE_TEMP_S:
                leftover.unlink()


@contextlib.contextmanager
def _temp_file(cache_dir: Path, key: str, suffix: str) -> Iterator[Path]:
    """A temporary file beside the target, removed unless it was moved into place."""
    handle, name = tempfile.mkstemp(prefix=f".{key}.", suffix=f"{suffix}.tmp", dir=cache_dir)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _commit(
    cache_dir: Path,
    key: str,
    temp_data: Path,
    shape: tuple[int, ...],
    sample_ids: list[str],
    extra: dict[str, Any],
) -> TensorCache:
    """Move the data file into place, then write the JSON that makes the cache valid."""
    data_path, meta_path = _paths(cache_dir, key)
    _fsync(temp_data)
    os.replace(temp_data, data_path)
    meta = {
        "version": CACHE_FORMAT_VERSION,
        "key": key,
        "shape": list(shape),
        "sample_ids": sample_ids,
        **extra,
    }
    with _temp_file(cache_dir, key, ".json") as temp_meta:
        temp_meta.write_text(json.dumps(meta), encoding="utf-8")
        _fsync(temp_meta)
        os.replace(temp_meta, meta_path)
    cache = open_cache(cache_dir, key)
    if cache is None:  # pragma: no cover - only when another process deletes the files meanwhile
        raise DataError(
            f"{data_path}: tensor cache vanished right after it was written; check the cache folder"
        )
    return cache


_Decoded = tuple[np.ndarray | None, str]  # the image, or None and the one-line error


def _decode_one(task: tuple[str, Preprocess, int | None]) -> _Decoded:
    path, preprocess, max_pixels = task
    try:
        return load_input(path, preprocess, max_pixels), ""
    except DataError as error:  # returned, not raised: with skip_bad the build goes on
        return None, str(error)


def _decoded(
    paths: list[str], preprocess: Preprocess, num_workers: int, max_pixels: int | None
) -> Iterator[_Decoded]:
    if num_workers <= 0:
        for path in paths:
            yield _decode_one((path, preprocess, max_pixels))
        return
    # spawn, not fork: a forked child of a process running torch/OpenMP threads can deadlock.
    with ProcessPoolExecutor(
        max_workers=num_workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        chunk = max(1, min(64, len(paths) // (num_workers * 8) or 1))
        yield from pool.map(_decode_one, [(p, preprocess, max_pixels) for p in paths], chunksize=chunk)


def _preallocate(temp: Path, n_bytes: int, cache_dir: Path) -> None:
    """Reserve the cache file's blocks now, so a full disk fails here with one line, not mid-write."""
    allocate = getattr(os, "posix_fallocate", None)
    try:
        with open(temp, "rb+") as handle:
            if allocate is not None and n_bytes > 0:
                allocate(handle.fileno(), 0, n_bytes)
    except OSError as error:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "not enough free disk space" if full else (error.strerror or str(error))
        raise DataError(
            f"{cache_dir}: cannot write the tensor cache ({reason}; it needs {n_bytes:,} bytes); "
            "free space there or point $SDC_BENCH_CACHE at another disk"
        ) from None


def build_cache(
    manifest: pd.DataFrame,
    preprocess: Preprocess,
    cache_dir: str | Path,
    *,
    progress: bool = True,
    num_workers: int = 0,
    skip_bad: bool = False,
    max_pixels: int | None = None,
) -> TensorCache:
    """Decode and resize every image of a manifest once, or reuse the cache built before.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A validated manifest; rows are stored in its order.
    preprocess : Preprocess
        Output size, resize mode and frame/slice policies.
    cache_dir : str or pathlib.Path
        Folder for the cache files (created when absent).
    progress : bool
        Show a tqdm bar while decoding.
    num_workers : int
        Decode in this many processes; 0 decodes in this process.
    skip_bad : bool
        Go on past images that cannot be decoded: their rows hold zeros and they are
        listed in :attr:`TensorCache.failed`, for the caller to drop.
    max_pixels : int, optional
        Largest pixel count an image header may claim (``data.max_image_pixels``).

    Returns
    -------
    TensorCache
        The cache, images memory-mapped read-only.

    Raises
    ------
    DataError
        When an image cannot be decoded and ``skip_bad`` is false (the message names
        the file), or the cache folder cannot be written (full disk included).

    Examples
    --------
    >>> cache = build_cache(manifest, Preprocess(size=224), "~/.cache/sdc-bench")  # doctest: +SKIP
    >>> cache.images.shape  # doctest: +SKIP
    (1200, 224, 224)
    """
    if len(manifest) == 0:
        raise DataError("build_cache: the manifest has no rows; nothing to cache")
    if num_workers < 0:
        raise ValueError(f"num_workers={num_workers} must be >= 0")
    cache_dir = Path(cache_dir).expanduser()
    key = cache_key(manifest, preprocess)
    existing = open_cache(cache_dir, key)
    if existing is not None:
        if existing.failed and not skip_bad:
            _raise_failed(f"{existing.failed[0][1]}: {existing.failed[0][2]}")
        return existing
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"{cache_dir}: cannot create the cache folder ({error.strerror}); pass another cache_dir"
        ) from None
    _remove_stale_temps(cache_dir, key)
    return _decode_into_cache(
        manifest,
        preprocess,
        cache_dir,
        key,
        _Decoding(progress=progress, num_workers=num_workers, skip_bad=skip_bad, max_pixels=max_pixels),
    )


def _raise_failed(message: str) -> None:
    raise DataError(f"{message} (or pass --skip-bad to skip unreadable files)")


@dataclass(frozen=True)
class _Decoding:
    """How :func:`build_cache` decodes: progress bar, worker processes, bad files, pixel cap."""

    progress: bool
    num_workers: int
    skip_bad: bool
    max_pixels: int | None


def _decode_into_cache(
    manifest: pd.DataFrame,
    preprocess: Preprocess,
    cache_dir: Path,
    key: str,
    how: _Decoding,
) -> TensorCache:
    """Decode every image into a temporary memmap, then commit it as the cache ``key``."""
    sample_ids = [str(s) for s in manifest["sample_id"]]
    paths = [str(p) for p in manifest["path"]]
    channels = (preprocess.slices,) if preprocess.slices > 1 else ()
    shape = (len(paths), *channels, *preprocess.hw)
    failed: list[tuple[str, str, str]] = []
    with _temp_file(cache_dir, key, ".u8") as temp_data:
        _preallocate(temp_data, int(np.prod(shape)), cache_dir)
        try:
            images = np.memmap(temp_data, dtype=np.uint8, mode="w+", shape=shape)
        except OSError as error:
            raise DataError(
                f"{cache_dir}: cannot write the tensor cache ({error.strerror}); free space or pass another cache_dir"
            ) from None
        bar = tqdm(total=len(paths), desc="caching images", unit="img", disable=not how.progress, leave=False)
        with bar:
            decoded = _decoded(paths, preprocess, how.num_workers, how.max_pixels)
            for row, (image, failure) in enumerate(decoded):
                if image is None:
                    if not how.skip_bad:
                        _raise_failed(failure)
                    failed.append((sample_ids[row], paths[row], failure.removeprefix(f"{paths[row]}: ")))
                else:
                    images[row] = image
                bar.update(1)
        images.flush()
        del images
        return _commit(
            cache_dir,
            key,
            temp_data,
            shape,
            sample_ids,
            {
                "fingerprint": fingerprint(manifest),
                "preprocess": preprocess.settings(),
                **({"failed": failed} if failed else {}),
            },
        )


def cache_from_array(
    images: np.ndarray, sample_ids: Sequence[str], cache_dir: str | Path, key: str
) -> TensorCache:
    """Store in-memory images (e.g. generated ones) as a tensor cache, with the same atomic write.

    A complete cache with the same key, shape and sample ids is reused as it is:
    the caller's key must change whenever the images do.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, rows, columns)`` or ``(N, K, rows, columns)`` ``uint8`` array.
    sample_ids : sequence of str
        One unique id per image.
    cache_dir : str or pathlib.Path
        Folder for the cache files (created when absent).
    key : str
        The cache key, e.g. a hash of the generator settings; letters, digits, ``-`` and ``_``.

    Returns
    -------
    TensorCache
        The cache, images memory-mapped read-only.
    """
    images = np.asarray(images)
    sample_ids = [str(s) for s in sample_ids]
    if images.ndim not in (3, 4) or images.dtype != np.uint8:
        raise ValueError(
            f"cache_from_array needs a (N, rows, columns) or (N, K, rows, columns) uint8 array, "
            f"got {images.dtype} {images.shape}"
        )
    if len(sample_ids) != images.shape[0] or len(set(sample_ids)) != len(sample_ids):
        raise ValueError("cache_from_array needs one unique sample id per image")
    if not key or not all(c.isalnum() or c in "-_" for c in key):
        raise ValueError(f"cache key {key!r} must be non-empty letters, digits, '-' or '_'")
    cache_dir = Path(cache_dir).expanduser()
    existing = open_cache(cache_dir, key)
    if existing is not None and existing.images.shape == images.shape and existing.sample_ids == sample_ids:
        return existing
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(cache_dir, key)
    with _temp_file(cache_dir, key, ".u8") as temp_data:
        _preallocate(temp_data, int(images.nbytes), cache_dir)
        with open(temp_data, "rb+") as handle:
            np.ascontiguousarray(images).tofile(handle)
        return _commit(cache_dir, key, temp_data, images.shape, sample_ids, {})
