"""Conformance: every registered backbone builds, takes 1- and 3-channel input and reports true counts."""

from __future__ import annotations

import pytest
import torch

from sdc_bench.zoo.backbones import BACKBONES, count_gflops, count_params, create_backbone
from sdc_bench.zoo.catalog import catalog


@pytest.mark.parametrize("name", BACKBONES.names())
@pytest.mark.parametrize("in_chans", [1, 3])
def test_backbone_builds_and_classifies(name: str, in_chans: int) -> None:
    torch.manual_seed(0)
    built = create_backbone(name, num_classes=5, in_chans=in_chans, img_size=64)
    built.model.eval()
    with torch.no_grad():
        out = built.model(torch.rand(2, in_chans, 64, 64))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()
    assert len(built.mean) == len(built.std) == in_chans


def test_catalog_counts_match_a_recount() -> None:
    rows = {row["name"]: row for row in catalog("backbones")}
    assert set(rows) == set(BACKBONES.names())
    assert len({row["family"] for row in rows.values()}) >= 6
    for name in ("resnet18", "tf_efficientnet_lite0"):
        spec = BACKBONES.get(name)
        model = create_backbone(name, num_classes=1000, in_chans=3).model
        assert rows[name]["params_m"] == round(count_params(model) / 1e6, 2)
        assert rows[name]["gflops"] == round(count_gflops(model, 3, spec.default_size), 3)
    assert rows["resnet18"]["params_m"] == pytest.approx(11.69, abs=0.01)  # the published ResNet-18 size
    assert rows["resnet18"]["gflops"] == pytest.approx(3.64, rel=0.01)  # 1.82 GMACs at 224 px, as published
    assert "package" in rows["tf_efficientnet_lite0"]["weight_sources_now"]
