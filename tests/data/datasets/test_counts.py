"""The converter's counts are reported against the documented ones: a mismatch is a visible line, never silent."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import pytest

from sdc_bench.cli import main
from sdc_bench.data.datasets import DATASETS
from tests.data.datasets.layouts import fraiwan_zip, write_spider


def test_documented_counts_are_recorded_where_published() -> None:
    assert dict(DATASETS["fraiwan"].task("3class").documented_counts) == {
        "normal": 71,
        "scoliosis": 188,
        "spondylolisthesis": 79,
    }
    assert dict(DATASETS["spider"].documented_totals) == {"patients": 218, "series": 447}
    assert dict(DATASETS["aasce"].documented_totals) == {
        "films": 609,
        "training films": 481,
        "test films": 128,
    }
    assert dict(DATASETS["vindr"].documented_totals) == {"images": 10466, "studies": 5000}


@pytest.fixture
def fraiwan_copy(tmp_path: Path) -> Path:
    zipfile.ZipFile(io.BytesIO(fraiwan_zip(tmp_path))).extractall(tmp_path / "copy")
    return tmp_path / "copy"


def _get_fraiwan(copy: Path, out: Path) -> int:
    return main(["data", "get", "fraiwan", "--out", str(out), "--from", str(copy), "--quiet"])


def test_a_count_mismatch_is_a_warning_in_the_output_the_card_and_the_audit(
    fraiwan_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _get_fraiwan(fraiwan_copy, tmp_path / "d") == 0
    output = capsys.readouterr().out.splitlines()
    warnings = [line for line in output if line.startswith("warning:")]
    assert warnings == [
        f"warning: fraiwan-3class: {label}: 2 images converted but {documented} documented (DATASET.md cites "
        "where); a partial or changed copy, or a converter that drops or mislabels"
        for label, documented in (("normal", 71), ("scoliosis", 188), ("spondylolisthesis", 79))
    ]
    card = (tmp_path / "d" / "DATASET.md").read_text()
    assert "| scoliosis | 2 | 188 |" in card
    assert all(f"- **{line}**" in card for line in warnings)
    audit = json.loads((tmp_path / "d" / "audit.json").read_text())
    assert audit["dataset"]["count_warnings"] == warnings
    assert set(warnings) <= set(audit["warnings"])


def test_matching_counts_say_so_and_warn_nothing(
    fraiwan_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = DATASETS["fraiwan"]
    (task,) = dataset.tasks
    matching = dataclasses.replace(
        task, documented_counts={"normal": 2, "scoliosis": 2, "spondylolisthesis": 2}
    )
    monkeypatch.setattr(type(dataset), "tasks", (matching,))
    assert _get_fraiwan(fraiwan_copy, tmp_path / "d") == 0
    assert "warning:" not in capsys.readouterr().out
    assert "The converted counts match the documented ones." in (tmp_path / "d" / "DATASET.md").read_text()


def test_totals_are_compared_when_no_class_counts_are_published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("SimpleITK")
    copy = write_spider(tmp_path / "copy")
    out = tmp_path / "d"
    assert (
        main(["data", "get", "spider", "--task", "modic", "--out", str(out), "--from", str(copy), "--quiet"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "warning: spider: the copy holds 4 patients but 218 are documented" in printed
    assert "warning: spider: the copy holds 9 series but 447 are documented" in printed
    card = (out / "DATASET.md").read_text()
    assert (
        "no per-task class counts are published" in card and "This copy held: 4 patients, 9 series." in card
    )
