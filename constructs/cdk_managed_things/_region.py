"""Is a stack's region one where AWS IoT Managed Integrations runs? Checked once per stack at synth.

The list and its sources are the shared model's (``managed_things_model.regions``). A region added to the service
after this release is accepted with the context value ``cdk-managed-things:regions`` (a list of region names, or
one string separated by commas).
"""

from __future__ import annotations

import weakref

from aws_cdk import Annotations, Stack, Token

from managed_things_model.regions import SERVICE_REGIONS, listed

REGIONS_CONTEXT_KEY = "cdk-managed-things:regions"
UNSUPPORTED_REGION = "cdk-managed-things:unsupportedRegion"
AGNOSTIC_WARNING = "cdk-managed-things:environmentAgnostic"

_checked: weakref.WeakSet[Stack] = weakref.WeakSet()


def service_regions(stack: Stack) -> frozenset[str]:
    """The documented regions, and those the app's context adds."""
    extra = stack.node.try_get_context(REGIONS_CONTEXT_KEY)
    if isinstance(extra, str):
        extra = [part.strip() for part in extra.split(",")]
    return SERVICE_REGIONS | frozenset(r for r in extra or () if isinstance(r, str) and r)


def check_region(stack: Stack) -> None:
    """An error on ``stack`` when its region has no Managed Integrations, a warning when it names none."""
    if stack in _checked:
        return
    _checked.add(stack)
    region = stack.region
    regions = service_regions(stack)
    names = listed(regions)
    if Token.is_unresolved(region):
        Annotations.of(stack).add_warning_v2(
            AGNOSTIC_WARNING,
            f"{stack.node.path} is environment-agnostic: deploy it to a region with AWS IoT Managed Integrations "
            f"({names}), or give the stack an env with one of them.",
        )
    elif region not in regions:
        Annotations.of(stack).add_error(
            f"{stack.node.path}: region {region} has no AWS IoT Managed Integrations (it runs in {names}): "
            f"deploy the stack to one of those, or add a newer region with the context value "
            f"{REGIONS_CONTEXT_KEY}. [{UNSUPPORTED_REGION}]"
        )
