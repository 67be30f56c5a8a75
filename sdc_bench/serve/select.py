"""Which kept models of a run make a package: one method (and backbone, and optionally one protocol seed).

Every refusal is one line that says what the run holds instead: a run made with ``--no-models``, a method
that was not run or not kept, a feature-kind method (not exportable), a choice of backbone left open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdc_bench.core.errors import ModelError
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.core.store import RunStore
from sdc_bench.zoo.model_files import read_kept_meta

__all__ = ["Selection", "member_name", "select_members"]


@dataclass(frozen=True)
class Selection:
    """The kept models an export packages, in (protocol seed, outer fold) order."""

    store: RunStore
    run: RunManifest  # run.json
    method: str
    backbone: str
    metas: tuple[dict[str, Any], ...]

    @property
    def names(self) -> list[str]:
        seeds = {meta["cell"]["repeat_seed"] for meta in self.metas}
        return [member_name(meta, several_seeds=len(seeds) > 1) for meta in self.metas]


def member_name(meta: dict[str, Any], *, several_seeds: bool) -> str:
    """``fold<k>`` (``seed<s>-fold<k>`` when the package holds several protocol seeds)."""
    cell = meta["cell"]
    fold = f"fold{cell['outer_fold']}"
    return f"seed{cell['repeat_seed']}-{fold}" if several_seeds else fold


def _kept(store: RunStore) -> list[dict[str, Any]]:
    if not store.read_manifest().keep_models:
        raise ModelError(
            f"{store.root}: this run was made with --no-models and kept no models; run it again without --no-models"
        )
    paths = sorted(store.models_dir.glob("*.json")) if store.models_dir.is_dir() else []
    if not paths:
        raise ModelError(
            f"{store.models_dir}: no kept models there (a run older than kept models?); run it again to export"
        )
    return [read_kept_meta(path) for path in paths]


def select_members(
    run_dir: str | Path, method: str, backbone: str | None = None, seed: int | None = None
) -> Selection:
    """The kept models of ``method`` (on ``backbone``; of protocol seed ``seed``) in a run folder."""
    store = RunStore(Path(run_dir))
    metas = _kept(store)
    methods = sorted({m["method"]["name"] for m in metas})
    chosen = [m for m in metas if m["method"]["name"] == method]
    if not chosen:
        raise ModelError(
            f"{store.root}: no kept model of method {method!r}; kept methods: {', '.join(methods)}"
        )
    refused = next((m for m in chosen if not m.get("exportable")), None)
    if refused is not None:
        raise ModelError(
            f"method {method!r} is not exportable: {refused.get('not_exportable_reason', 'no weights')}"
        )
    backbones = sorted({m["backbone"]["name"] for m in chosen})
    if backbone is None and len(backbones) > 1:
        raise ModelError(
            f"method {method!r} was run on several backbones; choose one with --backbone ({', '.join(backbones)})"
        )
    backbone = backbone or backbones[0]
    chosen = [m for m in chosen if m["backbone"]["name"] == backbone]
    if not chosen:
        raise ModelError(
            f"no kept model of {method!r} on backbone {backbone!r}; backbones: {', '.join(backbones)}"
        )
    if seed is not None:
        seeds = sorted({m["cell"]["repeat_seed"] for m in chosen})
        chosen = [m for m in chosen if m["cell"]["repeat_seed"] == seed]
        if not chosen:
            raise ModelError(f"no kept model of {method!r} with protocol seed {seed}; seeds: {seeds}")
    chosen.sort(key=lambda m: (m["cell"]["repeat_seed"], m["cell"]["outer_fold"]))
    return Selection(store, store.read_manifest(), method, backbone, tuple(chosen))
