"""The floors of DESIGN.md hold: import-linter's contracts in pyproject.toml (see docs/architecture.md),
among them the private-modules contract of ``tools/import_contracts.py``, tried here on hand-made import
graphs; and concepts live in folders, not in families of prefixed sibling files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp
from importlinter.domain.contract import ContractCheck

from tools.import_contracts import PrivateModulesContract

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--config",
            "pyproject.toml",
            "--no-cache",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"an import crosses a floor:\n{result.stdout}\n{result.stderr}"


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    """A hand-made import graph of the package ``pkg``: its modules, packages and direct imports."""
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        for module in (importer, imported):
            parts = module.split(".")
            for end in range(1, len(parts) + 1):
                graph.add_module(".".join(parts[:end]))
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents="import x")
    return graph


def _private_contract_check(graph: grimp.ImportGraph) -> ContractCheck:
    contract = PrivateModulesContract(
        name="private", session_options={}, contract_options={"containers": ["pkg"]}
    )
    return contract.check(graph, verbose=False)


def test_private_modules_contract_allows_the_owner_package_and_its_face() -> None:
    graph = _graph(
        ("pkg.reports.rules", "pkg.reports._engine"),  # a sibling module
        ("pkg.reports", "pkg.reports._engine"),  # the package's face re-exports it
        ("pkg.reports._engine", "pkg.reports._helpers"),
        ("pkg.zoo._augment.ops", "pkg.zoo._augment._base"),  # inside a private subpackage
        ("pkg.reports.stats.paired", "pkg.reports"),  # through the face: fine
        ("pkg.reports", "pkg.reports.stats"),  # pkg.reports.stats is a package with children
    )
    check = _private_contract_check(graph)
    assert check.kept, check.metadata


def test_private_modules_contract_flags_an_import_from_another_package() -> None:
    graph = _graph(
        ("pkg.reports.stats.paired", "pkg.reports._engine"),  # a subpackage is another package
        ("pkg.benchmark.kinds.base", "pkg.zoo._registry"),
        ("pkg.benchmark.kinds.base", "pkg.zoo._augment.ops"),  # a module inside a private subpackage
        ("pkg.reports.rules", "pkg.reports._engine"),  # allowed, not reported
    )
    check = _private_contract_check(graph)
    assert not check.kept
    assert [(found.importer, found.imported, found.owner) for found in check.metadata["private_imports"]] == [
        ("pkg.reports.stats.paired", "pkg.reports._engine", "pkg.reports"),
        ("pkg.benchmark.kinds.base", "pkg.zoo._augment.ops", "pkg.zoo"),
        ("pkg.benchmark.kinds.base", "pkg.zoo._registry", "pkg.zoo"),
    ]
    assert all(found.line_numbers == (3,) for found in check.metadata["private_imports"])


def _prefix(stem: str) -> str | None:
    """``_augment_base`` -> ``_augment_``: a module name up to its second underscore (None if it has none)."""
    first = stem.find("_")
    second = stem.find("_", first + 1) if first >= 0 else -1
    return stem[: second + 1] if second > 0 else None


def test_no_family_of_three_sibling_files_shares_a_prefix() -> None:
    """A family of files (``_augment_base.py``, ``_augment_ops.py``, ``_augment_specs.py``) is a concept that
    wants its own subpackage (STYLE.md, "Concepts as folders")."""
    families = []
    for folder in sorted({path.parent for path in (ROOT / "sdc_bench").rglob("*.py")}):
        by_prefix: dict[str, list[str]] = {}
        for path in sorted(folder.glob("*.py")):
            prefix = _prefix(path.stem)
            if prefix is not None and path.stem != "__init__":
                by_prefix.setdefault(prefix, []).append(path.name)
        families += [
            f"{folder.relative_to(ROOT)}/{prefix}*: {', '.join(names)}"
            for prefix, names in by_prefix.items()
            if len(names) >= 3
        ]
    assert not families, "sibling files sharing a prefix (make each family a subpackage):\n" + "\n".join(
        families
    )


def test_the_prefix_is_the_name_up_to_its_second_underscore() -> None:
    assert _prefix("_augment_base") == "_augment_" and _prefix("synth_sites") is None
    assert _prefix("_synth_noise_model") == "_synth_" and _prefix("_registry") is None
    assert _prefix("plot_roc_curve") == "plot_roc_"


def test_docs_architecture_shows_the_current_package_tree() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "package_tree.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
