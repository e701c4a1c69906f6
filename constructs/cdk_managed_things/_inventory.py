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

Columns named otherwise (an asset register's export: ``Serial``, ``Firmware``, ``Location``): ``columns``
maps a column (a CSV header, a JSON or Python key) to the member it holds, ``{"Serial": "SerialNumber"}``,
or to ``None`` to ignore it, ``{"Firmware": None}``; ``ignore_unknown_columns=True`` ignores every column
that is no member, naming them once in a warning. Otherwise an unknown column is an error. Problems of a
renamed column's value name both: ``SerialNumber (column Serial) is a duplicate key``.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.model import Shape

from managed_things_model.cfn_encoding import from_cloudformation
from managed_things_model.contract import SECRET_NAME_MEMBER
from managed_things_model.service_model import create_members, input_shape, is_sensitive
from managed_things_model.validation import Problem, show_value, validate

from ._errors import ConfigurationError
from ._inventory_columns import ColumnNames, name_of
from ._request import is_unresolved, tag_problems, thing_problems, to_request_value

_SUFFIXES = (".csv", ".json", ".jsonl")
_STRUCTURED = ("structure", "list", "map")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_MEMBER = re.compile(r"[A-Za-z]+")  # the member a problem's path starts with

IGNORED_COLUMNS_WARNING = "cdk-managed-things:inventoryColumnsIgnored"
"""The id of the warning naming the columns that ``ignore_unknown_columns`` ignored. Acknowledgeable, like every
``add_warning_v2`` warning: ``cdk synth --strict`` fails on it unless the app acknowledges it
(https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.Annotations.html)."""


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


@dataclass(frozen=True)
class InventoryWarning:
    """Something legal but worth saying about an inventory: for ``Annotations.of(fleet).add_warning_v2``."""

    warning_id: str
    message: str


class Inventory(list[InventoryRow]):
    """The rows of an inventory, in inventory order, and what to warn about (``warnings``)."""

    def __init__(self, rows: Iterable[InventoryRow], warnings: Iterable[InventoryWarning] = ()) -> None:
        super().__init__(rows)
        self.warnings = tuple(warnings)


def load_inventory(
    inventory: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    key: str,
    defaults: Mapping[str, Any] | None = None,
    scope_path: str,
    secret_name_prefix: str | None = None,
    columns: Mapping[str, str | None] | None = None,
    ignore_unknown_columns: bool = False,
) -> Inventory:
    """Read and check a fleet inventory; the rows come back in inventory order.

    Parameters
    ----------
    inventory
        The path of a ``.csv``, ``.json`` or ``.jsonl`` file, or a sequence of mappings.
    key
        The member identifying a row (unique, set by every row), e.g. ``"SerialNumber"``. A member's
        name: it may come from a column that ``columns`` renames.
    defaults
        Members for every row that does not set them, by the members' names (``columns`` does not apply
        to them). Default: - none.
    scope_path
        The fleet's construct path, which starts every line of the error.
    secret_name_prefix
        The prefix of every ``AuthenticationMaterialSecretName``. Default: - rows may not name secrets.
    columns
        For inventories whose columns are not named like the members (an asset register's export):
        maps a column's name (a CSV header, a JSON key, a key of the mappings) to the member it holds,
        e.g. ``{"Serial": "SerialNumber"}``, or to ``None`` to ignore the column, e.g.
        ``{"Firmware": None}`` (its cells are not read). Several columns may map to one member (one
        mapping for several exports), but a row may set a member through one column only. A column the
        inventory does not have is not an error: a misspelt name leaves the inventory's column unknown,
        which is reported. Default: - every column is named after the member it holds.
    ignore_unknown_columns
        Ignore every column that is neither a member nor in ``columns``, instead of refusing the
        inventory; the columns ignored are named once, in ``warnings`` (``ClientToken`` is still
        refused). Default: False - an unknown column is an error.

    Returns
    -------
    Inventory
        The rows, in inventory order; its ``warnings`` are for ``Annotations.of(fleet).add_warning_v2``.

    Raises
    ------
    ValueError
        Listing every problem of every row, one line each (see the module's documentation).
    """
    check = _Check(scope_path, key, secret_name_prefix, columns, ignore_unknown_columns)
    check.key_member()
    check.prefix()
    request_defaults, defaults_problems = check.defaults(defaults or {})
    records = _read(inventory, check)
    rows = [check.row(record, request_defaults) for record in records]
    check.secrets_need_prefix()
    problems = check.problems + defaults_problems + [line for record in records for line in record.problems]
    if problems:
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        raise ConfigurationError(f"Invalid ManagedThingFleet inventory ({count}):\n" + "\n".join(problems))
    ignored = check.names.ignored_warning()
    warnings = [InventoryWarning(IGNORED_COLUMNS_WARNING, ignored)] if ignored else []
    return Inventory((row for row in rows if row is not None), warnings)


@dataclass
class _Record:
    """A row as read: its members converted to request values, and the problems found so far."""

    where: str
    members: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    skip: bool = False  # unreadable: no row checks (they would only repeat the problem)
    renamed: Mapping[str, str] = field(default_factory=dict)  # member -> the column holding it, when named otherwise


class _Check:
    """The checks of one inventory, and the problems they find outside any row."""

    def __init__(
        self, scope_path: str, key: str, secret_name_prefix: str | None, columns: Any, ignore_unknown_columns: Any
    ) -> None:
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
        self._unknown_reported: set[Any] = set()  # unknown columns of rows: reported at the first row only
        self.names, column_problems = ColumnNames.check(
            self.known, columns, ignore_unknown_columns, self.unknown_member
        )
        self.problems += [self.line(argument, text) for argument, text in column_problems]

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
        return f"{name_of(name)} is not a member of CreateManagedThing (known: {known})"

    def unknown_column(self, where: str, name: Any) -> str:
        return self.line(where, self.unknown_member(name) + self.names.hint(name))

    def held_twice(self, where: str, member: str, first: str, second: str) -> str:
        if first == second:
            return self.line(where, f"{member} names two columns")
        one, other = sorted((first, second))
        return self.line(
            where,
            f"{name_of(one)} and {name_of(other)} both hold {member}: keep one, or map the other to None in columns",
        )

    def defaults(self, defaults: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The defaults as request values, and their problems (reported once, not per row)."""
        converted, problems, _ = self.members("defaults", defaults, python=True, from_columns=False)
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

    def members(
        self, where: str, values: Mapping[Any, Any], *, python: bool, from_columns: bool = True
    ) -> tuple[dict[str, Any], list[str], dict[str, str]]:
        """The members set (not None), the problems (an unknown column, a member set twice), and the renamed members.

        ``python``: values may be the library's dataclasses and enums, converted to boto3's shapes.
        ``from_columns``: the keys are a row's columns, named through ``columns`` (else members: ``defaults``).
        """
        converted: dict[str, Any] = {}
        problems: list[str] = []
        held_by: dict[str, str] = {}  # member -> the key that set it
        for column, value in values.items():
            name = self.names.member(column, where) if from_columns else column
            if name is None:
                continue  # ignored
            if name not in self.known:
                if not from_columns:
                    problems.append(self.line(where, self.unknown_member(name)))
                elif name not in self._unknown_reported:  # once, like a CSV header: not once a row
                    self._unknown_reported.add(name)
                    problems.append(self.unknown_column(where, name))
                continue
            if name in held_by:
                problems.append(self.held_twice(where, name, held_by[name], column))
                continue
            held_by[name] = column
            if value is not None:
                member = self.shape.members.get(name)
                try:
                    converted[name] = to_request_value(member, value) if python and member is not None else value
                except TypeError as error:
                    problems.append(self.line(where, f"{_in_column(name, held_by)} {error}"))
        return converted, problems, {member: key for member, key in held_by.items() if member != key}

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
        record.problems += [self.line(record.where, _with_column(p, record.renamed).describe()) for p in found]
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
        members, problems, renamed = check.members(where, item, python=True)
        yield _Record(where, members, problems, renamed=renamed)


def _record(where: str, value: Any, check: _Check) -> _Record:
    """A decoded JSON value as a row: an object's members, kept as JSON gives them."""
    if not isinstance(value, dict):
        return _Record(where, {}, [check.line(where, f"must be a JSON object (got {_kind(value)})")], True)
    members, problems, renamed = check.members(where, value, python=False)
    return _Record(where, members, problems, renamed=renamed)


def _read_csv(text: str, label: str, check: _Check) -> Iterator[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        check.problems.append(check.line(f"{label}:1", "is empty: the first line must name the members, one a column"))
        return
    columns: list[tuple[int, str, Shape | None]] = []  # (index, member, shape): unknown and ignored columns left out
    held_by: dict[str, str] = {}  # member -> the column holding it
    for index, column in enumerate(header):
        name = check.names.member(column, f"{label}:1")
        if name is None:
            continue  # ignored
        if name not in check.known:
            check.problems.append(check.unknown_column(f"{label}:1", name))
        elif name in held_by:
            check.problems.append(check.held_twice(f"{label}:1", name, held_by[name], column))
        else:
            held_by[name] = column
            columns.append((index, name, check.shape.members.get(name)))
    renamed = {member: column for member, column in held_by.items() if member != column}
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
                    described = _in_column(name, renamed)
                    problems.append(check.line(where, f"{described} is not valid JSON: {error.msg} ({position})"))
            else:
                members[name] = from_cloudformation(shape, cell)
        yield _Record(where, members, problems, renamed=renamed)


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


def _in_column(member: str, renamed: Mapping[str, str]) -> str:
    """A member as a message names it: with the column that holds it, when the column is named otherwise."""
    column = renamed.get(member)
    return member if column is None or column == member else f"{member} (column {name_of(column)})"


def _with_column(problem: Problem, renamed: Mapping[str, str]) -> Problem:
    """``problem`` naming the column of its member, when the column is named otherwise."""
    match = _MEMBER.match(problem.path)
    if match is None or match.group() not in renamed:
        return problem
    return Problem(f"{problem.path} (column {name_of(renamed[match.group()])})", problem.message, problem.got)


__all__ = [
    "IGNORED_COLUMNS_WARNING",
    "Inventory",
    "InventoryRow",
    "InventoryWarning",
    "SECRET_NAME_MEMBER",
    "load_inventory",
]
