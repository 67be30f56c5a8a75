"""Each zoo subpackage's face resolves every name it exports, the torch-using ones on first use."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "face", ["sdc_bench.zoo.augment", "sdc_bench.zoo.imbalance", "sdc_bench.zoo.backbones"]
)
def test_every_exported_name_resolves(face: str) -> None:
    module = importlib.import_module(face)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing
    with pytest.raises(AttributeError, match="no attribute 'not_exported'"):
        module.not_exported  # noqa: B018
