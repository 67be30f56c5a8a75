"""Regression checks: (baseline, candidate) -> verdicts, as a pure function, plus baseline files.

A baseline is a reference *distribution* (the idea of MLPerf's reference convergence points), not one
number from one machine: it is built from K runs of a suite that differ in seed and torch thread count
(``sdc-bench baseline RUN_DIR ... --out FILE``), and keeps, per metric, the mean, SD, min, max, K and the
values, plus each run's environment (CPU model, threads, package versions, git revision, data fingerprint).

The band rule (stored in the file and printed by ``regress``): ``band = max(k_sd * SD, floor)``, and a
candidate metric regresses when it falls more than ``band`` below the mean (above it, for lower-is-better
metrics such as the Brier score). A metric whose band exceeds ``max_band`` is too noisy to gate at this
suite's size: it is shown but never fails a check. Speed ratios follow the same rule with a relative floor.

A failing check starts with what differs between the baseline's environments and the candidate's, so a
person can tell "new hardware" from "broken code".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.errors import DataError
from sdc_bench.core.metric_specs import METRICS
from sdc_bench.core.run_facts import (
    environment_differences,
    run_environment,
)
from sdc_bench.core.store import RunStore, write_json

__all__ = [
    "TRACKED",
    "BandRule",
    "Expected",
    "RunSample",
    "Tolerance",
    "Verdict",
    "baseline_from_samples",
    "compare",
    "environment_differences",
    "load_baseline",
    "load_baseline_environments",
    "run_environment",
    "samples_from_baseline",
    "samples_from_run",
    "verdict_table",
]

KEY = ("method", "backbone", "augment", "imbalance", "split", "metric", "class_name")


def _higher_is_better(metric: str) -> bool:
    """The registry's direction of a metric; a name it does not know counts as higher-is-better."""
    return METRICS[metric].higher_is_better if metric in METRICS else True


# what a baseline tracks by default: the headline numbers of every configuration (macro sensitivity
# equals balanced accuracy, so it is not tracked twice)
TRACKED = (
    ("accuracy", "overall"),
    ("balanced_accuracy", "overall"),
    ("specificity", "macro"),
    ("auroc", "macro"),
    ("brier", "overall"),
)


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    relative: float = 0.0

    def band(self, reference: float) -> float:
        return max(self.absolute, self.relative * abs(reference))


@dataclass(frozen=True)
class BandRule:
    """``band = max(k_sd * SD, floor, floor_relative * |mean|)``; bands above ``max_band`` are not gated."""

    k_sd: float = 4.0
    floor: float = 0.02
    floor_relative: float = 0.0
    max_band: float = 0.08

    def band(self, mean: float, sd: float) -> float:
        spread = self.k_sd * sd if math.isfinite(sd) else 0.0
        return max(spread, self.floor, self.floor_relative * abs(mean))

    def text(self) -> str:
        parts = [f"{self.k_sd:g}*SD", f"{self.floor:g}"]
        if self.floor_relative:
            parts.append(f"{self.floor_relative:g}*|mean|")
        gate = f"; bands over {self.max_band:g} are shown, not gated" if math.isfinite(self.max_band) else ""
        return f"band = max({', '.join(parts)}) around the mean of K runs{gate}"

    def as_dict(self) -> dict[str, float]:
        return {
            "k_sd": self.k_sd,
            "floor": self.floor,
            "floor_relative": self.floor_relative,
            "max_band": self.max_band if math.isfinite(self.max_band) else -1.0,
        }


@dataclass(frozen=True)
class Expected:
    key: tuple[str, ...]  # values for KEY
    value: float
    tolerance: Tolerance
    higher_is_better: bool = True
    gated: bool = True  # False: too noisy at this suite's size; shown, never failed
    sd: float = math.nan  # the SD over the baseline's runs (format 2); NaN for a hand-set tolerance


@dataclass(frozen=True)
class Verdict:
    key: tuple[str, ...]
    baseline: float
    candidate: float
    delta: float
    relative_change: float
    band: float
    status: str  # 'ok' | 'improved' | 'regressed' | 'missing' | 'not gated'
    higher_is_better: bool = True

    @property
    def failed(self) -> bool:
        return self.status in {"regressed", "missing"}


def _status(worse: float, band: float, gated: bool) -> str:
    if not gated:
        return "not gated"
    if worse > band + 1e-12:
        return "regressed"
    if -worse > band + 1e-12:
        return "improved"
    return "ok"


def compare(expected: list[Expected], candidate: pd.DataFrame) -> list[Verdict]:
    """Judge each expected value against the candidate's pooled metrics (a tidy metrics table)."""
    pooled = candidate[candidate["scope"] == "pooled"] if "scope" in candidate else candidate
    lookup = {
        tuple(str(v) for v in row[: len(KEY)]): float(row[-1])
        for row in pooled[[*KEY, "value"]].itertuples(index=False)
    }
    verdicts = []
    for item in expected:
        got = lookup.get(item.key)
        if got is None or math.isnan(got):
            status = "missing" if item.gated else "not gated"
            verdicts.append(Verdict(item.key, item.value, math.nan, math.nan, math.nan, 0.0, status))
            continue
        delta = got - item.value
        band = item.tolerance.band(item.value)
        worse = -delta if item.higher_is_better else delta
        relative = delta / abs(item.value) if item.value else float("inf") if delta else 0.0
        status = _status(worse, band, item.gated)
        verdicts.append(
            Verdict(item.key, item.value, got, delta, relative, band, status, item.higher_is_better)
        )
    return verdicts


def throughput_ratios(table: pd.DataFrame, reference: str) -> dict[tuple[str, str], float]:
    """images/s of each (backbone, mode) divided by the reference backbone's, from one throughput table.

    Both were measured in the same run on the same machine, so the ratio is what a regression check can
    compare across machines (an absolute time never is).
    """
    ok = table[table["status"] == "ok"] if "status" in table else table
    ratios: dict[tuple[str, str], float] = {}
    for mode, group in ok.groupby("mode"):
        speeds = group.groupby("backbone")["images_per_s"].max()
        if reference not in speeds or not speeds[reference] > 0:
            continue
        for backbone, speed in speeds.items():
            if backbone != reference:
                ratios[(str(backbone), str(mode))] = float(speed) / float(speeds[reference])
    return ratios


def compare_throughput(expected: list[Expected], table: pd.DataFrame, reference: str) -> list[Verdict]:
    """Verdicts for expected speed ratios (key: backbone, mode, 'speed_ratio', reference)."""
    ratios = throughput_ratios(table, reference)
    frame = pd.DataFrame(
        [
            {**dict.fromkeys(KEY, ""), "backbone": b, "split": m, "metric": "speed_ratio", "value": r}
            for (b, m), r in ratios.items()
        ],
        columns=[*KEY, "value"],
    )
    as_metric = [
        Expected(("", e.key[0], "", "", e.key[1], "speed_ratio", ""), e.value, e.tolerance, True, e.gated)
        for e in expected
    ]
    return [replace(v, key=e.key) for e, v in zip(expected, compare(as_metric, frame))]


# --------------------------------------------------------------------------- samples of a baseline


#: Key of a baseline file's list of its runs' environments (:func:`run_environment` of each sample).
_BASELINE_ENVIRONMENTS = "runs"


@dataclass(frozen=True)
class RunSample:
    """One draw of a baseline's distribution: one run (or one seed of a multi-seed run)."""

    environment: dict[str, Any]
    metrics: dict[tuple[str, ...], float]
    speed_ratios: dict[tuple[str, str], float] = field(default_factory=dict)
    reference_backbone: str = "resnet18"


def _pooled_values(frame: pd.DataFrame, tracked: Sequence[tuple[str, str]]) -> dict[tuple[str, ...], float]:
    # the out-of-fold test split and every external validation split (generalisation to another site)
    frame = frame[(frame["split"] == "test") | frame["split"].astype(str).str.startswith("external:")]
    wanted = frame[[(m, c) in set(tracked) for m, c in zip(frame["metric"], frame["class_name"])]]
    return {
        tuple(str(getattr(row, k)) for k in KEY): float(row.value)  # type: ignore[arg-type]
        for row in wanted.itertuples(index=False)
    }


def samples_from_run(run_dir: str | Path, tracked: Sequence[tuple[str, str]] = TRACKED) -> list[RunSample]:
    """The baseline samples of one run folder: one per protocol seed (scope ``seed`` rows) or one."""
    root = Path(run_dir)
    run = RunStore(root).read_manifest()
    metrics_csv = root / "metrics.csv"
    if not metrics_csv.is_file():
        raise DataError(
            f"{root}: no metrics.csv; finish the run or rebuild it with `sdc-bench report {root}`"
        )
    metrics = pd.read_csv(metrics_csv, keep_default_na=False, na_values=[""])
    reference = run.suite.reference_backbone
    speed: dict[tuple[str, str], float] = {}
    if (root / "throughput.csv").is_file():
        speed = throughput_ratios(pd.read_csv(root / "throughput.csv"), reference)
    per_seed = metrics[metrics["scope"] == "seed"] if "seed" in metrics.columns else metrics.iloc[:0]
    if per_seed.empty:
        pooled = _pooled_values(metrics[metrics["scope"] == "pooled"], tracked)
        return [RunSample(run_environment(run), pooled, speed, reference)]
    return [
        # speed is measured once per run: it counts as a draw only once
        RunSample(
            run_environment(run, int(str(seed))),
            _pooled_values(rows, tracked),
            speed if i == 0 else {},
            reference,
        )
        for i, (seed, rows) in enumerate(per_seed.groupby("seed", sort=True))
    ]


# --------------------------------------------------------------------------- building a baseline


def _summary(values: Sequence[float], rule: BandRule) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    sd = float(array.std(ddof=1)) if len(array) > 1 else math.nan
    band = rule.band(mean, sd)
    return {
        "mean": round(mean, 6),
        "sd": round(sd, 6) if math.isfinite(sd) else None,
        "min": round(float(array.min()), 6),
        "max": round(float(array.max()), 6),
        "k": len(array),
        "band": round(band, 6),
        "gated": bool(band <= rule.max_band + 1e-12),
        "values": [round(float(v), 6) for v in array],
    }


def baseline_from_samples(
    samples: Sequence[RunSample],
    *,
    suite: str,
    rule: BandRule = BandRule(),
    speed_rule: BandRule = BandRule(floor=0.0, floor_relative=0.3, max_band=math.inf),
) -> dict[str, Any]:
    """A baseline payload: per tracked metric (present in every sample) its distribution and band."""
    if not samples:
        raise DataError("a baseline needs at least one run; give one or more run folders")
    keys = sorted(set.intersection(*(set(s.metrics) for s in samples)))
    entries = []
    for key in keys:
        entry: dict[str, Any] = dict(zip(KEY, key))
        entry["higher_is_better"] = _higher_is_better(key[5])
        entry.update(_summary([s.metrics[key] for s in samples], rule))
        entries.append(entry)
    payload: dict[str, Any] = {
        "format": 2,
        "suite": suite,
        "rule": {**rule.as_dict(), "text": rule.text()},
        _BASELINE_ENVIRONMENTS: [s.environment for s in samples],
        "metrics": entries,
    }
    with_speed = [s for s in samples if s.speed_ratios]
    if with_speed:
        speed_keys = sorted(set.intersection(*(set(s.speed_ratios) for s in with_speed)))
        payload["throughput"] = {
            "reference_backbone": with_speed[0].reference_backbone,
            "rule": {**speed_rule.as_dict(), "text": speed_rule.text()},
            "ratios": [
                {
                    "backbone": b,
                    "mode": m,
                    **_summary([s.speed_ratios[(b, m)] for s in with_speed], speed_rule),
                }
                for b, m in speed_keys
            ],
        }
    return payload


def samples_from_baseline(path: str | Path) -> tuple[str, list[RunSample]]:
    """The suite and the samples a baseline was built from, so new runs can join them (``baseline --extend``).

    A baseline keeps every run's environment and, per metric and speed ratio, one value per run in run
    order: that is each sample again. Runs of another machine join a baseline this way without their run
    folders, so its distribution can span machines as well as seeds.

    Raises
    ------
    DataError
        If the file is not a format-2 baseline, or its values do not line up with its runs.
    """
    path = Path(path)
    payload = _read_baseline(path)
    environments = payload.get(_BASELINE_ENVIRONMENTS)
    if payload.get("format") != 2 or not isinstance(environments, list) or not environments:
        raise DataError(f"baseline {path} keeps no per-run samples (format 2); rebuild it from run folders")
    n = len(environments)
    metrics: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    speeds: list[dict[tuple[str, str], float]] = [{} for _ in range(n)]
    for entry in payload.get("metrics", []):
        values = entry.get("values", [])
        if len(values) != n:
            raise DataError(
                f"baseline {path}: {entry.get('method')} {entry.get('metric')} has {len(values)} values for {n} "
                "runs; rebuild it from run folders"
            )
        key = tuple(str(entry[k]) for k in KEY)
        for sample, value in zip(metrics, values):
            sample[key] = float(value)
    section = payload.get("throughput") or {}
    for entry in section.get("ratios", []):
        values = entry.get("values", [])
        if len(values) != n:
            raise DataError(
                f"baseline {path}: speed ratio {entry.get('backbone')} {entry.get('mode')} has {len(values)} values "
                f"for {n} runs; rebuild it from run folders"
            )
        for speed, value in zip(speeds, values):
            speed[(str(entry["backbone"]), str(entry["mode"]))] = float(value)
    reference = str(section.get("reference_backbone", "resnet18"))
    samples = [
        RunSample(dict(environment), metric, speed, reference)
        for environment, metric, speed in zip(environments, metrics, speeds)
    ]
    return str(payload.get("suite", "")), samples


def write_baseline(path: str | Path, payload: dict[str, Any]) -> None:
    write_json(path, payload)


# --------------------------------------------------------------------------- reading a baseline


def _tolerance(payload: dict[str, Any] | None, fallback: Tolerance) -> Tolerance:
    if not payload:
        return fallback
    return Tolerance(float(payload.get("abs", 0.0)), float(payload.get("rel", 0.0)))


def _read_baseline(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(
            f"baseline {path} does not exist; create it with `sdc-bench baseline RUN_DIR [RUN_DIR ...] --out {path}`"
        ) from None
    except ValueError as exc:
        raise DataError(
            f"baseline {path} is not valid JSON ({exc}); rebuild it with `sdc-bench baseline`"
        ) from None
    if not isinstance(payload, dict):
        raise DataError(f"baseline {path} does not hold a JSON object; rebuild it with `sdc-bench baseline`")
    return payload


def _expected(entry: Mapping[str, Any], key: tuple[str, ...], default: Tolerance) -> Expected:
    if "mean" in entry:  # format 2: a distribution with its band
        return Expected(
            key,
            float(entry["mean"]),
            Tolerance(absolute=float(entry["band"])),
            bool(entry.get("higher_is_better", True)),
            bool(entry.get("gated", True)),
            math.nan if entry.get("sd") is None else float(entry["sd"]),  # one run: no spread (null)
        )
    # format 1: one value and a hand-set tolerance
    return Expected(key, float(entry["value"]), _tolerance(entry.get("tolerance"), default),
                    bool(entry.get("higher_is_better", True)))  # fmt: skip


def load_baseline(path: str | Path) -> list[Expected]:
    path = Path(path)
    payload = _read_baseline(path)
    default = _tolerance(payload.get("default_tolerance"), Tolerance(absolute=0.02))
    try:
        return [
            _expected(
                {"higher_is_better": _higher_is_better(entry["metric"]), **entry},
                tuple(str(entry[k]) for k in KEY),
                default,
            )
            for entry in payload["metrics"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"baseline {path} is malformed ({exc.__class__.__name__}: {exc}); rebuild it with `sdc-bench baseline`"
        ) from None


def load_throughput_baseline(path: str | Path) -> tuple[str, list[Expected]]:
    """The throughput part of a baseline: (reference backbone, expected ratios); empty when absent."""
    payload = _read_baseline(Path(path))
    section = payload.get("throughput")
    if not section:
        return "", []
    default = _tolerance(section.get("default_tolerance"), Tolerance(relative=0.3))
    try:
        reference = str(section["reference_backbone"])
        expected = [
            _expected(e, (str(e["backbone"]), str(e["mode"]), "speed_ratio", reference), default)
            for e in section["ratios"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"baseline {path}: malformed throughput section ({exc}); rebuild it with `sdc-bench baseline`"
        ) from None
    return reference, expected


def load_baseline_environments(path: str | Path) -> tuple[list[dict[str, Any]], str]:
    """The environments of the baseline's runs and its band rule in words (empty for a format-1 file)."""
    payload = _read_baseline(Path(path))
    rule = payload.get("rule", {})
    environments = payload.get(_BASELINE_ENVIRONMENTS, [])  # the baseline's key, not a run.json
    return list(environments), str(rule.get("text", "")) if isinstance(rule, dict) else ""


# --------------------------------------------------------------------------- explaining a verdict


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    rows = []
    for v in verdicts:
        if len(v.key) == 4:  # a throughput ratio: (backbone, mode, 'speed_ratio', reference)
            row = {
                "method": f"throughput vs {v.key[3]}",
                "backbone": v.key[0],
                "augment": "",
                "imbalance": "",
                "split": v.key[1],
                "metric": v.key[2],
                "class_name": "",
            }
        else:
            row = dict(zip(KEY, v.key))
        row.update({k: getattr(v, k) for k in ("baseline", "candidate", "delta", "band", "status")})
        rows.append(row)
    return pd.DataFrame(rows)
