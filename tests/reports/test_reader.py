"""What a reader of the report objected to: raw method ids, "None" in text, tables wider than the page."""

from __future__ import annotations

import pandas as pd

from sdc_bench.core.run_manifest import RunManifest, example_payload
from sdc_bench.reports.sections import throughput, training
from sdc_bench.reports.sections.environment import environment_of
from sdc_bench.reports.sections.protocol import _training_text
from sdc_bench.reports.table_render import to_html


def test_environment_without_cuda_says_none_not_python_none() -> None:
    payload = example_payload()
    section = environment_of(
        RunManifest.from_json({**payload, "environment": {**payload["environment"], "cuda": None}})
    )
    assert dict(section.facts)["Cuda"] == "none"


def test_training_settings_say_what_a_zero_means() -> None:
    text = _training_text({"max_epochs": 0, "threads": 0, "patience": 3})
    assert text == "max_epochs=each method's own, threads=torch default, patience=3"


def test_long_cells_wrap_instead_of_widening_the_table() -> None:
    table = pd.DataFrame({"Method": ["SDC-DL"], "Parameters": [", ".join(f"p{i}=0.001" for i in range(12))]})
    page = to_html(table)
    assert '<td class="wrap">p0=0.001' in page and "<td>SDC-DL</td>" in page


def test_training_cells_table_shows_display_names() -> None:
    cell = {"cell": {"method": "sdc_dl", "backbone": "resnet18", "outer_fold": 0}, "params": {"lr": 0.1}}
    assert training.selected_params_table([cell])["Method"].tolist() == ["SDC-DL"]


def test_throughput_keeps_a_column_measured_somewhere() -> None:
    base = {"backbone": "r18", "device_name": "X", "mode": "infer", "precision": "fp32", "batch_size": 8,
            "status": "ok", "images_per_s": 10.0, "latency_ms_p50": 100.0, "latency_ms_p95": 110.0}  # fmt: skip
    frame = pd.DataFrame(
        [{**base, "device": "cpu", "peak_mem_mb": 0.0}, {**base, "device": "cuda", "peak_mem_mb": 900.0}]
    )
    table = throughput.throughput_table(frame)
    assert sorted(table["Peak memory (MB)"]) == ["900", "n/a"]
    assert "Peak memory n/a: not measured (CPU)." in table.attrs["notes"][0]
