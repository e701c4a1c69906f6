"""The state vault: the only local copy of the sensitive properties of the deployed managed things.

Stack snapshots and journals keep the value of each member the service model
marks ``sensitive`` (``sensitive_members()``: AuthenticationMaterial,
SerialNumber, Tags, ...; a nested one too) of a ``Custom::ManagedThing`` as a
reference, ``{"Vault": "sha256:<hex>"}``. The hex is an HMAC-SHA256 of the value
keyed by a random key of this state directory, so a reference reveals nothing,
not even a serial number one could guess and hash. The values and the key are in
``state-vault.json`` (mode 0600, plain text, like ``secrets.json``); whoever loads
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
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from managed_things_model.contract import RESOURCE_TYPE
from managed_things_model.service_model import input_shape, is_sensitive

from .errors import DeployError
from .private_files import write_private_json

__all__ = ["REFERENCE", "VAULT_FILE", "StateVault"]

VAULT_FILE = "state-vault.json"
REFERENCE = "Vault"  # {"Vault": "sha256:<hex>"} stands in for a sensitive value
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCES = re.compile(r'"Vault":\s*"(sha256:[0-9a-f]{64})"')  # as json.dumps writes a reference
_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_LOCK = threading.Lock()


class StateVault:
    """``state-vault.json``: the sensitive values the state files refer to, by keyed digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with _LOCKS_LOCK:  # one lock per file, whichever StateStore of this process writes it
            self.lock = _LOCKS.setdefault(path.absolute(), threading.RLock())

    def seal(self, resources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The resources (as the state writes them) with each sensitive property replaced by a reference;
        a value the vault does not hold yet is written to it first."""
        with self.lock:
            document = self._read()
            key = document.get("key") or secrets.token_hex(32)
            found: dict[str, Any] = {}
            sealed = [_seal_resource(dict(resource), bytes.fromhex(key), found) for resource in resources]
            values = dict(document.get("values") or {})
            if any(reference not in values for reference in found):
                self._write(key, {**values, **found})
            return sealed

    def reveal(self, resources: Iterable[Mapping[str, Any]], where: Path) -> list[dict[str, Any]]:
        """The resources with every reference replaced by its value (plain values, as an earlier version
        wrote them, pass unchanged); DeployError if the vault lacks one."""
        revealed = [dict(resource) for resource in resources]
        if not any(_REFERENCES.search(json.dumps(r.get("properties"))) for r in revealed):
            return revealed  # nothing to reveal: no need to read the vault
        with self.lock:
            values = self._read().get("values") or {}
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
            document = self._read()
            values = dict(document.get("values") or {})
            kept = {reference: value for reference, value in values.items() if reference in referenced}
            if not kept:
                self.path.unlink(missing_ok=True)
            elif len(kept) < len(values):
                self._write(str(document["key"]), kept)

    def _read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or not isinstance(document.get("values", {}), dict):
                raise ValueError("not a vault document")
            bytes.fromhex(str(document.get("key") or ""))
            return document
        except (OSError, ValueError) as error:
            raise DeployError(
                f"The local state vault {self.path} is unreadable ({type(error).__name__}); the sensitive properties "
                "of the deployed things are only there: restore it, or remove the .managed-things directory "
                "(and the things it deployed) to start over"
            ) from None

    def _write(self, key: str, values: Mapping[str, Any]) -> None:
        document = {
            "note": "Sensitive properties of the locally deployed managed things, in plain text: the state files "
            "refer to them by keyed digest. Local development only.",
            "key": key,
            "values": dict(sorted(values.items())),
        }
        write_private_json(self.path, document)


def _seal_resource(resource: dict[str, Any], key: bytes, found: dict[str, Any]) -> dict[str, Any]:
    if resource.get("type") == RESOURCE_TYPE and isinstance(resource.get("properties"), Mapping):
        resource["properties"] = _seal(input_shape("CreateManagedThing"), resource["properties"], key, found)
    return resource


def _seal(shape: Shape, value: Any, key: bytes, found: dict[str, Any]) -> Any:
    """``value`` with every part the model marks sensitive replaced by a reference (collected in ``found``)."""
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
