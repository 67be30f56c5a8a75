"""Name -> spec registries, one pattern for backbones, augmentations, imbalance strategies, methods and features.

An entry is a spec object that carries its own metadata: ``name``, a one-line ``description`` and
``catalog_row()`` (its ``sdc-bench list X --json`` row). The registry reads them off the spec, so adding an
entry is one ``REGISTRY.add(Spec(...))`` and no field is copied by hand. Every registry knows the
``sdc-bench list`` name that shows it, so an unknown name points at a command the CLI accepts.

A registry lives in its concept's subpackage (``zoo/augment/specs.py`` beside the policies) and is read by
``sdc-bench list`` without torch; :func:`lazy_exports` lets that subpackage's face re-export its
torch-using names all the same, each imported on first use.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sdc_bench.core.errors import UnknownNameError

__all__ = ["BUILT_IN", "Listed", "Registry", "RegistrySpec", "lazy_exports", "registering_as"]

#: The origin of an entry the package itself registers (a plugin's entries carry the plugin's name).
BUILT_IN = "sdc_bench"
_origin = [BUILT_IN]  # the origin :meth:`Registry.add` records; :func:`registering_as` sets it


@contextlib.contextmanager
def registering_as(origin: str) -> Iterator[None]:
    """Entries added inside this block are recorded as coming from ``origin`` (a plugin's path or module)."""
    _origin.append(origin)
    try:
        yield
    finally:
        _origin.pop()


_LISTED = 6
"""How many known names an unknown-name error lists; the rest are counted (the list command shows all)."""


class RegistrySpec(Protocol):
    """What a registry needs of an entry."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def catalog_row(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=RegistrySpec)


class Listed:
    """Mixin for spec dataclasses: the catalog row is ``name``, the ``LISTED`` attributes, ``description``.

    ``LISTED`` names what ``sdc-bench list`` shows, in order, so the listing is declared beside the fields.
    """

    name: str
    description: str
    LISTED: ClassVar[tuple[str, ...]] = ()

    def catalog_row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **{key: getattr(self, key) for key in self.LISTED},
            "description": self.description,
        }


class Registry(Generic[S]):
    """A named collection of specs of one kind (e.g. ``"backbone"``), listed by ``sdc-bench list <cli_name>``.

    Registering is one call beside the definition::

        METHODS = Registry[Method]("method", "methods")
        METHODS.add(Method("sdc_dl", "SDC-DL: ...", role="proposed"))
    """

    def __init__(self, kind: str, cli_name: str) -> None:
        self.kind = kind
        self.cli_name = cli_name
        self._specs: dict[str, S] = {}
        self._origins: dict[str, str] = {}

    def add(self, spec: S) -> S:
        """Register ``spec`` under ``spec.name``; returns it, so a module can keep a handle."""
        if not spec.name or not spec.description:
            raise ValueError(f"a {self.kind} needs a name and a one-line description, got {spec!r}")
        if spec.name in self._specs:
            raise ValueError(
                f"{self.kind} {spec.name!r} is registered twice (first by {self.origin(spec.name)})"
            )
        self._specs[spec.name] = spec
        self._origins[spec.name] = _origin[-1]
        return spec

    def remove(self, name: str) -> None:
        """Take ``name`` out (a plugin that failed half-way is undone); absent names are ignored."""
        self._specs.pop(name, None)
        self._origins.pop(name, None)

    def state(self) -> tuple[dict[str, S], dict[str, str]]:
        """A copy of the entries and their origins, for :meth:`restore`."""
        return dict(self._specs), dict(self._origins)

    def restore(self, state: tuple[dict[str, S], dict[str, str]]) -> None:
        """Put back the entries of :meth:`state` (tests that load plugins into one process)."""
        self._specs.clear()
        self._specs.update(state[0])
        self._origins.clear()
        self._origins.update(state[1])

    def origin(self, name: str) -> str:
        """Who registered ``name``: :data:`BUILT_IN`, or the plugin (path or module) that added it."""
        return self._origins.get(name, BUILT_IN)

    def get(self, name: str) -> S:
        try:
            return self._specs[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._specs), n=3)
            names = self.names()
            listed = ", ".join(names[:_LISTED]) + (
                f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
            )
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {listed}"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r:.40}; {hint} (see `sdc-bench list {self.cli_name}`)"
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._specs if fnmatch.fnmatchcase(n, pattern))

    def specs(self) -> list[S]:
        """Every spec, by name."""
        return [self._specs[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._specs)


def lazy_exports(package: str, homes: Mapping[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a package face: each name is imported from its home module on first use.

    A face whose registry must be listed without torch (``sdc-bench list``) imports its torch-free names
    as usual and assigns ``__getattr__ = lazy_exports(__name__, {...})`` for the rest; a
    ``TYPE_CHECKING`` block imports the same names for the type checker.

    Parameters
    ----------
    package : str
        The face's ``__name__``.
    homes : Mapping[str, tuple[str, ...]]
        Submodule name (relative to ``package``) -> the names it exports through the face.

    Returns
    -------
    Callable[[str], Any]
        The ``__getattr__`` (PEP 562) that resolves those names and raises ``AttributeError`` for others.

    Examples
    --------
    >>> getattr_ = lazy_exports("sdc_bench.zoo", {"registry": ("Registry",)})
    >>> getattr_("Registry").__name__
    'Registry'
    """
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home_of[name]}"), name)

    return __getattr__
