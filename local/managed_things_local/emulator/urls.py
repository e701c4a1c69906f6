"""Route an HTTP request to an operation of the model by its ``http.method`` and ``requestUri``.

A ``{Label}`` matches one path segment and a greedy ``{Label+}`` the rest of the
path; labels are matched percent-encoded (an ARN's ``/`` arrives as ``%2F``) and
decoded afterwards. A literal query in a ``requestUri`` (``/x?type=y``) must be present.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel

from managed_things_model.service_model import service_model

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    """One operation's method, path pattern and literal query parameters."""

    operation: OperationModel
    method: str
    path: re.Pattern[str]
    literal_query: tuple[tuple[str, str], ...]
    specificity: tuple[int, int]

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.path.fullmatch(path)
        if found is None or any(value not in query.get(key, []) for key, value in self.literal_query):
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


@dataclass(frozen=True)
class Match:
    operation: OperationModel
    labels: dict[str, str]


def compile_route(operation: OperationModel) -> Route:
    """The route of one operation, from its ``http`` trait."""
    method = operation.http["method"].upper()
    path, _, query = operation.http["requestUri"].partition("?")
    pattern, position = [], 0
    for label in _LABEL.finditer(path):
        pattern.append(re.escape(path[position : label.start()]))
        pattern.append(f"(?P<{label.group(1)}>{'.+' if label.group(2) else '[^/]+'})")
        position = label.end()
    pattern.append(re.escape(path[position:]))
    literal_query = tuple(parse_qsl(query, keep_blank_values=True))
    literal_length = len(_LABEL.sub("", path))
    specificity = (literal_length + len(literal_query), -path.count("+}"))
    return Route(operation, method, re.compile("".join(pattern)), literal_query, specificity)


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every operation of the model, the most specific routes first."""
    model = service_model()
    compiled = [compile_route(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(compiled, key=lambda route: route.specificity, reverse=True))


def resolve(method: str, path: str, query: dict[str, list[str]]) -> Match | None:
    """The operation a request calls and its decoded URI labels, or ``None``."""
    for route in routes():
        labels = route.match(method, path, query)
        if labels is not None:
            return Match(route.operation, labels)
    return None
