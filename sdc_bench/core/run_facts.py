"""The facts of a run that can move a metric without a code change, and how two or more runs differ in them.

Read from the run manifest (:class:`~sdc_bench.core.run_manifest.RunManifest`) only. ``regress`` uses
:func:`run_environment` and :func:`environment_differences` to explain a failing check against a
baseline; ``compare`` uses :func:`run_facts` and :func:`differing_facts` for its "what differs" table.

>>> from sdc_bench.core.run_manifest import RunManifest, example_payload
>>> a = RunManifest.from_json(example_payload())
>>> b = a.replace(seed=1, seeds=(1,))
>>> differing_facts([run_facts(a), run_facts(b)])
{'seeds': ['0', '1']}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sdc_bench.core.run_manifest import RunManifest

__all__ = [
    "ENVIRONMENT_FIELDS",
    "PACKAGES_COMPARED",
    "differing_facts",
    "environment_differences",
    "flatten_environment",
    "run_environment",
    "run_facts",
]

#: The environment facts a baseline keeps per run and compares with a candidate's.
ENVIRONMENT_FIELDS = ("cpu_model", "torch_threads", "packages", "git_revision", "data_fingerprint", "faults")
#: The packages whose versions are compared.
PACKAGES_COMPARED = ("torch", "torchvision", "timm", "numpy", "scikit-learn", "optuna")


def run_environment(run: RunManifest, seed: int | None = None) -> dict[str, Any]:
    """The facts of a run that can move a metric without any code change (from its run.json)."""
    environment = run.environment
    return {
        "run_id": run.run_id,
        "seed": run.seed if seed is None else seed,
        "cpu_model": environment.cpu_model or environment.device,
        "torch_threads": environment.torch_threads,
        "packages": {name: environment.packages.get(name) for name in PACKAGES_COMPARED},
        "git_revision": run.git_revision,
        "data_fingerprint": run.data.fingerprint,
        "faults": dict(run.faults),
    }


def flatten_environment(environment: Mapping[str, Any]) -> dict[str, str]:
    """The :data:`ENVIRONMENT_FIELDS` of an environment as text, one entry per package version."""
    flat: dict[str, str] = {}
    for name in ENVIRONMENT_FIELDS:
        value = environment.get(name)
        if name == "packages" and isinstance(value, Mapping):
            for package, version in value.items():
                flat[package] = str(version)
        elif name == "faults":
            flat[name] = ", ".join(f"{k}={v}" for k, v in sorted((value or {}).items())) or "none"
        else:
            flat[name] = str(value)
    return flat


def environment_differences(
    baseline_runs: Iterable[Mapping[str, Any]], candidate: Mapping[str, Any]
) -> list[str]:
    """One line per environment fact whose candidate value no baseline run had.

    >>> environment_differences([{"cpu_model": "Intel Xeon", "torch_threads": 2}],
    ...                         {"cpu_model": "AMD EPYC", "torch_threads": 2})
    ["cpu_model: 'AMD EPYC' (baseline runs: 'Intel Xeon' x1)"]
    """
    runs = [flatten_environment(run) for run in baseline_runs]
    if not runs:
        return []
    mine = flatten_environment(candidate)
    lines = []
    for name, value in mine.items():
        seen: dict[str, int] = {}
        for run in runs:
            seen[run.get(name, "None")] = seen.get(run.get(name, "None"), 0) + 1
        if value not in seen:
            known = ", ".join(f"{v!r} x{n}" for v, n in sorted(seen.items()))
            lines.append(f"{name}: {value!r} (baseline runs: {known})")
    return lines


def _flatten_tree(tree: Mapping[str, Any], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten_tree(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def run_facts(run: RunManifest) -> dict[str, str]:
    """Every fact ``compare`` shows when it differs: seeds, data, code, versions, machine, config keys.

    Keys: ``seeds``, the :data:`ENVIRONMENT_FIELDS` (packages one by one), ``data_origin``, ``classes``,
    ``device``, ``cuda``, then ``config.<section>.<key>`` for every key of the suite as configured.
    """
    facts = {"seeds": ", ".join(map(str, run.seeds))}
    environment = {k: v for k, v in run_environment(run).items() if k not in {"run_id", "seed"}}
    facts.update(flatten_environment(environment))
    facts.update(
        {
            "data_origin": run.data.origin,
            "classes": ", ".join(run.data.classes),
            "device": run.device,
            "cuda": str(run.environment.cuda),
        }
    )
    suite = {k: v for k, v in run.suite.tree.items() if k != "seed"}  # the seed is ``seeds`` above
    facts.update(_flatten_tree(suite, "config."))
    return facts


def differing_facts(facts: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """The facts whose values are not the same in every run: name -> each run's value (absent: '-')."""
    names: dict[str, None] = {}
    for run in facts:
        names.update(dict.fromkeys(run))
    differing = {}
    for name in names:
        values = [run.get(name, "-") for run in facts]
        if len(set(values)) > 1:
            differing[name] = values
    return differing
