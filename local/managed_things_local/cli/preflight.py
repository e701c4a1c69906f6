"""Checks a local deploy or destroy runs before it synthesizes, so a mistake costs a second, not a synth.

Each check raises ``DeployError`` with one line that names the problem and what to do.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from ..cloudformation.assembly import DEFAULT_OUTDIR, cdk_json
from ..cloudformation.stack_states import rollback_options_refusal
from ..errors import DeployError
from ..state.state import STATE_DIR_NAME

# A quick check that something listens, not a health check: loopback answers at once.
CONNECT_TIMEOUT_SECONDS = 2.0
# Below it, Linux lets only root listen; the README's port for an emulator of one's own.
FIRST_UNPRIVILEGED_PORT = 1024
SUGGESTED_PORT = 8765


@dataclass(frozen=True)
class AssemblySource:
    """Where the cloud assembly comes from: ``app`` synthesizes into ``directory``; without ``app``, it is read."""

    directory: Path
    app: str | None = None

    @property
    def state_directory(self) -> Path:
        """The local deploy's state, beside the cloud assembly."""
        return self.directory.parent / STATE_DIR_NAME


def assembly_source(args: argparse.Namespace, cwd: Path) -> AssemblySource:
    """The assembly of --cdk-out, of --app naming an assembly directory, or the app's (cdk.json) synthesized output."""
    if args.cdk_out:
        return AssemblySource(Path(args.cdk_out).resolve())
    settings = cdk_json(cwd)
    app = args.app or settings.get("app")
    if not app:
        raise DeployError("No app to synthesize: run in a CDK app's directory (cdk.json) or pass --app or --cdk-out")
    if os.path.isdir(app) and (Path(app) / "manifest.json").is_file():
        return AssemblySource(Path(app).resolve())  # like the CDK CLI, --app may name an assembly directory
    return AssemblySource((cwd / (args.output or settings.get("output") or DEFAULT_OUTDIR)).resolve(), str(app))


def check(args: argparse.Namespace, cwd: Path) -> AssemblySource:
    """Run every check that needs no cloud assembly; return where the assembly comes from."""
    source = assembly_source(args, cwd)
    check_state_directory(source.state_directory)
    if args.endpoint_url:
        if getattr(args, "rate_limit", None):
            raise DeployError(
                "--rate-limit limits the embedded emulator, not the one at --endpoint-url: start that one with "
                "`managed-things emulator --rate-limit R`, or drop --endpoint-url"
            )
        check_endpoint(args.endpoint_url)
    return source


def check_rollback_options(args: argparse.Namespace) -> None:
    """``rollback --force`` with ``--orphan``: refused before synth, as the CDK CLI refuses it."""
    refusal = rollback_options_refusal(args.orphan, args.force)
    if refusal:
        raise DeployError(refusal)


def check_state_directory(directory: Path) -> None:
    """The state directory (or, before the first deploy, the directory it goes in) must take new files."""
    if directory.exists() and not directory.is_dir():
        raise DeployError(
            f"{directory} is not a directory: the local deploy keeps its state there; move the file away and run again"
        )
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise DeployError(f"{existing} is not a directory: the local deploy's state goes in {directory}")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DeployError(
            f"Cannot write to {existing} ({reason}): the local deploy keeps its state in {directory}; "
            "make it writable (chmod u+w, chattr -i) and run again"
        ) from None


def check_endpoint(url: str) -> None:
    """--endpoint-url must be an http(s) URL where something accepts connections."""
    parts = _endpoint_parts(url)
    host, port = parts.hostname or "", _port(parts, url)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        if FIRST_UNPRIVILEGED_PORT <= port:
            start = f"start one with `managed-things emulator --port {port}`"
        else:  # only root may listen there (and 0 picks a port at random): advise a port anyone may listen on
            start = (
                f"start one with `managed-things emulator --port {SUGGESTED_PORT}` and pass "
                f"--endpoint-url http://{_host_in_url(host)}:{SUGGESTED_PORT}"
            )
        raise DeployError(
            f"No emulator answers at {url} ({reason}): {start}, or leave out --endpoint-url to use an embedded one"
        ) from None


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _endpoint_parts(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        example = f"http://{url}" if "://" not in url else f"http://127.0.0.1:{SUGGESTED_PORT}"
        raise DeployError(f"--endpoint-url {url}: expected a URL like {example}")
    return parts


def _port(parts: SplitResult, url: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise DeployError(f"--endpoint-url {url}: the port must be a number from 0 to 65535") from None
    return port if port is not None else (443 if parts.scheme == "https" else 80)
