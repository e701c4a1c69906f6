"""Synthesize a CDK app the way the CDK CLI does: its command run in a shell, with the CLI's context and
environment, into the directory the cloud assembly is then read from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from managed_things_model.contract import APP_ERROR_FILE_VARIABLE

from ..cloudformation.assembly import read_json
from ..errors import DeployError

# jsii's Node.js support warnings: any value silences the deprecation box; the end-of-life one takes major versions.
JSII_QUIET = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
# What the CDK CLI always puts in the app's context: asset metadata is what
# names a function's code directory in the template.
CLI_DEFAULT_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}
APP_ERROR_ADVICE = "Correct the app as each line says, then run again (`cdk synth` shows where in the app it stopped)."


def synthesize(app: str, outdir: Path, cwd: Path) -> None:
    """Run the app command the way the CDK CLI does: a shell command with CDK_OUTDIR and CDK_CONTEXT_JSON set.

    The app's ``ConfigurationError`` (a wrong construct argument or inventory row) is the DeployError's message,
    without the app's traceback; any other failure of the app keeps the output it printed.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="managed-things-app-") as directory:
        error_file = Path(directory) / "configuration-error.txt"
        code = _run_app(app, cwd, outdir, error_file)
        if code != 0 and error_file.is_file():
            raise DeployError(f"{error_file.read_text(encoding='utf-8', errors='replace')}\n{APP_ERROR_ADVICE}")
    if code != 0:
        hint = ": the shell found no such command" if code == 127 else ""
        raise DeployError(f"The app failed: `{app}` exited with code {code}{hint}")
    if not (outdir / "manifest.json").is_file():
        raise DeployError(f"The app `{app}` wrote no cloud assembly to {outdir} (does it call app.synth()?)")


def _run_app(app: str, cwd: Path, outdir: Path, error_file: Path) -> int:
    """Run the app, its output streamed to stderr; its exit code."""
    env = app_environment(os.environ)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(app_context(cwd))
    env[APP_ERROR_FILE_VARIABLE] = str(error_file)  # where the construct library writes a ConfigurationError
    # The app's own output goes to stderr: stdout stays free for the --json document.
    try:
        process = subprocess.Popen(
            app,
            shell=True,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    except OSError as error:
        raise DeployError(f"Cannot run the app `{app}` in {cwd}: {error.strerror or error}") from None
    assert process.stdout is not None
    for line in process.stdout:
        sys.stderr.write(line.decode(errors="replace"))
    sys.stderr.flush()
    return process.wait()


def app_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The app process's environment: this interpreter's scripts first on PATH, and jsii's Node banner off.

    With this Python's bin directory first, cdk.json's ``python3 app.py`` runs the
    interpreter ``managed-things`` runs under (the one with aws_cdk), also when it
    is started as ``.venv/bin/managed-things`` without activating the venv. jsii
    prints a box on every synth when Node.js is past its support date (Node 20 on
    this project's machine); the user's own setting of either variable wins.
    """
    env = dict(environ)
    scripts = str(Path(sys.executable).parent)
    path = env.get("PATH", os.defpath).split(os.pathsep)
    env["PATH"] = os.pathsep.join([scripts, *(entry for entry in path if entry != scripts)])
    for variable, value in JSII_QUIET.items():
        env.setdefault(variable, value)
    return env


def app_context(cwd: Path) -> dict[str, Any]:
    """cdk.json's and cdk.context.json's context, over the CLI's defaults."""
    context: dict[str, Any] = dict(CLI_DEFAULT_CONTEXT)
    for name, key in (("cdk.json", "context"), ("cdk.context.json", None)):
        path = cwd / name
        if path.is_file():
            data = read_json(path)
            context.update((data.get(key) if key else data) or {})
    return context
