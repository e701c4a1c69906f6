"""What a deploy tells of a stack besides its events: the resources not deployed locally, an endpoint change, a
Transform that is not run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..state.state import StackState
from .executor import Executor


def report_not_deployed(
    executor: Executor, stack_name: str, not_deployed: Sequence[tuple[str, str]], *, verbose: bool
) -> None:
    """One short line when the stack changes (the full list with --verbose; always in --json)."""
    if not not_deployed:
        return
    if verbose:
        listed = ", ".join(f"{lid} ({kind})" for lid, kind in not_deployed)
        executor.line(
            f"{stack_name} | not deployed locally: {listed}. "
            "Only Custom::ManagedThing resources, nested stacks and Secrets Manager secrets are deployed; the "
            "provider functions run locally."
        )
        return
    kinds = sorted({kind for _, kind in not_deployed})
    shown = ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
    count = len(not_deployed)
    executor.line(
        f"{stack_name} | {count} resource{'s' if count != 1 else ''} of other types not deployed locally ({shown})"
    )


def warn_of_what_is_not_run(
    executor: Executor, stack_name: str, template: Mapping[str, Any], previous: StackState | None, endpoint_label: str
) -> None:
    """Warnings before a root stack's deploy: things recorded against another endpoint, a Transform not run."""
    if previous and previous.endpoint and previous.endpoint != endpoint_label:
        warning = (
            f"{stack_name} was deployed against {previous.endpoint}, now {endpoint_label} "
            "(--allow-endpoint-change): its recorded things may not exist there"
        )
        executor.warning(stack_name, warning)
        executor.line(f"{stack_name} | warning: {warning}")
    if template.get("Transform"):
        executor.warning(
            stack_name,
            f"{stack_name} declares the Transform {template['Transform']}, which the local deploy does not "
            "run: the template is deployed as synthesized",
        )
