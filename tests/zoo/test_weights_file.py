"""``--weights-file BACKBONE=PATH[@sha256:HEX]``: a local file per backbone, first in the weight order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import timm
import torch

from sdc_bench.core.errors import ConfigError, UnknownNameError, WeightsError
from sdc_bench.zoo.backbones import check_weight_sources, create_backbone
from sdc_bench.zoo.weights import WEIGHTS_DIR_ENV, WeightsFile, weights_dir_path

BACKBONE = "mobilenetv3_small_100"  # the smallest registered backbone: 2.5M parameters


@pytest.fixture(scope="module")
def state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return timm.create_model(BACKBONE, pretrained=False).state_dict()


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_parse_reads_backbone_path_and_optional_digest() -> None:
    assert WeightsFile.parse("resnet18=w/r.pth") == WeightsFile("resnet18", Path("w/r.pth"))
    entry = WeightsFile.parse(f"resnet18=w/a@b.pth@sha256:{'AB' * 32}")
    assert entry == WeightsFile("resnet18", Path("w/a@b.pth"), "ab" * 32)
    assert WeightsFile.parse(entry.argument) == entry


@pytest.mark.parametrize("text", ["resnet18", "=w.pth", "resnet18=", "resnet18=w.pth@sha256:xyz"])
def test_parse_refuses_malformed_entries(text: str) -> None:
    with pytest.raises(ConfigError, match="--weights-file"):
        WeightsFile.parse(text)


def test_file_weights_are_loaded_tensor_for_tensor(
    tmp_path: Path, state_dict: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(state_dict, tmp_path / "mine.pth")
    other = tmp_path / "dir"
    other.mkdir()
    torch.manual_seed(8)
    _save(timm.create_model(BACKBONE).state_dict(), other / f"{BACKBONE}.pth")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(other))  # the file wins over the folder
    entry = WeightsFile(BACKBONE, path, _digest(path))
    built = create_backbone(BACKBONE, num_classes=1000, in_chans=3, pretrained=True, weights_files=(entry,))
    assert built.weights_source == "file"
    assert built.weights_location == f"{path}@sha256:{entry.sha256}"
    loaded = built.model.state_dict()
    assert set(loaded) == set(state_dict)
    for key, tensor in state_dict.items():
        assert torch.equal(loaded[key], tensor), key


def test_file_for_another_backbone_is_not_used(tmp_path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    entry = WeightsFile(BACKBONE, _save(state_dict, tmp_path / "mine.pth"))
    built = create_backbone("resnet10t", num_classes=3, pretrained=False, weights_files=(entry,))
    assert built.weights_source == "random"


def test_classifier_of_another_size_is_dropped_as_timm_does(
    tmp_path: Path, state_dict: dict[str, torch.Tensor]
) -> None:
    torch.manual_seed(9)
    fine_tuned = timm.create_model(BACKBONE, pretrained=False, num_classes=5).state_dict()
    path = _save(fine_tuned, tmp_path / "five_classes.pth")
    check_weight_sources([WeightsFile(BACKBONE, path)])
    built = create_backbone(BACKBONE, num_classes=3, in_chans=1, pretrained=True, weights_file=path)
    assert torch.equal(built.model.blocks[0][0].conv_dw.weight, fine_tuned["blocks.0.0.conv_dw.weight"])
    assert built.model.classifier.out_features == 3
    headless = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    check_weight_sources([WeightsFile(BACKBONE, _save(headless, tmp_path / "headless.pth"))])


def test_wrong_digest_names_file_expected_and_actual(
    tmp_path: Path, state_dict: dict[str, torch.Tensor]
) -> None:
    path = _save(state_dict, tmp_path / "mine.pth")
    with pytest.raises(WeightsError) as info:
        check_weight_sources([WeightsFile(BACKBONE, path, "0" * 64)])
    message = str(info.value)
    assert str(path) in message and "0" * 64 in message and _digest(path) in message
    assert "\n" not in message


def test_unknown_backbone_missing_file_and_misfit_are_refused(
    tmp_path: Path, state_dict: dict[str, torch.Tensor]
) -> None:
    path = _save(state_dict, tmp_path / "mine.pth")
    with pytest.raises(UnknownNameError, match="mobilenetv3_smal"):
        check_weight_sources([WeightsFile("mobilenetv3_smal", path)])
    with pytest.raises(WeightsError, match=r"absent\.pth"):
        check_weight_sources([WeightsFile(BACKBONE, tmp_path / "absent.pth")])
    with pytest.raises(ConfigError, match="twice"):
        check_weight_sources([WeightsFile(BACKBONE, path), WeightsFile(BACKBONE, path)])
    misfit = dict(state_dict, **{"conv_stem.weight": torch.zeros(16, 1, 3, 3)})
    with pytest.raises(
        WeightsError, match=r"conv_stem\.weight.*mine_1ch\.pth|mine_1ch\.pth.*conv_stem\.weight"
    ):
        check_weight_sources([WeightsFile(BACKBONE, _save(misfit, tmp_path / "mine_1ch.pth"))])


def test_weights_dir_that_does_not_exist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WeightsError, match="--weights-dir"):
        weights_dir_path(tmp_path / "absent")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(WeightsError, match=WEIGHTS_DIR_ENV):
        weights_dir_path(None)
    assert weights_dir_path(tmp_path) == tmp_path
