"""Free-form documents (a capability ``Schema``) as template values, deploy-time values inside them escaped."""

from __future__ import annotations

import uuid
from typing import Any

from aws_cdk import Fn, Token

from managed_things_model.cfn_encoding import document_json

from ._request import is_unresolved


def document_for_template(document: Any) -> Any:
    """A ``Schema`` document as a JSON string; with tokens, an ``Fn::Join`` that escapes their values.

    ``json.dumps`` (like ``Stack.to_json_string``) splices a string token's deploy-time value
    between quotes as it is, so a parameter holding ``"`` or a backslash would make invalid JSON.
    Here each string token is wrapped in ``Fn::Split``/``Fn::Join`` pairs that double its
    backslashes, then escape its quotes, when CloudFormation resolves it (standard intrinsics
    only: no ``AWS::LanguageExtensions`` transform needed). Number tokens are spliced bare.
    """
    if not _has_token(document):
        return document_json(document)
    marker = f"@@cdk-managed-things-{uuid.uuid4().hex}"
    spliced: list[Any] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, dict):
            return {placeholder(key): placeholder(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [placeholder(item) for item in value]
        if _has_token(value):
            spliced.append(value)
            return f"{marker}-{len(spliced) - 1}@@"
        return value

    text = document_json(placeholder(document))
    parts: list[Any] = []
    for index, value in enumerate(spliced):
        quoted = f'"{marker}-{index}@@"'
        before, text = text.split(quoted, 1)
        if isinstance(value, str):
            backslashes_doubled = Fn.join("\\\\", Fn.split("\\", value))
            parts += [before + '"', Fn.join('\\"', Fn.split('"', backslashes_doubled)), '"']
        else:
            parts += [before, Token.as_string(value)]
    parts.append(text)
    return Fn.join("", parts)


def _has_token(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_token(key) or _has_token(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_token(item) for item in value)
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and is_unresolved(value)
