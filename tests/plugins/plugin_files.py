"""Plugin files the plugin tests write into a temporary folder: one that works and one per way to break."""

from __future__ import annotations

GOOD = '''
"""A plugin: a tiny CNN backbone (a factory) and a method that trains it from scratch."""
from dataclasses import replace

from torch import nn

from sdc_bench.zoo.backbones import BACKBONES, BackboneSpec
from sdc_bench.zoo.methods import METHODS


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.head(self.body(x))

    def get_classifier(self):
        return self.head


BACKBONES.add(
    BackboneSpec(
        "tiny_net", "tiny_net", "plugin", 32, description="an 8-channel CNN (a test plugin)",
        factory=lambda num_classes, in_chans, img_size: TinyNet(num_classes, in_chans),
    )
)
METHODS.add(
    replace(
        METHODS.get("scratch"), name="tiny_scratch", display_name="Tiny scratch",
        description="scratch recipe, 1 epoch (a test plugin)",
        defaults={**METHODS.get("scratch").defaults, "epochs": 1},
    )
)
'''

SYNTAX_ERROR = """
from sdc_bench.zoo.methods import METHODS
def broken(:
"""

DUPLICATE = """
from sdc_bench.zoo.methods import METHODS, Method
METHODS.add(Method("scratch", "a second method called scratch"))
"""

WRONG_SHAPE = """
from torch import nn
from sdc_bench.zoo.backbones import BACKBONES, BackboneSpec


class NoPooling(nn.Module):
    def __init__(self, num_classes, in_chans):
        super().__init__()
        self.head = nn.Conv2d(in_chans, num_classes, 3)

    def forward(self, x):
        return self.head(x)  # (N, K, H-2, W-2): forgot to pool

    def get_classifier(self):
        return self.head


BACKBONES.add(
    BackboneSpec(
        "no_pooling", "no_pooling", "plugin", description="forgets to pool (a broken test plugin)",
        factory=lambda num_classes, in_chans, img_size: NoPooling(num_classes, in_chans),
    )
)
"""

IGNORES_GENERATOR = """
import torch
from sdc_bench.zoo.augment import AUGMENTATIONS, AugmentationSpec


class GlobalNoise:
    mixes_labels = False

    def __init__(self, strength=1.0, allow_hflip=False):
        self.strength = strength

    def __call__(self, images, targets, generator):
        noise = torch.rand(images.shape).to(images.dtype)  # torch's global RNG, not the generator
        return (images + 0.1 * self.strength * noise).clamp(0, 1), targets


AUGMENTATIONS.add(
    AugmentationSpec("global_noise", "noise from the global RNG (a broken test plugin)", GlobalNoise, False, False, True)
)
"""

#: name -> (plugin text, what the one line says)
BROKEN = {
    "syntax_error": (SYNTAX_ERROR, "syntax error at line 3"),
    "duplicate": (DUPLICATE, "method 'scratch' is registered twice (first by sdc_bench)"),
    "wrong_shape": (WRONG_SHAPE, "backbone 'no_pooling': a batch (2, 1, 32, 32) gave (2, 3, 30, 30)"),
    "ignores_generator": (
        IGNORES_GENERATOR,
        "augmentation 'global_noise': the same generator seed gave different",
    ),
}

SUITE = """
description = "plugin test: a plugin's method on a plugin's backbone"
seed = 1
methods = ["tiny_scratch"]
backbones = ["tiny_net"]
plugins = ["good_plugin.py"]

[data]
source = "synthspine"
n_images = 40
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.5

[train]
batch_size = 16
device = "cpu"

[search]
n_trials = 0

[throughput]
enabled = false
"""
