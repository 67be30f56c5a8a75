"""Errors raised inside an Optuna objective reach the caller as they were, without Optuna's log.

Optuna logs every exception an objective raises as "Trial N failed ... because of the following error"
with a traceback, then re-raises it. For a user's mistake (a :class:`SdcBenchError`: one class left in an
inner split, a bad parameter) or a Ctrl-C, that traceback buries the one line the command line prints.
:class:`TrialGuard` wraps the objective: it records the error, lets Optuna mark the trial failed (so a
resumed study drops it), keeps Optuna's failure messages for that trial out of the log, and
:meth:`TrialGuard.reraise` raises the recorded error after ``study.optimize`` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import optuna

__all__ = ["TrialGuard"]

# the logger Optuna's optimize loop reports failed trials on
_OPTIMIZE_LOGGER = "optuna.study._optimize"


class _Recorded(Exception):
    """Stands in for the recorded error inside Optuna, which catches it (``catch``) and goes on."""


class TrialGuard:
    """Wraps one objective; ``catch`` goes to ``study.optimize``; call :meth:`reraise` after it.

    ``passthrough``: exception types Optuna handles itself (e.g. a queue's "nothing left" signal);
    :class:`optuna.TrialPruned` always passes.
    """

    catch: tuple[type[Exception], ...] = (_Recorded,)

    def __init__(self, passthrough: tuple[type[BaseException], ...] = ()) -> None:
        self._passthrough: tuple[type[BaseException], ...] = (optuna.TrialPruned, *passthrough)
        self.error: BaseException | None = None

    def wrap(self, objective: Callable[[optuna.Trial], Any]) -> Callable[[optuna.Trial], Any]:
        def guarded(trial: optuna.Trial) -> Any:
            try:
                return objective(trial)
            except self._passthrough:
                raise
            except (Exception, KeyboardInterrupt) as error:
                self.error = error
                raise _Recorded from None

        return guarded

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Optuna's "Trial N failed" messages stay out of the log once an error is recorded."""
        logger = logging.getLogger(_OPTIMIZE_LOGGER)

        def keep(record: logging.LogRecord) -> bool:
            return self.error is None or " failed " not in record.getMessage()

        logger.addFilter(keep)
        try:
            yield
        finally:
            logger.removeFilter(keep)

    def reraise(self) -> None:
        """Raise the recorded error (with its own traceback), if the objective raised one."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
