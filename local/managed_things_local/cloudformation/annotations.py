"""CDK annotations: the info, warning and error messages a synthesized stack carries, shown as the CDK CLI shows them.

The app writes them as metadata entries keyed by construct path: inline in the
artifact's ``metadata`` in ``manifest.json``, and (as CDK 2.275 does) in the
``<artifact id>.metadata.json`` file the artifact's ``additionalMetadataFile``
names. The pinned CDK CLI (2.1148) prints them on stderr as blocks of its
validation report, errors first::

    WARNING <message> (Construct Annotations)
       <construct path>
       Acknowledge with 'Annotation::<id>'

and stops with ``Synthesis finished with errors`` when any is an error; so does
the local deploy, before it deploys anything. (The CLI's first line of a block,
the source location of the annotation's first user-code frame, is left out: for
a Python app it names jsii's kernel, not the app.)
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import DeployError


class Level(enum.Enum):
    """The cloud assembly's metadata entry types that are messages, in the CLI's order (errors first)."""

    ERROR = "aws:cdk:error"
    WARNING = "aws:cdk:warning"
    INFO = "aws:cdk:info"


@dataclass(frozen=True)
class Annotation:
    """One message of a stack: its level, the construct path (``/Stack/Path``) and the text."""

    level: Level
    path: str
    message: str

    def __str__(self) -> str:
        """The CLI's block for this message."""
        description, rule = _split_rule(self.message)
        rule_id = _rule_id(rule or f"{self.level.name.lower()}-annotation")
        last = f"Rule {rule_id}" if self.level is Level.ERROR else f"Acknowledge with '{rule_id}'"
        return f"{self.level.name} {description} ({PLUGIN_NAME})\n   {self.path.lstrip('/')}\n   {last}"


def read_annotations(artifact: Mapping[str, Any], assembly_dir: Path) -> tuple[Annotation, ...]:
    """The messages of one manifest artifact: its inline metadata, then its additional metadata file."""
    entries: dict[str, list[Any]] = {}
    sources: list[Any] = [artifact.get("metadata") or {}]
    metadata_file = artifact.get("additionalMetadataFile")
    if isinstance(metadata_file, str):
        sources.append(_read_metadata_file(assembly_dir / metadata_file))
    for source in sources:
        for path, path_entries in source.items():
            entries.setdefault(path, []).extend(path_entries if isinstance(path_entries, list) else [])
    return tuple(
        Annotation(Level(entry["type"]), path, _text(entry.get("data")))
        for path, path_entries in entries.items()
        for entry in path_entries
        if isinstance(entry, dict) and entry.get("type") in _LEVELS
    )


def report(annotations: Iterable[Annotation], stream: TextIO) -> None:
    """Print every message like the CDK CLI, errors first; raise ``DeployError`` after them if any is an error."""
    ordered = sorted(annotations, key=lambda annotation: _ORDER.index(annotation.level))
    if not ordered:
        return
    stream.write("\n\n".join(str(annotation) for annotation in ordered) + "\n")
    stream.flush()
    if ordered[0].level is Level.ERROR:
        raise DeployError("Synthesis finished with errors")


PLUGIN_NAME = "Construct Annotations"
RULE_NAMESPACE = "Annotation"
_ORDER = list(Level)
_LEVELS = {level.value for level in Level}
# CDK's addWarningV2/addInfoV2 end the message with `[ack: <id>]`; a validation plugin's id ends it as `(ns::id)`.
_ACK_TAG = re.compile(r"\[ack: ([^\]]+)\]")
_TRAILING_ID = re.compile(r"\(([^()]+::[^()]+)\)$")


def _split_rule(message: str) -> tuple[str, str | None]:
    """(the message without its id tag, the id) as the CLI splits them."""
    for pattern in (_ACK_TAG, _TRAILING_ID):
        found = pattern.search(message)
        if found:
            return message.replace(found.group(0), "", 1).strip(), found.group(1)
    return message, None


def _rule_id(rule: str) -> str:
    """``Annotation::<id>``, or the id's own ``namespace::`` where it has one; spaces become dashes."""
    namespace, separator, rule_id = rule.partition("::")
    if not separator:
        namespace, rule_id = RULE_NAMESPACE, rule
    namespace = namespace.replace(" ", "-")
    if namespace in ("annotation", "Construct-Annotations"):
        namespace = RULE_NAMESPACE
    return f"{namespace}::{rule_id.replace(' ', '-')}"


def _read_metadata_file(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(f"Cannot read {path}: {error}") from None
    return data if isinstance(data, dict) else {}


def _text(data: Any) -> str:
    """The message as the CLI prints it: strings as they are, anything else as JSON."""
    return data if isinstance(data, str) else json.dumps(data)
