"""The project's own provider code (managed_thing_provider.lifecycle) against the emulator, from the seed event."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from conftest import load_event

from emulator.support import make_client
from managed_thing_provider.errors import ProviderError
from managed_thing_provider.lifecycle import (
    apply_update,
    client_token,
    create_thing,
    delete_recovered,
    delete_thing,
    get_thing,
    is_thing_id,
)
from managed_thing_provider.properties import parse_properties
from managed_things_local.emulator.server import EmulatorOptions, EmulatorServer
from managed_things_model.service_model import create_members

SEED = load_event("create")


def no_secret(arn: str) -> str:
    raise AssertionError(f"the seed event reads no secret ({arn})")


def same_json(left: Any, right: Any) -> bool:
    """Equal with JSON types: true is not 1, 10 is not "10"."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


@pytest.fixture
def provider_client(emulator: EmulatorServer) -> Any:
    """A client configured as the provider's (standard retries), pointed at the emulator."""
    return make_client(emulator.url, retries={"mode": "standard", "max_attempts": 5})


def token(request_id: str = SEED["RequestId"]) -> str:
    return client_token(SEED["StackId"], SEED["LogicalResourceId"], request_id)


def test_the_seed_event_is_created_with_every_member_stored_typed(
    provider_client: Any, emulator: EmulatorServer
) -> None:
    # GIVEN the seed event's properties, which set every CreateManagedThing member, parsed as the handler does
    desired = parse_properties(SEED["ResourceProperties"])
    assert set(desired.request) == set(create_members())

    # WHEN the provider creates the thing
    attributes = create_thing(provider_client, desired, token(), no_secret)

    # THEN every member was accepted and is stored with its JSON type (booleans, integers, the Schema document)
    (stored,) = emulator.backend.list_things()
    assert (stored["Id"], stored["Arn"]) == (attributes.id, attributes.arn)
    for name, value in desired.request.items():
        if name == "AuthenticationMaterial":  # the emulator keeps only its digest
            assert stored["AuthenticationMaterialSha256"] == hashlib.sha256(value.encode()).hexdigest()
            continue
        assert same_json(stored[name], value), name
    assert stored["WiFiSimpleSetupConfiguration"] == {
        "EnableAsProvisioner": True,
        "EnableAsProvisionee": False,
        "TimeoutInMinutes": 10,
    }
    assert isinstance(stored["CapabilitySchemas"][0]["ExtrinsicVersion"], int)
    assert stored["CapabilitySchemas"][0]["Schema"]["unit"] is None
    # and its Id is one the provider recognises as a thing's
    assert is_thing_id(attributes.id, stack_id=SEED["StackId"], logical_resource_id=SEED["LogicalResourceId"])
    assert attributes.created_at  # Fn::GetAtt CreatedAt


def test_a_redelivered_create_returns_the_first_thing(provider_client: Any, emulator: EmulatorServer) -> None:
    # GIVEN a Create already handled
    desired = parse_properties(SEED["ResourceProperties"])
    first = create_thing(provider_client, desired, token(), no_secret)

    # WHEN CloudFormation delivers the same event again (same RequestId, so the same ClientToken)
    again = create_thing(provider_client, desired, token(), no_secret)

    # THEN the provider gets the same thing back, and only one exists
    assert again == first
    assert len(emulator.backend.list_things()) == 1


def test_a_create_failing_after_commit_is_retried_into_one_thing() -> None:
    # GIVEN an emulator whose first answer to every new thing is a 500 after creating it
    with EmulatorServer(options=EmulatorOptions(error_after_commit_fraction=1.0)) as emulator:
        client = make_client(emulator.url, retries={"mode": "standard", "max_attempts": 5})

        # WHEN the provider creates the seed thing
        attributes = create_thing(client, parse_properties(SEED["ResourceProperties"]), token(), no_secret)

        # THEN its retry got the thing back, and there is exactly one
        assert [stored["Id"] for stored in emulator.backend.list_things()] == [attributes.id]


def test_an_in_place_update_changes_members_and_tags(provider_client: Any, emulator: EmulatorServer) -> None:
    # GIVEN the seed thing
    old_properties = SEED["ResourceProperties"]
    old = parse_properties(old_properties)
    created = create_thing(provider_client, old, token(), no_secret)

    # WHEN the template changes updatable members and tags
    new_properties = copy.deepcopy(old_properties)
    new_properties["Name"] = "Kitchen hub"
    new_properties["WiFiSimpleSetupConfiguration"]["TimeoutInMinutes"] = "15"
    new_properties["MetaData"] = {"floor": "2"}
    new_properties["Tags"] = {"fleet": "home", "room": "kitchen"}
    new = parse_properties(new_properties)
    updated = apply_update(provider_client, created.id, old, new, token("update-1"), no_secret).thing

    # THEN the same thing now has the new values, and the removed tag is gone
    assert updated.id == created.id
    (stored,) = emulator.backend.list_things()
    assert stored["Name"] == "Kitchen hub"
    assert stored["WiFiSimpleSetupConfiguration"]["TimeoutInMinutes"] == 15
    assert stored["MetaData"] == {"floor": "2"}
    assert stored["Tags"] == {"fleet": "home", "room": "kitchen"}
    assert stored["Role"] == "CONTROLLER"  # untouched


def test_a_replacing_update_creates_a_new_thing(provider_client: Any, emulator: EmulatorServer) -> None:
    # GIVEN the seed thing
    old_properties = SEED["ResourceProperties"]
    old = parse_properties(old_properties)
    created = create_thing(provider_client, old, token(), no_secret)

    # WHEN a member UpdateManagedThing cannot change (Role) changes
    new = parse_properties({**old_properties, "Role": "DEVICE"})
    replacement = apply_update(provider_client, created.id, old, new, token("update-1"), no_secret).thing

    # THEN a second thing exists with the new role (CloudFormation then deletes the old one)
    assert replacement.id != created.id
    assert get_thing(provider_client, replacement.id).arn == replacement.arn
    assert {stored["Role"] for stored in emulator.backend.list_things()} == {"CONTROLLER", "DEVICE"}


def test_delete_removes_the_thing_and_a_second_delete_succeeds(provider_client: Any, emulator: EmulatorServer) -> None:
    # GIVEN the seed thing
    created = create_thing(provider_client, parse_properties(SEED["ResourceProperties"]), token(), no_secret)

    # WHEN the provider deletes it, twice (a re-delivered Delete)
    delete_thing(provider_client, created.id)
    delete_thing(provider_client, created.id)

    # THEN it is gone, and reading it fails as not found
    assert emulator.backend.list_things() == []
    with pytest.raises(ProviderError, match="ResourceNotFoundException"):
        get_thing(provider_client, created.id)


def test_a_recoverable_id_left_by_a_provider_without_the_marker_is_still_recovered(
    provider_client: Any, emulator: EmulatorServer
) -> None:
    # GIVEN a thing committed by a Create of a provider from before the resource marker (same token, no marker tag),
    # whose outcome was unknown: CloudFormation holds `ClientToken/<token>`
    desired = parse_properties(SEED["ResourceProperties"])
    create_thing(provider_client, desired, token(), no_secret)

    # WHEN today's provider runs the rollback Delete of that recoverable id (its Create would carry the marker)
    deleted = delete_recovered(provider_client, token(), desired, no_secret, marker="0" * 32)

    # THEN it recovered the thing as it was made and deleted it: nothing is orphaned
    assert deleted is not None
    assert emulator.backend.list_things() == []
