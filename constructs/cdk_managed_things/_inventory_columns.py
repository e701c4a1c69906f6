"""Which member of ``CreateManagedThing`` an inventory's column holds: the ``columns`` mapping of a fleet inventory.

A column (a CSV header, a JSON object's key, a Python mapping's key) holds the member it is named after, the
member ``columns`` maps it to, or nothing: mapped to ``None``, or not a member while ``ignore_unknown_columns``
is set. A column that is none of these stays under its own name, for the inventory to report as unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from managed_things_model.validation import show_value

# CreateManagedThing's idempotency token (https://docs.aws.amazon.com/iot-mi/latest/APIReference/API_CreateManagedThing.html):
# the provider derives one per request, so a column holding one is refused even with ignore_unknown_columns.
CLIENT_TOKEN = "ClientToken"


class ColumnNames:
    """The members an inventory's columns hold, and the unknown columns ignored so far (for one warning)."""

    def __init__(self, known: Collection[str], columns: Mapping[str, str | None], ignore_unknown: bool) -> None:
        """``columns`` maps a column to a known member or to None (``check`` builds it from the user's arguments)."""
        self._known = known
        self._columns = columns
        self._ignore_unknown = ignore_unknown
        self.ignored: dict[str, str] = {}
        """Each unknown column ignored, with where it first appeared."""

    @classmethod
    def check(
        cls,
        known: Collection[str],
        columns: Any,
        ignore_unknown: Any,
        unknown_member: Callable[[Any], str],
    ) -> tuple[ColumnNames, list[tuple[str, str]]]:
        """The column names the user's ``columns`` and ``ignore_unknown_columns`` give, and their problems.

        Problems come as (argument, problem) pairs. An entry with a problem is left out (its column is then
        unknown): the inventory is refused anyway.
        """
        problems: list[tuple[str, str]] = []
        if not isinstance(ignore_unknown, bool):
            problems.append(("ignore_unknown_columns", f"must be True or False (got {show_value(ignore_unknown)})"))
            ignore_unknown = False
        valid: dict[str, str | None] = {}
        if columns is None:
            columns = {}
        if not isinstance(columns, Mapping):
            got = "a list" if isinstance(columns, list) else type(columns).__name__
            problems.append(("columns", f"must map column names to member names, or to None (got {got})"))
            columns = {}
        for column, member in columns.items():
            if not isinstance(column, str):
                problems.append(("columns", f"{show_value(column)}: a column's name is a string"))
            elif member is None or (isinstance(member, str) and member in known):
                valid[column] = member
            elif isinstance(member, str):
                problems.append(("columns", f"{name_of(column)}: {unknown_member(member)}"))
            else:
                expected = "must map to a member's name, or to None to ignore the column"
                problems.append(("columns", f"{name_of(column)}: {expected} (got {show_value(member)})"))
        return cls(known, valid, ignore_unknown), problems

    def member(self, column: Any, where: str) -> str | None:
        """The member ``column`` holds; ``None`` when it is ignored; the column itself when it is unknown."""
        if isinstance(column, str) and column in self._columns:
            return self._columns[column]
        if column in self._known or not self._ignore_unknown or column == CLIENT_TOKEN:
            return column  # type: ignore[no-any-return]
        self.ignored.setdefault(column if isinstance(column, str) else repr(column), where)
        return None

    def hint(self, column: Any) -> str:
        """How to read an inventory with an unknown column anyway."""
        if column == CLIENT_TOKEN:
            return ""
        name = repr(column)
        return (
            f"; map the column to a member (columns={{{name}: 'Member'}}) or ignore it "
            f"(columns={{{name}: None}}, or ignore_unknown_columns=True)"
        )

    def ignored_warning(self) -> str | None:
        """The message naming the unknown columns ``ignore_unknown_columns`` ignored, if any."""
        if not self.ignored:
            return None
        names = ", ".join(f"{name_of(column)} ({where})" for column, where in self.ignored.items())
        return f"ignore_unknown_columns ignores {names}: they are not members of CreateManagedThing"


def name_of(name: Any) -> str:
    """A column or member name as messages show it: quoted unless it is an identifier."""
    return name if isinstance(name, str) and name.isidentifier() else repr(name)
