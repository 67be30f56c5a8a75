"""Parameter counts and GFLOPs of every registered backbone, measured once and committed.

``sdc-bench list backbones`` shows them without building a model (which takes seconds per backbone and
imports torch). Each row is ``name: (params in millions, GFLOPs)`` at the backbone's default size with
3 channels and 1000 classes. Regenerate with ``python benchmarks/backbone_stats.py --write``; the test
``tests/zoo/test_backbone_stats.py`` rebuilds a cheap entry and fails when the table drifts.
"""

from __future__ import annotations

__all__ = ["BACKBONE_STATS"]

BACKBONE_STATS: dict[str, tuple[float, float]] = {
    "convnext_atto": (3.7, 1.095),
    "deit_tiny_patch16_224": (5.72, 2.507),
    "densenet121": (7.98, 5.668),
    "efficientnet_b0": (5.29, 0.772),
    "mobilenetv3_large_100": (5.48, 0.433),
    "mobilenetv3_small_100": (2.54, 0.113),
    "regnety_008": (6.26, 1.594),
    "resnet10t": (5.44, 1.397),
    "resnet18": (11.69, 3.628),
    "resnet50": (25.56, 8.178),
    "tf_efficientnet_lite0": (4.65, 0.77),
    "tf_efficientnet_lite1": (5.42, 1.2),
    "tf_efficientnet_lite2": (6.09, 1.719),
}
