"""The cell index: ``--resume`` trusts indexed cells with unchanged files and reads every other one whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.core import cell_index
from sdc_bench.core.store import RunStore

_ROWS = pd.DataFrame({"sample_id": ["a", "b"], "y_true": ["x", "y"], "y_pred": ["x", "x"], "p_x": [0.9, 0.6]})


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "run")
    for cell in ("m__b__s0__f0", "m__b__s0__f1", "m__b__s0__f2"):
        store.write_cell(cell, _ROWS, {"seconds": 1.0})
    return store


def test_a_written_cell_is_indexed_with_its_file_sizes(store: RunStore) -> None:
    index = cell_index.read_index(store.cells_dir)
    assert sorted(index.entries) == ["m__b__s0__f0", "m__b__s0__f1", "m__b__s0__f2"]
    parquet, info = index.entries["m__b__s0__f1"]
    assert parquet.size == store.cell_path("m__b__s0__f1").stat().st_size
    assert info.size == (store.cells_dir / "m__b__s0__f1.json").stat().st_size
    assert index.verified(store.cells_dir, "m__b__s0__f1") == (parquet, info)


def test_indexed_unchanged_cells_are_not_read(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("an indexed, unchanged cell was read")

    monkeypatch.setattr(pd, "read_parquet", no_read)
    assert store.set_aside_unreadable_cells() == []


def test_a_truncated_cell_is_set_aside_although_indexed(store: RunStore) -> None:
    cell = store.cell_path("m__b__s0__f0")
    cell.write_bytes(cell.read_bytes()[:50])
    lines = store.set_aside_unreadable_cells()
    assert len(lines) == 1 and lines[0].startswith("cell m__b__s0__f0: ")
    assert (cell.parent / (cell.name + ".corrupt")).is_file() and not cell.exists()
    assert sorted(cell_index.read_index(store.cells_dir).entries) == ["m__b__s0__f1", "m__b__s0__f2"]


def test_same_size_garbage_with_the_old_time_fails_the_magic_check(store: RunStore) -> None:
    cell = store.cell_path("m__b__s0__f2")
    before = cell.stat()
    cell.write_bytes(b"\0" * before.st_size)
    os.utime(cell, ns=(before.st_atime_ns, before.st_mtime_ns))
    lines = store.set_aside_unreadable_cells()
    assert [line.split(":")[0] for line in lines] == ["cell m__b__s0__f2"]


def test_without_an_index_every_cell_is_read_and_the_index_rebuilt(store: RunStore) -> None:
    store.cell_index_path.unlink()
    bad = store.cells_dir / "m__b__s0__f1.json"
    bad.write_text("{not json")
    lines = store.set_aside_unreadable_cells()
    assert [line.split(":")[0] for line in lines] == ["cell m__b__s0__f1"]
    assert sorted(cell_index.read_index(store.cells_dir).entries) == ["m__b__s0__f0", "m__b__s0__f2"]


def test_a_damaged_index_line_is_ignored_and_a_copy_keeps_the_index(store: RunStore, tmp_path: Path) -> None:
    with store.cell_index_path.open("a") as handle:
        handle.write('{"cell": "m__b__s0__f0", "parq')  # a torn write
    copy = RunStore(tmp_path / "copy")
    shutil.copytree(store.root, copy.root)  # copy2 keeps modification times
    assert sorted(cell_index.read_index(copy.cells_dir).entries) == [
        "m__b__s0__f0",
        "m__b__s0__f1",
        "m__b__s0__f2",
    ]
    assert copy.set_aside_unreadable_cells() == []
    assert cell_index.read_index(copy.cells_dir).verified(copy.cells_dir, "m__b__s0__f0") is not None
