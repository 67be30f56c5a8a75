"""`sdc-bench weights fetch|check` and the weight-source plan a run checks before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm

from sdc_bench.cli import main
from sdc_bench.zoo import weights_folder
from sdc_bench.zoo.backbones import plan_weight_sources

BACKBONE = "mobilenetv3_small_100"  # the smallest hub-only backbone


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by `weights fetch` with the hub download replaced by a random-init model."""
    out = tmp_path_factory.mktemp("weights")
    real = timm.create_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weights_folder, "hub_reachable", lambda: True)
        patch.setattr(timm, "create_model", lambda name, pretrained=False, **kw: real(name, **kw))
        assert main(["weights", "fetch", "--backbones", BACKBONE, "--out", str(out)]) == 0
    return out


def test_fetch_writes_safetensors_and_an_index(fetched: Path) -> None:
    index = json.loads((fetched / "weights.json").read_text())["files"]
    assert [entry["file"] for entry in index] == [f"{BACKBONE}.safetensors"]
    assert len(index[0]["sha256"]) == 64 and index[0]["license"] and index[0]["source"]


def test_fetch_offline_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "fetch", "--backbones", BACKBONE, "--out", str(tmp_path)]) == 2
    assert "needs the Hugging Face hub" in capsys.readouterr().err


def test_check_passes_a_good_folder(fetched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "check", str(fetched)]) == 0
    assert f"{BACKBONE}.safetensors" in capsys.readouterr().out


def test_check_lists_corrupt_and_wrong_digest_files(
    fetched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    good = (fetched / f"{BACKBONE}.safetensors").read_bytes()
    (folder / f"{BACKBONE}.safetensors").write_bytes(good)
    (folder / "resnet10t.safetensors").write_bytes(b"not a checkpoint")  # corrupt
    index = json.loads((fetched / "weights.json").read_text())
    corrupt = weights_folder.file_sha256(folder / "resnet10t.safetensors")
    index["files"].append({"backbone": "resnet10t", "file": "resnet10t.safetensors", "sha256": corrupt})
    index["files"][0]["sha256"] = "0" * 64  # wrong digest for the good file
    (folder / "weights.json").write_text(json.dumps(index))
    assert main(["weights", "check", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "cannot be read as safetensors" in out and "differs from weights.json" in out
    assert "2 of 2 weights files are bad" in err and len(err.strip().splitlines()) == 1


def test_plan_names_each_source(fetched: Path) -> None:
    plan = plan_weight_sources(
        {"tf_efficientnet_lite0": True, BACKBONE: True, "resnet18": False, "resnet50": True},
        weights_dir=fetched,
        hub=lambda: False,
    )
    assert plan == {
        "tf_efficientnet_lite0": "package",
        BACKBONE: "dir",
        "resnet18": "random",
        "resnet50": "none",
    }


def test_dry_run_lists_sources_and_stops_offline_without_weights(
    fetched: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = [
        "run",
        "--suite",
        "smoke",
        "--dry-run",
        "--set",
        f"backbones=['{BACKBONE}']",
        "--set",
        "data.size=32",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the plan's progress lines
    assert err.startswith(f"sdc-bench: error: {BACKBONE}: no pretrained weights offline")
    assert f"sdc-bench weights fetch --backbones {BACKBONE} --out DIR" in err
    assert main([*args, "--weights-dir", str(fetched)]) == 0
    assert f"weights: {BACKBONE}=dir" in capsys.readouterr().out


def test_a_real_run_stops_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "run"
    args = ["run", "--suite", "smoke", "--out", str(out), "--set", f"backbones=['{BACKBONE}']"]
    assert main(args) == 2
    assert "no pretrained weights offline" in capsys.readouterr().err
    assert not out.exists()
