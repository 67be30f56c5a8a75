"""Optuna storage by scale, from one ``--storage`` value: shared by the sweep (writes) and the report (reads).

- default (no value): SQLite in the run folder (``optuna.db``), one process;
- ``journal:PATH`` (or a ``.log`` path): a JournalStorage file for several processes on one machine;
- ``postgresql://...``: RDB storage for workers on many machines, with heartbeats so a killed worker's
  trial is failed and re-queued (``RetryHeartbeatStaleTrialCallback``).

``run.json`` records the value the run was given (``"storage"``), so the report reads the same storage the
search wrote, whichever engine that was. Optuna is imported inside the functions: the ground floor stays
light to import.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from sdc_bench.core.errors import ConfigError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

__all__ = ["DEFAULT_STORAGE_FILE", "close_storage", "open_storage", "storage_file", "storage_url"]

#: The SQLite file a run without ``--storage`` keeps its studies in, inside the run folder.
DEFAULT_STORAGE_FILE = "optuna.db"
_JOURNAL = "journal:"
_POSTGRESQL = ("postgresql:", "postgresql+psycopg:", "postgresql+psycopg2:")


def storage_url(spec: str | None, run_dir: Path) -> str:
    """Normalise a ``--storage`` value (or run.json's ``"storage"``) to what :func:`open_storage` takes.

    >>> storage_url(None, Path("/runs/a"))
    'sqlite:////runs/a/optuna.db'
    >>> storage_url("/runs/a/optuna-journal.log", Path("/runs/a"))
    'journal:/runs/a/optuna-journal.log'
    """
    if not spec:
        return f"sqlite:///{(run_dir / DEFAULT_STORAGE_FILE).resolve()}"
    if spec.endswith(".log") and not spec.startswith(_JOURNAL):
        return f"{_JOURNAL}{Path(spec).resolve()}"
    return spec


def storage_file(url: str) -> Path | None:
    """The file a SQLite or journal storage lives in; None for a database server (PostgreSQL).

    >>> storage_file("journal:/runs/a/optuna-journal.log"), storage_file("postgresql://u@host/db")
    (PosixPath('/runs/a/optuna-journal.log'), None)
    """
    if url.startswith(_JOURNAL):
        return Path(url.removeprefix(_JOURNAL))
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None


def open_storage(url: str, *, create: bool = True) -> BaseStorage:
    """The Optuna storage behind ``url``; ``create=False`` opens an existing one to read, creating nothing.

    Raises
    ------
    ConfigError
        If ``url`` names no storage engine this package uses.
    """
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url.startswith(_JOURNAL):
        path = url.removeprefix(_JOURNAL)
        if create:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    if url.startswith("sqlite:"):
        return RDBStorage(
            url, engine_kwargs={"connect_args": {"timeout": 60}}, skip_table_creation=not create
        )
    if url.startswith(_POSTGRESQL):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")  # psycopg 3 driver
        with warnings.catch_warnings():
            # heartbeats and stale-trial retry are "experimental" in Optuna since 2.8; we rely on them
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=5,
                grace_period=20,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
                engine_kwargs={"pool_pre_ping": True},
                skip_table_creation=not create,
            )
    raise ConfigError(
        f"--storage {url!r}: use a .log journal file, journal:PATH, sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def close_storage(storage: BaseStorage) -> None:
    """Release a storage's database connections (a SQLite file stays locked on some systems otherwise)."""
    from optuna.storages import RDBStorage

    if isinstance(storage, RDBStorage):
        storage.remove_session()
        storage.engine.dispose()
