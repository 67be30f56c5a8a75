"""Name -> entry registries with metadata, shared by backbones, augmentations, imbalance strategies and methods."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sdc_bench.core.errors import UnknownNameError

__all__ = ["Entry", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object with its name, one-line description and free-form metadata."""

    name: str
    obj: T
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A named collection of entries of one kind (e.g. ``"backbone"``).

    Registering is one decorator call in the file that defines the entry::

        AUGMENTATIONS = Registry[Callable[..., Augmentation]]("augmentation")

        @AUGMENTATIONS.register("basic", description="small rotation/scale/shift")
        def basic(strength: float = 1.0) -> Augmentation: ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str | None = None, *, description: str = "", **metadata: Any
    ) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            key = name or getattr(obj, "__name__", None)
            if not key:
                raise ValueError(f"cannot infer a {self.kind} name for {obj!r}; pass name=")
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            doc = description or (getattr(obj, "__doc__", None) or "").strip().split("\n")[0]
            self._entries[key] = Entry(key, obj, doc, dict(metadata))
            return obj

        return decorator

    def add(self, name: str, obj: T, *, description: str = "", **metadata: Any) -> None:
        """Register ``obj`` under ``name`` without a decorator."""
        self.register(name, description=description, **metadata)(obj)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(self.names())}"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; {hint} (see `sdc-bench list {self.kind}s`)"
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
