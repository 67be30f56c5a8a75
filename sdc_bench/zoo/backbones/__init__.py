"""Backbones: the registered timm architectures, their metadata, and the factory that builds them.

This package's ``__init__`` is its public face; other packages import from here. Its modules:
:mod:`~sdc_bench.zoo.backbones.specs` holds the torch-free registry (:data:`BACKBONES`,
:class:`BackboneSpec`; what ``sdc-bench list backbones`` reads, so this face imports torch and timm only
when a torch-using name is first used), :mod:`~sdc_bench.zoo.backbones.stats` the committed parameter
counts and GFLOPs, and :mod:`~sdc_bench.zoo.backbones.factory` :func:`create_backbone`, which builds a
registered architecture, loads its weights and adapts it. Adding a backbone is one line in ``specs.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdc_bench.zoo.backbones.specs import (
    BACKBONES,
    BackboneFactory,
    BackboneSpec,
    backbone_stats,
    measure_stats,
)
from sdc_bench.zoo.backbones.stats import BACKBONE_STATS
from sdc_bench.zoo.registry import lazy_exports

if TYPE_CHECKING:
    from sdc_bench.zoo.backbones.factory import (
        NO_WEIGHTS,
        BuiltBackbone,
        check_weight_sources,
        count_gflops,
        count_params,
        create_backbone,
        missing_weights_error,
        plan_weight_sources,
    )

__all__ = [
    "BACKBONES",
    "BACKBONE_STATS",
    "NO_WEIGHTS",
    "BackboneFactory",
    "BackboneSpec",
    "BuiltBackbone",
    "backbone_stats",
    "check_weight_sources",
    "count_gflops",
    "count_params",
    "create_backbone",
    "measure_stats",
    "missing_weights_error",
    "plan_weight_sources",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "factory": (
            "NO_WEIGHTS",
            "BuiltBackbone",
            "check_weight_sources",
            "count_gflops",
            "count_params",
            "create_backbone",
            "missing_weights_error",
            "plan_weight_sources",
        ),
    },
)
