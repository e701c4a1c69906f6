"""Move request values through a CloudFormation template and back, driven by the model.

CloudFormation hands every scalar of a custom resource's properties to the
provider as a string, and rejects ``null`` in templates. So a template carries
document members (the free-form capability ``Schema``) JSON-encoded, and the
provider turns strings back into the shape's type: integers, booleans, numbers
and documents. Values that do not convert are left as they are, for validation
to report with their path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

_TRUE, _FALSE = "true", "false"
_INTEGER = re.compile(r"[+-]?[0-9]+")


def document_json(value: Any) -> str:
    """A document as the compact JSON string a template carries."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def encode_for_template(shape: Shape, value: Any, encode_document: Callable[[Any], Any] = document_json) -> Any:
    """Encode the document members of ``value`` as JSON strings, leaving the rest as is.

    ``encode_document`` encodes one document; the construct passes one that also escapes
    deploy-time values (tokens) inside it, which ``json.dumps`` cannot see.
    """
    if value is None:
        return None
    if shape.metadata.get("document"):
        return encode_document(value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: encode_for_template(shape.members[name], item, encode_document) if name in shape.members else item
            for name, item in value.items()
        }
    if kind == "list" and isinstance(value, (list, tuple)):
        return [encode_for_template(shape.member, item, encode_document) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: encode_for_template(shape.value, item, encode_document) for key, item in value.items()}
    return value


def from_cloudformation(shape: Shape, value: Any) -> Any:
    """Convert a value as CloudFormation delivers it back to the type ``shape`` declares."""
    if value is None:
        return None
    if shape.metadata.get("document"):
        return _decode_document(value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: from_cloudformation(shape.members[name], item) if name in shape.members else item
            for name, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [from_cloudformation(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: from_cloudformation(shape.value, item) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    if kind in ("integer", "long"):
        return _to_int(value)
    if kind in ("float", "double"):
        return _to_float(value)
    if kind == "boolean":
        lowered = value.lower()
        return True if lowered == _TRUE else False if lowered == _FALSE else value
    return value


def _decode_document(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # already structured (an in-process caller, not CloudFormation)
    try:
        # strict=False: a deploy-time value spliced into a string may hold a raw newline or tab.
        return json.loads(value, strict=False)
    except ValueError:
        return value


def _to_int(value: str) -> int | str:
    # CloudFormation writes integers as plain decimal digits; int() would also take "1_0".
    text = value.strip()
    return int(text) if _INTEGER.fullmatch(text) else value


def _to_float(value: str) -> float | str:
    try:
        return float(value.strip())
    except ValueError:
        return value
