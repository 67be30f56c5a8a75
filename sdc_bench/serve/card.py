"""``MODEL_CARD.md`` of a model package (Mitchell et al. 2019, with the CLAIM items that apply).

Everything in the card is read from stored artifacts: the run's ``run.json``, ``manifest.parquet``,
``audit.json`` and ``metrics.csv`` (never recomputed here), and the package's own ``package.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.contracts import ALL_SEEDS, OOF_SPLIT
from sdc_bench.core.store import proposed_method

__all__ = ["model_card"]

_PER_CLASS = ("sensitivity", "specificity", "ppv", "npv", "f1", "auroc")
_OVERALL = ("accuracy", "balanced_accuracy", "kappa", "mcc", "brier", "ece")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _value(row: Any) -> str:
    """``value (low–high, method)`` of one metrics row."""
    if pd.isna(row["value"]):
        return "undefined"  # e.g. a predictive value when the class is never predicted
    text = f"{row['value']:.3f}"
    if pd.notna(row["ci_low"]) and pd.notna(row["ci_high"]):
        text += f" ({row['ci_low']:.3f}–{row['ci_high']:.3f}, {row['ci_method']})"
    return text


def _pooled(metrics: pd.DataFrame, method: str, backbone: str) -> pd.DataFrame:
    rows = metrics[
        (metrics["method"] == method)
        & (metrics["backbone"] == backbone)
        & (metrics["split"] == OOF_SPLIT)
        & (metrics["scope"] == "pooled")
        & (metrics["seed"] == ALL_SEEDS)
    ]
    return rows


def _metrics_section(run_dir: Path, info: dict[str, Any], run: dict[str, Any]) -> list[str]:
    path = run_dir / "metrics.csv"
    lines = ["## Metrics", ""]
    if not path.is_file():
        return [*lines, "The run has no `metrics.csv`; run `sdc-bench report RUN_DIR` and export again.", ""]
    metrics = pd.read_csv(path)
    backbone = info["backbone"]["name"]
    pooled = _pooled(metrics, info["method"], backbone)
    lines += [
        "Out-of-fold test predictions of the run, pooled over the outer folds, as in the run's `metrics.csv`",
        "(95% intervals; an ensemble or refit package is not itself evaluated on held-out data).",
        "",
    ]
    header = ["class", *_PER_CLASS]
    rows = []
    for name in info["classes"]:
        cells = pooled[pooled["class_name"] == name].set_index("metric")
        rows.append([name, *(_value(cells.loc[m]) if m in cells.index else "–" for m in _PER_CLASS)])
    lines += [*_table(header, rows), ""]
    overall = pooled[pooled["class_name"] == "overall"].set_index("metric")
    rows = [[m.replace("_", " "), _value(overall.loc[m])] for m in _OVERALL if m in overall.index]
    lines += ["Overall:", "", *_table(["metric", "value (95% CI)"], rows), ""]
    lines += ["## Calibration", ""]
    if "ece" in overall.index:
        lines += [
            f"Expected calibration error (ECE) of the pooled out-of-fold probabilities: {_value(overall.loc['ece'])}.",
            "",
        ]
    else:
        lines += ["The run's metrics hold no ECE row.", ""]
    reference = proposed_method(run)
    if reference != info["method"]:
        ref = _pooled(metrics, reference, backbone)
        ref = ref[ref["class_name"] == "overall"].set_index("metric")
        rows = [[m.replace("_", " "), _value(ref.loc[m])] for m in _OVERALL if m in ref.index]
        if rows:
            lines += [
                f"Reference method of the run (`{reference}`, same backbone):",
                "",
                *_table(["metric", "value (95% CI)"], rows),
                "",
            ]
    return lines


def _data_section(run_dir: Path, info: dict[str, Any]) -> list[str]:
    lines = ["## Training data", ""]
    training = info["training"]
    lines += [
        f"{training['n_images']} images of {training['n_patients']} patients (data fingerprint `{training['data_fingerprint']}`).",
        "",
    ]
    path = run_dir / "manifest.parquet"
    if path.is_file():
        manifest = pd.read_parquet(path)
        site = "site" if "site" in manifest else "source"
        header = [site, "modality", "patients", "images", *info["classes"]]
        rows = []
        for (where, modality), group in manifest.groupby([site, "modality"], sort=True):
            counts = group["label"].value_counts()
            rows.append(
                [
                    where,
                    modality,
                    group["patient_id"].nunique(),
                    len(group),
                    *(int(counts.get(c, 0)) for c in info["classes"]),
                ]
            )
        lines += ["Images per class, by site and modality:", "", *_table(header, rows), ""]
    audit_path = run_dir / "audit.json"
    if audit_path.is_file():
        audit = json.loads(audit_path.read_text())
        seen = info["training"]["seen"]
        lines += [
            f"- Patient ids from: {audit.get('patient_from', 'unknown')}",
            f"- Image sizes (rows x columns): {', '.join(seen['image_sizes']) or 'not read'}",
            f"- Bit depths: {', '.join(seen['bit_depths']) or 'not read'}",
            f"- Duplicate groups: {len(audit.get('duplicate_groups', []))}; unreadable files: {len(audit.get('unreadable', []))}",
        ]
        lines += [f"- Audit warning: {warning}" for warning in audit.get("warnings", [])]
        lines.append("")
    return lines


def _protocol_section(info: dict[str, Any], run: dict[str, Any]) -> list[str]:
    suite = run.get("suite", {})
    protocol, search = suite.get("protocol", {}), suite.get("search", {})
    seeds = run.get("seeds") or [run.get("seed")]
    trials = int(search.get("n_trials", 0))
    searched = (
        f"an Optuna search of {trials} trials per cell ({search.get('sampler')} sampler, {search.get('pruner')} pruner) on an inner split of the training patients"
        if trials
        else "no search: the method's default hyperparameters"
    )
    lines = [
        "## Evaluation protocol",
        "",
        f"- {protocol.get('outer_folds')} patient-grouped, stratified outer folds; protocol seeds {', '.join(map(str, seeds))}",
        f"- Hyperparameters: {searched}",
        f"- Inner validation fraction: {protocol.get('inner_val_fraction')}",
        "- Decisions: argmax of the class probabilities",
    ]
    if info["kind"] == "refit":
        refit = info.get("refit") or {}
        lines.append(f"- This package: one model refit on every patient; {refit.get('rule', '')}")
    else:
        names = ", ".join(m["name"] for m in info["members"])
        lines.append(
            f"- This package: the {len(info['members'])} out-of-fold models ({names}), probabilities averaged"
        )
    return [*lines, ""]


def _details(info: dict[str, Any]) -> list[str]:
    backbone, spec = info["backbone"], info["input"]
    return [
        "## Model details",
        "",
        *_table(
            ["field", "value"],
            [
                ["package", f"{info['kind']} of {len(info['members'])} model(s)"],
                [
                    "backbone",
                    f"{backbone['name']} (timm `{backbone['timm_name']}`), {backbone['in_chans']} input channel(s)",
                ],
                [
                    "pretrained weights",
                    f"{backbone.get('weights_source')}; licence {backbone.get('weights_license')}",
                ],
                ["classes (output order)", ", ".join(info["classes"])],
                [
                    "input",
                    f"{spec['size']} x {spec['size']} px grey, {spec['resize']}, {spec['scale']}, mean {spec['mean']}, std {spec['std']}",
                ],
                [
                    "versions",
                    f"sdc-bench {info['sdc_bench_version']}, git {info['git_revision']}, exported {info['exported_utc']}",
                ],
                ["training run", f"{info['training']['run_id']}"],
            ],
        ),
        "",
    ]


def model_card(info: dict[str, Any], run: dict[str, Any], run_dir: Path) -> str:
    """The card's Markdown text."""
    backbone = info["backbone"]
    throughput = info.get("throughput", {})
    lines = [
        f"# Model card: {info['method']} on {backbone['name']}",
        "",
        *_details(info),
        "## Intended use",
        "",
        "Research on spinal-disorder classification from X-ray or MRI images like the training data (same sites,",
        "modalities, sizes and bit depths): comparing recipes, reproducing a benchmark, a starting point for",
        "further validation. `sdc-bench predict` flags inputs whose modality, size or bit depth the training",
        "data did not contain.",
        "",
        "## Out-of-scope use",
        "",
        "Clinical diagnosis or triage without prospective validation and regulatory clearance; images of",
        "other anatomy, modalities, sites or populations than the training data; classes outside the list above.",
        "",
        *_data_section(run_dir, info),
        *_protocol_section(info, run),
        *_metrics_section(run_dir, info, run),
        "## Throughput",
        "",
        f"{throughput.get('images_per_s', '–')} images/s for the whole package on the export machine's CPU "
        f"({throughput.get('cpu_model', 'unknown CPU')}, batch {throughput.get('batch_size', '–')}).",
        "",
        "## Limitations",
        "",
        "- Metrics come from the run's cross-validation; they hold for data like the training data only.",
        "- Patient grouping is only as good as the patient ids of the source (see the audit above).",
        "- Probabilities may be miscalibrated (see the ECE); no threshold other than argmax was tuned.",
        "- Synthetic (SynthSpine) training data say nothing about performance on real images.",
        "",
    ]
    return "\n".join(lines)
