"""The download path against a local HTTP server: verified, cached, resumable, offline; each failure one line.

No test touches the internet: ``$SDC_BENCH_DATASETS_URL`` points the registry at pytest-httpserver, and the
Fraiwan entry is given the miniature archive's sha256 (the real one is not recorded yet).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from sdc_bench.cli import main
from sdc_bench.data.datasets import BASE_URL_ENV, DATASETS, RemoteFile
from tests.data.datasets.layouts import fraiwan_zip

pytest_httpserver = pytest.importorskip("pytest_httpserver")
NAME = "fraiwan-spine-xray.zip"
URL_PATH = f"/fraiwan/{NAME}"


@pytest.fixture
def archive(tmp_path: Path) -> bytes:
    return fraiwan_zip(tmp_path)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, archive: bytes, httpserver) -> Path:
    """The Fraiwan entry with the miniature's sha256, its URL on the local server; returns the cache root."""
    dataset = DATASETS["fraiwan"]
    entry = RemoteFile(
        NAME, "https://example.invalid/never-used", hashlib.sha256(archive).hexdigest(), len(archive), True
    )
    monkeypatch.setattr(type(dataset), "files", (entry,))
    monkeypatch.setenv(BASE_URL_ENV, httpserver.url_for("/"))
    cache = tmp_path / "cache"
    monkeypatch.setenv("SDC_BENCH_CACHE", str(cache))
    monkeypatch.delenv("SDC_BENCH_OFFLINE", raising=False)
    return cache


def _get(out: Path, *extra: str) -> int:
    return main(["data", "get", "fraiwan", "--out", str(out), "--quiet", *extra])


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    return error


def _cached(cache: Path) -> list[str]:
    folder = cache / "datasets" / "fraiwan"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_download_verifies_caches_and_converts_then_offline_uses_the_cache(
    served: Path, archive: bytes, httpserver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request(URL_PATH).respond_with_data(archive, content_type="application/zip")
    assert _get(tmp_path / "d") == 0
    assert _cached(served) == [NAME, f"{NAME}.unzipped"]
    manifest = pd.read_csv(tmp_path / "d" / "manifest.csv", dtype=str)
    assert manifest.groupby("label").size().to_dict() == {"normal": 2, "scoliosis": 2, "spondylolisthesis": 2}
    assert manifest["patient_id"].is_unique
    assert "no patient ids" in (tmp_path / "d" / "DATASET.md").read_text()
    assert any(
        "no patient ids" in w for w in pd.read_json(tmp_path / "d" / "audit.json", typ="series")["warnings"]
    )
    requests = len(httpserver.log)
    capsys.readouterr()
    assert _get(tmp_path / "again", "--offline") == 0
    assert len(httpserver.log) == requests  # the cache answered


def test_offline_without_a_cache_names_the_url_and_the_folder(
    served: Path, httpserver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _get(tmp_path / "d", "--offline") == 2
    error = _one_line(capsys)
    assert f"offline and {NAME} is not cached" in error
    assert httpserver.url_for(URL_PATH) in error and str(served / "datasets" / "fraiwan") in error
    assert not httpserver.log and _cached(served) == []


def test_checksum_mismatch_keeps_nothing(
    served: Path, archive: bytes, httpserver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = archive[:-10] + b"0123456789"
    httpserver.expect_request(URL_PATH).respond_with_data(damaged)
    assert _get(tmp_path / "d") == 2
    error = _one_line(capsys)
    assert "checksum mismatch" in error and f"got {hashlib.sha256(damaged).hexdigest()[:16]}..." in error
    assert _cached(served) == [] and not list((served / "datasets").rglob("*.part"))
    assert not (tmp_path / "d" / "manifest.csv").exists()


def test_truncated_file_with_a_full_length_is_a_checksum_mismatch(
    served: Path, archive: bytes, httpserver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request(URL_PATH).respond_with_data(archive[: len(archive) // 2])
    assert _get(tmp_path / "d") == 2
    assert "checksum mismatch" in _one_line(capsys)
    assert _cached(served) == []


def test_interrupted_download_resumes_with_a_range_request(
    served: Path, archive: bytes, httpserver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    half = len(archive) // 2

    def cut_short(request: Request) -> Response:  # says the whole length, sends half, hangs up
        response = Response(archive[:half], content_type="application/zip")
        response.headers["Content-Length"] = str(len(archive))
        return response

    httpserver.expect_ordered_request(URL_PATH).respond_with_handler(cut_short)
    assert _get(tmp_path / "d") == 2
    error = _one_line(capsys)
    assert (
        f"download interrupted after {half:,} of {len(archive):,} bytes" in error
        and "again to resume" in error
    )
    assert _cached(served) == []  # nothing half-written beside the verified files
    (part,) = (served / "datasets" / ".partial").rglob("*.part")
    assert part.stat().st_size == half

    def rest(request: Request) -> Response:
        assert request.headers["Range"] == f"bytes={half}-"
        response = Response(archive[half:], status=206, content_type="application/zip")
        response.headers["Content-Range"] = f"bytes {half}-{len(archive) - 1}/{len(archive)}"
        return response

    httpserver.expect_ordered_request(URL_PATH).respond_with_handler(rest)
    assert _get(tmp_path / "d") == 0
    assert _cached(served) == [NAME, f"{NAME}.unzipped"] and not part.exists()
    assert (
        hashlib.sha256((served / "datasets" / "fraiwan" / NAME).read_bytes()).hexdigest()
        == hashlib.sha256(archive).hexdigest()
    )


def test_no_recorded_sha256_refuses_to_download(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _get(tmp_path / "d") == 2
    error = _one_line(capsys)
    assert "fraiwan cannot be downloaded" in error and "--from" in error


def test_from_a_local_copy_needs_no_server(tmp_path: Path, archive: bytes) -> None:
    import io
    import zipfile

    zipfile.ZipFile(io.BytesIO(archive)).extractall(tmp_path / "copy")
    assert _get(tmp_path / "d", "--from", str(tmp_path / "copy")) == 0
    assert len(pd.read_csv(tmp_path / "d" / "manifest.csv")) == 6
