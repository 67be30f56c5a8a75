"""Download a dataset's files once, verified, resumable, into the cache; offline, use the cache or say what to fetch.

pooch does the caching and the checksum: a file reaches ``<cache>/datasets/<dataset>/<name>`` only after its
SHA-256 matched, so a cached file is always a whole, verified one. pooch itself cannot resume an interrupted
download, so its downloader here is :class:`ResumableDownload`: the bytes received so far wait in
``<cache>/datasets/.partial/`` (never beside the verified files), and the next try asks the server for the
rest with an HTTP ``Range`` request. A checksum mismatch deletes both. ``$SDC_BENCH_DATASETS_URL`` replaces
every file's URL by ``<that>/<dataset>/<name>`` (tests point it at a local server).
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Dataset, RemoteFile

__all__ = ["BASE_URL_ENV", "OFFLINE_ENV", "ResumableDownload", "dataset_cache", "fetch", "file_url"]

BASE_URL_ENV = "SDC_BENCH_DATASETS_URL"
OFFLINE_ENV = "SDC_BENCH_OFFLINE"
_CHUNK = 1 << 16


def dataset_cache(cache: Path, dataset: Dataset) -> Path:
    """The folder a dataset's verified files live in."""
    return cache / "datasets" / dataset.name


def file_url(dataset: Dataset, file: RemoteFile, base_url: str | None = None) -> str:
    """The URL to download ``file`` from: ``base_url`` (or ``$SDC_BENCH_DATASETS_URL``) wins over the registry's."""
    base = base_url if base_url is not None else os.environ.get(BASE_URL_ENV, "")
    return f"{base.rstrip('/')}/{dataset.name}/{file.name}" if base else file.url


@dataclass(frozen=True)
class ResumableDownload:
    """A pooch downloader that keeps what it received in ``partial`` and resumes it with ``Range``.

    Parameters
    ----------
    partial : pathlib.Path
        The ``.part`` file of this download (outside the folder of verified files).
    progress : bool
        Show a progress bar on stderr.
    timeout_s : float
        Socket timeout of each read.
    """

    partial: Path
    progress: bool = False
    timeout_s: float = 60.0

    def __call__(self, url: str, output_file: Any, pooch: Any, check_only: bool = False) -> bool | None:
        if check_only:
            return True
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        have = self.partial.stat().st_size if self.partial.is_file() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:  # the kept part does not fit the file any more: start over
                self.partial.unlink()
                return self(url, output_file, pooch)
            raise DataError(f"{url}: the server answered HTTP {error.code} ({error.reason})") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DataError(f"{url}: cannot connect ({reason}); check the connection and try again") from None
        with response:
            resumed = response.status == 206
            total = _total_size(response, have if resumed else 0)
            received = have if resumed else 0
            with (
                open(self.partial, "ab" if resumed else "wb") as part,
                _bar(self.progress, total, received) as bar,
            ):
                try:
                    while chunk := response.read(_CHUNK):
                        part.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except (http.client.IncompleteRead, OSError):
                    pass  # said below, with what was kept
        if total and received < total:
            raise DataError(
                f"{url}: download interrupted after {received:,} of {total:,} bytes; run the same command "
                f"again to resume it (the part is kept in {self.partial})"
            )
        shutil.move(str(self.partial), str(output_file))
        return None


def _total_size(response: Any, offset: int) -> int:
    """The whole file's size from ``Content-Range`` (a resumed answer) or ``Content-Length``; 0 when unknown."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length", "")
    return offset + int(length) if length.isdigit() else 0


def _bar(progress: bool, total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total or None, initial=initial, unit="B", unit_scale=True, disable=not progress, leave=False
    )


def _verified(path: Path, sha256: str) -> bool:
    import pooch

    return path.is_file() and pooch.file_hash(str(path), alg="sha256") == sha256.lower()


def _fetch_file(
    dataset: Dataset, file: RemoteFile, folder: Path, *, base_url: str | None, offline: bool, progress: bool
) -> Path:
    import pooch

    url = file_url(dataset, file, base_url)
    target = folder / file.name
    if not file.sha256:
        raise DataError(
            f"{dataset.name}: no sha256 is recorded for {url}; download it by hand, check it, and pass its "
            "folder with --from"
        )
    if _verified(target, file.sha256):
        return target
    if offline:
        state = "is damaged (sha256 mismatch)" if target.exists() else "is not cached"
        raise DataError(
            f"{dataset.name}: offline and {file.name} {state}; download {url} by hand and put it in {folder}/"
        )
    partial = folder.parent / ".partial" / dataset.name / f"{file.name}.part"
    downloader = ResumableDownload(partial, progress=progress)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # its "Downloading ..." line would break our one-line messages
    try:
        pooch.retrieve(
            url, known_hash=f"sha256:{file.sha256}", fname=file.name, path=folder, downloader=downloader
        )
    except ValueError as error:  # pooch's checksum mismatch; its temporary file is already gone
        partial.unlink(missing_ok=True)
        found = re.search(r"but got ([0-9a-f]+)", str(error))
        got = found.group(1) if found else "another"
        raise DataError(
            f"{url}: checksum mismatch (sha256 expected {file.sha256[:16]}..., got {got[:16]}...); the file "
            "was damaged on the way or changed on the server, nothing was kept; try again or report it"
        ) from None
    finally:
        logger.setLevel(level)
    return target


def _unpack(archive: Path) -> Path:
    """Extract a zip beside itself, once, into ``<name>.unzipped/`` (written whole or not at all)."""
    destination = archive.with_name(archive.name + ".unzipped")
    if destination.is_dir():
        return destination
    staging = archive.with_name(f".{archive.name}.unzipping")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging)  # zipfile drops absolute paths and '..' from member names
    except (zipfile.BadZipFile, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{archive}: cannot unpack ({error}); delete it and download again") from None
    os.replace(staging, destination)
    return destination


def fetch(
    dataset: Dataset,
    cache: Path,
    *,
    base_url: str | None = None,
    offline: bool | None = None,
    progress: bool = False,
) -> Path:
    """Download (or find in the cache) every file of ``dataset``, verified and unpacked; return their folder.

    Parameters
    ----------
    dataset : Dataset
        A downloadable dataset.
    cache : pathlib.Path
        The cache root (``$SDC_BENCH_CACHE``); files land in ``<cache>/datasets/<name>/``.
    base_url : str, optional
        Download from ``<base_url>/<dataset>/<file>`` instead (default: ``$SDC_BENCH_DATASETS_URL``).
    offline : bool, optional
        Use only the cache (default: ``$SDC_BENCH_OFFLINE`` set to 1).
    progress : bool
        Progress bars on stderr.

    Raises
    ------
    DataError
        One line: the dataset must be brought by the user, a file is missing offline (with its URL and the
        folder to put it in), a download was interrupted (run again to resume), or a checksum differs.
    """
    if not dataset.downloadable:
        raise DataError(
            f"{dataset.name} cannot be downloaded ({dataset.licence}): {dataset.how_to_get}; then pass its "
            "folder with --from"
        )
    if offline is None:
        offline = os.environ.get(OFFLINE_ENV, "") not in ("", "0")
    folder = dataset_cache(cache, dataset)
    for file in dataset.files:
        path = _fetch_file(dataset, file, folder, base_url=base_url, offline=offline, progress=progress)
        if file.unpack:
            _unpack(path)
    return folder
