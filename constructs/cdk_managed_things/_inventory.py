"""PROVISIONAL inventory reader, replaced at merge by the inventory helper's module (same interface).

Reads CSV (structured members as JSON text in their cell, an empty cell: not set), ``.json`` (an array of
objects), ``.jsonl`` (one object a line) or a sequence of mappings; applies ``defaults``. No validation.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STRUCTURED = {"WiFiSimpleSetupConfiguration", "CapabilityReport", "CapabilitySchemas", "Tags", "MetaData"}


@dataclass(frozen=True)
class InventoryRow:
    key: str
    request: dict[str, Any]
    where: str


def load_inventory(
    inventory: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    key: str,
    defaults: Mapping[str, Any] | None = None,
    scope_path: str,
    secret_name_prefix: str | None = None,
) -> list[InventoryRow]:
    del scope_path, secret_name_prefix
    rows: list[tuple[str, Mapping[str, Any]]]
    if isinstance(inventory, (str, os.PathLike)):
        path = Path(inventory)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".csv":
            rows = [
                (f"{path}:{line}", {k: json.loads(v) if k in _STRUCTURED else v for k, v in row.items() if v})
                for line, row in enumerate(csv.DictReader(text.splitlines()), start=2)
            ]
        elif path.suffix == ".jsonl":
            rows = [(f"{path}:{n}", json.loads(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        else:
            rows = [(f"{path}[{n}]", row) for n, row in enumerate(json.loads(text))]
    else:
        rows = [(f"inventory[{n}]", row) for n, row in enumerate(inventory)]
    return [InventoryRow(key=str(row[key]), request={**(defaults or {}), **row}, where=where) for where, row in rows]
