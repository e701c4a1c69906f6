"""The emulator's own check of a request against the operation's input shape.

This is deliberately not the shared ``managed_things_model.validation`` that the
construct and the provider use: the emulator stands for the service, so it must
reject what the service rejects even when that validator is wrong. It is a
second, independent reading of the same botocore model:

* each constraint is one small rule over the shape's traits (``required``,
  ``enum``, ``min``/``max`` for lengths, sizes and ranges, ``pattern``);
* patterns run on the ``regex`` library, which reads the model's Unicode classes
  (``\\p{L}``, ``\\p{N}``) natively, where the shared validator rewrites them for
  ``re``: a bug in that rewrite shows up here as a disagreement. Only the code
  point escape ``\\x{hhhh}``, which ``regex`` spells ``\\Uhhhhhhhh``, is respelled.

botocore's ``ParamValidator`` is not used: it is the client's check (it takes
``True`` for an integer and knows no maximum, enum or pattern), and its report
quotes every value, sensitive ones included.

The message is the emulator's ``ValidationException`` text, pinned by the golden
cases in ``tests/emulator``: ``N validation error(s) detected: <path> <problem>``,
problems joined by ``; ``, a value shown as ``(got ...)`` only where the model does
not mark it (or what contains it) sensitive.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

_SHOWN_LENGTH = 40

# JSON types per model type (a JSON true is no integer, whatever Python thinks of bool).
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "structure": ((dict,), "must be an object"),
    "map": ((dict,), "must be a map of strings"),
    "list": ((list, tuple), "must be a list"),
    "string": ((str,), "must be a string"),
    "integer": ((int,), "must be an integer"),
    "long": ((int,), "must be an integer"),
    "float": ((int, float), "must be a number"),
    "double": ((int, float), "must be a number"),
    "boolean": ((bool,), "must be a boolean"),
}


@dataclass(frozen=True)
class Violation:
    """One constraint a request value breaks."""

    path: str
    problem: str
    shown: str | None = None  # the value (or its size) to quote; None where it must not be shown

    def __str__(self) -> str:
        return f"{self.path} {self.problem}" + (f" (got {self.shown})" if self.shown is not None else "")


def violations(shape: Shape, value: Any, path: str = "") -> list[Violation]:
    """Every constraint of ``shape`` that ``value`` breaks: required members first, then members as given."""
    return list(_walk(shape, value, path, _sensitive(shape)))


def message(found: list[Violation]) -> str:
    """The ValidationException message for ``found`` (not empty)."""
    count = len(found)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(map(str, found))


def _walk(shape: Shape, value: Any, path: str, secret: bool) -> Iterator[Violation]:
    if shape.metadata.get("document"):
        if not _is_json(value):
            yield Violation(path, "must be a JSON document (objects, arrays, strings, numbers, booleans, null)")
        return
    if not _has_type(shape, value):
        yield Violation(path, _TYPES[shape.type_name][1], None if secret else _show(value))
        return
    for rule in _RULES.get(shape.type_name, ()):
        found = rule(shape, value)
        if found is not None:
            problem, shown = found
            yield Violation(path, problem, None if secret and shown == _VALUE else _shown(shown, value))
    if isinstance(shape, StructureShape):
        yield from _members(shape, value, path, secret)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value):
            yield from _walk(shape.member, item, f"{path}[{index}]", secret or _sensitive(shape.member))
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            where = f"{path}[...]" if secret else f"{path}[{key!r}]"
            yield from _walk(shape.key, key, f"{where} key", secret)
            yield from _walk(shape.value, item, where, secret or _sensitive(shape.value))


def _has_type(shape: Shape, value: Any) -> bool:
    """Whether ``value`` has the JSON type of ``shape`` (types the emulator does not serve pass)."""
    if shape.type_name not in _TYPES:
        return True
    types = _TYPES[shape.type_name][0]
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _members(shape: StructureShape, value: Mapping[str, Any], path: str, secret: bool) -> Iterator[Violation]:
    members = shape.members
    for name in shape.metadata.get("required", ()):
        if value.get(name) is None:
            yield Violation(_join(path, name), "is required")
    for name, item in value.items():
        if name not in members:
            yield Violation(_join(path, name), f"is not a known member (known: {', '.join(members)})")
        elif item is not None:
            yield from _walk(members[name], item, _join(path, name), secret or _sensitive(members[name]))


# -- the rules: each answers (problem, what to quote) or None -------------------------------------------

_VALUE = "value"  # quote the value itself (hidden where sensitive); any other text is quoted as is
Rule = Callable[[Shape, Any], "tuple[str, str] | None"]


def _enum(shape: Shape, value: str) -> tuple[str, str] | None:
    allowed = shape.metadata.get("enum")
    return (f"must be one of {', '.join(allowed)}", _VALUE) if allowed and value not in allowed else None


def _length(shape: Shape, value: str) -> tuple[str, str] | None:
    if shape.metadata.get("enum"):
        return None  # an enum value is judged by the enum alone
    bounds = _outside(shape, len(value))
    if bounds is None:
        return None
    return f"must be {bounds} characters long", _count(len(value), "character", "characters")


def _pattern(shape: Shape, value: str) -> tuple[str, str] | None:
    pattern = shape.metadata.get("pattern")
    if pattern is None or shape.metadata.get("enum") or not value:
        return None
    return None if _compiled(pattern).fullmatch(value) else (f"must match the pattern {pattern}", _VALUE)


def _size(unit: str, units: str) -> Rule:
    def rule(shape: Shape, value: Any) -> tuple[str, str] | None:
        bounds = _outside(shape, len(value))
        return None if bounds is None else (f"must have {bounds} {units}", _count(len(value), unit, units))

    return rule


def _range(shape: Shape, value: float) -> tuple[str, str] | None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    if low is not None and high is not None:
        return f"must be between {low} and {high}", _VALUE
    return (f"must be at least {low}", _VALUE) if low is not None else (f"must be at most {high}", _VALUE)


_RULES: dict[str, tuple[Rule, ...]] = {
    "string": (_enum, _length, _pattern),
    "list": (_size("item", "items"),),
    "map": (_size("entry", "entries"),),
    "integer": (_range,),
    "long": (_range,),
    "float": (_range,),
    "double": (_range,),
}


def _outside(shape: Shape, size: int) -> str | None:
    """The allowed bounds, worded, when ``size`` is outside them."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is None or size >= low) and (high is None or size <= high):
        return None
    if low is not None and high is not None:
        return f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


_CODE_POINT = regex.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


@functools.cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(_CODE_POINT.sub(lambda found: f"\\U{int(found.group(1), 16):08x}", pattern))


def _sensitive(shape: Shape) -> bool:
    return bool(shape.metadata.get("sensitive"))


def _count(size: int, unit: str, units: str) -> str:
    return f"{size} {unit if size == 1 else units}"


def _shown(shown: str, value: Any) -> str:
    return _show(value) if shown == _VALUE else shown


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
