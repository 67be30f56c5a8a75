"""Keep a data source inside its folder: manifest rows and symlinks that lead outside it are refused.

A manifest row such as ``../../etc/passwd``, an absolute path elsewhere, or a symlink whose
target lies elsewhere would make a run read (and hash, and cache) files the dataset does not
own. ``data.allow_outside_root = true`` accepts them on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OUTSIDE_ROOT_FIX", "is_outside_root"]

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
