"""Kept-model I/O: a safetensors round trip rebuilds a model whose outputs are bit-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sdc_bench.core.errors import ModelError
from sdc_bench.core.store import RunStore
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.model_files import backbone_record, load_kept_model, read_kept_meta, save_kept_model


def _saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    built = create_backbone("resnet10t", num_classes=3, in_chans=1, pretrained=False)
    model = built.model.eval()
    meta = {"kind": "cnn", "classes": ["a", "b", "c"], "backbone": backbone_record(built, 32)}
    return model, save_kept_model(RunStore(tmp_path), "m__resnet10t__seed0__fold0", model, meta)


def test_round_trip_is_bit_identical(tmp_path: Path) -> None:
    model, path = _saved(tmp_path)
    loaded, meta = load_kept_model(path)
    x = torch.rand(4, 1, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert meta["backbone"]["weights_license"] == "apache-2.0"
    assert meta["weights_file"] == "m__resnet10t__seed0__fold0.safetensors"


def test_damaged_or_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    weights = path.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="sha256"):
        load_kept_model(path)
    path.write_text('{"some": "other json"}')
    with pytest.raises(ModelError, match="not an sdc-bench kept-model JSON"):
        read_kept_meta(path)
    with pytest.raises(ModelError, match="missing"):
        read_kept_meta(tmp_path / "nothing.json")


def test_a_model_without_weights_is_not_exportable(tmp_path: Path) -> None:
    path = save_kept_model(
        RunStore(tmp_path), "classical__hog_hist__seed0__fold0", None, {"method": {"name": "classical"}}
    )
    with pytest.raises(ModelError, match="not exportable"):
        load_kept_model(path)
