"""The regions where AWS IoT Managed Integrations runs: shared by the construct (a synth check) and the provider
(a Create in another region fails at once instead of retrying an endpoint that does not exist).

botocore's endpoint data lists no regions for the service (its endpoint rules build a host for any region, and the
host does not resolve where the service is absent), so the list is the developer guide's "Supported Regions",
https://docs.aws.amazon.com/iot-mi/latest/devguide/what-is-managedintegrations.html (ca-central-1, eu-west-1), and
the regions whose CloudFormation registry has the service's ``AWS::IoTManagedIntegrations::ManagedThing`` type (as
cfn-lint's per-region provider schemas of October 2026 record it: those two and me-central-1).
"""

from __future__ import annotations

SERVICE_REGIONS = frozenset({"ca-central-1", "eu-west-1", "me-central-1"})


def listed(regions: frozenset[str] = SERVICE_REGIONS) -> str:
    """The regions as a sentence fragment: ``ca-central-1, eu-west-1, me-central-1``."""
    return ", ".join(sorted(regions))
