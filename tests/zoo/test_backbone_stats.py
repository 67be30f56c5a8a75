"""The committed params/GFLOPs table that ``sdc-bench list backbones`` shows matches a built model."""

from __future__ import annotations

import pytest

from sdc_bench.zoo.backbones import BACKBONE_STATS, BACKBONES, backbone_stats, measure_stats


def test_every_registered_backbone_has_a_committed_row() -> None:
    missing = set(BACKBONES.names()) - set(BACKBONE_STATS)
    assert not missing, f"run `python benchmarks/backbone_stats.py --write` for {sorted(missing)}"
    assert not set(BACKBONE_STATS) - set(BACKBONES.names()), "the table lists a backbone no longer registered"


@pytest.mark.parametrize("name", ["mobilenetv3_small_100", "resnet10t"])  # cheap to build
def test_committed_row_matches_a_built_model(name: str) -> None:
    spec = BACKBONES.get(name)
    assert BACKBONE_STATS[name] == measure_stats(spec), "run `python benchmarks/backbone_stats.py --write`"


def test_catalog_row_reads_the_table() -> None:
    spec = BACKBONES.get("resnet18")
    row = spec.catalog_row()
    assert (row["params_m"], row["gflops"]) == BACKBONE_STATS["resnet18"] == backbone_stats(spec)
