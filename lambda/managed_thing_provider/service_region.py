"""A region without AWS IoT Managed Integrations: nothing can be created there, and nothing can exist to delete.

The service's endpoint rules give a host for any region (``api.iotmanagedintegrations.<region>.api.aws``); where the
service does not run the host does not resolve, which botocore reports as ``EndpointConnectionError`` (a proxy that
cannot open the tunnel gives ``ProxyConnectionError``). Retrying that until the deadline only delays the answer, so a
call that cannot reach the endpoint, in a region missing from the service's list, fails at once with a reason that
names the region. Either fact alone proves nothing: a DNS failure in a region of the service stays transient, and a
region AWS adds later works as soon as its endpoint answers.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError, ProxyConnectionError

from managed_things_model.regions import SERVICE_REGIONS, listed
from managed_things_model.service_model import SERVICE_NAME

# The code of an ApiError from a call to a region without the service.
NO_SERVICE_IN_REGION = "NoServiceInRegion"


def unreachable(error: Exception) -> bool:
    """The request never reached the endpoint: its host did not resolve or refused the connection."""
    return isinstance(error, (EndpointConnectionError, ProxyConnectionError))


def absent_service(client: Any, error: Exception) -> str | None:
    """Why the call failed for good, when ``client``'s service does not run in its region; else None."""
    meta = client.meta
    region = meta.region_name
    if meta.service_model.service_name != SERVICE_NAME or region in SERVICE_REGIONS or not unreachable(error):
        return None
    return f"region {region} has no AWS IoT Managed Integrations (it runs in {listed()})"
