"""One conformance suite every registry of the zoo passes (the idea of scikit-learn's estimator checks).

Every entry has a name and a one-line description and lists as a row; an unknown name fails with a
hint that names a ``sdc-bench list X`` command the CLI accepts.
"""

from __future__ import annotations

import argparse
import re

import pytest

from sdc_bench.cli import build_parser
from sdc_bench.core.errors import UnknownNameError
from sdc_bench.testing import check_registry
from sdc_bench.zoo.catalog import REGISTRIES, registry


def _list_choices() -> list[str]:
    """The registries ``sdc-bench list`` accepts, read off the parser (not a copy of its list)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listing = commands.choices["list"]
    return list(next(a for a in listing._actions if a.dest == "registry").choices)


@pytest.mark.parametrize("cli_name", list(REGISTRIES))
def test_registry_conforms(cli_name: str) -> None:
    check_registry_conforms(cli_name)


def check_registry_conforms(cli_name: str) -> None:
    """The checks every entry of registry ``cli_name`` passes (also run on throw-away entries by tests): the
    kit's (sdc_bench.testing.check_registry), then what only the package's own registries promise."""
    check_registry(cli_name)
    reg = registry(cli_name)
    assert len(reg) > 0
    with pytest.raises(UnknownNameError) as error:
        reg.get("no_such_entry")
    listed = re.search(r"`sdc-bench list (\S+)`", str(error.value))
    assert listed, str(error.value)
    assert listed.group(1) == cli_name
    assert cli_name in _list_choices()
    with pytest.raises(ValueError, match="registered twice"):
        reg.add(reg.specs()[0])


@pytest.mark.parametrize(
    "cli_name", [n for n in REGISTRIES if n != "backbones"]
)  # backbone rows build models
def test_catalog_row_starts_with_the_name_and_ends_with_the_description(cli_name: str) -> None:
    for spec in registry(cli_name).specs():
        row = spec.catalog_row()
        assert (next(iter(row)), list(row)[-1]) == ("name", "description")
        assert (row["name"], row["description"]) == (spec.name, spec.description)
