"""Rows describing each registry's entries, for ``sdc-bench list`` (table or JSON)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["REGISTRIES", "catalog", "registry"]

#: ``sdc-bench list`` name -> (module, attribute) of the registry; imported on demand, none imports torch.
REGISTRIES: dict[str, tuple[str, str]] = {
    "backbones": ("sdc_bench.zoo.backbones", "BACKBONES"),
    "augmentations": ("sdc_bench.zoo.augment", "AUGMENTATIONS"),
    "imbalance": ("sdc_bench.zoo.imbalance", "IMBALANCE"),
    "methods": ("sdc_bench.zoo.methods", "METHODS"),
    "features": ("sdc_bench.zoo.features", "FEATURES"),
}


def registry(name: str) -> Any:
    """The registry ``sdc-bench list <name>`` shows."""
    if name not in REGISTRIES:
        raise ValueError(f"unknown registry {name!r}; known: {', '.join(REGISTRIES)}")
    module, attribute = REGISTRIES[name]
    return getattr(importlib.import_module(module), attribute)


def catalog(name: str) -> list[dict[str, Any]]:
    """The ``sdc-bench list <name>`` rows: each spec's ``catalog_row()``, by spec name."""
    specs = registry(name).specs()
    if name == "backbones":
        from sdc_bench.zoo.weights import hub_reachable

        hub = hub_reachable()  # asked once for all rows: it may wait on the network
        return [spec.catalog_row(hub=hub) for spec in specs]
    return [spec.catalog_row() for spec in specs]
