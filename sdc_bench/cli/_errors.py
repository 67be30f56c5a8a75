"""The command line's error boundary: a user's mistake is one line and exit 2, a bug is a traceback and exit 1.

Expected errors: :class:`~sdc_bench.core.errors.SdcBenchError` (its message names the culprit and the
fix), an ``OSError`` on a path the user gave (a file where a folder belongs, no permission, a full disk),
a lost connection to the Optuna database, and Ctrl-C (exit 130: finished cells are kept for ``--resume``).
Anything else is a bug: the traceback is printed with a request to report it.
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback

from sdc_bench import __version__
from sdc_bench.core.errors import SdcBenchError

__all__ = ["EXIT_BUG", "EXIT_INTERRUPTED", "EXIT_USER_ERROR", "report_error"]

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C
_PREFIX = "sdc-bench: error: "


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _resume_hint(args: argparse.Namespace | None) -> str:
    """How to continue: ``run --resume`` with the run folder, for the commands that fill one."""
    if args is None or getattr(args, "command", None) not in ("run", "worker"):
        return ""
    folder = getattr(args, "resume", None) or getattr(args, "out", None) or getattr(args, "run_dir", None)
    return f"continue with sdc-bench run --resume {folder or 'RUN_DIR'}"


def _os_error(error: OSError, args: argparse.Namespace | None) -> str | None:
    """One line for an OSError on a user's path or a full disk; None when it is no such error (a bug)."""
    where = error.filename
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = _resume_hint(args)
        return f"disk full while writing {where or 'a file'} ({reason}); free space there" + (
            f", then {hint}" if hint else ""
        )
    if where is None:
        return None
    fixes = {
        errno.EACCES: "check its permissions or choose another path",
        errno.EPERM: "check its permissions or choose another path",
        errno.EROFS: "it is on a read-only file system; choose another path",
        errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
        errno.EISDIR: "it is a folder where a file was expected; give a file",
        errno.ENOENT: "check the path",
    }
    fix = fixes.get(error.errno or 0, "check the path")
    return f"{where}: {reason}; {fix}"


def _storage_error(error: BaseException, args: argparse.Namespace | None) -> str | None:
    """One line for a database error of the Optuna storage (a server gone, a lost connection)."""
    exc_module = sys.modules.get("sqlalchemy.exc")
    optuna_exceptions = sys.modules.get("optuna.exceptions")
    kinds: tuple[type[BaseException], ...] = ()
    if exc_module is not None:
        kinds += (exc_module.OperationalError, exc_module.InterfaceError)
    if optuna_exceptions is not None:
        kinds += (optuna_exceptions.StorageInternalError,)
    if not kinds or not isinstance(error, kinds):
        return None
    from sdc_bench.core.optuna_storage import connection_reason

    hint = _resume_hint(args) or "run the command again"
    return (
        f"the Optuna storage failed: {connection_reason(error)}; check the database server and the "
        f"connection, then {hint}"
    )


def report_error(error: BaseException, args: argparse.Namespace | None = None) -> int:
    """Print what ``error`` means for the user on stderr and return the exit code."""
    if isinstance(error, KeyboardInterrupt):
        hint = _resume_hint(args)
        print(
            f"sdc-bench: interrupted; finished cells are kept, {hint}" if hint else "sdc-bench: interrupted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    message: str | None = None
    if isinstance(error, SdcBenchError):
        message = str(error)
    elif isinstance(error, OSError):
        message = _os_error(error, args)
    if message is None:
        message = _storage_error(error, args)
    if message is not None:
        print(_PREFIX + _one_line(message), file=sys.stderr)
        return EXIT_USER_ERROR
    traceback.print_exception(error, file=sys.stderr)
    print(
        f"sdc-bench: internal error ({type(error).__name__}); this is a bug in sdc-bench {__version__}: "
        "please report it with the command you ran and the traceback above",
        file=sys.stderr,
    )
    return EXIT_BUG
