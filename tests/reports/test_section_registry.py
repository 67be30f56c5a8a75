"""Tests of the report-section registry (:mod:`sdc_bench.reports.sections`): a section declared in one place
shows up, with its table and prose, in report.md and report.html; every registered section is unique."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.reports.build import build_reports
from sdc_bench.reports.document import Section
from sdc_bench.reports.sections import ReportContext, registered_sections, report_section, unregister_section
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

SMALL = SyntheticRun(
    methods=("sdc_dl", "scratch"),
    backbones=("resnet18",),
    n_folds=2,
    n_patients=30,
    external=False,
    throughput=False,
    optuna=False,
)


@pytest.fixture
def patients_per_method() -> Iterator[None]:
    """A throw-away section, declared here and nowhere else, removed after the test."""

    @report_section("patients_per_method", title="Patients per method", order=145)
    def build(ctx: ReportContext) -> Section:
        section = Section("Patients per method")
        section.paragraphs.append(f"Every method saw {ctx.predictions['patient_id'].nunique()} patients.")
        counts = ctx.predictions.groupby("method", observed=True)["patient_id"].nunique()
        table = pd.DataFrame({"Method": counts.index.astype(str), "Patients": counts.astype(str).to_numpy()})
        section.items.append(ctx.writer.table("patients_per_method", table, "Patients per method."))
        return section

    yield
    unregister_section("patients_per_method")


def test_a_section_declared_in_one_place_is_in_the_report(tmp_path: Path, patients_per_method: None) -> None:
    root = make_synthetic_run(tmp_path / "run", SMALL)
    written = build_reports(root, n_bootstrap=20, seed=0, draw_figures=False)
    assert root / "tables" / "patients_per_method.md" in written
    markdown = (root / "report.md").read_text()
    html = (root / "report.html").read_text()
    assert "\n## Patients per method\n" in markdown and "<h2>Patients per method</h2>" in html
    n_patients = pd.read_parquet(root / "predictions.parquet")["patient_id"].nunique()
    sentence = f"Every method saw {n_patients} patients."
    assert sentence in markdown and sentence in html
    assert "<table>" in html.split("<h2>Patients per method</h2>")[1].split("<h2>")[0]
    # its place: after the error gallery (order 140), before the environment (order 150)
    assert markdown.index("## Confidently wrong cases") < markdown.index("## Patients per method")
    assert markdown.index("## Patients per method") < markdown.index("## Environment")


def test_the_throw_away_section_is_gone_after_its_test() -> None:
    assert "patients_per_method" not in {section.name for section in registered_sections()}


def test_every_registered_section_has_a_unique_name_order_and_title() -> None:
    sections = registered_sections()
    assert len(sections) >= 15
    for attribute in ("name", "order", "title"):
        values = [getattr(section, attribute) for section in sections]
        assert len(values) == len(set(values)), attribute
    assert [s.order for s in sections] == sorted(s.order for s in sections)


def test_a_second_section_of_the_same_name_is_refused() -> None:
    first = registered_sections()[0]
    with pytest.raises(ValueError, match="already registered"):
        report_section(first.name, title="Again", order=999)(first.build)


def test_a_section_that_builds_another_title_is_refused(tmp_path: Path) -> None:
    @report_section("mislabelled", title="Declared", order=146)
    def build(ctx: ReportContext) -> Section:
        return Section("Built")

    try:
        root = make_synthetic_run(tmp_path / "run", SMALL)
        with pytest.raises(ValueError, match="declares the title 'Declared'"):
            build_reports(root, n_bootstrap=20, seed=0, draw_figures=False)
    finally:
        unregister_section("mislabelled")
