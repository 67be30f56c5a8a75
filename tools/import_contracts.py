"""An import-linter contract type: no package imports another package's ``_private`` modules.

import-linter has no built-in rule for this, so ``pyproject.toml`` registers this one under
``[tool.importlinter] contract_types``. ``lint-imports`` puts the working directory on ``sys.path``,
so it finds this module when run from the repository root. It lives outside ``sdc_bench`` because
it is a check on the package, not part of it (import-linter is a test dependency only).

The rule: a module whose own name starts with one underscore (``_metric_engine``, ``_registry``;
not ``__init__`` or ``__main__``), or any module inside such a subpackage, belongs to its parent
package, the *owner*. Only the owner's own modules (its ``__init__`` included) and the private
module's own subtree may import it; everything else, a subpackage of the owner included, goes
through the owner's public face. So ``sdc_bench.reports.rules`` may import
``sdc_bench.reports._metric_engine``, while ``sdc_bench.reports.stats.paired`` may not.
"""

from __future__ import annotations

from dataclasses import dataclass

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

__all__ = ["PrivateImport", "PrivateModulesContract", "find_private_imports"]


@dataclass(frozen=True)
class PrivateImport:
    """One import of a private module from outside the package that owns it."""

    importer: str
    imported: str
    owner: str
    line_numbers: tuple[int, ...]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_owner(module: str) -> tuple[str, str] | None:
    """``(owner, private root)`` of a private module (``a.b._c.d`` -> ``('a.b', 'a.b._c')``), else None."""
    parts = module.split(".")
    for index, part in enumerate(parts[1:], start=1):
        if _is_private(part):
            return ".".join(parts[:index]), ".".join(parts[: index + 1])
    return None


def _package_of(module: str, graph: ImportGraph) -> str:
    """The package a module's code lives in: itself for a package (its ``__init__``), else its parent."""
    return module if graph.find_children(module) else module.rpartition(".")[0]


def find_private_imports(graph: ImportGraph, containers: set[str]) -> list[PrivateImport]:
    """Every direct import, inside ``containers``, of a private module from outside its owner package."""
    found = []
    for imported in sorted(graph.modules):
        if imported.split(".")[0] not in containers:
            continue
        owned = _private_owner(imported)
        if owned is None:
            continue
        owner, private_root = owned
        for importer in sorted(graph.find_modules_that_directly_import(imported)):
            inside = importer == private_root or importer.startswith(private_root + ".")
            if inside or _package_of(importer, graph) == owner:
                continue
            details = graph.get_import_details(importer=importer, imported=imported)
            lines = tuple(sorted({d["line_number"] for d in details if d.get("line_number") is not None}))
            found.append(PrivateImport(importer, imported, owner, lines))
    return found


class PrivateModulesContract(Contract):
    """Contract type ``private_modules``: the ``containers`` import no other package's private modules.

    Options: ``containers``, the top-level packages to check (``["sdc_bench"]``).
    """

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        containers = {str(name) for name in self.containers}  # type: ignore[attr-defined]
        found = find_private_imports(graph, containers)
        return ContractCheck(kept=not found, metadata={"private_imports": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for found in check.metadata["private_imports"]:
            lines = ", ".join(f"l.{n}" for n in found.line_numbers)
            output.print_error(
                f"{found.importer} imports {found.imported} ({lines}): "
                f"import it through {found.owner}'s public face instead",
                bold=False,
            )
            output.new_line()
