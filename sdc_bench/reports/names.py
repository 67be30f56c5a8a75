"""Display names of methods in tables, figures and prose (the registry keeps the short ids).

The method registry lives in ``zoo/`` (a floor the reports do not import), so a run carries its
methods' names in ``run.json`` (``display_names``, from ``Method.display_name``), and
:func:`run_display_names` makes them win while a run's report is built. Older run folders have none:
the names kept here, keyed by method id, stand in; an unknown method shows its id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

__all__ = ["DISPLAY_NAMES", "display_name", "run_display_names"]

_RUN_NAMES: ContextVar[Mapping[str, str] | None] = ContextVar("run_display_names", default=None)

#: Method id -> the name a reader of the paper sees.
DISPLAY_NAMES: dict[str, str] = {
    "sdc_dl": "SDC-DL",
    "scratch": "Scratch CNN",
    "linear_probe": "Linear probe",
    "finetune_noaug": "Fine-tune (no aug.)",
    "classical": "Classical HOG+LR",
    "sdc_dl_no_aug": "SDC-DL (no aug.)",
    "sdc_dl_no_imbalance": "SDC-DL (no imbalance)",
    "sdc_dl_no_staging": "SDC-DL (no staging)",
    "majority": "Majority class",
    "stratified_random": "Stratified random",
}


def display_name(method: str) -> str:
    """The display name of ``method``, or ``method`` itself when none is declared.

    >>> display_name("sdc_dl"), display_name("my_method")
    ('SDC-DL', 'my_method')
    """
    method = str(method)
    return (_RUN_NAMES.get() or {}).get(method) or DISPLAY_NAMES.get(method, method)


@contextlib.contextmanager
def run_display_names(names: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, :func:`display_name` prefers ``names`` (a run.json ``display_names`` mapping).

    >>> with run_display_names({"sdc_dl": "SDC-DL (ours)"}):
    ...     display_name("sdc_dl")
    'SDC-DL (ours)'
    """
    token = _RUN_NAMES.set(dict(names or {}))
    try:
        yield
    finally:
        _RUN_NAMES.reset(token)
