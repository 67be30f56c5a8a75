from __future__ import annotations

from pathlib import Path

import pytest

from sdc_bench.benchmark.plan import plan_cells
from sdc_bench.benchmark.suite import apply_overrides, builtin_suites, load_suite, proposed_method
from sdc_bench.core.errors import ConfigError, UnknownNameError


def test_builtin_smoke_suite_loads() -> None:
    suite = load_suite("smoke")
    assert "smoke" in builtin_suites()
    assert suite.methods == ("sdc_dl", "scratch")
    assert suite.data.size == 64 and suite.protocol.outer_folds == 2


def test_overrides_with_dotted_keys() -> None:
    suite = apply_overrides(
        load_suite("smoke"), ["data.size=96", "seed=3", "params.sdc_dl.lr=0.0005", "methods=['scratch']"]
    )
    assert suite.data.size == 96 and suite.seed == 3 and suite.methods == ("scratch",)
    assert suite.params["sdc_dl"]["lr"] == 0.0005


@pytest.mark.parametrize(
    ("assignment", "match"),
    [
        ("data.sise=96", "sise"),
        ("data.size=big", r"data\.size=.big. is not a size"),
        ("methods=['nope']", "nope"),
        ("params.sdc_dl.lrr=1", "lrr"),
        ("novalue", "key=value"),
    ],
)
def test_bad_overrides_name_the_key(assignment: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(load_suite("smoke"), [assignment])


def test_unknown_suite_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smoke"):
        load_suite("smok")
    bad = tmp_path / "bad.toml"
    bad.write_text("methods = [")
    with pytest.raises(ConfigError, match="TOML"):
        load_suite(bad)
    unknown = tmp_path / "u.toml"
    unknown.write_text('backbones = ["resnet19"]')
    with pytest.raises(UnknownNameError, match="resnet18"):
        load_suite(unknown)


def test_plan_has_one_cell_per_method_backbone_fold_with_distinct_seeds() -> None:
    suite = load_suite("smoke")
    cells = plan_cells(suite, 2)
    assert len(cells) == 4
    assert len({c.cell_id for c in cells}) == 4
    assert len({c.seed for c in cells}) == 4
    assert plan_cells(suite, 2) == cells


def test_proposed_method_is_the_role_not_the_name() -> None:
    """run.json's reference method: the suite's method with role 'proposed', else its first method."""
    smoke = load_suite("smoke")
    assert proposed_method(smoke) == "sdc_dl"
    assert proposed_method(apply_overrides(smoke, ["methods=['scratch', 'sdc_dl']"])) == "sdc_dl"
    assert proposed_method(apply_overrides(smoke, ["methods=['classical', 'scratch']"])) == "classical"


def test_search_objective_is_validated() -> None:
    """Only balanced accuracy is scored by the fit loop: any other objective is refused, not ignored."""
    with pytest.raises(ConfigError, match=r"search\.objective"):
        apply_overrides(load_suite("smoke"), ["search.objective='auroc'"])


def test_the_cost_estimate_counts_the_real_input_geometry() -> None:
    """The dry run once costed a 96 x 32 x 3-slice input as a 55 px single-channel square."""
    from sdc_bench.benchmark.estimate import _input, forward_gflops

    suite = apply_overrides(load_suite("smoke"), ["data.size=[96, 32]", "data.slices=3"])
    assert _input(suite) == ((96, 32), 3, "96x32 px x 3 slices")
    assert _input(load_suite("smoke"))[0] == 64
    tall = forward_gflops("resnet10t", (96, 32), in_chans=3)
    assert tall > forward_gflops("resnet10t", (96, 32), in_chans=1)  # the first conv sees 3 channels
    assert tall < forward_gflops("resnet10t", 96, in_chans=3)  # a third of the pixels of a 96 px square
