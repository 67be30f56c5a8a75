"""``MODEL_CARD.md`` of a model package (Mitchell et al. 2019, with the CLAIM items that apply).

Everything in the card is read from stored artifacts: the run's ``run.json``, ``manifest.parquet``,
``audit.json`` and ``metrics.csv`` (never recomputed here), and the package's own ``package.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.contracts import ALL_SEEDS, OOF_SPLIT
from sdc_bench.core.errors import SdcBenchError
from sdc_bench.core.metric_specs import METRICS, get_metric
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.serve.package import input_shape
from sdc_bench.zoo.methods import METHODS

__all__ = ["model_card"]

# per-class and overall metrics in reading order, with the names a clinical reader uses; proportions are
# shown as percentages, scores on their own scale
_PER_CLASS = tuple(
    (name, get_metric(name).reader_label)
    for name in ("sensitivity", "specificity", "ppv", "npv", "f1", "auroc")
)
_OVERALL = tuple((name, spec.reader_label) for name, spec in METRICS.items() if spec.scope == "overall")
_PERCENT = frozenset(name for name, spec in METRICS.items() if spec.proportion)
_CI_METHODS = {"wilson": "Wilson score interval", "bootstrap": "patient-level bootstrap"}
_PATIENT_FROM = {
    "column": "the source's patient column",
    "regex": "a pattern on the file names (patient_regex)",
    "dicom": "the DICOM PatientID tag",
    "dicom+file": "the DICOM PatientID tag; files without one count as their own patient",
    "file": "none given: each image counts as its own patient",
    "unknown": "not recorded",
}
_DASH = "–"
_PRETRAINED_ON = {"in1k": "ImageNet-1k", "in21k": "ImageNet-21k", "in22k": "ImageNet-22k"}
_MODALITY_NAMES = {"xray": "X-ray", "mri": "MRI"}
_RESIZE_TEXT = {
    "letterbox": "scaled to fit with its aspect ratio kept, the short side padded with black (letterbox)",
    "resize": "stretched to the square (aspect ratio not kept)",
    "center_crop": "scaled so the short side fits, the long side cropped at the centre",
}


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _text(value: Any, default: str = "not recorded") -> str:
    """A stored value as plain text: no ``None`` / ``nan``, lists joined with commas."""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v, default) for v in value) or default
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return default
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _plain(name: str) -> str:
    """A class name for reading: ``vertebral_fracture`` -> ``vertebral fracture``."""
    return str(name).replace("_", " ")


def _number(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric in _PERCENT else f"{value:.3f}"


def _value(row: Any) -> str:
    """``value (low–high)`` of one metrics row; proportions as percentages."""
    metric = str(row.name)  # rows come from a frame indexed by metric
    if pd.isna(row["value"]):
        return "undefined*"  # e.g. a predictive value when the class is never predicted
    text = _number(metric, float(row["value"]))
    if pd.notna(row["ci_low"]) and pd.notna(row["ci_high"]):
        text += f" ({_number(metric, float(row['ci_low']))} to {_number(metric, float(row['ci_high']))})"
    return text


def _ci_note(rows: pd.DataFrame) -> str:
    used = set(rows["ci_method"].dropna().astype(str))
    if {"wilson", "bootstrap"} <= used:
        how = "Wilson score interval for proportions, patient-level bootstrap for the other metrics"
    else:
        how = ", ".join(_CI_METHODS.get(m, m) for m in sorted(used - {"none"})) or "none computed"
    return f"In brackets: 95% confidence interval ({how})."


def _pooled(metrics: pd.DataFrame, method: str, backbone: str, split: str = OOF_SPLIT) -> pd.DataFrame:
    rows = metrics[
        (metrics["method"] == method)
        & (metrics["backbone"] == backbone)
        & (metrics["split"] == split)
        & (metrics["scope"] == "pooled")
        & (metrics["seed"] == ALL_SEEDS)
    ]
    return rows


def _metric_tables(pooled: pd.DataFrame, classes: list[str]) -> list[str]:
    """Per-class and overall tables of one split's pooled rows."""
    rows = []
    for name in classes:
        cells = pooled[pooled["class_name"] == name].set_index("metric")
        rows.append(
            [_plain(name), *(_value(cells.loc[m]) if m in cells.index else _DASH for m, _ in _PER_CLASS)]
        )
    lines = [*_table(["Class", *(title for _, title in _PER_CLASS)], rows), ""]
    overall = pooled[pooled["class_name"] == "overall"].set_index("metric")
    rows = [[title, _value(overall.loc[m])] for m, title in _OVERALL if m in overall.index]
    lines += [*_table(["Overall", "Value"], rows), ""]
    n_images = pooled["n_images"].dropna()
    n_patients = pooled["n_patients"].dropna()
    if len(n_images) and len(n_patients):
        lines.append(
            f"Test images: {int(n_images.max())} of {int(n_patients.max())} patients. {_ci_note(pooled)}"
        )
    else:
        lines.append(_ci_note(pooled))
    if (pooled["value"].isna()).any():
        lines.append(
            "\\* undefined: the class was never predicted (or never present), so the ratio has no denominator."
        )
    return [*lines, ""]


def _metrics_section(run_dir: Path, info: dict[str, Any], run: RunManifest) -> list[str]:
    path = run_dir / "metrics.csv"
    lines = ["## Performance", ""]
    if not path.is_file():
        return [*lines, "The run has no `metrics.csv`; run `sdc-bench report RUN_DIR` and export again.", ""]
    metrics = pd.read_csv(path)
    backbone, classes = info["backbone"]["name"], list(info["classes"])
    lines += [
        "Cross-validated: every image was predicted by the model of the one outer fold that did not train on",
        "its patient, and the predictions of all folds are pooled (the run's `metrics.csv`). The package itself",
        "(the fold models' average, or one model refit on every patient) has not been tested on held-out data.",
        "Sensitivity, specificity, PPV and NPV of a class treat that class as positive and all others as negative.",
        "",
        *_metric_tables(_pooled(metrics, info["method"], backbone), classes),
    ]
    external = sorted(s for s in metrics["split"].dropna().unique() if str(s).startswith("external:"))
    for split in external:
        rows = _pooled(metrics, info["method"], backbone, split)
        if len(rows):
            site = str(split).removeprefix("external:")
            lines += [
                f"### External test: {site}",
                "",
                f"Images of another site ({site}), never used in training, predicted by the fold models.",
                "",
                *_metric_tables(rows, classes),
            ]
    return [*lines, *_calibration(metrics, info, run)]


def _calibration(metrics: pd.DataFrame, info: dict[str, Any], run: RunManifest) -> list[str]:
    backbone = info["backbone"]["name"]
    overall = _pooled(metrics, info["method"], backbone)
    overall = overall[overall["class_name"] == "overall"].set_index("metric")
    lines = ["## Calibration", ""]
    if "ece" in overall.index:
        lines += [
            f"Expected calibration error of the cross-validated probabilities: {_value(overall.loc['ece'])}; 0 means",
            "the stated probabilities match the observed frequencies.",
            "",
        ]
    else:
        lines += ["The run's metrics hold no calibration error.", ""]
    reference = run.proposed_method
    if reference != info["method"]:
        ref = _pooled(metrics, reference, backbone)
        ref = ref[ref["class_name"] == "overall"].set_index("metric")
        rows = [[title, _value(ref.loc[m])] for m, title in _OVERALL if m in ref.index]
        if rows:
            lines += [
                f"Reference method of the run (`{reference}`, same backbone):",
                "",
                *_table(["Overall", "Value"], rows),
                "",
            ]
    return lines


def _data_section(run_dir: Path, info: dict[str, Any]) -> list[str]:
    lines = ["## Training data", ""]
    training = info["training"]
    lines += [
        f"{_text(training.get('n_images'), '?')} images of {_text(training.get('n_patients'), '?')} patients "
        f"(data fingerprint `{_text(training.get('data_fingerprint'))}`).",
        "",
    ]
    path = run_dir / "manifest.parquet"
    if path.is_file():
        manifest = pd.read_parquet(path)
        site = "site" if "site" in manifest else "source"
        header = [site.capitalize(), "Modality", "Patients", "Images", *map(_plain, info["classes"])]
        rows = []
        for (where, modality), group in manifest.groupby([site, "modality"], sort=True):
            counts = group["label"].value_counts()
            rows.append(
                [
                    where,
                    _MODALITY_NAMES.get(str(modality), str(modality)),
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
        sizes = [size.replace("x", " × ") for size in seen["image_sizes"]]
        lines += [
            f"- Patient identity from: {_PATIENT_FROM.get(str(audit.get('patient_from')), _text(audit.get('patient_from')))}",
            f"- Image sizes (rows × columns, pixels): {_text(sizes, 'not read')}",
            f"- Bits per pixel: {_text(seen['bit_depths'], 'not read')}",
            f"- Identical-file groups: {len(audit.get('duplicate_groups', []))}; unreadable files: {len(audit.get('unreadable', []))}",
        ]
        lines += [f"- Audit warning: {warning}" for warning in audit.get("warnings", [])]
        lines.append("")
    return lines


def _searched(run: RunManifest) -> str:
    search = run.search
    trials = search.n_trials
    if not trials:
        return "not searched: the method's fixed default settings"
    return (
        f"an Optuna search of {trials} trials per fold ({_text(search.sampler)} sampler, "
        f"{_text(search.pruner)} pruner), scored on held-out patients of the fold's training data only"
    )


def _protocol_section(info: dict[str, Any], run: RunManifest) -> list[str]:
    seeds = list(run.seeds)
    repeats = f"{len(seeds)} repetition{'s' if len(seeds) != 1 else ''} (seed {_text(seeds)})"
    inner = f"{100 * run.suite.inner_val_fraction:.0f}%"
    lines = [
        "## Evaluation protocol",
        "",
        f"- Cross-validation: {run.suite.outer_folds} outer folds, grouped by patient (no patient "
        f"in two folds) and stratified by class; {repeats}",
        f"- Hyperparameters: {_searched(run)}",
        f"- Inner validation: {inner} of each fold's training patients held out",
        "- Decision rule: the class with the highest probability (no tuned threshold)",
    ]
    if info["kind"] == "refit":
        refit = info.get("refit") or {}
        lines.append(f"- This package: one model refit on every patient; {_text(refit.get('rule'))}")
    else:
        names = ", ".join(m["name"] for m in info["members"])
        lines.append(
            f"- This package: the {len(info['members'])} fold models ({names}); their probabilities are averaged"
        )
    return [*lines, ""]


def _input_text(spec: dict[str, Any]) -> str:
    shape, resize = input_shape(spec), str(spec["resize"])
    rows, columns = shape[-2:]
    fit = _RESIZE_TEXT.get(resize, resize)
    mean, std = _text(spec.get("mean")), _text(spec.get("std"))
    what = "one grey image" if len(shape) == 2 else f"{shape[0]} adjacent slices (as channels)"
    return (
        f"{what} of {rows} × {columns} pixels: {fit}; intensities scaled to 0–1, then normalised "
        f"(mean {mean}, standard deviation {std})"
    )


def _weights_text(backbone: dict[str, Any]) -> str:
    """Where the starting weights came from, in words; licence included."""
    source = str(backbone.get("weights_source") or "")
    if source in ("", "random", "none"):
        return "none: trained from random initialisation"
    cfg = backbone.get("pretrained_cfg") or {}
    tag = str(cfg.get("tag") or "")
    dataset = _PRETRAINED_ON.get(tag, f"`{tag}`" if tag else "pretrained")
    where = {
        "package": "the installed weights package",
        "hub": "the Hugging Face hub",
        "file": "a local file",
        "dir": "a local weights folder",
    }.get(source, source)
    location = _text(backbone.get("weights_location") or cfg.get("hf_hub_id"), "")
    located = f"{where} (`{location}`)" if location else where
    return f"{dataset} weights from {located}; licence {_text(backbone.get('weights_license'))}"


def _method_text(name: str) -> str:
    """``name``: the registry's description of the method (the name alone when it is not registered here)."""
    try:
        return f"`{name}`: {METHODS.get(name).description}"
    except (KeyError, SdcBenchError):
        return f"`{name}`"


def _details(info: dict[str, Any]) -> list[str]:
    backbone, members = info["backbone"], len(info["members"])
    package = (
        "one model refit on every patient"
        if info["kind"] == "refit"
        else f"ensemble of {members} models, one per cross-validation fold; their probabilities are averaged"
    )
    weights = _weights_text(backbone)
    exported = str(info.get("exported_utc", "")).replace("T", " ").replace("Z", " UTC")
    revision = _text(info.get("git_revision"))
    software = (
        f"sdc-bench {_text(info.get('sdc_bench_version'))}, git revision `{revision.split('+')[0][:12]}`"
    )
    if "+dirty" in revision:
        software += " with uncommitted changes"
    return [
        "## Model details",
        "",
        *_table(
            ["Field", "Value"],
            [
                ["Method", _method_text(str(info["method"]))],
                ["Package", package],
                ["Network", f"{backbone['name']} (timm `{backbone['timm_name']}`)"],
                ["Pretrained weights", weights],
                ["Classes (output order)", ", ".join(f"`{name}`" for name in info["classes"])],
                ["Input", _input_text(info["input"])],
                ["Training run", _text(info["training"]["run_id"])],
                [
                    "Software",
                    f"sdc-bench {_text(info.get('sdc_bench_version'))}, git revision `{revision[:12]}`",
                ],
                ["Exported", exported or "not recorded"],
            ],
        ),
        "",
    ]


def _throughput(info: dict[str, Any]) -> list[str]:
    speed = info.get("throughput") or {}
    if not speed.get("images_per_s"):
        return ["## Speed", "", "Not measured.", ""]
    return [
        "## Speed",
        "",
        f"About {float(speed['images_per_s']):.0f} images per second for the whole package (every model) on the "
        f"export machine's CPU ({_text(speed.get('cpu_model'), 'unknown CPU')}), {_text(speed.get('batch_size'))} "
        "images at a time (decoding not counted).",
        "",
    ]


def model_card(info: dict[str, Any], run: RunManifest, run_dir: Path) -> str:
    """The card's Markdown text."""
    lines = [
        f"# Model card: {info['method']} on {info['backbone']['name']}",
        "",
        *_details(info),
        "## Intended use",
        "",
        "Research on spinal-disorder classification from X-ray or MRI images like the training data (same sites,",
        "modalities, sizes and bit depths): comparing recipes, reproducing a benchmark, a starting point for",
        "further validation. `sdc-bench predict` flags inputs whose modality, size or bit depth the training",
        "data did not contain, and `--cam` shows where each prediction's evidence lies.",
        "",
        "## Out-of-scope use",
        "",
        "Clinical diagnosis or triage without prospective validation and regulatory clearance; images of",
        "other anatomy, modalities, sites or populations than the training data; classes outside the list above.",
        "",
        *_data_section(run_dir, info),
        *_protocol_section(info, run),
        *_metrics_section(run_dir, info, run),
        *_throughput(info),
        "## Limitations",
        "",
        "- The performance figures come from the run's cross-validation; they hold for data like the training data only.",
        "- Patient grouping is only as good as the patient ids of the source (see Training data).",
        f"- Probabilities may be miscalibrated (see Calibration). {_decision_line(info)}",
        "- Synthetic (SynthSpine) training data say nothing about performance on real images.",
        "",
    ]
    return "\n".join(lines)


def _decision_line(info: dict[str, Any]) -> str:
    """How the package turns probabilities into a class (``package.json`` ``decision``), for the card."""
    decision = info.get("decision") or {"rule": "argmax"}
    if decision.get("threshold") is None:
        return "The predicted class is the most probable one; no decision threshold was tuned."
    positive = decision["positive_class"]
    return (
        f"The predicted class is {positive} when p({positive}) > {float(decision['threshold']):.3g}, "
        f"an operating point chosen on inner data ({decision['rule']}: {decision.get('how', '')}); "
        "`sdc-bench predict` applies it."
    )
