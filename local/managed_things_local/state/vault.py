"""The state vault: the sensitive properties of the deployed managed things, kept apart from the records.

The stacks' records and journal entries (``database.py``) keep the value of each
member the service model marks ``sensitive`` (``sensitive_members()``:
AuthenticationMaterial, SerialNumber, Tags, ...; a nested one too) of a
``Custom::ManagedThing`` as a reference, ``{"Vault": "sha256:<hex>"}``. The hex is
an HMAC-SHA256 of the value keyed by a random key of this state directory, so a
reference reveals nothing, not even a serial number one could guess and hash. The
values and the key are in the database's ``sensitive`` and ``settings`` tables: in
plain text (local development only), in the 0600 file. Whoever loads the state gets
the values back (``reveal``), so rollback, diff and recovery see exactly what the
template had.

A value is sealed in the same transaction as the record that refers to it, and
``collect`` (in the transaction that drops or replaces records) deletes the values
no record refers to: a project destroyed leaves no sensitive value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from managed_things_model.contract import RESOURCE_TYPE

from ..errors import DeployError

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = ["REFERENCE", "collect", "reveal", "reveal_from", "seal"]

REFERENCE = "Vault"  # {"Vault": "sha256:<hex>"} stands in for a sensitive value
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCES = re.compile(r'"Vault":\s*"(sha256:[0-9a-f]{64})"')  # as json.dumps writes a reference


def seal(db: sqlite3.Connection, resources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The resources (as the state writes them) with each sensitive property replaced by a reference; the
    values are written to the database in the caller's transaction."""
    key = _key(db)
    found: dict[str, Any] = {}
    sealed = [_seal_resource(dict(resource), bytes.fromhex(key), found) for resource in resources]
    db.executemany(
        "INSERT OR IGNORE INTO sensitive (ref, value) VALUES (?, ?)",
        [(reference, json.dumps(value, sort_keys=True)) for reference, value in found.items()],
    )
    return sealed


def reveal(db: sqlite3.Connection, resources: Iterable[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    """The resources with every reference replaced by its value (plain values, as an earlier version wrote them,
    pass unchanged); DeployError if the database lacks one."""
    resources = list(resources)
    wanted = sorted(set(_REFERENCES.findall(json.dumps([r.get("properties") for r in resources]))))
    rows = db.execute(f"SELECT ref, value FROM sensitive WHERE ref IN ({', '.join('?' * len(wanted))})", wanted)
    return reveal_from({reference: json.loads(value) for reference, value in rows}, resources, where)


def reveal_from(values: Mapping[str, Any], resources: Iterable[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    """``reveal`` with the values given (reference -> value)."""
    revealed = [dict(resource) for resource in resources]
    for resource in revealed:
        label = str(resource.get("logical_id") or "a resource")
        resource["properties"] = _reveal(resource.get("properties"), values, f"{where}: {label}")
    return revealed


def collect(db: sqlite3.Connection) -> None:
    """Delete the values that no stack record and no journal entry refers to (in the caller's transaction)."""
    referenced: set[str] = set()
    for (text,) in db.execute("SELECT doc FROM stacks UNION ALL SELECT entry FROM journal"):
        referenced.update(_REFERENCES.findall(text))
    stored = {reference for (reference,) in db.execute("SELECT ref FROM sensitive")}
    db.executemany("DELETE FROM sensitive WHERE ref = ?", [(reference,) for reference in stored - referenced])


def _key(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM settings WHERE name = 'vault_key'").fetchone()
    if row:
        return str(row[0])
    key = secrets.token_hex(32)
    db.execute("INSERT INTO settings (name, value) VALUES ('vault_key', ?)", (key,))
    return key


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
                f"{where} refers to a sensitive value that the local state vault does not hold: restore state.sqlite, "
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
