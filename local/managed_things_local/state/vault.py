"""The state vault: the only local copy of the sensitive properties of the deployed managed things.

Stack snapshots and journals keep the value of each member the service model
marks ``sensitive`` (``sensitive_members()``: AuthenticationMaterial,
SerialNumber, Tags, ...; a nested one too) of a ``Custom::ManagedThing`` as a
reference, ``{"Vault": "sha256:<hex>"}``. The hex is an HMAC-SHA256 of the value
keyed by a random key of this state directory, so a reference reveals nothing,
not even a serial number one could guess and hash. The values and the key are in
``state-vault.jsonl`` (mode 0600, plain text, like ``secrets.json``); whoever loads
the state gets the values back (``reveal``), so rollback, diff and recovery see
exactly what the template had.

Order, so that no crash loses a value: a value is in the vault before any state
file refers to it (``seal``), and is dropped only once no state file refers to it
(``collect``, after the state is saved); a project destroyed leaves no vault.
The callers hold ``lock`` across a seal and the write that follows it, so a
collect never runs between the two.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from managed_things_model.contract import RESOURCE_TYPE

from ..errors import DeployError
from .private_files import append_private, write_private

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = ["REFERENCE", "VAULT_FILE", "StateVault"]

VAULT_FILE = "state-vault.jsonl"
REFERENCE = "Vault"  # {"Vault": "sha256:<hex>"} stands in for a sensitive value
_NOTE = "Sensitive properties of the locally deployed managed things, in plain text. Local development only."
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCES = re.compile(r'"Vault":\s*"(sha256:[0-9a-f]{64})"')  # as json.dumps writes a reference


@dataclass
class _Shared:
    """What every StateVault of one file shares in this process: its lock, and the file as last read."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    stamp: tuple[int, int, int] | None = None  # (inode, size, mtime) of the file the cache was read from
    key: str = ""
    values: dict[str, Any] = field(default_factory=dict)


_SHARED: dict[Path, _Shared] = {}
_SHARED_LOCK = threading.Lock()


class StateVault:
    """``state-vault.jsonl``: the sensitive values the state files refer to, by keyed digest.

    One JSON object a line: ``{"key": ...}`` first, then ``{"ref": ..., "value": ...}``. A value is appended
    (a deploy of a thousand things writes a thousand short lines, not a thousand copies of a growing file);
    ``collect`` rewrites the file with what is still referred to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with _SHARED_LOCK:  # one lock and one cache per file, whichever StateStore of this process uses it
            self._shared = _SHARED.setdefault(path.absolute(), _Shared())
        self.lock = self._shared.lock

    def seal(self, resources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The resources (as the state writes them) with each sensitive property replaced by a reference;
        a value the vault does not hold yet is written to it first."""
        with self.lock:
            key, values = self._load()
            on_file = bool(key)
            key = key or secrets.token_hex(32)  # written with the first value
            found: dict[str, Any] = {}
            sealed = [_seal_resource(dict(resource), bytes.fromhex(key), found) for resource in resources]
            new = {reference: value for reference, value in found.items() if reference not in values}
            if new:
                lines = [] if on_file else [_line({"note": _NOTE, "key": key})]
                if on_file and not _ends_a_line(self.path):
                    lines.append("\n")  # a line cut short by a crash must not swallow the next value
                lines += [_line({"ref": reference, "value": value}) for reference, value in new.items()]
                append_private(self.path, "".join(lines))
                self._remember(key, {**values, **new})
            return sealed

    def reveal(self, resources: Iterable[Mapping[str, Any]], where: Path) -> list[dict[str, Any]]:
        """The resources with every reference replaced by its value (plain values, as an earlier version
        wrote them, pass unchanged); DeployError if the vault lacks one."""
        revealed = [dict(resource) for resource in resources]
        if not any(_REFERENCES.search(json.dumps(r.get("properties"))) for r in revealed):
            return revealed  # nothing to reveal: no need to read the vault
        with self.lock:
            _, values = self._load()
        for resource in revealed:
            label = str(resource.get("logical_id") or "a resource")
            resource["properties"] = _reveal(resource.get("properties"), values, f"{where}: {label}")
        return revealed

    def collect(self, state_files: Iterable[Path]) -> None:
        """Drop the values none of ``state_files`` refers to (the file goes when none is left).

        A state file that cannot be read keeps every value: what it refers to is unknown."""
        with self.lock:
            if not self.path.is_file():
                return
            referenced: set[str] = set()
            try:
                for path in state_files:
                    referenced.update(_REFERENCES.findall(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                return
            key, values = self._load()
            kept = {reference: value for reference, value in values.items() if reference in referenced}
            if not kept:
                self.path.unlink(missing_ok=True)
                self._shared.stamp, self._shared.key, self._shared.values = None, "", {}
            elif len(kept) < len(values):
                lines = [_line({"note": _NOTE, "key": key})]
                lines += [_line({"ref": reference, "value": value}) for reference, value in sorted(kept.items())]
                write_private(self.path, "".join(lines))
                self._remember(key, kept)

    def _load(self) -> tuple[str, dict[str, Any]]:
        """(key, reference -> value) as the file holds them; ("", {}) when there is no file."""
        try:
            stamp = _stamp(self.path)
            if stamp is None:
                return "", {}
            if stamp != self._shared.stamp:
                self._shared.key, self._shared.values = _parse(self.path.read_text(encoding="utf-8"))
                self._shared.stamp = stamp
        except (OSError, UnicodeDecodeError) as error:
            raise DeployError(
                f"The local state vault {self.path} is unreadable ({type(error).__name__}); the sensitive "
                "properties of the deployed things are only there: restore it, or remove the .managed-things "
                "directory (and the things it deployed) to start over"
            ) from None
        return self._shared.key, self._shared.values

    def _remember(self, key: str, values: dict[str, Any]) -> None:
        self._shared.key, self._shared.values, self._shared.stamp = key, values, _stamp(self.path)


def _parse(text: str) -> tuple[str, dict[str, Any]]:
    key, values = "", {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short when the process died: no state file refers to its value
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and not key:
            key = entry["key"]
        elif isinstance(entry, dict) and isinstance(entry.get("ref"), str) and "value" in entry:
            values[entry["ref"]] = entry["value"]
    return key, values


def _ends_a_line(path: Path) -> bool:
    with path.open("rb") as file:
        if file.seek(0, os.SEEK_END) == 0:
            return True
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def _line(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True) + "\n"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def _seal_resource(resource: dict[str, Any], key: bytes, found: dict[str, Any]) -> dict[str, Any]:
    if resource.get("type") == RESOURCE_TYPE and isinstance(resource.get("properties"), Mapping):
        # Imported here: botocore loads once a thing is sealed, not for `managed-things --help` (cli.py)
        from managed_things_model.service_model import input_shape

        resource["properties"] = _seal(input_shape("CreateManagedThing"), resource["properties"], key, found)
    return resource


def _seal(shape: Shape, value: Any, key: bytes, found: dict[str, Any]) -> Any:
    """``value`` with every part the model marks sensitive replaced by a reference (collected in ``found``)."""
    from botocore.model import ListShape, MapShape, StructureShape

    from managed_things_model.service_model import is_sensitive

    if is_sensitive(shape):
        if _is_reference(value):
            return value
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
        reference = "sha256:" + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()
        found[reference] = value
        return {REFERENCE: reference}
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        members = shape.members  # other keys (ServiceToken, the secret's ARN) are not the model's
        return {k: _seal(members[k], v, key, found) if k in members else v for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_seal(shape.member, item, key, found) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        return {k: _seal(shape.value, v, key, found) for k, v in value.items()}
    return value


def _reveal(value: Any, values: Mapping[str, Any], where: str) -> Any:
    if _is_reference(value):
        reference = value[REFERENCE]
        if reference not in values:
            raise DeployError(
                f"{where} refers to a sensitive value that the local state vault does not hold: restore the vault, "
                "or remove the .managed-things directory (and the things it deployed) to start over"
            )
        return values[reference]
    if isinstance(value, Mapping):
        return {k: _reveal(v, values, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(item, values, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _is_reference(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and list(value) == [REFERENCE]
        and isinstance(value[REFERENCE], str)
        and bool(_DIGEST.match(value[REFERENCE]))
    )
