"""The CLI sets the OpenMP wait policy and thread count before torch loads, and a user's own value wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sdc_bench.core.openmp import (
    THREAD_VARIABLE,
    WAIT_DEFAULTS,
    WAIT_VARIABLES,
    configure_openmp,
    usable_cores,
)

# Records the OpenMP variables at the moment anything first imports torch, then runs one CLI command that
# loads torch (``throughput`` imports the pipeline before it rejects the output suffix).
_PROBE = """
import importlib.abc, json, os, sys
seen = {}
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" and not seen:
            seen.update({k: os.environ.get(k) for k in NAMES})
        return None
sys.meta_path.insert(0, Hook())
from sdc_bench.cli import main
main(["throughput", "--backbones", "resnet10t", "--out", "not-a-table.txt"])
print(json.dumps(seen))
"""
_NAMES = (*WAIT_VARIABLES, THREAD_VARIABLE)


def _seen_at_torch_import(**user: str) -> dict[str, str | None]:
    env = {k: v for k, v in os.environ.items() if k not in _NAMES} | user
    code = f"NAMES = {_NAMES!r}\n" + _PROBE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    seen: dict[str, str | None] = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen, f"torch was never imported: {out.stderr}"
    return seen


def test_the_cli_sets_the_defaults_before_torch_loads() -> None:
    seen = _seen_at_torch_import()
    for name in WAIT_VARIABLES:
        assert seen[name] == WAIT_DEFAULTS.get(name)
    assert seen[THREAD_VARIABLE] == str(usable_cores())


def test_a_users_own_values_win() -> None:
    seen = _seen_at_torch_import(OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1")
    # the user's wait policy is taken whole: none of ours is mixed in
    assert seen == {**dict.fromkeys(_NAMES), "OMP_WAIT_POLICY": "ACTIVE", THREAD_VARIABLE: "1"}


@pytest.mark.parametrize("name", WAIT_VARIABLES)
def test_any_wait_variable_keeps_the_wait_defaults_out(name: str) -> None:
    environ = {name: "7"}
    added = configure_openmp(environ)
    assert set(added) == {THREAD_VARIABLE} and environ[name] == "7"


def test_an_empty_value_counts_as_unset() -> None:
    environ = {"OMP_WAIT_POLICY": "", THREAD_VARIABLE: ""}
    configure_openmp(environ)
    assert environ[THREAD_VARIABLE] == str(usable_cores())
    assert all(environ[k] == v for k, v in WAIT_DEFAULTS.items())
