"""Shared by the local deploy tests: synthesize small CDK apps, drive the engine through a ``Session`` (or run
the CLI, for what the CLI itself says), read the emulator's things."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before jsii starts: this machine's Node.js 20 is past jsii's support date, and says so at length.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
import canary_scan  # noqa: E402
from canary_scan import SCAN  # noqa: E402

from cdk_managed_things import AuthenticationMaterialType, ManagedThing, Role  # noqa: E402
from managed_things_local.cli import main  # noqa: E402
from managed_things_local.cli.progress import Progress  # noqa: E402
from managed_things_local.cloudformation.stack_events import ResourceEvent  # noqa: E402
from managed_things_local.emulator.server import EmulatorServer  # noqa: E402
from managed_things_local.engine.report import StackReport  # noqa: E402
from managed_things_local.engine.session import OperationResult, Session, SessionOptions  # noqa: E402
from managed_things_local.engine.synthesis import CLI_DEFAULT_CONTEXT  # noqa: E402
from managed_things_model.contract import RESERVED_TAG_PREFIX  # noqa: E402

ZIGBEE = AuthenticationMaterialType.ZIGBEE_QR_BAR_CODE


def material(index: int) -> str:
    return f"Z:00124B00000000{index:02d}$I:A1B2C3D4E5F6A7B8"


# Every sensitive member a thing can have, set to the canary scan's values: none may leave the state vault.
CANARY_ARGUMENTS: dict[str, Any] = {
    "serial_number": canary_scan.SERIAL_NUMBER,
    "brand": canary_scan.BRAND,
    "model": canary_scan.MODEL,
    "owner": canary_scan.OWNER,
    "classification": canary_scan.CLASSIFICATION,
    "tags": dict(canary_scan.TAGS),
}


def device(scope: cdk.Stack, construct_id: str, index: int, **arguments: Any) -> ManagedThing:
    """A DEVICE with the required members and the sensitive ones (``CANARY_ARGUMENTS``), plus ``arguments``."""
    arguments = {"role": Role.DEVICE, **CANARY_ARGUMENTS, **arguments}
    return ManagedThing(
        scope,
        construct_id,
        authentication_material_type=ZIGBEE,
        authentication_material=material(index),
        **arguments,
    )


def synth(outdir: Path, define: Callable[[cdk.App], None], *, cli_context: bool = True) -> Path:
    """Synthesize in-process into ``outdir`` (the same directory each time, as `cdk synth` would)."""
    app = cdk.App(outdir=str(outdir), context=dict(CLI_DEFAULT_CONTEXT) if cli_context else None)
    define(app)
    app.synth()
    return outdir


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def stack(self, name: str) -> dict[str, Any]:
        return next(s for s in self.document["stacks"] if s["stackName"] == name)

    def resource(self, stack: str, path: str) -> dict[str, Any]:
        return next(r for r in self.stack(stack)["resources"] if r["path"] == path)


def run_cli(capsys: Any, *argv: str) -> Run:
    """Run ``managed-things`` in this process and capture what it printed."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    SCAN.output(f"managed-things {' '.join(argv[:1])}", captured.out + captured.err)  # for the canary scan
    return Run(code, captured.out, captured.err)


@dataclass
class Operation:
    """One operation of a ``Session``: its typed result, and what the engine said as it went (the lines
    ``managed-things`` prints on stderr)."""

    result: OperationResult
    output: str

    def stack(self, name: str) -> StackReport:
        return next(r for r in self.result.reports if r.stack_name == name)

    def resource(self, stack: str, path: str) -> ResourceEvent:
        """A resource's last event, by its construct path (or a fleet thing's label)."""
        return next(r for r in self.stack(stack).resources.values() if r.path == path)


def operate(
    cdk_out: Path, command: str, *stacks: str, options: SessionOptions | None = None, **kwargs: Any
) -> Operation:
    """Open a Session on ``cdk_out`` as ``managed-things <command>`` would (an embedded emulator whose things persist
    beside it), run ``command`` (deploy, destroy or rollback) on ``stacks`` with ``kwargs``, and close it."""
    stream = io.StringIO()
    progress = Progress(stream)
    with Session(cdk_out, options, listeners=[progress], lines=progress.line) as session:
        result = getattr(session, command)(stacks, **kwargs)
    progress.close()
    SCAN.output(f"session {command}", stream.getvalue())  # for the canary scan
    return Operation(result, stream.getvalue())


def state_dir(cdk_out: Path) -> Path:
    return cdk_out.parent / ".managed-things"


def emulator_things(cdk_out: Path) -> dict[str, dict[str, Any]]:
    """The things the embedded emulator keeps beside ``cdk_out``, by Id."""
    database = state_dir(cdk_out) / "emulator.sqlite"
    if not database.exists():
        return {}
    server = EmulatorServer(state=database)
    try:
        return {thing["Id"]: thing for thing in server.backend.list_things()}
    finally:
        server.stop()


def template_tags(thing: Mapping[str, Any]) -> dict[str, str]:
    """A thing's tags without the provider's own (``cdk-managed-things:...``, e.g. the resource marker)."""
    return {k: v for k, v in (thing.get("Tags") or {}).items() if not k.startswith(RESERVED_TAG_PREFIX)}


def by_name(things: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {thing.get("Name", ""): thing for thing in things.values()}


@dataclass(frozen=True)
class StackRecord:
    """A stack's record in the state database (``state.sqlite``), as stored: its sensitive values by reference."""

    database: Path
    stack_name: str

    def exists(self) -> bool:
        return self._doc() is not None

    def read_text(self) -> str:
        doc = self._doc()
        if doc is None:
            raise FileNotFoundError(f"no record of {self.stack_name} in {self.database}")
        return doc

    def _doc(self) -> str | None:
        if not self.database.is_file():
            return None
        connection = sqlite3.connect(self.database)
        try:
            row = connection.execute("SELECT doc FROM stacks WHERE name = ?", (self.stack_name,)).fetchone()
        finally:
            connection.close()
        return None if row is None else str(row[0])


def stack_state(cdk_out: Path, stack_name: str) -> StackRecord:
    return StackRecord(state_dir(cdk_out) / "state.sqlite", stack_name)
