"""Fleet inventories: one ``CreateManagedThing`` request per row, read from a file or a list, checked at synth.

An inventory lists the things of a ``ManagedThingFleet``, one row per thing. A row holds the
members of ``CreateManagedThing`` exactly as boto3 names them (``Role``, ``SerialNumber``,
``WiFiSimpleSetupConfiguration``, ...): a row is what ``client.create_managed_thing(**row)``
takes, except ``ClientToken``, which the provider derives per request.

Formats, chosen by the file's suffix (a relative path resolves against the current directory,
the project root of a CDK app; messages show the path as given):

- ``.csv``: the header row names the members, one per column. A cell of a structured member
  (every member the service model declares as a structure, list or map: today
  ``WiFiSimpleSetupConfiguration``, ``CapabilityReport``, ``CapabilitySchemas``, ``Tags``,
  ``MetaData``) holds JSON text, e.g. ``{"TimeoutInMinutes": 10}``. Other cells are text,
  converted to the member's type when the model says integer, number or boolean. An empty cell
  means "not set". Quoted cells may span lines; a record is located by its first line. Every
  record has as many cells as the header; an unknown column is reported once, at the header.
  UTF-8, with or without a byte order mark.
- ``.json``: one array of objects.
- ``.jsonl``: one object a line; blank lines are skipped.
- In Python: a sequence of mappings (``inventory[i]`` in messages), whose values may also be the
  library's dataclasses and enums, or CDK tokens (checked at deploy time, like ``ManagedThing``'s).

In JSON and in Python, ``null``/``None`` means "not set".

``defaults`` sets a member for every row that does not set it (so an empty CSV cell takes the
default). Defaults are checked once, and a problem with them is reported once, as ``defaults``.

``key`` names the member that identifies a row, e.g. ``SerialNumber``: a string member of
``CreateManagedThing``, set by every row (not by ``defaults``), known at synth time, with a value
unique in the inventory.

Authentication material: each row sets exactly one of ``AuthenticationMaterial`` (plain text, kept
in the template) and ``AuthenticationMaterialSecretName``, the name of a Secrets Manager secret
holding it (directly or through ``defaults``). When a row names a secret, ``secret_name_prefix``
must be given and every name must start with it: the fleet's provider may read the secrets under
that prefix, one IAM statement for the whole fleet.

Every value is checked against the service model like ``ManagedThing``'s arguments (enums,
lengths, patterns, sizes, types, unknown members). All problems of all rows are raised in one
``ValueError``, one line each: ``<construct path>: <file:line or inventory[i]>: <Member> <problem>``.
Values of members the model marks sensitive (``AuthenticationMaterial``, ``SerialNumber``, ``Tags``,
...) are never shown, the key's included when its member is sensitive.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.model import Shape

from managed_things_model.cfn_encoding import from_cloudformation
from managed_things_model.contract import SECRET_NAME_MEMBER
from managed_things_model.service_model import create_members, input_shape, is_sensitive
from managed_things_model.validation import Problem, show_value, validate

from ._request import is_unresolved, tag_problems, thing_problems, to_request_value

_SUFFIXES = (".csv", ".json", ".jsonl")
_STRUCTURED = ("structure", "list", "map")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class InventoryRow:
    """One thing of a fleet, as its inventory describes it."""

    key: str
    """The value of the key member in this row."""
    request: dict[str, Any]
    """CreateManagedThing members as boto3 names them (no ``ClientToken``), defaults applied,
    structured members parsed; ``AuthenticationMaterialSecretName`` (``SECRET_NAME_MEMBER``) may
    stand in for ``AuthenticationMaterial``. Values set by ``defaults`` are shared by every row: do not mutate them."""
    where: str
    """Where the row is: ``devices.csv:12`` (the path as given, the line the record starts on) or ``inventory[11]``."""


def load_inventory(
    inventory: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    key: str,
    defaults: Mapping[str, Any] | None = None,
    scope_path: str,
    secret_name_prefix: str | None = None,
) -> list[InventoryRow]:
    """Read and check a fleet inventory; the rows come back in inventory order.

    Parameters
    ----------
    inventory
        The path of a ``.csv``, ``.json`` or ``.jsonl`` file, or a sequence of mappings.
    key
        The member identifying a row (unique, set by every row), e.g. ``"SerialNumber"``.
    defaults
        Members for every row that does not set them. Default: - none.
    scope_path
        The fleet's construct path, which starts every line of the error.
    secret_name_prefix
        The prefix of every ``AuthenticationMaterialSecretName``. Default: - rows may not name secrets.

    Raises
    ------
    ValueError
        Listing every problem of every row, one line each (see the module's documentation).
    """
    check = _Check(scope_path, key, secret_name_prefix)
    check.key_member()
    check.prefix()
    request_defaults, defaults_problems = check.defaults(defaults or {})
    records = _read(inventory, check)
    rows = [check.row(record, request_defaults) for record in records]
    check.secrets_need_prefix()
    problems = check.problems + defaults_problems + [line for record in records for line in record.problems]
    if problems:
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        raise ValueError(f"Invalid ManagedThingFleet inventory ({count}):\n" + "\n".join(problems))
    return [row for row in rows if row is not None]


@dataclass
class _Record:
    """A row as read: its members converted to request values, and the problems found so far."""

    where: str
    members: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    skip: bool = False  # unreadable: no row checks (they would only repeat the problem)


class _Check:
    """The checks of one inventory, and the problems they find outside any row."""

    def __init__(self, scope_path: str, key: str, secret_name_prefix: str | None) -> None:
        self.scope_path = scope_path
        self.key = key
        self.secret_name_prefix = secret_name_prefix
        self.shape = input_shape("CreateManagedThing")
        self.known = frozenset(create_members()) | {SECRET_NAME_MEMBER}
        member = self.shape.members.get(key)
        self.key_is_valid = key in create_members() and member is not None and member.type_name == "string"
        self.key_is_sensitive = member is not None and is_sensitive(member)
        self.problems: list[str] = []
        self.first_secret_at: str | None = None  # where a secret is first named
        self._first_at: dict[str, str] = {}

    def line(self, where: str, text: str) -> str:
        return f"{self.scope_path}: {where}: {text}"

    def key_member(self) -> None:
        if not self.key_is_valid:
            strings = ", ".join(name for name in create_members() if self.shape.members[name].type_name == "string")
            self.problems.append(
                self.line("key", f"{self.key!r} is not a string member of CreateManagedThing (one of: {strings})")
            )

    def prefix(self) -> None:
        prefix = self.secret_name_prefix
        if prefix is not None and (not isinstance(prefix, str) or not prefix or "*" in prefix or "?" in prefix):
            self.problems.append(
                self.line(
                    "secret_name_prefix",
                    f"must be a non-empty string without IAM wildcards (* or ?): the fleet may read "
                    f"every secret whose name starts with it (got {prefix!r})",
                )
            )

    def unknown_member(self, name: Any) -> str:
        if name == "ClientToken":
            return "ClientToken is not set in an inventory: the provider derives one per request"
        known = ", ".join([*create_members(), SECRET_NAME_MEMBER])
        return f"{_name(name)} is not a member of CreateManagedThing (known: {known})"

    def defaults(self, defaults: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The defaults as request values, and their problems (reported once, not per row)."""
        converted, problems = self.members("defaults", defaults, python=True)
        found: list[Problem] = []
        for name, value in list(converted.items()):
            if name == self.key:
                problems.append(self.line("defaults", f"{name} is the fleet's key: each row sets its own"))
                del converted[name]
            elif name == SECRET_NAME_MEMBER:
                problems += [self.line("defaults", text) for text in self.secret_name(value, "defaults")]
            elif name == "Tags":
                found += tag_problems(value)
            else:
                found += validate(self.shape.members[name], value, name, skip=is_unresolved)
        return converted, problems + [self.line("defaults", p.describe()) for p in found]

    def members(self, where: str, values: Mapping[Any, Any], *, python: bool) -> tuple[dict[str, Any], list[str]]:
        """The members set (not None), and a problem for each unknown one.

        ``python``: values may be the library's dataclasses and enums, converted to boto3's shapes.
        """
        converted: dict[str, Any] = {}
        problems: list[str] = []
        for name, value in values.items():
            if name not in self.known:
                problems.append(self.line(where, self.unknown_member(name)))
            elif value is not None:
                member = self.shape.members.get(name)
                try:
                    converted[name] = to_request_value(member, value) if python and member is not None else value
                except TypeError as error:
                    problems.append(self.line(where, f"{name} {error}"))
        return converted, problems

    def secret_name(self, value: Any, where: str) -> list[str]:
        """Problems with a secret name; a missing prefix is reported once, for the whole inventory."""
        if not isinstance(value, str):
            got = show_value(value)
            return [f"{SECRET_NAME_MEMBER} must be a string, the name of a Secrets Manager secret (got {got})"]
        self.first_secret_at = self.first_secret_at or where
        prefix = self.secret_name_prefix
        if prefix and not value.startswith(prefix):
            return [f"{SECRET_NAME_MEMBER} must start with the secret_name_prefix {prefix!r} (got {show_value(value)})"]
        return []

    def secrets_need_prefix(self) -> None:
        if self.first_secret_at is not None and self.secret_name_prefix is None:
            self.problems.append(
                self.line(
                    self.first_secret_at,
                    f"{SECRET_NAME_MEMBER} is set (here first), so secret_name_prefix is required: "
                    "the prefix every secret name of the fleet starts with",
                )
            )

    def row(self, record: _Record, defaults: dict[str, Any]) -> InventoryRow | None:
        """Check one row (defaults applied); the row, or None when it has problems."""
        if record.skip:
            return None
        members = record.members
        found_before = len(record.problems)
        request = {**defaults, **members}
        from_defaults = [name for name in defaults if name not in members]
        secret = members.get(SECRET_NAME_MEMBER)
        if secret is not None:
            record.problems += [self.line(record.where, text) for text in self.secret_name(secret, record.where)]
        found = thing_problems(
            {name: value for name, value in request.items() if name != "Tags" and name != SECRET_NAME_MEMBER},
            members.get("Tags"),
            secret_given=SECRET_NAME_MEMBER in request,
            secret_label=SECRET_NAME_MEMBER,
            checked=from_defaults,
        )
        value = members.get(self.key)
        if not self.key_is_valid:
            pass  # reported once, as the key
        elif value is None:
            found = [p for p in found if p.path != self.key]
            found.append(Problem(self.key, "is required: it is the fleet's key"))
        elif is_unresolved(value):
            found.append(Problem(self.key, "must be known at synth time (not a token): it is the fleet's key"))
        elif isinstance(value, str):
            first = self._first_at.setdefault(value, record.where)
            if first != record.where:
                got = None if self.key_is_sensitive else show_value(value)
                found.append(Problem(self.key, f"is a duplicate key, also at {first}", got))
        record.problems += [self.line(record.where, p.describe()) for p in found]
        if len(record.problems) > found_before or not isinstance(value, str):
            return None
        return InventoryRow(key=value, request=request, where=record.where)


# --- reading -------------------------------------------------------------------


def _read(inventory: str | os.PathLike[str] | Sequence[Mapping[str, Any]], check: _Check) -> list[_Record]:
    if not isinstance(inventory, (str, os.PathLike)):
        return list(_read_sequence(inventory, check))
    label = os.fspath(inventory)
    suffix = Path(label).suffix.lower()
    if suffix not in _SUFFIXES:
        check.problems.append(
            check.line(label, f"has an unknown suffix {suffix!r}: an inventory is a .csv, .json or .jsonl file")
        )
        return []
    try:
        # newline="": the csv module reads quoted line breaks itself; utf-8-sig: spreadsheets write a BOM.
        with open(label, encoding="utf-8-sig", newline="") as file:
            text = file.read()
    except FileNotFoundError:
        check.problems.append(check.line(label, f"no such file (looked for {Path(label).absolute()})"))
        return []
    except UnicodeDecodeError as error:
        check.problems.append(check.line(label, f"is not UTF-8 text ({error.reason} at byte offset {error.start})"))
        return []
    except OSError as error:
        check.problems.append(check.line(label, f"cannot be read: {error.strerror}"))
        return []
    if suffix == ".csv":
        return list(_read_csv(text, label, check))
    objects = _json_array(text, label, check) if suffix == ".json" else _json_lines(text, label, check)
    return [_record(where, value, check) for where, value in objects]


def _read_sequence(inventory: Sequence[Mapping[str, Any]], check: _Check) -> Iterator[_Record]:
    for index, item in enumerate(inventory):
        where = f"inventory[{index}]"
        if not isinstance(item, Mapping):
            yield _Record(where, {}, [check.line(where, f"must be a mapping of members (got {_kind(item)})")], True)
            continue
        members, problems = check.members(where, item, python=True)
        yield _Record(where, members, problems)


def _record(where: str, value: Any, check: _Check) -> _Record:
    """A decoded JSON value as a row: an object's members, kept as JSON gives them."""
    if not isinstance(value, dict):
        return _Record(where, {}, [check.line(where, f"must be a JSON object (got {_kind(value)})")], True)
    members, problems = check.members(where, value, python=False)
    return _Record(where, members, problems)


def _read_csv(text: str, label: str, check: _Check) -> Iterator[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        check.problems.append(check.line(f"{label}:1", "is empty: the first line must name the members, one a column"))
        return
    columns: list[tuple[int, str, Shape | None]] = []  # (index, member, shape): unknown columns left out
    for index, name in enumerate(header):
        if name not in check.known:
            check.problems.append(check.line(f"{label}:1", check.unknown_member(name)))
        elif name in header[:index]:
            check.problems.append(check.line(f"{label}:1", f"{name} names two columns"))
        else:
            columns.append((index, name, check.shape.members.get(name)))
    ended = reader.line_num
    for cells in reader:
        where, ended = f"{label}:{ended + 1}", reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(header):
            problem = f"has {len(cells)} cells, the header {len(header)}"
            yield _Record(where, {}, [check.line(where, problem)], True)
            continue
        members: dict[str, Any] = {}
        problems: list[str] = []
        for index, name, shape in columns:
            cell = cells[index]
            if not cell:
                continue
            if shape is None:  # the secret name: text
                members[name] = cell
            elif shape.type_name in _STRUCTURED or shape.metadata.get("document"):
                try:
                    members[name] = json.loads(cell)
                except json.JSONDecodeError as error:
                    position = f"line {error.lineno} column {error.colno} of the cell"
                    problems.append(check.line(where, f"{name} is not valid JSON: {error.msg} ({position})"))
            else:
                members[name] = from_cloudformation(shape, cell)
        yield _Record(where, members, problems)


def _json_array(text: str, label: str, check: _Check) -> Iterator[tuple[str, Any]]:
    """Each element of the file's array with the line it starts on, decoded one at a time."""
    decoder = json.JSONDecoder()
    lines = _Lines(text)

    def fail(position: int, message: str) -> None:
        line, column = lines.at(position)
        check.problems.append(check.line(f"{label}:{line}:{column}", message))

    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        fail(position, "must hold a JSON array of objects, one per thing")
        return
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        position = _skip_space(text, position + 1)
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, position)
            except json.JSONDecodeError as error:
                check.problems.append(check.line(f"{label}:{error.lineno}:{error.colno}", f"invalid JSON: {error.msg}"))
                return
            yield f"{label}:{lines.at(position)[0]}", value
            position = _skip_space(text, end)
            if text.startswith(",", position):
                position = _skip_space(text, position + 1)
            elif text.startswith("]", position):
                position = _skip_space(text, position + 1)
                break
            else:
                fail(position, "invalid JSON: Expecting ',' or ']' after an element of the array")
                return
    if position < len(text):
        fail(position, "invalid JSON: Extra data after the array")


def _json_lines(text: str, label: str, check: _Check) -> Iterator[tuple[str, Any]]:
    # Split on "\n" only: str.splitlines() would also split inside strings holding U+2028 and the like.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            check.problems.append(check.line(f"{label}:{number}:{error.colno}", f"invalid JSON: {error.msg}"))
            continue
        yield f"{label}:{number}", value


class _Lines:
    """Line and column of offsets into a text, for offsets that only grow (counted once, not from the start)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1

    def at(self, offset: int) -> tuple[int, int]:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line, offset - self.text.rfind("\n", 0, offset)


def _skip_space(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return type(value).__name__


def _name(name: Any) -> str:
    return name if isinstance(name, str) and name.isidentifier() else repr(name)


__all__ = ["InventoryRow", "SECRET_NAME_MEMBER", "load_inventory"]
