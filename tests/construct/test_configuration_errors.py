"""``ConfigurationError`` under ``managed-things``: an uncaught one leaves its message for the CLI, not a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType

import pytest

from cdk_managed_things import ConfigurationError
from cdk_managed_things._errors import report_configuration_errors
from managed_things_model.contract import APP_ERROR_FILE_VARIABLE

Hooked = tuple[type[BaseException], BaseException, TracebackType | None]


@pytest.fixture
def previous_hook(monkeypatch: pytest.MonkeyPatch) -> list[Hooked]:
    """The excepthook in place before the library's: it records what it is given."""
    seen: list[Hooked] = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: seen.append(args))
    return seen


def test_an_uncaught_configuration_error_writes_its_message_and_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous_hook: list[Hooked], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the library loaded by an app that managed-things runs
    error_file = tmp_path / "error.txt"
    monkeypatch.setenv(APP_ERROR_FILE_VARIABLE, str(error_file))
    report_configuration_errors()
    error = ConfigurationError("Invalid ManagedThing:\nHome/Sensor: name must be 1 to 128 characters long")
    # WHEN the error reaches the top
    sys.excepthook(ConfigurationError, error, None)
    # THEN its message is in the file, nothing is printed, and the previous hook is not called
    assert error_file.read_text(encoding="utf-8") == str(error)
    assert capsys.readouterr().err == ""
    assert previous_hook == []


def test_other_errors_and_an_unwritable_file_go_to_the_previous_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous_hook: list[Hooked]
) -> None:
    # GIVEN an error file that cannot be written (its directory does not exist)
    monkeypatch.setenv(APP_ERROR_FILE_VARIABLE, str(tmp_path / "missing" / "error.txt"))
    report_configuration_errors()
    bug, refused = RuntimeError("the app's own bug"), ConfigurationError("Invalid ManagedThing:")
    # WHEN each reaches the top
    sys.excepthook(RuntimeError, bug, None)
    sys.excepthook(ConfigurationError, refused, None)
    # THEN the previous hook shows both (a traceback, as without managed-things)
    assert [args[1] for args in previous_hook] == [bug, refused]


def test_without_managed_things_the_hook_is_pythons(
    monkeypatch: pytest.MonkeyPatch, previous_hook: list[Hooked]
) -> None:
    # GIVEN an app run by `cdk synth` (no error file named)
    monkeypatch.delenv(APP_ERROR_FILE_VARIABLE, raising=False)
    hook = sys.excepthook
    # WHEN the library loads
    report_configuration_errors()
    # THEN the excepthook is left alone, and the error is a ValueError named where the library exports it
    assert sys.excepthook is hook
    assert issubclass(ConfigurationError, ValueError)
    assert (
        f"{ConfigurationError.__module__}.{ConfigurationError.__qualname__}" == "cdk_managed_things.ConfigurationError"
    )
