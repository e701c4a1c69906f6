"""The REST-JSON wire details, over plain HTTP: status codes, headers, bodies, URIs and query strings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from emulator.support import RawClient, arn_path, thing
from managed_things_model.service_model import operation


def created(raw: RawClient, **members: Any) -> dict[str, Any]:
    response = raw.create(thing(**members))
    assert response.status == 201, response.body
    return response.json


def test_create_answers_201_with_epoch_seconds(raw: RawClient) -> None:
    # GIVEN a valid body
    # WHEN it is posted to the operation's requestUri
    response = raw.create(thing())

    # THEN the model's responseCode (201), JSON with Id, Arn and CreatedAt as epoch seconds, and a request id
    assert response.status == operation("CreateManagedThing").http["responseCode"] == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-requestid"]
    assert set(response.json) == {"Id", "Arn", "CreatedAt"}
    assert isinstance(response.json["CreatedAt"], (int, float)) and response.json["CreatedAt"] > 1.7e9


def test_get_body_has_only_output_members(raw: RawClient) -> None:
    # GIVEN a thing created with members the output of Get does and does not have
    thing_id = created(raw, Name="Hub", CapabilityReport={"version": "1.0.0", "endpoints": []})["Id"]

    # WHEN it is read
    response = raw.request("GET", f"/managed-things/{thing_id}")

    # THEN the body carries GetManagedThing's members only, timestamps as numbers
    body = response.json
    assert response.status == 200
    assert body["Name"] == "Hub" and body["ProvisioningStatus"] == "UNASSOCIATED"
    assert isinstance(body["CreatedAt"], (int, float)) and isinstance(body["UpdatedAt"], (int, float))
    assert set(body) <= set(operation("GetManagedThing").output_shape.members)  # type: ignore[union-attr]
    assert "AuthenticationMaterial" not in body and "CapabilityReport" not in body


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_update_and_delete_answer_204_without_a_body(raw: RawClient, method: str) -> None:
    # GIVEN a thing
    thing_id = created(raw)["Id"]

    # WHEN it is updated or deleted
    response = raw.request(method, f"/managed-things/{thing_id}", {"Name": "New"} if method == "PUT" else None)

    # THEN the model's 204, with no body
    assert response.status == 204
    assert response.body == b""


def test_delete_force_is_a_boolean_query_parameter(raw: RawClient) -> None:
    # GIVEN a thing
    thing_id = created(raw)["Id"]

    # WHEN Force is not a boolean, then when it is
    bad = raw.request("DELETE", f"/managed-things/{thing_id}?Force=maybe")
    good = raw.request("DELETE", f"/managed-things/{thing_id}?Force=true")

    # THEN the first is refused and the second deletes
    assert (bad.status, bad.error_type) == (400, "ValidationException")
    assert good.status == 204


def test_filters_and_max_results_travel_in_the_query_string(raw: RawClient) -> None:
    # GIVEN two controllers and a device
    ids = [created(raw, Role=role)["Id"] for role in ("CONTROLLER", "DEVICE", "CONTROLLER")]

    # WHEN controllers are listed one per page through the query string
    first = raw.request("GET", "/managed-things?RoleFilter=CONTROLLER&MaxResults=1").json
    second = raw.request("GET", f"/managed-things?RoleFilter=CONTROLLER&MaxResults=1&NextToken={first['NextToken']}")

    # THEN the pages hold the two controllers, and the last has no NextToken
    assert [item["Id"] for item in first["Items"]] == [ids[0]]
    assert [item["Id"] for item in second.json["Items"]] == [ids[2]]
    assert "NextToken" not in second.json


def test_arn_label_is_percent_encoded_and_tag_keys_use_the_wire_name(raw: RawClient) -> None:
    # GIVEN a thing with three tags
    arn = created(raw, Tags={"a": "1", "b": "2", "c": "3"})["Arn"]

    # WHEN tags are removed with the model's wire name (tagKeys), and with the member name (TagKeys)
    removed = raw.request("DELETE", f"{arn_path(arn)}?tagKeys=a&tagKeys=b")
    ignored = raw.request("DELETE", f"{arn_path(arn)}?TagKeys=c")
    listed = raw.request("GET", arn_path(arn))

    # THEN the wire name removes a and b, the member name is not a parameter, and tags list under "tags"
    assert (removed.status, ignored.status) == (200, 200)
    assert listed.json == {"tags": {"c": "3"}}


def test_tag_resource_body(raw: RawClient) -> None:
    # GIVEN a thing
    arn = created(raw)["Arn"]

    # WHEN tags are posted to /tags/{ResourceArn}
    response = raw.request("POST", arn_path(arn), {"Tags": {"team": "ops"}})

    # THEN 200, and the tag is on the thing
    assert response.status == 200
    assert raw.request("GET", arn_path(arn)).json == {"tags": {"team": "ops"}}


def test_an_unencoded_arn_label_does_not_match_a_route(raw: RawClient) -> None:
    # GIVEN an ARN sent without encoding: its "/" splits the label across two path segments
    arn = created(raw)["Arn"]

    # WHEN it is used as the label
    response = raw.request("GET", f"/tags/{quote(arn, safe=':/')}")

    # THEN no operation matches
    assert (response.status, response.error_type) == (404, "UnknownOperationException")


def test_errors_carry_the_modeled_shape(raw: RawClient) -> None:
    # GIVEN no thing "missing"
    # WHEN it is read
    response = raw.request("GET", "/managed-things/missing")

    # THEN the model's status, the x-amzn-ErrorType header, and the error shape's members in the body
    assert (response.status, response.error_type) == (404, "ResourceNotFoundException")
    assert response.headers["content-type"] == "application/json"
    assert response.json["Message"]
    assert response.json["ResourceId"] == "missing"


def test_unknown_paths_and_unserved_operations(raw: RawClient) -> None:
    # GIVEN a path no operation has, and one of an operation of the model the emulator does not serve
    # WHEN they are requested
    unknown = raw.request("GET", "/no-such-thing")
    unserved = raw.request("GET", "/managed-things-capabilities/abc123")

    # THEN 404 for the first and 501 for the second, each saying so
    assert (unknown.status, unknown.error_type) == (404, "UnknownOperationException")
    assert (unserved.status, unserved.error_type) == (501, "NotImplementedException")
    assert "GetManagedThingCapabilities" in unserved.json["Message"]
