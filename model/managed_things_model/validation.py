"""Validate request values against the botocore shapes of the service model.

Every constraint (required members, enums, lengths, list and map sizes, ranges,
patterns) is read from the model; nothing is copied by hand. A problem never
carries a value of a member the model marks ``sensitive``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from .service_model import is_sensitive

# Values the caller cannot know yet (CDK tokens at synth time) are skipped.
SkipPredicate = Callable[[Any], bool]


@dataclass(frozen=True)
class Problem:
    """One invalid value: where it is, what is wrong, and (when not sensitive) what it was."""

    path: str
    message: str
    got: str | None = None

    def describe(self, *, echo_values: bool = True) -> str:
        text = f"{self.path} {self.message}"
        if echo_values and self.got is not None:
            text += f" (got {self.got})"
        return text


class ValidationFailed(ValueError):
    """A request failed validation; ``problems`` lists every invalid value."""

    def __init__(self, problems: list[Problem], *, echo_values: bool = False) -> None:
        self.problems = problems
        super().__init__("; ".join(p.describe(echo_values=echo_values) for p in problems))


def validate(
    shape: Shape,
    value: Any,
    path: str = "",
    *,
    skip: SkipPredicate | None = None,
    sensitive: bool = False,
) -> list[Problem]:
    """Return every problem with ``value`` as an instance of ``shape``."""
    return list(_problems(shape, value, path, skip or _never, sensitive or is_sensitive(shape)))


def _never(_value: Any) -> bool:
    return False


def _problems(shape: Shape, value: Any, path: str, skip: SkipPredicate, sensitive: bool) -> Iterator[Problem]:
    if skip(value):
        return
    kind = shape.type_name
    if shape.metadata.get("document"):
        yield from _document_problems(value, path)
    elif kind == "structure":
        yield from _structure_problems(shape, value, path, skip, sensitive)
    elif kind == "list":
        yield from _list_problems(shape, value, path, skip, sensitive)
    elif kind == "map":
        yield from _map_problems(shape, value, path, skip, sensitive)
    elif kind == "string":
        yield from _string_problems(shape, value, path, sensitive)
    elif kind in ("integer", "long"):
        yield from _number_problems(shape, value, path, sensitive, integral=True)
    elif kind in ("float", "double"):
        yield from _number_problems(shape, value, path, sensitive, integral=False)
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield Problem(path, "must be a boolean", _got(value, sensitive))


def _structure_problems(
    shape: StructureShape, value: Any, path: str, skip: SkipPredicate, sensitive: bool
) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield Problem(path, "must be an object", _got(value, sensitive))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            yield Problem(_join(path, name), "is required")
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            known = ", ".join(shape.members)
            yield Problem(_join(path, name), f"is not a known member (known: {known})")
        elif member_value is not None:
            yield from _problems(member, member_value, _join(path, name), skip, sensitive or is_sensitive(member))


def _list_problems(shape: ListShape, value: Any, path: str, skip: SkipPredicate, sensitive: bool) -> Iterator[Problem]:
    if not isinstance(value, (list, tuple)):
        yield Problem(path, "must be a list", _got(value, sensitive))
        return
    yield from _size_problems(shape, len(value), path, "item")
    for index, item in enumerate(value):
        yield from _problems(shape.member, item, f"{path}[{index}]", skip, sensitive or is_sensitive(shape.member))


def _map_problems(shape: MapShape, value: Any, path: str, skip: SkipPredicate, sensitive: bool) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield Problem(path, "must be a map of strings", _got(value, sensitive))
        return
    yield from _size_problems(shape, len(value), path, "entry")
    for key, item in value.items():
        # A sensitive map's keys are part of the secret: name the map, not the key.
        where = f"{path}[...]" if sensitive else f"{path}[{key!r}]"
        yield from _problems(shape.key, key, f"{where} key", skip, sensitive)
        yield from _problems(shape.value, item, where, skip, sensitive or is_sensitive(shape.value))


def _string_problems(shape: Shape, value: Any, path: str, sensitive: bool) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield Problem(path, "must be a string", _got(value, sensitive))
        return
    if shape.enum:
        if value not in shape.enum:
            yield Problem(path, f"must be one of {', '.join(shape.enum)}", _got(value, sensitive))
        return
    yield from _size_problems(shape, len(value), path, "character")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and value and not compile_pattern(pattern).fullmatch(value):
        yield Problem(path, f"must match the pattern {pattern}", _got(value, sensitive))


def _number_problems(shape: Shape, value: Any, path: str, sensitive: bool, *, integral: bool) -> Iterator[Problem]:
    types: tuple[type, ...] = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, types):
        yield Problem(path, "must be an integer" if integral else "must be a number", _got(value, sensitive))
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            yield Problem(path, f"must be between {low} and {high}", _got(value, sensitive))
        elif low is not None:
            yield Problem(path, f"must be at least {low}", _got(value, sensitive))
        else:
            yield Problem(path, f"must be at most {high}", _got(value, sensitive))


def _size_problems(shape: Shape, size: int, path: str, unit: str) -> Iterator[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        units = "entries" if unit == "entry" else f"{unit}s"
        counted = f"{size} {unit if size == 1 else units}"
        if low is not None and high is not None:
            bounds = f"{low} to {high}"
        elif low is not None:
            bounds = f"at least {low}"
        else:
            bounds = f"at most {high}"
        if unit == "character":
            yield Problem(path, f"must be {bounds} characters long", counted)
        else:
            yield Problem(path, f"must have {bounds} {units}", counted)


def _document_problems(value: Any, path: str) -> Iterator[Problem]:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        yield Problem(path, "must be a JSON document (objects, arrays, strings, numbers, booleans, null)")


def _got(value: Any, sensitive: bool) -> str | None:
    # Only for a value found invalid: showing every value checked would cost a repr each.
    return None if sensitive else show_value(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def show_value(value: Any) -> str:
    """A value as a problem quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# The model's patterns are ECMAScript regular expressions whose outer anchors
# botocore strips. Python's `re` lacks \p{..} and \x{..}; the asset must stay
# pure Python (it is bundled here and runs on any Lambda architecture), so the
# few constructs the model uses are rewritten instead of adding the `regex` C extension.
_CODE_POINT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_CLASS = re.compile(r"\[((?:\\.|[^\]\\])*)\]")
_UNICODE_CLASSES = {r"\p{L}": r"[^\W\d_]", r"\p{N}": r"\d"}


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a service-model pattern for ``fullmatch`` with Python's ``re``."""
    translated = _CODE_POINT.sub(lambda m: f"\\U{int(m.group(1), 16):08x}", pattern)
    translated = _CLASS.sub(_translate_class, translated)
    return re.compile(translated)


def _translate_class(match: re.Match[str]) -> str:
    body = match.group(1)
    found = [cls for cls in _UNICODE_CLASSES if cls in body]
    if not found:
        return match.group(0)
    if body.startswith("^"):
        raise ValueError(f"negated class with Unicode property is not supported: {match.group(0)}")
    if set(found) == {r"\p{L}", r"\p{N}"}:
        alternatives = [r"[^\W_]"]  # letters and numbers: word characters but '_'
    else:
        alternatives = [_UNICODE_CLASSES[cls] for cls in found]
    rest = body
    for cls in found:
        rest = rest.replace(cls, "")
    if rest:
        alternatives.append(f"[{rest}]")
    return "(?:" + "|".join(alternatives) + ")"
