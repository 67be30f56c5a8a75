"""Rows describing each registry's entries, for ``sdc-bench list`` (table or JSON)."""

from __future__ import annotations

from typing import Any

__all__ = ["catalog"]


def _backbone_rows() -> list[dict[str, Any]]:
    from sdc_bench.zoo.backbones import BACKBONES, count_gflops, count_params, create_backbone
    from sdc_bench.zoo.weights import hub_reachable

    hub = hub_reachable()
    rows = []
    for entry in BACKBONES.entries():
        spec = entry.obj
        built = create_backbone(
            spec.name, num_classes=1000, in_chans=3, pretrained=False, img_size=spec.default_size
        )
        rows.append(
            {
                "name": spec.name,
                "family": spec.family,
                "params_m": round(count_params(built.model) / 1e6, 2),
                "gflops": round(count_gflops(built.model, 3, spec.default_size), 3),
                "default_size": spec.default_size,
                "mean": list(spec.mean),
                "std": list(spec.std),
                "weights_license": spec.weights_license,
                "weight_sources_now": ",".join(spec.weight_sources(hub=hub)) or "none (offline)",
                "description": entry.description,
            }
        )
    return rows


def _generic_rows(registry: Any) -> list[dict[str, Any]]:
    rows = []
    for entry in registry.entries():
        row: dict[str, Any] = {"name": entry.name}
        row.update({k: v for k, v in entry.metadata.items()})
        row["description"] = entry.description
        rows.append(row)
    return rows


def catalog(registry: str) -> list[dict[str, Any]]:
    """``registry`` is one of backbones, augmentations, imbalance, methods."""
    if registry == "backbones":
        return _backbone_rows()
    if registry == "augmentations":
        from sdc_bench.zoo.augment import AUGMENTATIONS

        return _generic_rows(AUGMENTATIONS)
    if registry == "imbalance":
        from sdc_bench.zoo.imbalance import IMBALANCE

        return _generic_rows(IMBALANCE)
    if registry == "methods":
        from sdc_bench.zoo.methods import METHODS

        return _generic_rows(METHODS)
    raise ValueError(f"unknown registry {registry!r}")
