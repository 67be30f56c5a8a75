"""Regression checks: (baseline, candidate metrics) -> verdicts, as a pure function, plus baseline files.

A baseline is a committed JSON file of expected metric values with per-metric tolerance bands (absolute
and/or relative). A metric regresses when it moves in its bad direction by more than its band; moving the
good way by more than the band is reported as ``improved`` (it passes, and suggests ``--update-baseline``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.benchmark.store import write_json
from sdc_bench.errors import DataError

__all__ = [
    "TRACKED",
    "Expected",
    "Tolerance",
    "Verdict",
    "baseline_from_metrics",
    "compare",
    "load_baseline",
    "verdict_table",
]

KEY = ("method", "backbone", "augment", "imbalance", "split", "metric", "class_name")
LOWER_IS_BETTER = {"brier", "ece"}
# what a baseline made from a run tracks by default: the headline numbers of every configuration
TRACKED = (
    ("accuracy", "overall"),
    ("balanced_accuracy", "overall"),
    ("sensitivity", "macro"),
    ("specificity", "macro"),
    ("auroc", "macro"),
)


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    relative: float = 0.0

    def band(self, reference: float) -> float:
        return max(self.absolute, self.relative * abs(reference))


@dataclass(frozen=True)
class Expected:
    key: tuple[str, ...]  # values for KEY
    value: float
    tolerance: Tolerance
    higher_is_better: bool = True


@dataclass(frozen=True)
class Verdict:
    key: tuple[str, ...]
    baseline: float
    candidate: float
    delta: float
    relative_change: float
    band: float
    status: str  # 'ok' | 'improved' | 'regressed' | 'missing'

    @property
    def failed(self) -> bool:
        return self.status in {"regressed", "missing"}


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
            verdicts.append(
                Verdict(item.key, item.value, float("nan"), float("nan"), float("nan"), 0.0, "missing")
            )
            continue
        delta = got - item.value
        band = item.tolerance.band(item.value)
        worse = -delta if item.higher_is_better else delta
        if worse > band + 1e-12:
            status = "regressed"
        elif -worse > band + 1e-12:
            status = "improved"
        else:
            status = "ok"
        relative = delta / abs(item.value) if item.value else float("inf") if delta else 0.0
        verdicts.append(Verdict(item.key, item.value, got, delta, relative, band, status))
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
    candidate = pd.DataFrame(
        [{"backbone": b, "mode": m, "value": r} for (b, m), r in ratios.items()],
        columns=["backbone", "mode", "value"],
    )
    verdicts = []
    for item in expected:
        hit = candidate[(candidate["backbone"] == item.key[0]) & (candidate["mode"] == item.key[1])]
        if hit.empty:
            verdicts.append(
                Verdict(item.key, item.value, float("nan"), float("nan"), float("nan"), 0.0, "missing")
            )
            continue
        got = float(hit["value"].iloc[0])
        delta, band = got - item.value, item.tolerance.band(item.value)
        status = "regressed" if -delta > band else "improved" if delta > band else "ok"
        verdicts.append(
            Verdict(item.key, item.value, got, delta, delta / item.value if item.value else 0.0, band, status)
        )
    return verdicts


def load_throughput_baseline(path: str | Path) -> tuple[str, list[Expected]]:
    """The throughput part of a baseline: (reference backbone, expected ratios); empty when absent."""
    payload = json.loads(Path(path).read_text())
    section = payload.get("throughput")
    if not section:
        return "", []
    default = _tolerance(section.get("default_tolerance"), Tolerance(relative=0.3))
    try:
        expected = [
            Expected(
                (str(e["backbone"]), str(e["mode"]), "speed_ratio", section["reference_backbone"]),
                float(e["value"]),
                _tolerance(e.get("tolerance"), default),
            )
            for e in section["ratios"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"baseline {path}: malformed throughput section ({exc}); regenerate it with --update-baseline"
        ) from None
    return str(section["reference_backbone"]), expected


def throughput_baseline(
    table: pd.DataFrame, reference: str, tolerance: Tolerance = Tolerance(relative=0.3)
) -> dict[str, Any]:
    ratios = throughput_ratios(table, reference)
    return {
        "reference_backbone": reference,
        "default_tolerance": {"abs": tolerance.absolute, "rel": tolerance.relative},
        "ratios": [{"backbone": b, "mode": m, "value": round(r, 4)} for (b, m), r in sorted(ratios.items())],
    }


def _tolerance(payload: dict[str, Any] | None, fallback: Tolerance) -> Tolerance:
    if not payload:
        return fallback
    return Tolerance(float(payload.get("abs", 0.0)), float(payload.get("rel", 0.0)))


def load_baseline(path: str | Path) -> list[Expected]:
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
        default = _tolerance(payload.get("default_tolerance"), Tolerance(absolute=0.02))
        return [
            Expected(
                tuple(str(entry[k]) for k in KEY),
                float(entry["value"]),
                _tolerance(entry.get("tolerance"), default),
                bool(entry.get("higher_is_better", entry["metric"] not in LOWER_IS_BETTER)),
            )
            for entry in payload["metrics"]
        ]
    except FileNotFoundError:
        raise DataError(
            f"baseline {path} does not exist; create it with `sdc-bench regress RUN_DIR --baseline {path} --update-baseline`"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"baseline {path} is malformed ({exc.__class__.__name__}: {exc}); regenerate it with --update-baseline"
        ) from None


def baseline_from_metrics(
    metrics: pd.DataFrame,
    *,
    suite: str,
    tolerance: Tolerance,
    tracked: tuple[tuple[str, str], ...] = TRACKED,
    previous: Path | None = None,
) -> dict[str, Any]:
    """A baseline payload from a run's metrics; per-entry tolerances of a previous baseline are kept."""
    kept: dict[tuple[str, ...], dict[str, Any]] = {}
    default_payload: dict[str, float] = {"abs": tolerance.absolute, "rel": tolerance.relative}
    if previous is not None and previous.is_file():
        old = json.loads(previous.read_text())
        default_payload = old.get("default_tolerance", default_payload)
        kept = {
            tuple(str(e[k]) for k in KEY): e["tolerance"] for e in old.get("metrics", []) if "tolerance" in e
        }
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == "test")]
    entries = []
    for metric, class_name in tracked:
        rows = pooled[(pooled["metric"] == metric) & (pooled["class_name"] == class_name)]
        for row in rows.sort_values(list(KEY)).itertuples(index=False):
            key = tuple(str(getattr(row, k)) for k in KEY)
            entry: dict[str, Any] = {k: v for k, v in zip(KEY, key)}
            entry["value"] = round(float(row.value), 6)  # type: ignore[arg-type]
            if key in kept:
                entry["tolerance"] = kept[key]
            entries.append(entry)
    return {"suite": suite, "default_tolerance": default_payload, "metrics": entries}


def write_baseline(path: str | Path, payload: dict[str, Any]) -> None:
    write_json(path, payload)


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


def verdicts_as_dicts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]
