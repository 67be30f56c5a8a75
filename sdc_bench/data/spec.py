"""The data spec: where a suite's images come from and how they are preprocessed (the ``[data]`` table)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DataSpec"]


@dataclass(frozen=True)
class DataSpec:
    """Where images come from and how they are preprocessed."""

    source: str = "synthspine"  # 'synthspine' or a path (CSV manifest, class folders)
    n_images: int = 300
    classes: tuple[str, ...] = ()  # empty: all of the source's classes
    prevalence: tuple[float, ...] = ()  # empty: the source's default
    modalities: tuple[str, ...] = ("xray", "mri")
    site: str = "site_a"
    size: int = 64
    resize: str = "letterbox"
    # SynthSpine's generation seed; -1 takes the suite's seed. A fixed value makes the dataset a fixed
    # benchmark dataset, like a real one, so --seed/--seeds vary only the protocol (folds, initialisation).
    seed: int = -1
