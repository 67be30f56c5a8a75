"""Re-derives every report of a run folder from its stored artifacts (no training).

:func:`build_reports` reads the run folder (predictions, run manifest, splits, data
manifest, audit, sample images and, when present, throughput, Optuna storage and cell
records), computes the metrics table and the paired comparisons, and writes
``metrics.csv``, ``comparisons.csv``, ``tables/`` (CSV, Markdown, LaTeX), ``figures/`` (PDF,
PNG) and the report (``report.md``, ``report.html``). Optional artifacts that are absent
are skipped, and the report says so.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sdc_bench.core.contracts import parse_cell_id
from sdc_bench.core.errors import DataError
from sdc_bench.core.storage import (
    DEFAULT_STORAGE_FILE,
    close_storage,
    open_storage,
    storage_file,
    storage_url,
)
from sdc_bench.core.store import RunStore, proposed_method, write_text
from sdc_bench.reports import figures, tables
from sdc_bench.reports.metrics import CONFIGURATION_COLUMNS, OOF_SPLIT, compute_metrics
from sdc_bench.reports.render import write_table
from sdc_bench.reports.report import FigureItem, Section, TableItem, write_report
from sdc_bench.reports.stats import COMPARISON_COLUMNS, compare_to_reference, friedman_nemenyi
from sdc_bench.reports.style import backbone_markers, configuration_labels, method_palette

__all__ = [
    "build_reports",
    "compare_methods",
    "load_cells",
    "load_optuna_importances",
    "load_optuna_trials",
    "load_predictions",
    "load_throughput",
    "run_storage_url",
]

CONFIG = list(CONFIGURATION_COLUMNS)
_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- loading


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    """The run's predictions table (``predictions.parquet``)."""
    path = RunStore(Path(run_dir)).predictions
    if not path.is_file():
        raise DataError(
            f"{path} does not exist; is {run_dir} a finished sdc-bench run folder? (resume it with --resume)"
        )
    return pd.read_parquet(path)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not valid JSON ({error}); restore it from the run or delete it"
        ) from error


def load_throughput(run_dir: str | Path) -> pd.DataFrame | None:
    """``throughput.csv`` (or ``.parquet``) of the run, or None when absent."""
    root = Path(run_dir)
    if (root / "throughput.csv").is_file():
        return pd.read_csv(root / "throughput.csv", keep_default_na=False, na_values=[""])
    if (root / "throughput.parquet").is_file():
        return pd.read_parquet(root / "throughput.parquet")
    return None


def load_cells(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``cells/<cell_id>.json`` record, in file-name order."""
    folder = RunStore(Path(run_dir)).cells_dir
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def _study_key(name: str) -> tuple[str, str, int, int]:
    """``[<run_id>/]<cell_id>`` -> (method, backbone, protocol seed, outer fold); other names -> (name, '', -1, 0).

    Cell ids of runs made before protocol seeds had none: their seed reads as -1.
    """
    key = parse_cell_id(name)
    if key is None:
        return name, "", -1, 0
    return key.method, key.backbone, -1 if key.repeat_seed is None else key.repeat_seed, key.outer_fold


def run_storage_url(run_dir: str | Path) -> str:
    """The Optuna storage a run searched in, as ``run.json`` records it (``"storage"``).

    None there means ``optuna.db`` in the run folder. A journal or SQLite file recorded by a path
    that no longer exists (the run folder was moved) is looked up by its name in the run folder.
    """
    root = Path(run_dir)
    run = _read_json(RunStore(root).run_json) or {}
    url = storage_url(run.get("storage"), root)
    path = storage_file(url)
    if path is not None and not path.exists() and (root / path.name).is_file():
        url = url.replace(str(path), str((root / path.name).resolve()))
    return url


def _storage_url(storage: str | Path) -> str:
    """A run folder, a storage file (``.log``: journal, else SQLite) or a storage URL -> a storage URL."""
    if isinstance(storage, str) and ("://" in storage or storage.startswith("journal:")):
        return storage
    path = Path(storage)
    if path.is_dir():
        return run_storage_url(path)
    return storage_url(str(path), path.parent) if path.suffix == ".log" else f"sqlite:///{path.resolve()}"


def load_optuna_trials(storage: str | Path) -> pd.DataFrame:
    """One row per trial of every study in an Optuna storage.

    Parameters
    ----------
    storage : str or Path
        A run folder (its storage as ``run.json`` names it), an ``optuna.db`` SQLite file, a
        JournalStorage ``.log`` file, or a storage URL (``sqlite:///``, ``journal:``, ``postgresql://``).

    Returns
    -------
    pandas.DataFrame
        ``study``, ``method``, ``backbone``, ``seed`` (protocol seed; -1 in older runs),
        ``outer_fold``, ``number``, ``state``,
        ``value``, ``last_intermediate`` (last reported value, for pruned trials),
        ``n_intermediate`` and one ``param_<name>`` column per parameter.
    """
    import optuna

    opened = open_storage(_storage_url(storage), create=False)
    records = []
    try:
        for summary in sorted(
            optuna.get_all_study_summaries(opened, include_best_trial=False), key=lambda s: s.study_name
        ):
            method, backbone, repeat, fold = _study_key(summary.study_name)
            study = optuna.load_study(study_name=summary.study_name, storage=opened)
            for trial in study.get_trials(deepcopy=False):
                steps = sorted(trial.intermediate_values)
                records.append(
                    {
                        "study": summary.study_name,
                        "method": method,
                        "backbone": backbone,
                        "seed": repeat,
                        "outer_fold": fold,
                        "number": trial.number,
                        "state": trial.state.name,
                        "value": trial.value if trial.value is not None else math.nan,
                        "last_intermediate": trial.intermediate_values[steps[-1]] if steps else math.nan,
                        "n_intermediate": len(steps),
                        **{f"param_{k}": v for k, v in sorted(trial.params.items())},
                    }
                )
    finally:
        close_storage(opened)
    return pd.DataFrame.from_records(records)


def load_optuna_importances(storage: str | Path, *, seed: int = 0, n_trees: int = 16) -> pd.DataFrame:
    """Hyperparameter importances of every study (fANOVA, seeded, so the same on every build).

    ``storage`` is what :func:`load_optuna_trials` takes.

    Studies with fewer than two complete trials or no varying parameter are skipped.

    Returns
    -------
    pandas.DataFrame
        ``study``, ``method``, ``backbone``, ``outer_fold``, ``param``, ``importance``.
    """
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    opened = open_storage(_storage_url(storage), create=False)
    records = []
    try:
        for summary in sorted(
            optuna.get_all_study_summaries(opened, include_best_trial=False), key=lambda s: s.study_name
        ):
            study = optuna.load_study(study_name=summary.study_name, storage=opened)
            complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if len(complete) < 2:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importances = get_param_importances(
                        study, evaluator=FanovaImportanceEvaluator(n_trees=n_trees, seed=seed)
                    )
            except (ValueError, RuntimeError) as error:  # e.g. a single-valued search space
                _log.info("no importances for %s: %s", summary.study_name, error)
                continue
            method, backbone, _, fold = _study_key(summary.study_name)
            records += [
                {
                    "study": summary.study_name,
                    "method": method,
                    "backbone": backbone,
                    "outer_fold": fold,
                    "param": p,
                    "importance": float(v),
                }
                for p, v in sorted(importances.items())
            ]
    finally:
        close_storage(opened)
    return pd.DataFrame.from_records(
        records, columns=["study", "method", "backbone", "outer_fold", "param", "importance"]
    )


# --------------------------------------------------------------------------- comparisons


def _reference_plan(
    predictions: pd.DataFrame, reference: str, backbone_order: Sequence[str]
) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """(reference configuration, configurations compared with it) pairs.

    Each backbone with a ``reference`` configuration gets its own reference (the first of
    its configurations in the predictions table); every other configuration is compared
    with the reference on its backbone, or, when its backbone has none (e.g. the classical
    baseline), with the primary reference (first backbone in ``backbone_order``).
    """
    oof = predictions[predictions["split"].astype(str) == OOF_SPLIT]
    configurations = list(dict.fromkeys(oof[CONFIG].astype(str).itertuples(index=False, name=None)))
    candidates = [c for c in configurations if c[0] == reference]
    if not candidates:
        return []
    rank = {b: i for i, b in enumerate(backbone_order)}
    candidates.sort(key=lambda c: (rank.get(c[1], len(rank)), configurations.index(c)))
    per_backbone: dict[str, tuple[str, ...]] = {}
    for candidate in candidates:
        per_backbone.setdefault(candidate[1], candidate)
    primary = candidates[0]
    plan: dict[tuple[str, ...], list[tuple[str, ...]]] = {r: [] for r in per_backbone.values()}
    for configuration in configurations:
        if configuration in plan:
            continue
        plan[per_backbone.get(configuration[1], primary)].append(configuration)
    return [(r, others) for r, others in plan.items() if others]


def compare_methods(
    predictions: pd.DataFrame,
    *,
    reference: str,
    backbone_order: Sequence[str] = (),
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparisons with the reference method (:func:`~sdc_bench.reports.stats.compare_to_reference`).

    A configuration is compared with the ``reference`` configuration on the same backbone
    where there is one, else with the reference on the first backbone of
    ``backbone_order``; Holm's correction runs within each reference's family. Returns an
    empty table (same columns) when there is no reference or nothing to compare.
    """
    frames = []
    for ref, others in _reference_plan(predictions, reference, backbone_order):
        wanted = {ref, *others}
        keys = predictions[CONFIG].astype(str).apply(tuple, axis=1)
        subset = predictions[keys.isin(wanted).to_numpy()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # configurations on other images are skipped
            frames.append(
                compare_to_reference(
                    subset,
                    reference,
                    reference_config=dict(zip(CONFIG[1:], ref[1:])),
                    n_bootstrap=n_bootstrap,
                    seed=seed,
                )
            )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- the build


class _Writer:
    """Collects written paths and the report's items, so each part is one short call."""

    def __init__(self, store: RunStore, *, draw: bool) -> None:
        self.store = store
        self.draw = draw
        self.written: list[Path] = []

    def table(self, name: str, table: pd.DataFrame, caption: str) -> TableItem:
        self.written += write_table(table, self.store.tables_dir / name, caption=caption)
        return TableItem(name, caption, table)

    def figure(self, name: str, caption: str, draw: Callable[[Path], list[Path]]) -> list[FigureItem]:
        if not self.draw:
            return []
        paths = draw(self.store.figures_dir / name)
        self.written += paths
        pngs = [p for p in paths if p.suffix == ".png"]
        return [FigureItem(name, caption, pngs[0])] if pngs else []


def _fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "n/a"
    minutes, rest = divmod(float(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min" if hours else f"{int(minutes)} min {rest:.0f} s"


def _summary_section(
    run: Mapping[str, Any],
    metrics: pd.DataFrame,
    comparisons: pd.DataFrame,
    skipped: list[str],
    reference: str,
) -> Section:
    suite = run.get("suite", {}) or {}
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == OOF_SPLIT)]
    ba = pooled[(pooled["metric"] == "balanced_accuracy") & (pooled["class_name"] == "overall")].dropna(
        subset=["value"]
    )
    configurations = list(dict.fromkeys(pooled[CONFIG].astype(str).itertuples(index=False, name=None)))
    labels = configuration_labels(configurations) if configurations else {}
    paragraphs = []
    if not ba.empty:
        best = ba.iloc[int(np.argmax(ba["value"].to_numpy(dtype=float)))]
        key = tuple(str(best[c]) for c in CONFIG)
        paragraphs.append(
            f"Highest out-of-fold balanced accuracy: {labels.get(key, key[0])} with {best['value']:.3f} "
            f"(95% CI {best['ci_low']:.3f}–{best['ci_high']:.3f}), over {int(best['n_images'])} images of "
            f"{int(best['n_patients'])} patients."
        )
    if not comparisons.empty:
        tested = comparisons[
            (comparisons["test"] == "corrected_resampled_ttest") | (comparisons["test"] == "mcnemar_exact")
        ]
        worse = tested[tested["significant"] & (tested["estimate"] > 0)]
        n_compared = len(comparisons[CONFIG].drop_duplicates())
        n_worse = len(worse[CONFIG].drop_duplicates())
        paragraphs.append(
            f"{n_worse} of {n_compared} configurations compared with {reference} are significantly worse on at least "
            "one of the McNemar (accuracy) and corrected resampled t-test (balanced accuracy) comparisons "
            "(Holm-adjusted p < 0.05)."
        )
    if skipped:
        paragraphs.append("Skipped optional parts (artifact absent): " + "; ".join(skipped) + ".")
    facts = [
        ("Run", str(run.get("run_id", "n/a"))),
        (
            "Suite",
            f"{suite.get('name', 'n/a')}"
            + (f" — {suite['description']}" if suite.get("description") else ""),
        ),
        ("Status", str(run.get("status", "n/a"))),
        ("Started / finished (UTC)", f"{run.get('started_utc', 'n/a')} / {run.get('finished_utc', 'n/a')}"),
        ("Duration", _fmt_seconds(run.get("seconds"))),
        ("Configurations", str(len(configurations))),
        ("Git revision", str(run.get("git_revision", "n/a"))),
    ]
    return Section("Summary", paragraphs=paragraphs, facts=facts)


def _audit_facts(audit: Mapping[str, Any]) -> list[tuple[str, str]]:
    def mapping(value: Any) -> str:
        if isinstance(value, Mapping):
            return (
                ", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
                or "none"
            )
        if isinstance(value, list):
            return str(len(value))
        return str(value)

    keys = (
        ("n_images", "Images"),
        ("n_patients", "Patients"),
        ("images_per_class", "Images per class"),
        ("patients_per_class", "Patients per class"),
        ("images_per_modality", "Images per modality"),
        ("images_per_patient", "Images per patient"),
        ("patients_in_several_classes", "Patients in several classes"),
        ("duplicate_groups", "Duplicate image groups"),
        ("cross_patient_duplicates", "Duplicates across patients"),
        ("unreadable", "Unreadable files"),
        ("small_classes", "Small classes"),
        ("patient_from", "Patient identity from"),
        ("fingerprint", "Data fingerprint"),
    )
    return [(title, mapping(audit[key])) for key, title in keys if key in audit]


def _data_section(root: Path, run: Mapping[str, Any], writer: _Writer, skipped: list[str]) -> Section:
    section = Section("Data")
    data = run.get("data", {}) or {}
    if data:
        section.paragraphs.append(
            f"{data.get('n_images', '?')} images of {data.get('n_patients', '?')} patients from "
            f"`{data.get('origin', '?')}`; classes: {', '.join(map(str, data.get('classes', [])))}; preprocessing: "
            + ", ".join(f"{k}={v}" for k, v in (data.get("preprocess") or {}).items())
            + "."
        )
    manifest_path, splits_path = root / "manifest.parquet", root / "splits.json"
    if manifest_path.is_file() and splits_path.is_file():
        manifest = pd.read_parquet(manifest_path)
        splits = _read_json(splits_path)
        section.items.append(
            writer.table(
                "dataset_flow",
                tables.dataset_flow_table(manifest, splits, classes=data.get("classes")),
                "Dataset flow: images (patients) per class in the whole dataset and in each outer fold's train "
                f"and test parts (split seed {splits.get('seed', '?')}"
                + (
                    "; the folds of the other protocol seeds are in splits.json)."
                    if len(splits.get("seeds") or []) > 1
                    else ")."
                ),
            )
        )
    else:
        missing = [p.name for p in (manifest_path, splits_path) if not p.is_file()]
        section.paragraphs.append(f"Dataset flow skipped: {', '.join(missing)} absent.")
        skipped.append("dataset flow (" + ", ".join(missing) + ")")
    audit = _read_json(root / "audit.json")
    if audit:
        section.paragraphs.append("Split audit (`audit.json`):")
        section.facts += _audit_facts(audit)
        warnings_list = audit.get("warnings") or []
        section.facts.append(
            ("Audit warnings", "; ".join(map(str, warnings_list)) if warnings_list else "none")
        )
    else:
        section.paragraphs.append("Split audit skipped: `audit.json` absent.")
        skipped.append("data audit (audit.json)")
    samples_path = root / "samples.npz"
    if samples_path.is_file():
        with np.load(samples_path, allow_pickle=False) as npz:
            samples = {k: npz[k] for k in npz.files}
        section.items += writer.figure(
            "sample_grid",
            "Example images per class, as the models saw them after preprocessing.",
            lambda stem: figures.sample_grid(samples, stem, classes=data.get("classes")),
        )
    else:
        skipped.append("sample images (samples.npz)")
    return section


def _search_text(search: Any) -> str:
    if not isinstance(search, Mapping):
        return "none recorded (fixed parameters)"
    if int(search.get("n_trials", 0) or 0) == 0:
        return "none: each method's default parameters (n_trials = 0)"
    return ", ".join(f"{k}={v}" for k, v in search.items()) + " per cell, on the inner split only"


def _protocol_section(
    run: Mapping[str, Any], splits: Mapping[str, Any] | None, n_bootstrap: int, seed: int, reference: str
) -> Section:
    suite = run.get("suite", {}) or {}
    protocol = suite.get("protocol", {}) or {}
    search = run.get("search")
    seeds = _protocol_seeds(run, splits)
    facts = [
        (
            "Outer folds",
            f"{protocol.get('outer_folds', (splits or {}).get('n_folds', '?'))} (patient-grouped, stratified by class)",
        ),
        ("Protocol seeds", _seeds_text(seeds)),
        ("Inner validation fraction", str(protocol.get("inner_val_fraction", "n/a"))),
        ("Hyperparameter search", _search_text(search)),
        (
            "Run seed / split seed",
            f"{run.get('seed', suite.get('seed', '?'))} / {(splits or {}).get('seed', '?')}",
        ),
        ("Methods", ", ".join(map(str, suite.get("methods", []))) or "n/a"),
        ("Backbones", ", ".join(map(str, suite.get("backbones", []))) or "n/a"),
        ("Training", ", ".join(f"{k}={v}" for k, v in (suite.get("train") or {}).items()) or "n/a"),
        ("Report bootstrap", f"{n_bootstrap} patient-level resamples, seed {seed}"),
    ]
    paragraphs = [
        "Reported numbers are out-of-fold: each image is predicted by the model of the one outer fold that held "
        "its patient out. Hyperparameters were chosen on an inner split of that fold's training patients only. "
        "Multi-class decisions are argmax of the predicted probabilities.",
        f"Intervals: Wilson for accuracy and per-class sensitivity/specificity, patient-level percentile bootstrap "
        f"otherwise. Comparisons with {reference}: exact McNemar (accuracy), corrected resampled t-test "
        "(per-fold balanced accuracy) and a paired patient-level bootstrap (balanced accuracy, accuracy, macro "
        "AUROC), with Holm's correction within each test family; Friedman test with Nemenyi post-hoc over "
        "outer folds for the ranking of all configurations.",
    ]
    if len(seeds) > 1:
        paragraphs.append(
            f"Repeated cross-validation: the whole patient-grouped cross-validation ran once per protocol seed "
            f"({', '.join(map(str, seeds))}), each with its own outer folds and cell seeds, on the same data. "
            "Pooled estimates stack the repetitions (each image once per seed) with patient-level bootstrap "
            "intervals only; per-seed estimates are in `metrics.csv` (scope `seed`) and the tables give their "
            "mean ± SD. Comparisons pair images by seed: McNemar over (seed, image) pairs, the corrected "
            "t-test over the seeds x folds scores, the paired bootstrap over the stacked repetitions."
        )
    return Section("Protocol", paragraphs=paragraphs, facts=facts)


def _protocol_seeds(run: Mapping[str, Any], splits: Mapping[str, Any] | None) -> list[Any]:
    """The run's protocol seeds: ``run.json`` ``seeds``, else ``splits.json`` ``seeds``, else the one seed."""
    seeds = run.get("seeds") or (splits or {}).get("seeds")
    if seeds:
        return list(seeds)
    single = (splits or {}).get("seed", run.get("seed"))
    return [single] if single is not None else []


def _seeds_text(seeds: Sequence[Any]) -> str:
    if not seeds:
        return "n/a"
    if len(seeds) == 1:
        return f"{seeds[0]} (one cross-validation)"
    return f"{', '.join(map(str, seeds))} ({len(seeds)} repetitions of the cross-validation)"


def _environment_section(run: Mapping[str, Any]) -> Section:
    environment = run.get("environment", {}) or {}
    facts = [
        ("Python", str(environment.get("python", "n/a"))),
        ("Platform", str(environment.get("platform", "n/a"))),
        ("Host", str(environment.get("host", "n/a"))),
        ("Device", f"{run.get('device', 'n/a')} ({environment.get('device', 'n/a')})"),
    ]
    for key in ("cpu_count", "torch_threads", "cuda"):
        if key in environment:
            facts.append((key.replace("_", " ").capitalize(), str(environment[key])))
    packages = environment.get("packages") or {}
    if packages:
        facts.append(("Packages", ", ".join(f"{k} {v}" for k, v in packages.items() if v)))
    facts.append(("Git revision", str(run.get("git_revision", "n/a"))))
    return Section("Environment", facts=facts)


def _friedman_text(metrics: pd.DataFrame) -> str | None:
    folds = metrics[
        (metrics["scope"] == "fold") & (metrics["split"] == OOF_SPLIT)
        & (metrics["metric"] == "balanced_accuracy") & (metrics["class_name"] == "overall")
    ]  # fmt: skip
    if folds.empty:
        return None
    # a block is one outer fold of one protocol seed (r x k blocks for repeated cross-validation)
    blocks = [c for c in ("seed", "outer_fold") if c in folds.columns]
    table = folds.assign(key=folds[CONFIG].astype(str).apply("/".join, axis=1)).pivot_table(
        index=blocks, columns="key", values="value", aggfunc="first"
    ).dropna()  # fmt: skip
    if table.shape[0] < 2 or table.shape[1] < 3:
        return "Friedman test not run: it needs at least 3 configurations scored on at least 2 outer folds."
    result = friedman_nemenyi(table.reset_index(drop=True))
    return (
        f"Friedman test over {result.n_blocks} outer folds and {result.n_methods} configurations (balanced accuracy): "
        f"chi² = {result.statistic:.2f}, p = {result.p_value:.3g}"
        + (
            f" (Iman–Davenport p = {result.iman_davenport_p_value:.3g})"
            if math.isfinite(result.iman_davenport_p_value)
            else ""
        )
        + "; "
        f"Nemenyi critical difference {result.critical_difference:.2f} ranks at α = {result.alpha:g}."
    )


def _search_section(
    root: Path, writer: _Writer, skipped: list[str], palette: Mapping[str, str], seed: int
) -> Section:
    """The search's tables and figures, read from the storage run.json names (SQLite, journal or PostgreSQL)."""
    search = Section("Hyperparameter search")
    url = run_storage_url(root)
    path = storage_file(url)
    # a server URL may carry a password: the report names only the engine
    label = path.name if path is not None else "PostgreSQL storage"
    if path is not None and not path.is_file():
        where = "in the run folder" if path.name == DEFAULT_STORAGE_FILE else f"at {path}"
        search.skipped = f"no `{label}` {where} (the run used fixed parameters, or its storage was not kept)."
        skipped.append(f"hyperparameter search ({label})")
        return search
    try:
        trials = load_optuna_trials(url)
    # another Optuna version, a damaged file, an unreachable server or its missing driver
    except (RuntimeError, ValueError, OSError, ImportError, SQLAlchemyError) as error:
        trials = pd.DataFrame()
        search.paragraphs.append(f"`{label}` could not be read ({type(error).__name__}: {error}).")
    if trials.empty:
        search.skipped = f"`{label}` holds no readable trials."
        skipped.append(f"hyperparameter search (no readable trials in {label})")
        return search
    search.items.append(
        writer.table(
            "search",
            tables.search_table(trials),
            "Optuna studies: trials per state and the best inner-validation value.",
        )
    )
    search.items += writer.figure(
        "optuna_history",
        "Optimisation history per method and backbone: trial values, best so far per outer fold, pruned trials.",
        lambda stem: figures.optuna_history(trials, stem, palette=palette),
    )
    if writer.draw:
        importances = load_optuna_importances(url, seed=seed)
        search.items += writer.figure(
            "param_importances",
            "Hyperparameter importances (fANOVA, seeded), mean over outer folds.",
            lambda stem: figures.param_importances(importances, stem),
        )
    return search


def build_reports(
    run_dir: str | Path,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reference: str | None = None,
    draw_figures: bool = True,
) -> list[Path]:
    """Write metrics.csv, comparisons.csv, tables/, figures/, report.md and report.html of one run.

    Parameters
    ----------
    run_dir : str or Path
        A run folder holding at least ``predictions.parquet``.
    n_bootstrap : int, default=1000
        Patient-level bootstrap resamples for intervals and paired comparisons.
    seed : int, default=0
        Seed of the bootstraps and of the hyperparameter-importance forests.
    reference : str, optional
        Method the tables compare every other configuration with; by default the run's proposed
        method, as ``run.json`` names it (:func:`~sdc_bench.core.store.proposed_method`).
    draw_figures : bool, default=True
        False writes everything except the figures (faster; the report then has none).

    Returns
    -------
    list of Path
        Every file written.
    """
    root = Path(run_dir)
    store = RunStore(root)
    predictions = load_predictions(root)
    run = _read_json(store.run_json) or {}
    splits = _read_json(store.splits_json)
    suite = run.get("suite", {}) or {}
    reference = reference or proposed_method(run)
    skipped: list[str] = []

    metrics = compute_metrics(predictions, n_bootstrap=n_bootstrap, seed=seed)
    write_text(store.metrics, metrics.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    comparisons = compare_methods(
        predictions,
        reference=reference,
        backbone_order=suite.get("backbones", []),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    comparisons_path = root / "comparisons.csv"
    write_text(comparisons_path, comparisons.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    writer = _Writer(store, draw=draw_figures)
    writer.written += [store.metrics, comparisons_path]
    palette = method_palette(predictions["method"].astype(str))
    markers = backbone_markers(predictions["backbone"].astype(str))

    data = _data_section(root, run, writer, skipped)

    results = Section("Results")
    results.items.append(
        writer.table(
            "main_comparison",
            tables.main_table(metrics, reference=reference, comparisons=comparisons),
            "Main comparison: pooled out-of-fold headline metrics with 95% CIs; reference method first.",
        )
    )
    results.items += writer.figure(
        "method_comparison",
        "Pooled out-of-fold estimates with 95% CIs (dotted line: the reference method). Configurations by balanced accuracy.",
        lambda stem: figures.method_comparison(
            metrics, stem, reference=reference, palette=palette, markers=markers
        ),
    )
    results.items += writer.figure(
        "fold_scores",
        "Balanced accuracy of each outer fold (points) and its spread over folds (box).",
        lambda stem: figures.fold_scores(metrics, stem, palette=palette, markers=markers),
    )
    results.items.append(
        writer.table(
            "fold_summary",
            tables.fold_summary_table(metrics, reference=reference),
            "Mean ± SD over outer folds.",
        )
    )
    friedman = _friedman_text(metrics) or ""
    critical = writer.figure(
        "critical_difference",
        "Critical-difference diagram: average rank of balanced accuracy over outer folds (1 = best); configurations "
        f"joined by a thick bar are not significantly different (Nemenyi, α = 0.05). {friedman}".rstrip(),
        lambda stem: figures.critical_difference(metrics, stem),
    )
    results.items += critical
    if friedman and not critical:
        results.paragraphs.append(friedman)
    if comparisons.empty:
        results.paragraphs.append(
            f"Paired comparisons skipped: no `{reference}` configuration, or nothing to compare it with."
        )
    else:
        results.items.append(
            writer.table(
                "comparisons",
                tables.comparisons_table(comparisons),
                f"Paired comparisons of every configuration with {reference} (Δ = reference − method).",
            )
        )

    per_class = Section("Per class")
    per_class.items.append(
        writer.table(
            "per_class",
            tables.per_class_table(metrics),
            "Per-class sensitivity and specificity (one-vs-rest, Wilson 95% CI).",
        )
    )
    per_class.items += writer.figure(
        "per_class_sensitivity_specificity",
        "Per-class sensitivity and specificity with Wilson 95% CIs.",
        lambda stem: figures.per_class_sensitivity_specificity(
            metrics, stem, palette=palette, markers=markers
        ),
    )
    per_class.items += writer.figure(
        "roc_curves",
        "Macro-averaged one-vs-rest ROC curves: mean over outer folds with a ±1 SD band; AUROC mean ± SD over folds.",
        lambda stem: figures.roc_curves(predictions, stem, palette=palette, markers=markers),
    )
    per_class.items += writer.figure(
        "confusion_counts",
        "Confusion matrices (pooled out-of-fold image counts).",
        lambda stem: figures.confusion_matrices(predictions, stem),
    )
    per_class.items += writer.figure(
        "confusion_normalised",
        "Confusion matrices normalised by true class (rows sum to 1; the diagonal is per-class sensitivity).",
        lambda stem: figures.confusion_matrices(predictions, stem, normalise=True),
    )
    per_class.items += writer.figure(
        "reliability",
        "Reliability diagrams (top-label confidence, 15 bins; lighter bars hold fewer images) with the expected calibration error.",
        lambda stem: figures.reliability_diagrams(predictions, stem, palette=palette, markers=markers),
    )

    backbones = Section("Backbones")
    backbones.items.append(
        writer.table(
            "per_backbone",
            tables.per_backbone_table(metrics, reference=reference),
            "Results grouped by backbone.",
        )
    )

    ablations = Section("Ablations")
    ablation = tables.ablation_table(metrics, comparisons, reference=reference)
    if ablation.empty:
        ablations.skipped = f"no ablation of {reference} (methods named `{reference}_*`) in this run."
        skipped.append("ablations (no ablation method)")
    else:
        ablations.items.append(
            writer.table(
                "ablations",
                ablation,
                f"{reference} and its ablations, with the paired change in balanced accuracy.",
            )
        )

    imbalance = Section("Imbalance strategies")
    imbalance_table = tables.imbalance_table(metrics)
    if imbalance_table.empty:
        imbalance.skipped = "no pooled results."
    else:
        strategies = sorted(set(predictions["imbalance"].astype(str)))
        imbalance.paragraphs.append(f"Strategies in this run: {', '.join(strategies)}.")
        imbalance.items.append(
            writer.table(
                "imbalance",
                imbalance_table,
                "Configurations grouped by imbalance strategy, with metrics sensitive to rare classes.",
            )
        )

    external = Section("External validation")
    external_table = tables.external_table(metrics, reference=reference)
    if external_table.empty:
        external.skipped = "no `external:<name>` split in the predictions."
        skipped.append("external validation (no external split)")
    else:
        external.items.append(
            writer.table(
                "external",
                external_table,
                "External validation: every fold model predicts the external images.",
            )
        )
        external.items += writer.figure(
            "external_validation",
            "Balanced accuracy out-of-fold (open) and on each external dataset (filled).",
            lambda stem: figures.external_validation(metrics, stem, palette=palette, markers=markers),
        )

    throughput_section = Section("Throughput")
    throughput = load_throughput(root)
    if throughput is None or throughput.empty:
        throughput_section.skipped = "no `throughput.csv` in the run folder (run `sdc-bench throughput`)."
        skipped.append("throughput (throughput.csv)")
    else:
        throughput_section.items.append(
            writer.table(
                "throughput",
                tables.throughput_table(throughput),
                "Throughput per backbone, device, precision and batch size.",
            )
        )
        pareto = writer.figure(
            "pareto_front",
            "Balanced accuracy versus best inference throughput of the backbone on each device; filled points are "
            "Pareto-optimal. Configurations whose backbone was not measured are left out.",
            lambda stem: figures.pareto_front(metrics, throughput, stem, palette=palette, markers=markers),
        )
        throughput_section.items += pareto
        points = figures.pareto_points(metrics, throughput)
        if points.empty:
            throughput_section.paragraphs.append(
                "Pareto front skipped: no measured backbone matches a configuration."
            )
        else:
            labels = configuration_labels(
                sorted({tuple(str(r[c]) for c in CONFIG) for _, r in points.iterrows()})
            )
            for device, group in points[points["optimal"]].groupby("device", sort=False):
                names = [
                    f"{labels[tuple(str(r[c]) for c in CONFIG)]} ({r['score']:.3f} at {r['images_per_s']:.0f} images/s)"
                    for _, r in group.sort_values("images_per_s").iterrows()
                ]
                throughput_section.paragraphs.append(f"Pareto-optimal on {device}: {'; '.join(names)}.")

    search = _search_section(root, writer, skipped, palette, seed)

    training = Section("Training cells")
    cells = load_cells(root)
    if cells:
        training.items.append(
            writer.table(
                "selected_params",
                tables.selected_params_table(cells),
                "Per cell: data sizes, training length and the parameters of the outer-fold fit.",
            )
        )
        training.items += writer.figure(
            "learning_curves",
            "Inner-validation balanced accuracy and loss per epoch, mean over outer folds "
            "(for searched cells, the best inner trial's curve; the refit has no validation split).",
            lambda stem: figures.learning_curves(cells, stem, palette=palette),
        )
    else:
        training.skipped = "no `cells/*.json` records."
        skipped.append("training cells (cells/*.json)")

    sections = [
        _summary_section(run, metrics, comparisons, skipped, reference),
        data,
        _protocol_section(run, splits, n_bootstrap, seed, reference),
        results,
        per_class,
        backbones,
        ablations,
        imbalance,
        external,
        throughput_section,
        search,
        training,
        _environment_section(run),
    ]
    title = f"sdc-bench report: {run.get('run_id', root.name)}"
    writer.written += write_report(root, title, sections)
    return writer.written
