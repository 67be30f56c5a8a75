"""Conformance: every registered backbone builds, takes 1- and 3-channel input and reports true counts."""

from __future__ import annotations

import pytest

from sdc_bench.testing import check_backbone
from sdc_bench.zoo.backbones import BACKBONES, count_gflops, count_params, create_backbone
from sdc_bench.zoo.catalog import catalog


@pytest.mark.parametrize("name", BACKBONES.names())
def test_backbone_conforms(name: str) -> None:
    """1 and 3 channels, square and non-square input, finite logits of the right shape, a head that is part
    of the model: the kit's checks (sdc_bench.testing), which a plugin's backbone passes too."""
    check_backbone(name)


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
