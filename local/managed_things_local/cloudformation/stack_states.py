"""CloudFormation's stack state machine: which stack operation each status allows, and its refusals; with what
the CDK CLI does about each status on top. Pure: statuses in, decisions and messages out.

CloudFormation (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html, "Stack
status codes"):

- a stack whose creation failed rests in ``ROLLBACK_COMPLETE``, or ``ROLLBACK_FAILED`` when its rollback could not
  delete everything; neither can be updated, only deleted;
- an update whose rollback failed rests in ``UPDATE_ROLLBACK_FAILED``; only ``ContinueUpdateRollback``
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html), whose
  ``ResourcesToSkip`` leaves resources out of the rollback, or a delete gets it out; CloudFormation never retries
  a rollback by itself;
- ``DeleteStack``'s ``RetainResources`` is "for stacks in the DELETE_FAILED state" only
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html);
- ``UpdateStack`` of a stack at rest in another state answers a ValidationError
  ``Stack:<stack id> is in <STATUS> state and can not be updated.`` (as moto reproduces it in
  https://github.com/getmoto/moto/blob/master/moto/cloudformation/responses.py).

The CDK CLI (https://github.com/aws/aws-cdk-cli, packages/@aws-cdk/toolkit-lib/lib/api/):

- ``cdk deploy`` of a stack whose creation failed (``isCreationFailure``: ``ROLLBACK_COMPLETE`` or
  ``ROLLBACK_FAILED``) deletes it first, then creates it (deployments/deploy-stack.ts); if that delete does not
  end in ``DELETE_COMPLETE`` it fails with "Failed deleting stack <name> that had previously failed creation
  (current state: <status>)";
- ``cdk deploy`` of a stack in ``UPDATE_ROLLBACK_FAILED`` (``rollbackChoice`` CONTINUE_UPDATE_ROLLBACK,
  stack-events/stack-status.ts) asks to roll it back first (``failpaused-need-rollback-first`` in
  packages/aws-cdk/lib/cli/cdk-toolkit.ts); here, with no one to ask, the deploy refuses and names the command;
- ``cdk rollback`` continues the update rollback of such a stack (``--orphan <LogicalId>``: ResourcesToSkip;
  ``--force``: skip every resource whose rollback fails), says "does not need a rollback" of a stable stack, and
  that a ``ROLLBACK_FAILED`` stack "cannot be rolled back" (deployments/deployments.ts, ``rollbackStack``);
- ``cdk destroy`` is a plain ``DeleteStack``: it offers no way to retain resources. Here ``destroy
  --retain-resources`` passes them, as ``aws cloudformation delete-stack --retain-resources`` does.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum

from .stack_events import StackStatus

__all__ = [
    "DeployChoice",
    "continue_rollback_refusal",
    "deploy_choice",
    "deploy_refusal",
    "recreate_failure",
    "retain_refusal",
    "rollback_options_refusal",
    "update_refusal",
]

# The statuses at rest that UpdateStack accepts. CREATE_FAILED and UPDATE_FAILED are at rest only after a deploy
# with rollback disabled, which the local engine never does: locally they are a run that died, which the next
# deploy finishes (its unanswered Creates are delivered again first).
_UPDATABLE = frozenset(
    {
        StackStatus.CREATE_COMPLETE,
        StackStatus.UPDATE_COMPLETE,
        StackStatus.UPDATE_ROLLBACK_COMPLETE,
        StackStatus.CREATE_FAILED,
        StackStatus.UPDATE_FAILED,
    }
)
_CREATION_FAILURES = frozenset({StackStatus.ROLLBACK_COMPLETE, StackStatus.ROLLBACK_FAILED})


class DeployChoice(Enum):
    """What ``deploy`` does with a stack, given its status."""

    CREATE = "create"  # no stack yet
    UPDATE = "update"
    RECREATE = "recreate"  # its creation failed: delete it, then create it (the CDK CLI's way)
    REFUSE = "refuse"  # CloudFormation would refuse the update: say what to do


def update_refusal(stack_id: str, status: str) -> str:
    """CloudFormation's refusal of UpdateStack for a stack in ``status``, or "" when it allows it."""
    if status in _UPDATABLE:
        return ""
    return f"Stack:{stack_id} is in {status} state and can not be updated."


def deploy_choice(status: str | None) -> DeployChoice:
    """What ``deploy`` does with a stack in ``status`` (None: not deployed)."""
    if status is None:
        return DeployChoice.CREATE
    if status in _CREATION_FAILURES:
        return DeployChoice.RECREATE
    return DeployChoice.UPDATE if status in _UPDATABLE else DeployChoice.REFUSE


def deploy_refusal(stack_name: str, stack_id: str, status: str) -> str:
    """The one line a refused deploy ends with: CloudFormation's reason, then what to do."""
    if status == StackStatus.UPDATE_ROLLBACK_FAILED:
        advice = (
            f"run `managed-things rollback {stack_name}` to continue the rollback (`--orphan LOGICAL_ID` to skip a "
            "resource whose rollback keeps failing), then deploy again"
        )
    elif status == StackStatus.DELETE_FAILED:
        advice = f"run `managed-things destroy {stack_name}` to finish deleting it, then deploy again"
    else:
        advice = f"run `managed-things destroy {stack_name}`, then deploy again"
    return f"{update_refusal(stack_id, status)} To recover, {advice}"


def recreate_failure(stack_name: str, status: str) -> str:
    """Why a deploy stopped when the stack whose creation failed could not be deleted first (the CDK CLI's)."""
    return f"Failed deleting stack {stack_name} that had previously failed creation (current state: {status})"


def continue_rollback_refusal(stack_name: str, status: str | None) -> str:
    """Why ``rollback`` does nothing to a stack in ``status`` (None: not deployed), or "" when it continues one."""
    if status is None:
        return f"Stack {stack_name} is not deployed locally: nothing to roll back"
    if status == StackStatus.UPDATE_ROLLBACK_FAILED:
        return ""
    if status == StackStatus.ROLLBACK_FAILED:
        return (
            f"Stack {stack_name} failed creation and rollback. This state cannot be rolled back. You can recreate "
            "this stack by running `managed-things deploy`."
        )
    return f"Stack {stack_name} does not need a rollback: {status}"


def rollback_options_refusal(orphan: Collection[str], force: bool) -> str:
    """``rollback``'s options that cannot go together (the CDK CLI's message), or ""."""
    return "Cannot combine --force with --orphan" if force and orphan else ""


def retain_refusal(stack_name: str, status: str, retained: Collection[str], known: Collection[str]) -> str:
    """Why ``destroy --retain-resources`` is refused for a stack in ``status``, or "".

    CloudFormation takes RetainResources only from a stack in DELETE_FAILED (its exact message is not documented;
    this one is ours)."""
    if not retained:
        return ""
    if status != StackStatus.DELETE_FAILED:
        return (
            f"{stack_name} is in {status} state: --retain-resources applies only to a stack in DELETE_FAILED state "
            f"(destroy it without, and again with --retain-resources if some resources cannot be deleted)"
        )
    unknown = sorted(set(retained) - set(known))
    if unknown:
        return f"{stack_name} has no resource {', '.join(unknown)} to retain (it has {', '.join(sorted(known))})"
    return ""
