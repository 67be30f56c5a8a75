"""Read a manifest CSV's text: the delimiter it uses, and the file line of every data row.

Comma-separated files are read exactly as :func:`pandas.read_csv` reads them. A file whose
header holds no comma but semicolons, tabs or pipes (spreadsheets in many locales save
``;``-separated "CSV") is read with that delimiter; a file that still has a single column
is refused with a line naming the delimiter problem, because a manifest needs at least a
path and a label column.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from sdc_bench.core.errors import DataError

__all__ = ["read_raw_csv"]

_OTHER_DELIMITERS = (";", "\t", "|")


def _parse(text: str, sep: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)


def _record_lines(text: str) -> list[int]:
    """1-based file line of each data row (the header is line 1 when it is the first line).

    Blank lines are skipped as pandas skips them; a quoted field spanning lines is rare in a
    manifest and would shift the numbers after it.
    """
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return lines[1:]


def _single_column(csv_path: Path, raw: pd.DataFrame) -> DataError:
    name = str(raw.columns[0]) if len(raw.columns) else ""
    return DataError(
        f"{csv_path}: reads as a single column {name[:60]!r}, so the delimiter is not a comma, semicolon "
        "or tab; save it comma-separated with at least a path and a label column, e.g. 'path,label'"
    )


def read_raw_csv(csv_path: Path) -> pd.DataFrame:
    """The CSV as text columns (names stripped); ``attrs["csv_lines"]`` holds each row's file line.

    Raises
    ------
    DataError
        When the file cannot be read or decoded, or has a single column.
    """
    try:
        text = csv_path.read_bytes().decode("utf-8-sig")
        raw = _parse(text, ",")
        if len(raw.columns) == 1:
            header = next((line for line in text.splitlines() if line.strip()), "")
            counts = {sep: header.count(sep) for sep in _OTHER_DELIMITERS}
            best = max(counts, key=lambda sep: counts[sep])
            if counts[best] > 0:
                raw = _parse(text, best)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(
            f"{csv_path}: cannot be read as CSV ({reason}); save it as UTF-8 comma-separated text"
        ) from None
    if len(raw.columns) < 2:
        raise _single_column(csv_path, raw)
    raw.columns = [str(c).strip() for c in raw.columns]
    lines = _record_lines(text)
    raw.attrs["csv_lines"] = lines if len(lines) == len(raw) else [index + 2 for index in range(len(raw))]
    return raw
