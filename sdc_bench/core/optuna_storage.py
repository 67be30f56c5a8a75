"""Optuna storage by scale, from one ``--storage`` value: shared by the sweep (writes) and the report (reads).

- default (no value): SQLite in the run folder (``optuna.db``), one process;
- ``journal:PATH`` (or a ``.log`` path): a JournalStorage file for several processes on one machine;
- ``postgresql://...``: RDB storage for workers on many machines, with heartbeats so a killed worker's
  trial is failed and re-queued (``RetryHeartbeatStaleTrialCallback``).

``run.json`` records the value the run was given (``"storage"``), so the report reads the same storage the
search wrote, whichever engine that was. Optuna is imported inside the functions: the ground floor stays
light to import.

Passwords: a database password is never written (``run.json``, the log, a worker's command line, an error
message). :func:`without_password` is what is stored and passed on; :func:`masked` is what is shown. The
password comes from ``$SDC_BENCH_STORAGE_PASSWORD`` (added by :func:`open_storage`), or from libpq's own
``$PGPASSWORD``, ``~/.pgpass`` or service file, which the PostgreSQL driver reads itself, so a URL without
a password just works when one of those is set. A password typed into ``--storage`` still works: the run
uses it in its own process and hands it to its local workers through their environment.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdc_bench.core.errors import ConfigError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "PASSWORD_ENV",
    "check_storage_spec",
    "close_storage",
    "connection_reason",
    "masked",
    "open_storage",
    "storage_file",
    "storage_password",
    "storage_url",
    "without_password",
]

#: The SQLite file a run without ``--storage`` keeps its studies in, inside the run folder.
DEFAULT_STORAGE_FILE = "optuna.db"
_JOURNAL = "journal:"
_POSTGRESQL = ("postgresql:", "postgresql+psycopg:", "postgresql+psycopg2:")
#: Environment variable a storage password is read from (libpq's ``$PGPASSWORD`` works as well).
PASSWORD_ENV = "SDC_BENCH_STORAGE_PASSWORD"


def _unknown_engine(url: str) -> ConfigError:
    return ConfigError(
        f"--storage {masked(url)!r}: use a .log journal file, journal:PATH, sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def check_storage_spec(spec: str | None) -> None:
    """Refuse a ``--storage`` value that names no engine of this package, before any data is prepared.

    >>> check_storage_spec("runs/a/optuna-journal.log")
    >>> check_storage_spec("mongodb://x")
    Traceback (most recent call last):
    ...
    sdc_bench.core.errors.ConfigError: --storage 'mongodb://x': use a .log journal file, journal:PATH, sqlite:///PATH or postgresql://USER@HOST/DB
    """
    if spec and not spec.endswith(".log") and not spec.startswith((_JOURNAL, "sqlite:", *_POSTGRESQL)):
        raise _unknown_engine(spec)


def _parsed(url: str) -> Any | None:
    """The SQLAlchemy URL of a database storage, or None (a journal file, text that is no URL)."""
    if "://" not in url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def masked(url: str | None) -> str:
    """``url`` to show: its password replaced by ``***``.

    >>> masked("postgresql://u:S3cret@host/db")
    'postgresql://u:***@host/db'
    """
    if not url:
        return str(url)
    parsed = _parsed(url)
    if parsed is None or parsed.password is None:
        return url
    return str(parsed.render_as_string(hide_password=True))


def without_password(url: str | None) -> str | None:
    """``url`` to store or pass on: without its password (which stays in this process only).

    >>> without_password("postgresql://u:S3cret@host/db")
    'postgresql://u@host/db'
    """
    parsed = _parsed(url) if url else None
    if parsed is None or parsed.password is None:
        return url
    return str(parsed._replace(password=None).render_as_string(hide_password=False))


def storage_password(url: str | None) -> str | None:
    """The password written into ``url``, if any (to hand to local workers through their environment)."""
    parsed = _parsed(url) if url else None
    return None if parsed is None or parsed.password is None else str(parsed.password)


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
        If ``url`` names no storage engine this package uses, or its database server cannot be reached.
    """
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
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
        return _open_postgresql(url, create)
    raise _unknown_engine(url)


def _open_postgresql(url: str, create: bool) -> BaseStorage:
    """RDB storage on PostgreSQL; an unreachable server or a missing driver is one line naming the URL."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from sqlalchemy.exc import SQLAlchemyError

    shown = masked(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")  # psycopg 3 driver
    parsed = _parsed(url)
    if parsed is not None and parsed.password is None and os.environ.get(PASSWORD_ENV):
        # Optuna takes the URL as text: render it with the password, in memory only
        url = parsed.set(password=os.environ[PASSWORD_ENV]).render_as_string(hide_password=False)
    try:
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
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"cannot open the Optuna storage {shown}: the PostgreSQL driver {error.name!r} is not installed; "
            "install psycopg (pip install 'psycopg[binary]') or drop --storage for SQLite in the run folder"
        ) from None
    except SQLAlchemyError as error:
        raise ConfigError(
            f"cannot reach the Optuna storage {shown}: {connection_reason(error)}; check the host, port, "
            f"database and user, and the password in ${PASSWORD_ENV}, $PGPASSWORD or ~/.pgpass"
        ) from None


def connection_reason(error: BaseException) -> str:
    """The first line of a database driver's error, without SQLAlchemy's statement and help link."""
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def close_storage(storage: BaseStorage) -> None:
    """Release a storage's database connections (a SQLite file stays locked on some systems otherwise)."""
    from optuna.storages import RDBStorage

    if isinstance(storage, RDBStorage):
        storage.remove_session()
        storage.engine.dispose()
