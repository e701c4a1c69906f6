"""Errors of the local deploy."""

from __future__ import annotations


class DeployError(Exception):
    """Something that stops a deploy or destroy before or between stacks; the message is for the user."""


class Unresolvable(Exception):  # noqa: N818 - a reason, not a crash
    """A template value that cannot be computed locally; the message says which and why."""
