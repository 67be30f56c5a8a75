from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.benchmark.regress import Expected, Tolerance, baseline_from_metrics, compare, load_baseline
from sdc_bench.cli import main
from sdc_bench.errors import DataError


def _metrics(bacc: float = 0.80, brier: float = 0.20) -> pd.DataFrame:
    base = {
        "method": "sdc_dl",
        "backbone": "b",
        "augment": "a",
        "imbalance": "i",
        "split": "test",
        "scope": "pooled",
        "outer_fold": -1,
    }
    rows = [
        {
            **base,
            "metric": "balanced_accuracy",
            "class_name": "overall",
            "value": bacc,
            "ci_low": 0.7,
            "ci_high": 0.9,
        },
        {**base, "metric": "accuracy", "class_name": "overall", "value": 0.85, "ci_low": 0.8, "ci_high": 0.9},
        {**base, "metric": "brier", "class_name": "overall", "value": brier, "ci_low": 0.1, "ci_high": 0.3},
    ]
    return pd.DataFrame(rows)


KEY = ("sdc_dl", "b", "a", "i", "test", "balanced_accuracy", "overall")
BRIER = ("sdc_dl", "b", "a", "i", "test", "brier", "overall")


@pytest.mark.parametrize(
    ("candidate", "status"),
    [(0.80, "ok"), (0.76, "ok"), (0.749, "regressed"), (0.84, "ok"), (0.86, "improved")],
)
def test_absolute_band(candidate: float, status: str) -> None:
    [verdict] = compare([Expected(KEY, 0.80, Tolerance(absolute=0.05))], _metrics(bacc=candidate))
    assert verdict.status == status
    assert verdict.delta == pytest.approx(candidate - 0.80)


def test_relative_band_and_lower_is_better() -> None:
    expected = [Expected(BRIER, 0.20, Tolerance(relative=0.10), higher_is_better=False)]
    assert compare(expected, _metrics(brier=0.215))[0].status == "ok"
    assert compare(expected, _metrics(brier=0.23))[0].status == "regressed"
    assert compare(expected, _metrics(brier=0.17))[0].status == "improved"


def test_missing_metric_fails() -> None:
    [verdict] = compare([Expected(KEY, 0.8, Tolerance(0.05))], _metrics().iloc[1:])
    assert verdict.status == "missing" and verdict.failed


def _run_dir(tmp_path: Path, metrics: pd.DataFrame) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    metrics.to_csv(run / "metrics.csv", index=False)
    (run / "run.json").write_text(json.dumps({"suite": {"name": "unit"}}))
    return run


def test_cli_regress_passes_then_fails_on_a_pushed_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run_dir(tmp_path, _metrics(bacc=0.80))
    baseline = tmp_path / "baseline.json"
    assert (
        main(["regress", str(run), "--baseline", str(baseline), "--update-baseline", "--abs-tol", "0.03"])
        == 0
    )
    payload = json.loads(baseline.read_text())
    assert {e["metric"] for e in payload["metrics"]} == {"accuracy", "balanced_accuracy"}
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 0
    assert "ok:" in capsys.readouterr().out

    pushed = _metrics(bacc=0.80 - 0.031)
    pushed.to_csv(run / "metrics.csv", index=False)
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert "regressed" in out and "REGRESSION" in out

    inside = _metrics(bacc=0.80 - 0.029)
    inside.to_csv(run / "metrics.csv", index=False)
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 0


def test_update_keeps_hand_tuned_tolerances(tmp_path: Path) -> None:
    metrics = _metrics()
    baseline = tmp_path / "b.json"
    payload = baseline_from_metrics(metrics, suite="unit", tolerance=Tolerance(0.05))
    payload["metrics"][0]["tolerance"] = {"abs": 0.2}
    baseline.write_text(json.dumps(payload))
    again = baseline_from_metrics(
        _metrics(bacc=0.7), suite="unit", tolerance=Tolerance(0.05), previous=baseline
    )
    assert again["metrics"][0]["tolerance"] == {"abs": 0.2}
    assert load_baseline(baseline)[0].tolerance == Tolerance(0.2, 0.0)


def test_malformed_baseline_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json"):
        load_baseline(bad)
    with pytest.raises(DataError, match="update-baseline"):
        load_baseline(tmp_path / "absent.json")


def _throughput(lite0: float, resnet: float) -> pd.DataFrame:
    rows = []
    for backbone, speed in (("tf_efficientnet_lite0", lite0), ("resnet18", resnet)):
        for mode, factor in (("infer", 3.0), ("train", 1.0)):
            rows.append(
                {
                    "backbone": backbone,
                    "mode": mode,
                    "images_per_s": speed * factor,
                    "status": "ok",
                    "device": "cpu",
                    "precision": "fp32",
                    "batch_size": 32,
                }
            )
    return pd.DataFrame(rows)


def test_throughput_is_judged_as_a_ratio_to_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run_dir(tmp_path, _metrics())
    (run / "run.json").write_text(
        json.dumps({"suite": {"name": "unit", "throughput": {"reference_backbone": "resnet18"}}})
    )
    _throughput(200.0, 100.0).to_csv(run / "throughput.csv", index=False)
    baseline = tmp_path / "baseline.json"
    assert main(["regress", str(run), "--baseline", str(baseline), "--update-baseline"]) == 0
    section = json.loads(baseline.read_text())["throughput"]
    assert {(r["backbone"], r["mode"]): r["value"] for r in section["ratios"]} == {
        ("tf_efficientnet_lite0", "infer"): 2.0,
        ("tf_efficientnet_lite0", "train"): 2.0,
    }

    _throughput(100.0, 50.0).to_csv(
        run / "throughput.csv", index=False
    )  # a machine half as fast: same ratios
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 0
    _throughput(120.0, 100.0).to_csv(run / "throughput.csv", index=False)  # lite0 alone 40% slower
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 1
    assert "speed_ratio" in capsys.readouterr().out
    (run / "throughput.csv").unlink()
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 1
