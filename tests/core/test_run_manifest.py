"""``run.json`` as a typed contract: it round-trips, and a file of another format version, or with a key
missing or unknown, is refused in one line (through the command line: exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sdc_bench.cli import main
from sdc_bench.core.errors import RunManifestError
from sdc_bench.core.run_manifest import (
    FORMAT_VERSION,
    FORMAT_VERSION_KEY,
    RunManifest,
    Segment,
    example_payload,
)
from sdc_bench.core.store import RunStore


def _finished() -> dict[str, Any]:
    return {
        **example_payload(),
        "status": "done",
        "finished_utc": "2026-01-01T00:10:00Z",
        "weights": {"sdc_dl__resnet18__seed0__fold0": "random"},
        "segments": [
            {"started_utc": "2026-01-01T00:00:00Z", "seconds": 300.0, "status": "interrupted"},
            {
                "started_utc": "2026-01-01T00:06:00Z", "seconds": 240.5, "status": "done",
                "changed_settings": ["train.threads"],
            },
        ],
        "seconds": 540.5,
    }  # fmt: skip


@pytest.mark.parametrize("payload", [example_payload(), _finished()])
def test_round_trip_keeps_every_key_and_its_order(payload: dict[str, Any], tmp_path: Path) -> None:
    manifest = RunManifest.from_json(payload)
    assert manifest.to_json() == payload and list(manifest.to_json()) == list(payload)
    store = RunStore(tmp_path)
    store.write_manifest(manifest)
    assert store.read_manifest() == manifest
    assert json.loads(store.run_json.read_text())[FORMAT_VERSION_KEY] == FORMAT_VERSION


def test_typed_reads() -> None:
    manifest = RunManifest.from_json(_finished())
    assert manifest.segments is not None and manifest.segments[1] == Segment(
        "2026-01-01T00:06:00Z", 240.5, "done", ("train.threads",)
    )
    assert manifest.data.size_hw == (64, 64) and manifest.search.n_trials == 0
    assert manifest.suite.outer_folds == 2 and manifest.suite.reference_backbone == "resnet18"


def test_update_manifest_is_read_change_write(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.write_manifest(RunManifest.from_json(example_payload()))
    store.update_manifest(lambda m: m.replace(status="failed"))
    assert store.read_manifest().status == "failed"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"surprise": 1}, "unknown key surprise"),
        ({"data": {**example_payload()["data"], "extra": 1}}, "unknown key data.extra"),
        ({"seeds": "0"}, "seeds is str"),
        ({"suite": {"name": "x"}}, "no suite.description"),
    ],
)
def test_a_bad_key_is_one_line_naming_it(change: dict[str, Any], words: str) -> None:
    with pytest.raises(RunManifestError, match=words) as error:
        RunManifest.from_json({**example_payload(), **change}, "somewhere/run.json")
    assert "somewhere/run.json" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("key", ["run_id", "data", "environment", "proposed_method", "skip_bad"])
def test_a_missing_key_is_one_line_naming_it(key: str) -> None:
    payload = example_payload()
    del payload[key]
    with pytest.raises(RunManifestError, match=f"run.json is damaged: no {key};"):
        RunManifest.from_json(payload)


def _old_folder(tmp_path: Path, version: object) -> Path:
    """A run folder whose run.json has another format version (None: none, as before versions)."""
    payload = example_payload()
    if version is None:
        del payload[FORMAT_VERSION_KEY]
    else:
        payload[FORMAT_VERSION_KEY] = version
    root = tmp_path / "old"
    root.mkdir()
    (root / "run.json").write_text(json.dumps(payload))
    return root


@pytest.mark.parametrize(("version", "found"), [(None, "version none"), (0, "version 0"), (2, "version 2")])
def test_report_refuses_a_folder_of_another_format_version_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: object, found: str
) -> None:
    root = _old_folder(tmp_path, version)
    assert main(["report", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(root / "run.json") in err and found in err and f"reads version {FORMAT_VERSION}" in err
    assert "re-run" in err and "sdc-bench version that made it" in err
