"""Kinds of methods: how the pipeline plans, fits, costs and measures a method, by ``method.kind``.

Each module of this package defines one :class:`MethodKind` and registers it in :data:`METHOD_KINDS`;
they are all imported here, so a new kind is one new module and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from sdc_bench.benchmark.kinds._base import METHOD_KINDS, FitRequest, Fitted, MethodKind, kind_of

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

from sdc_bench.benchmark.kinds.cnn import CnnKind  # noqa: E402  (a base for plugins' kinds)

__all__ = ["METHOD_KINDS", "CnnKind", "FitRequest", "Fitted", "MethodKind", "kind_of"]
