"""Failure reasons written for a CloudFormation console: short, specific, secret-free."""

from __future__ import annotations

import re
from collections.abc import Iterable

# CloudFormation shows a custom resource's Reason; crhelper keeps only its last
# 256 characters, so reasons are cut here, from the end, keeping what matters.
MAX_REASON_LENGTH = 256
_REDACTED = "***"
_MIN_REDACTED_LENGTH = 3  # shorter values are redacted as whole words only


class ProviderError(Exception):
    """A failure whose message is safe to show and to log, and fits a Reason."""

    def __init__(self, message: str) -> None:
        super().__init__(fit_reason(message))


def fit_reason(text: str, limit: int = MAX_REASON_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_problems(descriptions: list[str], limit: int = MAX_REASON_LENGTH) -> str:
    """Join problem descriptions into one reason, saying how many did not fit."""
    if len(descriptions) == 1:
        return fit_reason(descriptions[0], limit)
    head = f"{len(descriptions)} invalid properties: "
    shown: list[str] = []
    for index, text in enumerate(descriptions):
        rest = len(descriptions) - index - 1
        tail = f"; (+{rest} more)" if rest else ""
        candidate = head + "; ".join([*shown, text]) + tail
        if len(candidate) > limit:
            break
        shown.append(text)
    hidden = len(descriptions) - len(shown)
    if not shown:
        return fit_reason(head + descriptions[0], limit)
    return head + "; ".join(shown) + (f"; (+{hidden} more)" if hidden else "")


def redact(text: str, values: Iterable[str]) -> str:
    """Replace every occurrence of the request's own values in a service message.

    Short values are replaced only where they stand alone, so redacting a
    one-letter value does not mangle every word that contains that letter.
    """
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        if len(value) >= _MIN_REDACTED_LENGTH:
            text = text.replace(value, _REDACTED)
        else:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", _REDACTED, text)
    return text
