"""The runs a comparison reads: their manifests and predictions, class mapping, and what differs between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.run_facts import differing_facts, run_facts
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.core.store import RunStore
from sdc_bench.reports.loaders import load_predictions

__all__ = [
    "ComparedRun",
    "differences_table",
    "load_runs",
    "parse_class_map",
    "same_data",
    "seed_only",
]

#: The columns naming one configuration of a run.
CONFIGURATION = ("method", "backbone", "augment", "imbalance")


@dataclass(frozen=True, eq=False)
class ComparedRun:
    """One run of a comparison: its folder, manifest, label in tables, classes and predictions (mapped)."""

    root: Path
    manifest: RunManifest
    label: str
    classes: tuple[str, ...]
    predictions: pd.DataFrame = field(repr=False)


def parse_class_map(text: str | None) -> dict[str, str]:
    """``--classes`` text (``OLD=NEW,OLD2=NEW2``) as a mapping; empty for None.

    >>> parse_class_map("disc=disc_degeneration, fx=fracture")
    {'disc': 'disc_degeneration', 'fx': 'fracture'}
    """
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        old, sep, new = part.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(
                f"--classes {text!r}: give OLD=NEW pairs, comma-separated, e.g. disc=disc_degeneration"
            )
        mapping[old.strip()] = new.strip()
    return mapping


def _map_classes(predictions: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Rename classes in ``y_true``, ``y_pred`` and the ``p_<class>`` columns."""
    if not mapping:
        return predictions
    frame = predictions.copy()
    for column in ("y_true", "y_pred"):
        frame[column] = frame[column].astype(str).map(lambda name: mapping.get(name, name))
    return frame.rename(columns={f"p_{old}": f"p_{new}" for old, new in mapping.items()})


def _labels(manifests: Sequence[RunManifest], roots: Sequence[Path]) -> list[str]:
    """Each run's label: its run id, or the folder name where two runs share an id."""
    ids = [m.run_id for m in manifests]
    return [
        run_id if ids.count(run_id) == 1 else f"{root.name} ({run_id})" for run_id, root in zip(ids, roots)
    ]


def load_runs(
    run_dirs: Sequence[str | Path], class_map: Mapping[str, str] | None = None
) -> list[ComparedRun]:
    """Read every run; refuse, in one line, runs whose classes differ after ``class_map``.

    Raises
    ------
    DataError
        If fewer than two runs are given, or their class sets differ.
    """
    roots = [Path(r) for r in run_dirs]
    if len(roots) < 2:
        raise DataError("compare needs two or more run folders, e.g. sdc-bench compare RUN_A RUN_B --out DIR")
    manifests = [RunStore(root).read_manifest() for root in roots]
    mapping = dict(class_map or {})
    runs = []
    for root, manifest, label in zip(roots, manifests, _labels(manifests, roots)):
        classes = tuple(mapping.get(name, name) for name in manifest.data.classes)
        predictions = _map_classes(load_predictions(root), mapping)
        runs.append(ComparedRun(root, manifest, label, classes, predictions))
    first = runs[0]
    for run in runs[1:]:
        if set(run.classes) != set(first.classes):
            only_first = sorted(set(first.classes) - set(run.classes))
            only_other = sorted(set(run.classes) - set(first.classes))
            raise DataError(
                f"classes differ: {first.label} has {only_first or 'no other'}, {run.label} has "
                f"{only_other or 'no other'}; map them with --classes OLD=NEW (e.g. --classes "
                f"{(only_other or ['x'])[0]}={(only_first or ['y'])[0]}) or compare runs of the same classes"
            )
    return runs


def _test_samples(run: ComparedRun) -> frozenset[str]:
    return frozenset(run.predictions.loc[run.predictions["split"] == "test", "sample_id"].astype(str))


def same_data(runs: Sequence[ComparedRun]) -> tuple[bool, str]:
    """Whether every run has the first's data fingerprint and test samples, and why not."""
    first = runs[0]
    for run in runs[1:]:
        if run.manifest.data.fingerprint != first.manifest.data.fingerprint:
            return False, (
                f"data fingerprints differ ({first.label}: {first.manifest.data.fingerprint}, "
                f"{run.label}: {run.manifest.data.fingerprint})"
            )
        if _test_samples(run) != _test_samples(first):
            return False, f"{first.label} and {run.label} share the fingerprint but not the tested sample ids"
    return True, "every run has the same data fingerprint and the same tested sample ids"


def differences_table(runs: Sequence[ComparedRun]) -> pd.DataFrame:
    """One row per fact (seeds, data, code, versions, machine, config key) whose value differs between runs."""
    differing = differing_facts([run_facts(run.manifest) for run in runs])
    rows = [
        {"fact": name, **dict(zip((r.label for r in runs), values))} for name, values in differing.items()
    ]
    return pd.DataFrame(rows, columns=["fact", *(r.label for r in runs)])


def _is_seed_fact(name: str) -> bool:
    return name == "seeds" or (name.startswith("config.") and name.rsplit(".", 1)[-1] in {"seed", "seeds"})


def seed_only(differences: pd.DataFrame) -> bool:
    """Whether the runs differ, and only in their seeds (``seeds`` or a configured ``seed``/``seeds`` key).

    >>> seed_only(pd.DataFrame({"fact": ["seeds"], "a": ["0"], "b": ["1"]}))
    True
    >>> seed_only(pd.DataFrame({"fact": ["seeds", "git_revision"], "a": ["0", "x"], "b": ["1", "y"]}))
    False
    """
    return not differences.empty and all(_is_seed_fact(str(name)) for name in differences["fact"])
