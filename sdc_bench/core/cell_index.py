"""The run folder's cell index: which finished cells were written whole, so ``--resume`` need not reread them.

Contract (``cells/index.jsonl`` in a run folder, next to the cells it lists):

* one JSON object per line, ``{"cell": ID, "parquet": [SIZE, MTIME_NS], "json": [SIZE, MTIME_NS]}``: the size
  in bytes and modification time (nanoseconds) of ``cells/ID.parquet`` and ``cells/ID.json`` as they
  were when the cell was written or last read whole;
* a finished cell appends its line (:func:`record_cell`) after both of its files are in place, with one
  ``O_APPEND`` write, so workers finishing cells at once do not overwrite each other's lines; a later line
  for a cell replaces an earlier one; a line that does not parse (a torn write) is ignored;
* ``--resume`` trusts a listed cell when both files still have the recorded size and time and the
  parquet file still starts and ends with its ``PAR1`` magic (:meth:`CellIndex.verified`); any other
  cell (not listed, stale, no index at all: a run folder of an older version or one copied without
  keeping file times) is read whole, exactly as without an index, and an unreadable one is set aside;
* after such a check the index is rewritten atomically with the cells found whole (:func:`index_text`,
  written by :meth:`sdc_bench.core.store.RunStore.set_aside_unreadable_cells`).

The index only ever saves work: deleting it, or any damage to it, makes ``--resume`` read every cell
again. A cell rewritten with the same size and its old modification time put back (``touch -d``) would be
trusted unread; sdc-bench never does that, and the full read is one ``rm cells/index.jsonl`` away.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INDEX_NAME", "CellIndex", "FileStamp", "index_text", "read_index", "record_cell", "stamp"]

INDEX_NAME = "index.jsonl"
"""The index's file name inside ``cells/`` (not ``*.json`` nor ``*.parquet``: never taken for a cell)."""

_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class FileStamp:
    """Size (bytes) and modification time (ns) of one file: what the index checks instead of reading it."""

    size: int
    mtime_ns: int


def stamp(path: Path) -> FileStamp | None:
    """The :class:`FileStamp` of ``path`` now, or ``None`` when it cannot be stat'ed."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return FileStamp(status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class CellIndex:
    """The index read from a run folder: cell id -> the stamps of its parquet and JSON files."""

    entries: dict[str, tuple[FileStamp, FileStamp]]

    def verified(self, cells_dir: Path, cell_id: str) -> tuple[FileStamp, FileStamp] | None:
        """The stamps of a listed cell whose files are unchanged since it was indexed, else ``None``."""
        entry = self.entries.get(cell_id)
        if entry is None:
            return None
        parquet = cells_dir / f"{cell_id}.parquet"
        now = (stamp(parquet), stamp(cells_dir / f"{cell_id}.json"))
        if now != entry or not _has_parquet_magic(parquet, entry[0].size):
            return None
        return entry


def _has_parquet_magic(path: Path, size: int) -> bool:
    """Whether ``path`` starts and ends with ``PAR1`` (two 4-byte reads; a cheap check of a whole file)."""
    if size < 2 * len(_PARQUET_MAGIC):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_PARQUET_MAGIC))
            handle.seek(-len(_PARQUET_MAGIC), os.SEEK_END)
            return head == _PARQUET_MAGIC and handle.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC
    except OSError:
        return False


def _line(cell_id: str, stamps: tuple[FileStamp, FileStamp]) -> str:
    parquet, info = stamps
    return json.dumps(
        {"cell": cell_id, "parquet": [parquet.size, parquet.mtime_ns], "json": [info.size, info.mtime_ns]}
    )


def _entry(text: str) -> tuple[str, tuple[FileStamp, FileStamp]] | None:
    try:
        record = json.loads(text)
        cell_id = record["cell"]
        parquet = FileStamp(*(int(v) for v in record["parquet"]))
        info = FileStamp(*(int(v) for v in record["json"]))
    except (ValueError, TypeError, KeyError):
        return None
    return (cell_id, (parquet, info)) if isinstance(cell_id, str) else None


def read_index(cells_dir: Path) -> CellIndex:
    """The index of ``cells_dir``; empty when it is missing or unreadable, without the lines that do not parse.

    Examples
    --------
    >>> read_index(Path("/nonexistent/cells")).entries
    {}
    """
    try:
        text = (cells_dir / INDEX_NAME).read_text(errors="replace")
    except OSError:
        return CellIndex({})
    entries: dict[str, tuple[FileStamp, FileStamp]] = {}
    for line in text.splitlines():
        entry = _entry(line)
        if entry is not None:
            entries[entry[0]] = entry[1]
    return CellIndex(entries)


def record_cell(cells_dir: Path, cell_id: str) -> None:
    """Append the stamps of a cell just written (both files in place) to the index, in one write.

    A cell whose files cannot be stat'ed is not recorded (``--resume`` then reads it whole); an index that
    cannot be written is left alone for the same reason: the index only saves work.
    """
    parquet, info = stamp(cells_dir / f"{cell_id}.parquet"), stamp(cells_dir / f"{cell_id}.json")
    if parquet is None or info is None:
        return
    data = (_line(cell_id, (parquet, info)) + "\n").encode()
    try:
        descriptor = os.open(cells_dir / INDEX_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError:
        return
    try:
        os.write(descriptor, data)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def index_text(entries: dict[str, tuple[FileStamp, FileStamp]]) -> str:
    """The index file's text for ``entries``, one line per cell in id order."""
    return "".join(_line(cell_id, entries[cell_id]) + "\n" for cell_id in sorted(entries))
