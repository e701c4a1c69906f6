"""The rules a template's tags follow beyond the model's: the provider's keys, and room for its marker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .contract import RESERVED_TAG_PREFIX, RESOURCE_TAG
from .service_model import input_shape
from .validation import Problem


def user_tags_max() -> int:
    """How many tags a template may give a thing: the API's limit less the provider's ``RESOURCE_TAG``."""
    return int(input_shape("CreateManagedThing").members["Tags"].metadata["max"]) - 1


def reserved_tag_problems(tags: Mapping[str, Any]) -> list[Problem]:
    """Keys the provider owns, and one tag too many for the marker (more than the API's limit is the model's check)."""
    problems = []
    if any(isinstance(key, str) and key.startswith(RESERVED_TAG_PREFIX) for key in tags):
        problems.append(Problem("Tags", f"keys starting with {RESERVED_TAG_PREFIX} are reserved for the provider"))
    limit = user_tags_max()
    if limit < len(tags) <= limit + 1:
        problems.append(
            Problem(
                "Tags", f"must have at most {limit} entries (the provider adds {RESOURCE_TAG})", f"{len(tags)} entries"
            )
        )
    return problems
