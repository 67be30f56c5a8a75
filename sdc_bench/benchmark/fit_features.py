"""Fitting of feature-based methods: fixed features -> standardisation -> a scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sdc_bench.benchmark.fit import ArraySet, balanced_accuracy, balanced_nll
from sdc_bench.zoo.features import FEATURES
from sdc_bench.zoo.imbalance import build_imbalance
from sdc_bench.zoo.methods import Method

__all__ = ["FeatureModel", "fit_features", "middle_plane"]


def middle_plane(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` images for a 2-D extractor: the middle channel of K slices stacked as channels.

    The middle slice is the one a 1-slice run reads, so a feature method sees the same input whatever
    ``data.slices`` is (2.5D context is for the CNNs; the features stay the 2-D baseline).
    """
    return images[:, images.shape[1] // 2] if images.ndim == 4 else images


@dataclass
class FeatureModel:
    """A fitted feature pipeline; ``predict_proba`` returns all ``num_classes`` columns."""

    extractor: str
    pipeline: Pipeline
    num_classes: int
    val_loss: float
    val_balanced_accuracy: float

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        features = FEATURES.get(self.extractor).extract(middle_plane(images))
        proba = np.zeros((len(images), self.num_classes))
        classes = self.pipeline.classes_
        proba[:, classes] = self.pipeline.predict_proba(features)
        return proba / proba.sum(axis=1, keepdims=True)


def fit_features(
    method: Method, params: Mapping[str, Any], train: ArraySet, val: ArraySet, *, num_classes: int, seed: int
) -> FeatureModel:
    """Extract features, rebalance them with the method's imbalance strategy, fit a logistic regression.

    Loss-type strategies (class weights) become sample weights; sampler strategies resample the rows;
    ``smote_features`` synthesises minority rows in feature space.
    """
    extractor = str(params.get("features", "hog_hist"))
    features = FEATURES.get(extractor).extract(middle_plane(train.images))
    labels = train.labels
    strategy = build_imbalance(method.imbalance)
    rows = strategy.sample_indices(labels, np.random.default_rng(seed))
    features, labels = strategy.resample_features(features[rows], labels[rows], seed)
    sample_weight = None
    class_weights = getattr(strategy, "class_weights", None)
    if callable(class_weights):
        weights = np.asarray(class_weights(np.bincount(labels, minlength=num_classes)), dtype=float)
        sample_weight = weights[labels]
    pipeline = make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=float(params.get("C", 0.1)), max_iter=int(params.get("max_iter", 2000)), random_state=seed
        ),
    )
    pipeline.fit(features, labels, logisticregression__sample_weight=sample_weight)
    model = FeatureModel(extractor, pipeline, num_classes, float("nan"), float("nan"))
    proba = model.predict_proba(val.images)
    model.val_loss = balanced_nll(val.labels, proba)
    model.val_balanced_accuracy = balanced_accuracy(val.labels, proba.argmax(1), num_classes)
    return model
