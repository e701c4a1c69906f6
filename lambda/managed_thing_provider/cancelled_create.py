"""What a cancelled or late Create made: its marker, the check after it, and the search a Delete runs for it.

When a resource of the stack fails, CloudFormation does not wait for the Creates in flight: it marks them
``CREATE_FAILED`` ("Resource creation cancelled") and sends a Delete whose PhysicalResourceId it made up
(``<stack name>-<logical id>-<random>``), often while the Create still runs (aws/aws-cdk#36951,
aws-cloudformation/cloudformation-coverage-roadmap#1814). Lambda's asynchronous queue can also deliver a Create after
that Delete, or after the stack is gone. Neither event knows the other's ClientToken (it comes from the RequestId), so:

* every thing carries ``RESOURCE_TAG`` = a digest of (StackId, LogicalResourceId), which both events know;
* a Create, once its thing is committed, asks CloudFormation whether the resource is still being created
  (``cloudformation:DescribeStackResource``) and deletes what it made if not: CloudFormation marks the resource
  ``CREATE_FAILED`` before it sends the Delete, so either that Delete finds the thing, or the Create sees the
  cancellation;
* a Delete whose id names no thing lists the things its properties describe and deletes those with its marker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from managed_things_model.contract import RESOURCE_TAG
from managed_things_model.service_model import create_members, list_filters, operation

from .deadline import ApiError, Deadline, call
from .lifecycle import delete_thing
from .properties import DesiredThing
from .service_region import NO_SERVICE_IN_REGION

# ResourceStatus values (StackResourceDetail) of a resource CloudFormation no longer creates: the Create that asks was
# cancelled, or ran after its Delete. Any other known status keeps the thing: CREATE_IN_PROGRESS (the Create's own
# operation), CREATE_COMPLETE or UPDATE_* (a re-delivery of a Create already answered), IMPORT_*.
_CANCELLED_STATUSES = frozenset(
    {"CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE", "DELETE_SKIPPED"}
)
# Filters of ListManagedThings, most selective first, by the CreateManagedThing member each compares.
_FILTER_ORDER = ("SerialNumber", "Owner", "CredentialLockerId", "Role")
_GONE_STATES = frozenset({"DELETE_IN_PROGRESS", "DELETED"})
_PAGE_SIZE = 1000  # the model's largest MaxResults


def resource_marker(stack_id: str, logical_resource_id: str) -> str:
    """``RESOURCE_TAG``'s value for one resource of one stack: 32 hex digits, the same for every event of it."""
    return hashlib.sha256(f"{stack_id}\n{logical_resource_id}".encode()).hexdigest()[:32]


def create_was_cancelled(resource_status: str | None, *, gone: str) -> bool:
    """Whether CloudFormation no longer creates the resource (``gone``: the stack or the resource does not exist)."""
    return resource_status == gone or resource_status in _CANCELLED_STATUSES


def delete_marked(client: Any, desired: DesiredThing, marker: str, deadline: Deadline | None = None) -> list[str]:
    """Delete the things a cancelled Create of ``desired`` made: those whose ``RESOURCE_TAG`` is ``marker``.

    ListManagedThings with the most selective filter ``desired`` allows (every page), the summaries narrowed to
    those that show no member with another value than ``desired``, then GetManagedThing of each for its tags.
    Properties that fail validation were never sent: nothing was made. Returns the Ids deleted.
    """
    if desired.problems:
        return []
    deadline = deadline or Deadline.none()
    scrub = list(desired.string_values())
    deleted = []
    try:
        for summary in _candidates(client, desired, scrub, deadline):
            thing = call(client, "GetManagedThing", deadline, scrub, Identifier=summary["Id"])
            if (thing.get("Tags") or {}).get(RESOURCE_TAG) == marker:
                delete_thing(client, summary["Id"], deadline)
                deleted.append(summary["Id"])
    except ApiError as error:
        if error.code == NO_SERVICE_IN_REGION:
            return []  # the service does not run in this region: nothing was ever created
        raise
    return deleted


def _candidates(client: Any, desired: DesiredThing, scrub: list[str], deadline: Deadline) -> Iterator[dict[str, Any]]:
    filters = {member: name for name, member in list_filters().items()}
    member = next(m for m in _FILTER_ORDER if m in desired.request)  # Role is required
    query = {filters[member]: desired.request[member], "MaxResults": _PAGE_SIZE}
    compared = [name for name in _summary_members() if name in desired.request]
    while True:
        page = call(client, "ListManagedThings", deadline, scrub, **query)
        for summary in page.get("Items") or []:
            if summary.get("ProvisioningStatus") in _GONE_STATES:
                continue
            # A member the summary leaves out does not rule a thing out: only one it shows with another value.
            if all(summary[name] == desired.request[name] for name in compared if name in summary):
                yield summary
        if not page.get("NextToken"):
            return
        query["NextToken"] = page["NextToken"]


def _summary_members() -> list[str]:
    """CreateManagedThing members a ManagedThingSummary also returns (Role, SerialNumber, Name, ...)."""
    summary = operation("ListManagedThings").output_shape.members["Items"].member  # type: ignore[union-attr]
    return [name for name in create_members() if name in summary.members]  # type: ignore[attr-defined]
