"""The rest-json wire format, read and written through the operation's shapes.

Requests: each input member is read from where its ``serialization`` says (URI
label, query string under its wire name, header, or JSON body) and converted to
the member's type; a value that cannot be converted is kept as sent, so
validation reports it. JSON keeps its types (``"10"`` stays a string).
Unknown body members are ignored, as AWS services do; ``null`` means absent.

Responses: output members are written under their wire names; timestamps in
the body are epoch seconds unless the model says otherwise.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from .exceptions import request_error

_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}


def parse_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The request's members by model name, typed as far as the wire allows."""
    shape = operation.input_shape
    if shape is None:
        return {}
    document = _json_body(operation, body)
    payload = shape.serialization.get("payload")
    consumed_query = {m.serialization.get("name", n) for n, m in shape.members.items() if _location(m) == "querystring"}
    request: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        location = _location(member)
        value: Any = None
        if location == "uri" and wire in labels:
            value = from_text(member, labels[wire])
        elif location == "querystring":
            value = _from_query(member, wire, query, consumed_query)
            if value is None and member.type_name == "list" and name in shape.required_members:
                value = []  # the query string cannot say "empty list": no parameter is one
        elif location == "header" and wire in headers:
            value = from_text(member, headers[wire])
        elif location == "headers":
            prefix = wire.lower()
            value = {k[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)} or None
        elif location is None and name == payload:
            value = from_json(member, document) if document is not None else None
        elif location is None and payload is None and isinstance(document, dict) and wire in document:
            value = from_json(member, document[wire])
        if value is not None:
            request[name] = value
    return request


def from_text(shape: Shape, text: str) -> Any:
    """A URI label, query value or header as the shape's type (unchanged if it is not one)."""
    kind = shape.type_name
    if kind in ("integer", "long") and _INTEGER.fullmatch(text):
        return int(text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return _BOOLEANS.get(text.lower(), text)
    return text


def from_json(shape: Shape, value: Any) -> Any:
    """A JSON body value as the shape's members: wire names mapped, unknown members dropped."""
    if value is None or shape.metadata.get("document"):
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if value.get(wire) is not None:
                members[name] = from_json(member, value[wire])
        return members
    if shape.type_name == "list" and isinstance(value, list):
        return [from_json(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: from_json(shape.value, item) for key, item in value.items()}  # type: ignore[attr-defined]
    return value


def serialize_output(operation: OperationModel, output: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body of a successful response, shaped by the output shape."""
    shape = operation.output_shape
    if shape is None:
        return {}, b""
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, member in shape.members.items():
        if output.get(name) is None:
            continue
        wire = member.serialization.get("name", name)
        location = _location(member)
        if location == "header":
            headers[wire] = _header_text(member, output[name])
        elif location is None:
            body[wire] = to_json(member, output[name])
    return headers, json.dumps(body, separators=(",", ":")).encode()


def to_json(shape: Shape, value: Any) -> Any:
    """A stored value as the shape's JSON: only modeled members, timestamps per ``timestampFormat``."""
    if shape.metadata.get("document"):
        return value
    if isinstance(shape, StructureShape):
        return {
            member.serialization.get("name", name): to_json(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if shape.type_name == "list":
        return [to_json(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return {key: to_json(shape.value, item) for key, item in value.items()}  # type: ignore[attr-defined]
    if shape.type_name == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if shape.type_name == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def _json_body(operation: OperationModel, body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise request_error(operation, "The request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise request_error(operation, "The request body must be a JSON object")
    return document


def _from_query(member: Shape, wire: str, query: Mapping[str, list[str]], consumed: set[str]) -> Any:
    if member.type_name == "map":  # every parameter no other member names
        rest = {key: values for key, values in query.items() if key not in consumed}
        if member.value.type_name == "list":  # type: ignore[attr-defined]
            return rest or None
        return {key: values[0] for key, values in rest.items()} or None
    values = query.get(wire)
    if not values:
        return None
    if member.type_name == "list":
        return [from_text(member.member, value) for value in values]  # type: ignore[attr-defined]
    return from_text(member, values[0])


def _location(shape: Shape) -> str | None:
    return shape.serialization.get("location")


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamp(value: Any, timestamp_format: str) -> Any:
    epoch = value.timestamp() if isinstance(value, datetime) else float(value)
    if timestamp_format == "iso8601":
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    if timestamp_format == "rfc822":
        return formatdate(epoch, usegmt=True)
    return epoch
