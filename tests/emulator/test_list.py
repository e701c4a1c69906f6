"""ListManagedThings: every filter of the model, and NextToken/MaxResults pagination."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.support import RawClient, thing
from managed_things_local.emulator.models import DEFAULT_MAX_RESULTS, list_filters
from managed_things_model.service_model import input_shape


def ids(page: dict[str, Any]) -> list[str]:
    return [item["Id"] for item in page["Items"]]


@pytest.fixture
def fleet(client: Any) -> dict[str, str]:
    """Four things that differ in every member a Create can set and a filter compares."""
    made = {
        "hub": thing(Role="CONTROLLER", Owner="alice", CredentialLockerId="lockerA", SerialNumber="SN-1"),
        "lamp": thing(Role="DEVICE", Owner="alice", CredentialLockerId="lockerB", SerialNumber="SN-2"),
        "plug": thing(Role="DEVICE", Owner="bob", CredentialLockerId="lockerA", SerialNumber="SN-3"),
        "bare": thing(Role="DEVICE"),
    }
    return {name: client.create_managed_thing(**request)["Id"] for name, request in made.items()}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["hub", "lamp", "plug", "bare"]),
        ({"RoleFilter": "CONTROLLER"}, ["hub"]),
        ({"RoleFilter": "DEVICE"}, ["lamp", "plug", "bare"]),
        ({"OwnerFilter": "alice"}, ["hub", "lamp"]),
        ({"CredentialLockerFilter": "lockerA"}, ["hub", "plug"]),
        ({"SerialNumberFilter": "SN-2"}, ["lamp"]),
        ({"ProvisioningStatusFilter": "UNASSOCIATED"}, ["hub", "lamp", "plug", "bare"]),
        ({"ProvisioningStatusFilter": "ACTIVATED"}, []),
        ({"OwnerFilter": "alice", "RoleFilter": "DEVICE"}, ["lamp"]),
        ({"OwnerFilter": "alice", "CredentialLockerFilter": "lockerA", "SerialNumberFilter": "SN-3"}, []),
        # members a Create cannot set: no thing of the emulator has them
        ({"ParentControllerIdentifierFilter": "hub1"}, []),
        ({"ConnectorPolicyIdFilter": "policy-1"}, []),
        ({"ConnectorDestinationIdFilter": "dest-1"}, []),
        ({"ConnectorDeviceIdFilter": "device-1"}, []),
    ],
)
def test_filters_select_the_matching_things(client: Any, fleet: dict[str, str], filters: dict, expected: list) -> None:
    # GIVEN the fleet
    # WHEN things are listed with filters (all given filters must match)
    page = client.list_managed_things(**filters)

    # THEN exactly the matching things come back, in creation order
    assert ids(page) == [fleet[name] for name in expected]
    assert "NextToken" not in page


def test_the_parametrized_cases_cover_every_filter_of_the_model() -> None:
    # GIVEN the filters ListManagedThings has in the model
    modeled = {name for name in input_shape("ListManagedThings").members if name.endswith("Filter")}

    # WHEN the emulator maps them to thing members
    # THEN it knows every one (so none is silently ignored)
    assert set(list_filters()) == modeled


def test_items_are_summaries_with_the_listed_members(client: Any, fleet: dict[str, str]) -> None:
    # GIVEN the fleet
    # WHEN the controller is listed
    (item,) = client.list_managed_things(RoleFilter="CONTROLLER")["Items"]

    # THEN its summary carries the ManagedThingSummary members it has, and no tags
    assert item["Id"] == fleet["hub"]
    assert (item["Owner"], item["CredentialLockerId"], item["SerialNumber"]) == ("alice", "lockerA", "SN-1")
    assert item["ProvisioningStatus"] == "UNASSOCIATED"
    assert "CreatedAt" in item and "Tags" not in item


def test_max_results_pages_through_every_thing_once(client: Any) -> None:
    # GIVEN seven things
    created = [client.create_managed_thing(**thing())["Id"] for _ in range(7)]

    # WHEN they are listed three at a time, following NextToken
    pages, token = [], None
    while True:
        page = client.list_managed_things(MaxResults=3, **({"NextToken": token} if token else {}))
        pages.append(ids(page))
        token = page.get("NextToken")
        if token is None:
            break

    # THEN the pages hold 3, 3 and 1 things, each exactly once, in creation order
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [thing_id for page in pages for thing_id in page] == created


def test_botocore_paginator_follows_the_model_pagination(client: Any) -> None:
    # GIVEN five things, two of them controllers
    roles = ["CONTROLLER", "DEVICE", "CONTROLLER", "DEVICE", "DEVICE"]
    created = [client.create_managed_thing(**thing(Role=role))["Id"] for role in roles]

    # WHEN botocore's paginator lists the devices two per page
    paginator = client.get_paginator("list_managed_things")
    pages = list(paginator.paginate(RoleFilter="DEVICE", PaginationConfig={"PageSize": 2}))

    # THEN it sees the three devices across two pages
    assert [ids(page) for page in pages] == [[created[1], created[3]], [created[4]]]


def test_a_page_holds_100_things_unless_max_results_says_otherwise(client: Any) -> None:
    # GIVEN one thing more than the default page size
    for _ in range(DEFAULT_MAX_RESULTS + 1):
        client.create_managed_thing(**thing())

    # WHEN things are listed without MaxResults
    page = client.list_managed_things()

    # THEN the first page is full and says there is more
    assert len(page["Items"]) == DEFAULT_MAX_RESULTS
    assert "NextToken" in page
    assert len(client.list_managed_things(NextToken=page["NextToken"])["Items"]) == 1


def test_next_token_is_bound_to_its_filters(client: Any) -> None:
    # GIVEN a NextToken from a filtered listing
    for _ in range(3):
        client.create_managed_thing(**thing(Owner="alice"))
    token = client.list_managed_things(OwnerFilter="alice", MaxResults=1)["NextToken"]

    # WHEN it is used with other filters, or a made-up token is sent
    # THEN both are refused as invalid
    with pytest.raises(client.exceptions.ValidationException):
        client.list_managed_things(OwnerFilter="bob", NextToken=token)
    with pytest.raises(client.exceptions.ValidationException):
        client.list_managed_things(NextToken="bm90LWEtdG9rZW4=")


@pytest.mark.parametrize("max_results", ["0", "1001", "ten", "2.5"])
def test_max_results_outside_the_model_range_is_refused(raw: RawClient, max_results: str) -> None:
    # GIVEN a MaxResults the model's integer 1..1000 does not allow
    # WHEN it is sent in the query string
    response = raw.request("GET", f"/managed-things?MaxResults={max_results}")

    # THEN the service answers ValidationException
    assert (response.status, response.error_type) == (400, "ValidationException")


def test_filter_values_are_validated(raw: RawClient) -> None:
    # GIVEN a role filter that is not a Role of the model
    # WHEN things are listed with it
    response = raw.request("GET", "/managed-things?RoleFilter=HUB")

    # THEN the service answers ValidationException naming the filter
    assert (response.status, response.error_type) == (400, "ValidationException")
    assert "RoleFilter" in response.json["Message"]
