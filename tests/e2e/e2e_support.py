"""Shared by the end-to-end tests: fresh virtual environments and subprocesses outside the repository.

Every environment these tests create lives under pytest's temporary directory
(outside the repository), is built from the base interpreter (not the
repository's venv), and is removed with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables that would let a subprocess see the repository's venv or sources,
# or the developer's own AWS configuration.
_LEAKY_PREFIXES = ("PYTHON", "VIRTUAL_ENV", "CONDA_", "__PYVENV", "AWS_", "CDK_")

# A guard against a hung subprocess, not a measurement: nothing asserts on time.
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 300


def isolated_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without anything Python- or AWS-specific, plus ``extra``.

    What remains (PATH, HOME, the machine's pip and certificate settings) lets pip
    reach the package registries; PYTHONNOUSERSITE keeps ~/.local out of sys.path.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(_LEAKY_PREFIXES)}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra or {})
    return env


def run(
    command: Sequence[str | os.PathLike[str]], *, timeout: float = RUN_TIMEOUT, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it exits non-zero."""
    kwargs.setdefault("env", isolated_env())
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
        )
    return result


def create_venv(path: Path) -> Path:
    """A new venv at ``path`` (outside the repository) from the base interpreter; returns its python."""
    assert not path.resolve().is_relative_to(REPO_ROOT), f"{path} must be outside the repository"
    # Run from the repository's venv, `-m venv` still bases the new one on the base
    # interpreter (sys._base_executable) and does not include the venv's site-packages.
    run([sys.executable, "-m", "venv", path])
    python = path / "bin" / "python"
    assert python.exists(), f"no interpreter in {path}"
    return python


def pip_install(python: Path, *requirements: str | os.PathLike[str]) -> None:
    run(
        [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", *requirements],
        timeout=INSTALL_TIMEOUT,
    )


def site_packages(python: Path) -> Path:
    out = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout
    return Path(out.strip())
