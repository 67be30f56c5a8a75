"""Tests of sdc_bench.reports.tables: content of every table, emphasis, and valid LaTeX."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.reports import table_render
from sdc_bench.reports.comparisons import compare_methods
from sdc_bench.reports.loaders import load_cells
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections import (
    ablations,
    backbones,
    data,
    external,
    imbalance,
    per_class,
    results,
    throughput,
    training,
)
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

REFERENCE = "sdc_dl"  # the proposed method of SPEC (its first)
SPEC = SyntheticRun(
    methods=("sdc_dl", "scratch", "linear_probe", "classical", "sdc_dl_no_aug"),
    backbones=("resnet18", "tf_efficientnet_lite0"),
    n_folds=3,
    n_patients=80,
    optuna=False,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_synthetic_run(tmp_path_factory.mktemp("run"), SPEC)
    predictions = pd.read_parquet(root / "predictions.parquet")
    metrics = compute_metrics(predictions, n_bootstrap=200, seed=0)
    comparisons = compare_methods(
        predictions, reference=REFERENCE, backbone_order=SPEC.backbones, n_bootstrap=200, seed=0
    )
    return {
        "root": root,
        "predictions": predictions,
        "metrics": metrics,
        "comparisons": comparisons,
        "manifest": pd.read_parquet(root / "manifest.parquet"),
        "splits": json.loads((root / "splits.json").read_text()),
        "throughput": pd.read_csv(root / "throughput.csv"),
    }


def all_tables(run: dict) -> dict[str, pd.DataFrame]:
    metrics, comparisons = run["metrics"], run["comparisons"]
    return {
        "main_comparison": results.main_table(metrics, comparisons=comparisons, reference=REFERENCE),
        "per_class": per_class.per_class_table(metrics),
        "per_backbone": backbones.per_backbone_table(metrics, reference=REFERENCE),
        "ablations": ablations.ablation_table(metrics, comparisons, reference=REFERENCE),
        "imbalance": imbalance.imbalance_table(metrics),
        "external": external.external_table(metrics, reference=REFERENCE),
        "fold_summary": results.fold_summary_table(metrics, reference=REFERENCE),
        "comparisons": results.comparisons_table(comparisons),
        "dataset_flow": data.dataset_flow_table(run["manifest"], run["splits"]),
        "throughput": throughput.throughput_table(run["throughput"]),
        "selected_params": training.selected_params_table(load_cells(run["root"])),
    }


def row_of(table: pd.DataFrame, method: str, backbone: str) -> int:
    hits = table.index[(table["Method"] == display_name(method)) & (table["Backbone"] == backbone)]
    assert len(hits) == 1, (method, backbone)
    return int(hits[0])


# --------------------------------------------------------------------------- content


def test_main_table_bolds_the_best_value_in_every_column(run: dict) -> None:
    table = results.main_table(run["metrics"], comparisons=run["comparisons"], reference=REFERENCE)
    assert len(table) == len(run["predictions"][["method", "backbone"]].drop_duplicates())
    assert table["Method"].iloc[0] == "SDC-DL"  # reference first, by its display name
    bold = set(map(tuple, table.attrs["bold"]))
    for title in ("Accuracy", "Balanced accuracy", "AUROC (macro)"):
        values = table[title].str.split(" ").str[0].astype(float)
        best = {int(i) for i in values.index[values == values.max()]}
        assert {r for r, c in bold if c == title} == best
    markdown = table_render.to_markdown(table)
    latex = table_render.to_latex(table)
    best_ba = table.loc[next(r for r, c in bold if c == "Balanced accuracy"), "Balanced accuracy"]
    assert f"**{best_ba}**" in markdown
    assert rf"\textbf{{{best_ba.split(' ')[0]}}}" in latex  # the interval is on the line below


def test_main_table_marks_a_clearly_worse_method(run: dict) -> None:
    table = results.main_table(run["metrics"], comparisons=run["comparisons"], reference=REFERENCE)
    marks = {(r, c) for r, c, _ in table.attrs["marks"]}
    scratch = row_of(table, "scratch", "resnet18")
    assert (scratch, "Accuracy") in marks  # exact McNemar, far worse than SDC-DL
    assert (scratch, "AUROC (macro)") in marks
    assert not any(r == 0 for r, _ in marks)  # the reference is not compared with itself
    line = table_render.to_markdown(table).splitlines()[2 + scratch]
    assert "\\*" in line
    notes = " ".join(table.attrs["notes"])
    assert "McNemar" in notes and "Holm" in notes and "paired patient-level bootstrap" in notes


def test_no_reference_no_marks(run: dict) -> None:
    metrics = run["metrics"][run["metrics"]["method"] != "sdc_dl"]
    table = results.main_table(metrics, comparisons=None, reference=REFERENCE)
    assert table.attrs["marks"] == []
    assert "No significance marks" in " ".join(table.attrs["notes"])


def test_per_class_table_has_one_row_per_class_and_configuration(run: dict) -> None:
    table = per_class.per_class_table(run["metrics"])
    n_configurations = len(run["predictions"][["method", "backbone"]].drop_duplicates())
    assert len(table) == n_configurations * SPEC.n_classes
    assert table["Class"].nunique() == SPEC.n_classes
    assert table.attrs["group"] == "Class"


def test_dataset_flow_counts_match_manifest_and_splits(run: dict) -> None:
    manifest, splits = run["manifest"], run["splits"]
    counts = data.dataset_flow_counts(manifest, splits)
    whole = counts[(counts["outer_fold"] == -1) & (counts["class_name"] == "total")].iloc[0]
    assert whole["n_images"] == len(manifest)
    assert whole["n_patients"] == manifest["patient_id"].nunique()
    by_id = manifest.set_index("sample_id")
    for fold in splits["folds"]:
        for part in ("train", "test"):
            rows = by_id.loc[fold[part]]
            for class_name, group in rows.groupby("label"):
                hit = counts[
                    (counts["outer_fold"] == fold["outer_fold"])
                    & (counts["part"] == part)
                    & (counts["class_name"] == class_name)
                ].iloc[0]
                assert hit["n_images"] == len(group)
                assert hit["n_patients"] == group["patient_id"].nunique()
        train_patients = set(by_id.loc[fold["train"], "patient_id"])
        assert not train_patients & set(by_id.loc[fold["test"], "patient_id"])
    table = data.dataset_flow_table(manifest, splits)
    assert len(table) == 1 + 2 * len(splits["folds"])
    assert table.loc[0, "Total"] == f"{len(manifest)} ({manifest['patient_id'].nunique()})"


def test_ablation_table_lists_sdc_dl_and_its_ablations_per_backbone(run: dict) -> None:
    table = ablations.ablation_table(run["metrics"], run["comparisons"], reference=REFERENCE)
    assert set(table["Method"]) == {"SDC-DL", "SDC-DL (no aug.)"}
    assert len(table) == 2 * len(SPEC.backbones)
    reference_rows = table[table["Method"] == "SDC-DL"]
    assert (reference_rows["Δ balanced accuracy"] == "reference").all()
    ablation = table[table["Method"] == "SDC-DL (no aug.)"]["Δ balanced accuracy"]
    assert ablation.str.startswith("-").all()  # the ablation is worse in the fixture
    no_ablation = run["metrics"][~run["metrics"]["method"].str.startswith("sdc_dl_")]
    assert ablations.ablation_table(no_ablation, None, reference=REFERENCE).empty


def test_imbalance_external_throughput_and_fold_tables(run: dict) -> None:
    metrics = run["metrics"]
    by_strategy = imbalance.imbalance_table(metrics)
    assert list(by_strategy["Imbalance"]) == sorted(by_strategy["Imbalance"])
    assert by_strategy["Worst-class sensitivity"].str.contains(r"\(").all()
    on_sites = external.external_table(metrics, reference=REFERENCE)
    assert set(on_sites["Dataset"]) == {"site_b"}
    assert external.external_table(
        metrics[~metrics["split"].str.startswith("external:")], reference=REFERENCE
    ).empty
    speeds = throughput.throughput_table(run["throughput"])
    assert len(speeds) == int((run["throughput"]["status"] == "ok").sum())
    assert "not measured" in " ".join(speeds.attrs["notes"])
    assert any(c == "Images/s" for _, c in speeds.attrs["bold"])
    folds = results.fold_summary_table(metrics, reference=REFERENCE)
    assert folds["Balanced accuracy"].str.contains("±").all()
    assert (folds["Folds"] == str(SPEC.n_folds)).all()


def test_comparisons_table_is_readable(run: dict) -> None:
    table = results.comparisons_table(run["comparisons"])
    assert len(table) == len(run["comparisons"])
    assert "Reference" in table.columns  # one SDC-DL reference per backbone
    assert {"exact McNemar", "corrected resampled t-test", "paired patient bootstrap"} <= set(table["Test"])
    assert any(c == "p (Holm)" for _, c, _ in table.attrs["marks"])


def test_comparisons_use_the_reference_on_the_same_backbone(run: dict) -> None:
    comparisons = run["comparisons"]
    for row in comparisons.itertuples():
        reference_backbone = row.reference.split("/")[1]
        expected = row.backbone if row.backbone in SPEC.backbones else SPEC.backbones[0]
        assert reference_backbone == expected


def test_markdown_of_a_plain_frame() -> None:
    frame = pd.DataFrame({"a": ["x|y", "1"], "b": [1.5, 2]})
    text = table_render.to_markdown(frame)
    assert text.splitlines()[0] == "| a | b |"
    assert "x\\|y" in text


def test_write_table_writes_three_formats(run: dict, tmp_path: Path) -> None:
    table = results.main_table(run["metrics"], comparisons=run["comparisons"], reference=REFERENCE)
    paths = table_render.write_table(table, tmp_path / "main", caption="Main results")
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex"]
    csv = pd.read_csv(paths[0])
    assert list(csv.columns) == list(table.columns)
    assert csv["Accuracy"].str.endswith("*").any()  # marks survive in the CSV, bold does not
    assert not csv["Accuracy"].str.contains(r"\*\*", regex=True).any()
    assert paths[1].read_text().startswith("Main results")


# --------------------------------------------------------------------------- LaTeX


def _strip_commands(body: str) -> str:
    """Remove escaped characters and commands, leaving the text a reader sees."""
    return re.sub(r"\\[a-zA-Z]+|\\[&%$#_{}]", "", body)


def check_latex(source: str) -> None:
    """Balanced braces and environments; each row has the columns the spec says; specials escaped."""
    depth = 0
    for index, char in enumerate(source):
        if char == "{" and (index == 0 or source[index - 1] != "\\"):
            depth += 1
        elif char == "}" and (index == 0 or source[index - 1] != "\\"):
            depth -= 1
            assert depth >= 0, f"unbalanced '}}' at {index}"
    assert depth == 0, "unbalanced braces"
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+\*?)\}", source):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} without its \\begin"
    assert not stack, f"unclosed environments {stack}"
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in source
    spec = re.search(r"\\begin\{tabular\}\{([lcr]+)\}", source)
    assert spec, "no tabular column spec"
    n_columns = len(spec.group(1))
    # cells may stack an interval under their estimate in a nested tabular: the outer one ends last
    body = source[spec.end() : source.rindex("\\end{tabular}")]
    rows = [line for line in body.splitlines() if line.rstrip().endswith("\\\\")]
    assert rows, "no rows"
    for line in rows:
        unescaped_ampersands = len(re.findall(r"(?<!\\)&", line))
        assert unescaped_ampersands == n_columns - 1, line
        assert not re.search(r"(?<!\\)[_%#]", line), f"unescaped special character in: {line}"
        assert len(re.findall(r"\\begin\{tabular\}", line)) == len(re.findall(r"\\end\{tabular\}", line)), (
            line
        )
    notes = source[source.rindex("\\end{tabular}") :]
    assert not re.search(r"(?<!\\)[_%#&]", notes), "unescaped special character in the notes"


def test_every_table_is_valid_latex(run: dict) -> None:
    for name, table in all_tables(run).items():
        assert not table.empty, name
        check_latex(table_render.to_latex(table, caption=f"{name}: 50% & more_", label=f"tab:{name}"))


def test_latex_escapes_special_characters() -> None:
    frame = pd.DataFrame({"Name_x": ["a_b", "50% & #1", "{x}~^$\\", "Δ ± −"], "Value": ["1", "2", "3", "4"]})
    source = table_render.to_latex(frame, caption="c_d")
    check_latex(source)
    assert r"a\_b" in source and r"50\% \& \#1" in source and r"\{x\}" in source
    assert r"$\Delta$" in source and r"$\pm$" in source


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_pdflatex_compiles_every_table(run: dict, tmp_path: Path) -> None:
    inputs = []
    for name, table in all_tables(run).items():
        table_render.write_table(table, tmp_path / name, caption=f"The {name} table")
        inputs.append(rf"\input{{{name}.tex}}" + "\n\\clearpage")
    document = "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage[landscape,margin=1cm]{geometry}",
            r"\usepackage{booktabs}",
            r"\usepackage{adjustbox}",
            r"\begin{document}",
            *inputs,
            r"\end{document}",
        ]
    )
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 1000
