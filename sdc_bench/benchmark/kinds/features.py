"""The ``features`` kind: fixed image features and a scikit-learn classifier (:mod:`sdc_bench.benchmark.fit_features`)."""

from __future__ import annotations

from sdc_bench.benchmark.fit_features import fit_features
from sdc_bench.benchmark.kinds._base import METHOD_KINDS, FitRequest, Fitted, MethodKind
from sdc_bench.zoo.methods import Method

__all__ = ["FeaturesKind"]


class FeaturesKind(MethodKind):
    """A feature extractor (``defaults["features"]``) takes the backbone's place, once per suite."""

    name = "features"
    description = "fixed features (the method's extractor) and a scikit-learn classifier"

    def plan_backbone(self, method: Method, backbone: str) -> str:
        return str(method.defaults.get("features", ""))

    def fit(self, request: FitRequest) -> Fitted:
        model = fit_features(
            request.method,
            request.params,
            request.train,
            request.val if request.val is not None else request.train,
            num_classes=request.num_classes,
            seed=request.seed,
        )
        return Fitted(model.predict_proba, model.val_balanced_accuracy)


METHOD_KINDS.add(FeaturesKind())
