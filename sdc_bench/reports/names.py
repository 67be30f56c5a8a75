"""Display names of methods in tables, figures and prose (the registry keeps the short ids).

The method registry lives in ``zoo/`` (a floor the reports do not import), so the names are kept
here, keyed by method id; an unknown method shows its id.
"""

from __future__ import annotations

__all__ = ["DISPLAY_NAMES", "display_name"]

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
    return DISPLAY_NAMES.get(str(method), str(method))
