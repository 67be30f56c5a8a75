"""Keep a data source inside its folder: manifest rows and symlinks that lead outside it are refused.

A manifest row such as ``../../etc/passwd``, an absolute path elsewhere, or a symlink whose
target lies elsewhere would make a run read (and hash, and cache) files the dataset does not
own. ``data.allow_outside_root = true`` accepts them on purpose.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OUTSIDE_ROOT_FIX", "RootGuard", "is_outside_root"]

OUTSIDE_ROOT_FIX = (
    "move the image below that folder, or set data.allow_outside_root = true in the suite's [data] "
    "table (--set data.allow_outside_root=true)"
)
"""The fix named by every message about a path outside its dataset root."""


def is_outside_root(path: str | Path, root: str | Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies outside ``root`` (also resolved).

    Parameters
    ----------
    path : str or pathlib.Path
        An absolute file path.
    root : str or pathlib.Path
        The dataset's folder.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_outside_root("/data/spine/../../etc/passwd", "/data/spine")
    True
    >>> is_outside_root("/data/spine/normal/a.png", "/data/spine")
    False
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    try:
        return os.path.commonpath([real, real_root]) != real_root
    except ValueError:  # different drives on Windows
        return True


@dataclass(frozen=True)
class RootGuard:
    """:func:`is_outside_root` for many files below one root, resolving each folder once, not each file.

    ``realpath`` of a file is ``realpath`` of its folder joined with its name unless the file itself is a
    symlink, so a guard resolves the root once and each folder once (remembered for the guard's life, one
    listing or one manifest); only symlinked files are resolved in full. Same answers as
    :func:`is_outside_root`, without one ``lstat`` per path component per file.

    Examples
    --------
    >>> guard = RootGuard("/data/spine")
    >>> guard.is_outside("/data/spine/../../etc/passwd"), guard.is_outside("/data/spine/normal/a.png")
    (True, False)
    """

    root: str | Path
    _real_root: str = field(init=False, repr=False)
    _folders: dict[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_root", os.path.realpath(self.root))

    def is_outside(self, path: str | Path) -> bool:
        """Whether ``path`` (absolute), with every symlink resolved, lies outside the guard's root."""
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if name in ("", ".", "..") or os.path.islink(text):
            real = os.path.realpath(text)
        else:
            real_folder = self._folders.get(folder)
            if real_folder is None:
                real_folder = self._folders[folder] = os.path.realpath(folder)
            real = os.path.join(real_folder, name)
        if os.name == "posix":  # both are normalised absolute paths: a prefix test is commonpath's answer
            root = self._real_root
            return not (real == root or real.startswith(root if root.endswith(os.sep) else root + os.sep))
        try:
            return os.path.commonpath([real, self._real_root]) != self._real_root
        except ValueError:  # different drives on Windows
            return True
