"""export then predict on a tiny run: the package reproduces the run's out-of-fold probabilities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.contracts import OOF_SPLIT

METHOD = "scratch"


def _source(run_dir: Path) -> str:
    origin = json.loads((run_dir / "run.json").read_text())["data"]["origin"]
    return str(Path(origin.removeprefix("synthspine:")) / "manifest.csv")


def _fails_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str], expected: str) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("sdc-bench: error:") and expected in error, error


def test_every_cell_keeps_its_model(run_dir: Path) -> None:
    models = run_dir / "models"
    assert len(list(models.glob(f"{METHOD}__*.safetensors"))) == 2
    meta = json.loads(next(models.glob(f"{METHOD}__*fold0.json")).read_text())
    assert meta["input"]["size"] == 32 and meta["classes"] == ["normal", "scoliosis"]
    assert meta["provenance"]["data_fingerprint"] and meta["provenance"]["sdc_bench_version"]
    assert json.loads(next(models.glob("classical__*.json")).read_text())["exportable"] is False
    assert json.loads((run_dir / "run.json").read_text())["keep_models"] is True


def test_each_member_reproduces_its_fold(
    run_dir: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oof = pd.read_parquet(run_dir / "predictions.parquet")
    oof = oof[(oof["method"] == METHOD) & (oof["split"] == OOF_SPLIT)]
    columns = ["p_normal", "p_scoliosis"]
    for fold in (0, 1):
        out = tmp_path / f"fold{fold}.csv"
        argv = [
            "predict",
            str(package),
            "--data",
            _source(run_dir),
            "--out",
            str(out),
            "--member",
            f"fold{fold}",
        ]
        assert main(argv) == 0
        assert "images/s" in capsys.readouterr().out
        expected = oof[oof["outer_fold"] == fold].set_index("sample_id")[columns]
        got = pd.read_csv(out).set_index("sample_id").loc[expected.index, columns]
        assert np.abs(got.to_numpy() - expected.to_numpy()).max() < 1e-5


def test_ensemble_predicts_with_flags_and_a_card(run_dir: Path, package: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    assert main(["predict", str(package), "--data", _source(run_dir), "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns[:5]) == ["sample_id", "path", "label", "p_normal", "p_scoliosis"]
    assert np.allclose(frame[["p_normal", "p_scoliosis"]].sum(axis=1), 1.0)
    assert not frame[["unseen_modality", "unseen_size", "unseen_bit_depth"]].to_numpy().any()
    card = (package / "MODEL_CARD.md").read_text()
    for heading in (
        "## Intended use",
        "## Training data",
        "## Performance",
        "## Calibration",
        "## Limitations",
    ):
        assert heading in card
    assert (
        "licence apache-2.0" not in card
    )  # random initialisation: no pretrained weights, no licence to state
    assert "images per second" in card and "Sensitivity" in card and "%" in card
    for raw in ("nan", "None", "[0.", "x128"):  # no Python reprs, no missing values, sizes as 128 × 128
        assert raw not in card, raw
    info = json.loads((package / "package.json").read_text())
    assert [m["name"] for m in info["members"]] == ["fold0", "fold1"] and info["kind"] == "ensemble"


def test_damaged_packages_fail_in_one_line(
    run_dir: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data", _source(run_dir), "--out", str(tmp_path / "p.csv")]
    truncated = shutil.copytree(package, tmp_path / "truncated")
    weights = truncated / "models" / "fold0.safetensors"
    weights.write_bytes(weights.read_bytes()[:2000])
    _fails_in_one_line(["predict", str(truncated), *argv], capsys, "fold0.safetensors")
    missing = shutil.copytree(package, tmp_path / "missing")
    (missing / "models" / "fold1.json").unlink()
    _fails_in_one_line(["predict", str(missing), *argv], capsys, "missing")
    foreign = shutil.copytree(package, tmp_path / "foreign")
    (foreign / "package.json").write_text('{"name": "something else"}')
    _fails_in_one_line(["predict", str(foreign), *argv], capsys, "not an sdc-bench model package")


def test_an_edited_package_input_is_refused_in_one_line(
    run_dir: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A package.json whose input.size was edited (32 -> 64) would predict every image differently."""
    edited = shutil.copytree(package, tmp_path / "edited")
    info = json.loads((edited / "package.json").read_text())
    info["input"]["size"] = 64
    (edited / "package.json").write_text(json.dumps(info))
    argv = ["predict", str(edited), "--data", _source(run_dir), "--out", str(tmp_path / "p.csv")]
    _fails_in_one_line(argv, capsys, "input.size is 64, but the model")
    assert not (tmp_path / "p.csv").exists()


def test_feature_methods_are_refused(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", str(run_dir), "--method", "classical", "--out", str(tmp_path / "p")]
    _fails_in_one_line(argv, capsys, "not exportable")


def test_no_models_keeps_none_and_export_says_so(
    tiny_suite: Path, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "run",
        "--suite",
        str(tiny_suite),
        "--out",
        str(out),
        "--quiet",
        "--no-models",
        "--set",
        'methods=["classical"]',
    ]
    assert main(argv) == 0
    assert not (out / "models").exists()
    assert json.loads((out / "run.json").read_text())["keep_models"] is False
    export = ["export", str(out), "--method", "classical", "--out", str(tmp_path / "p")]
    _fails_in_one_line(export, capsys, "--no-models")


def test_onnx_matches_pytorch(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    assert main(["export", str(run_dir), "--method", METHOD, "--out", str(out), "--onnx"]) == 0
    info = json.loads((out / "package.json").read_text())
    for member in info["onnx"]["members"].values():
        assert (out / member["file"]).is_file() and member["max_abs_difference"] <= 1e-4
