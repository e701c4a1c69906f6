"""The library's error for a wrong construct argument or inventory, and how ``managed-things`` shows it.

Run by ``cdk synth``, an app that fails with a ``ConfigurationError`` shows Python's traceback, the message last.
Run by ``managed-things deploy|diff`` (which sets ``APP_ERROR_FILE_VARIABLE``), the message is written to that file
instead of the traceback, and the CLI shows it as its one error: a mistake in the app's constructs is not a crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from managed_things_model.contract import APP_ERROR_FILE_VARIABLE


class ConfigurationError(ValueError):
    """A construct's arguments or a fleet's inventory are wrong: the message says what and where, a problem a line.

    A ``ValueError``: ``except ValueError`` catches it as before.
    """


# Tracebacks and messages name the class where the library exports it, not this private module.
ConfigurationError.__module__ = "cdk_managed_things"


def report_configuration_errors() -> None:
    """Under ``managed-things``, an uncaught ``ConfigurationError`` writes its message to the file it names.

    Python calls ``sys.excepthook`` for an exception nothing caught, then exits with status 1
    (https://docs.python.org/3/library/sys.html#sys.excepthook): the app still fails, quietly. Any other
    exception goes to the hook that was there before.
    """
    path = os.environ.get(APP_ERROR_FILE_VARIABLE)
    if not path:
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        if isinstance(error, ConfigurationError):
            try:
                Path(path).write_text(str(error), encoding="utf-8")
                return
            except OSError:
                pass  # the traceback, then
        previous(kind, error, traceback)

    sys.excepthook = hook
