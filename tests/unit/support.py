"""Expectations shared by the handler tests, written by hand from tests/events/create.json.

Nothing here is computed by the code under test: the typed request is what the
seed event *should* become, so a conversion bug cannot hide in the expectation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from conftest import THING_ARN, THING_ID, load_event

SEED = load_event("create")
SEED_PROPERTIES: dict[str, Any] = SEED["ResourceProperties"]

# The seed's ResourceProperties as the API must receive them: integers, booleans
# and the decoded Schema document (with its null and float) back in their types.
SEED_REQUEST: dict[str, Any] = {
    "Role": "CONTROLLER",
    "Owner": "platform-team",
    "CredentialLockerId": "locker01",
    "AuthenticationMaterial": "WIFI:S:secret-hub;T:WPA;P:hunter22;;",
    "AuthenticationMaterialType": "WIFI_SETUP_QR_BAR_CODE",
    "WiFiSimpleSetupConfiguration": {"EnableAsProvisioner": True, "EnableAsProvisionee": False, "TimeoutInMinutes": 10},
    "SerialNumber": "SN-SECRET-0001",
    "Brand": "SecretBrand",
    "Model": "SecretModel",
    "Name": "Living room hub",
    "CapabilityReport": {
        "version": "1.0.0",
        "nodeId": "1",
        "endpoints": [
            {
                "id": "1",
                "deviceTypes": ["Hub"],
                "capabilities": [
                    {
                        "id": "aws.OnOff@1.4",
                        "name": "OnOff",
                        "version": "1",
                        "properties": ["OnOff"],
                        "actions": ["Toggle"],
                        "events": [],
                    }
                ],
            }
        ],
    },
    "CapabilitySchemas": [
        {
            "Format": "AWS",
            "CapabilityId": "aws.OnOff@1.4",
            "ExtrinsicId": "0x0006",
            "ExtrinsicVersion": 1,
            "Schema": {
                "properties": {"OnOff": {"type": "boolean", "default": False}},
                "revision": 4,
                "precision": 0.5,
                "unit": None,
            },
        }
    ],
    "Capabilities": '{"onOff": true}',
    "Classification": "SecretClassification",
    "Tags": {"fleet": "home", "secret-tag": "tag-value-secret"},
    "MetaData": {"floor": "1"},
}

# Values of the seed that must never reach a log, a Reason or a response.
SEED_SECRETS: tuple[str, ...] = (
    "WIFI:S:secret-hub;T:WPA;P:hunter22;;",
    "hunter22",
    "SN-SECRET-0001",
    "SecretBrand",
    "SecretModel",
    "platform-team",
    "SecretClassification",
    "fleet",
    "home",
    "secret-tag",
    "tag-value-secret",
)
RESPONSE_URL_PARTS: tuple[str, ...] = (
    SEED["ResponseURL"],
    "X-Amz-Signature",
    "SECRET-SIGNATURE",
    "cloudformation-custom-resource-response",
)

CREATED_AT = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
NEW_THING_ID = "f00dbabe4321"
NEW_THING_ARN = THING_ARN.replace(THING_ID, NEW_THING_ID)
STACK_NAME = "HomeFleet"
LOGICAL_ID = SEED["LogicalResourceId"]
GENERATED_ID = re.compile(rf"{STACK_NAME}_{LOGICAL_ID}_[A-Z0-9]{{8}}")


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with members changed (a value of ``None`` removes the member)."""
    result = copy.deepcopy(base)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = copy.deepcopy(value)
    return result


def properties(**changes: Any) -> dict[str, Any]:
    """The seed's ResourceProperties with members changed (a value of ``None`` removes the member)."""
    return _changed(SEED_PROPERTIES, changes)


def request(**changes: Any) -> dict[str, Any]:
    """The seed's typed request with members changed (a value of ``None`` removes the member)."""
    return _changed(SEED_REQUEST, changes)


# The provider's marker on every thing it creates: cdk-managed-things:resource = 32 hex digits of
# sha256("<StackId>\n<LogicalResourceId>"), written out here from the seed event.
RESOURCE_TAG = "cdk-managed-things:resource"
SEED_MARKER = hashlib.sha256(f"{SEED['StackId']}\n{SEED['LogicalResourceId']}".encode()).hexdigest()[:32]


def create_request(token: str, **changes: Any) -> dict[str, Any]:
    """The CreateManagedThing parameters for the seed's request with members changed: the token, and the marker
    added to the template's tags."""
    members = request(**changes)
    return {"ClientToken": token, **members, "Tags": {**members.get("Tags", {}), RESOURCE_TAG: SEED_MARKER}}


def created(thing_id: str = THING_ID, arn: str = THING_ARN) -> dict[str, Any]:
    """A CreateManagedThing (or GetManagedThing) response."""
    return {"Id": thing_id, "Arn": arn, "CreatedAt": CREATED_AT}


def same_json(actual: Any, expected: Any) -> bool:
    """Equal including JSON types: ``True`` is not ``1``, ``1`` is not ``1.0``, ``None`` is not absent."""
    return json.dumps(actual, sort_keys=True) == json.dumps(expected, sort_keys=True)


def leaked(text: str, values: tuple[str, ...] | list[str]) -> list[str]:
    """The values that occur in ``text``."""
    return [value for value in values if value in text]


def stub_replacement(
    provider: Any,
    token: str,
    response: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    *,
    old_arn: str = THING_ARN,
) -> None:
    """Queue a replacement's calls: the old thing tagged with the replacement's token, the Create, the tag removed.

    ``token`` is the replacement's ClientToken (the tag's value starts with it)."""
    from botocore.stub import ANY

    from managed_thing_provider.lifecycle import REPLACEMENT_TAG

    tagged = {
        "ResourceArn": old_arn,
        "Tags": {REPLACEMENT_TAG: ANY},
    }  # "<token>:<fingerprint>": see test_handler_failure_paths
    provider.stubber.add_response("tag_resource", {}, tagged)
    provider.stubber.add_response("create_managed_thing", response or created(NEW_THING_ID, NEW_THING_ARN), expected)
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": old_arn, "TagKeys": [REPLACEMENT_TAG]})


REPLACEMENT_OPERATIONS = ["GetManagedThing", "TagResource", "CreateManagedThing", "UntagResource"]


class Throttler:
    """Answers every call of ``operation`` with a 429 ``ThrottlingException``, as a rate-limited API would.

    Answers on the client's ``before-call`` event, as botocore's Stubber does (which is set aside meanwhile), so
    the handler's retries meet throttling for as long as they go on, without queueing a guessed number of answers.
    """

    def __init__(self, client: Any, operation: str, stubber: Any = None) -> None:
        self.client = client
        self.operation = operation
        self.stubber = stubber
        self.calls = 0

    def __enter__(self) -> Throttler:
        if self.stubber is not None:
            self.stubber.deactivate()
        # Also the siblings with shorter timeouts that the last attempts before the deadline go through.
        for events in self._event_systems():
            events.register_first(self._event, self._answer, unique_id=self._unique_id)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for events in self._event_systems():
            events.unregister(self._event, unique_id=self._unique_id)
        if self.stubber is not None:
            self.stubber.activate()

    @property
    def _event(self) -> str:
        return f"before-call.{self.client.meta.service_model.service_id.hyphenize()}.{self.operation}"

    @property
    def _unique_id(self) -> str:
        return f"unit-test-throttler-{self.operation}"

    def _event_systems(self) -> list[Any]:
        import boto3

        from managed_thing_provider import deadline

        deadline._sibling.cache_clear()  # siblings made from now on copy the session's handlers
        return [self.client.meta.events, boto3._get_default_session()._session.get_component("event_emitter")]

    def _answer(self, **_kwargs: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        self.calls += 1
        parsed = {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 429},
        }
        return AWSResponse(None, 429, {}, None), parsed
