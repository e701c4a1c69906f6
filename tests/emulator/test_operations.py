"""Every managed-thing operation through boto3, as an application would call them."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import pytest

from emulator.support import REGION, RawClient, make_client, thing
from managed_things_local.emulator.server import EmulatorOptions, EmulatorServer
from managed_things_model.service_model import input_shape
from managed_things_model.validation import validate

ARN = re.compile(rf"arn:aws:iotmanagedintegrations:{REGION}:123456789012:managed-thing/(?P<id>[0-9a-zA-Z]+)")


def test_create_answers_id_arn_and_creation_time(client: Any) -> None:
    # GIVEN a valid request
    # WHEN the thing is created
    created = client.create_managed_thing(**thing(Name="Hall sensor"))

    # THEN the answer is a 201 with an alphanumeric Id inside an ARN of the client's region and the account
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    match = ARN.fullmatch(created["Arn"])
    assert match is not None and match["id"] == created["Id"]
    assert isinstance(created["CreatedAt"], datetime)
    # and the ARN is one TagResource accepts, as the model defines it
    assert validate(input_shape("TagResource").members["ResourceArn"], created["Arn"]) == []


def test_get_returns_the_stored_members_status_timestamps_and_tags(client: Any) -> None:
    # GIVEN a thing created with members Get returns and one it does not (the authentication material)
    request = thing(
        Name="Hall sensor",
        Owner="ops@example.com",
        SerialNumber="SN-1",
        Brand="Acme",
        Model="M1",
        CredentialLockerId="locker1",
        Classification="sensor",
        MetaData={"floor": "2"},
        WiFiSimpleSetupConfiguration={"EnableAsProvisioner": False, "TimeoutInMinutes": 5},
        Tags={"team": "ops"},
    )
    created = client.create_managed_thing(**request)

    # WHEN it is read back
    got = client.get_managed_thing(Identifier=created["Id"])

    # THEN Get shows those members, typed, with the initial status and the tags
    for name in ("Name", "Owner", "SerialNumber", "Brand", "Model", "CredentialLockerId", "Classification"):
        assert got[name] == request[name]
    assert got["MetaData"] == {"floor": "2"}
    assert got["WiFiSimpleSetupConfiguration"] == {"EnableAsProvisioner": False, "TimeoutInMinutes": 5}
    assert got["Tags"] == {"team": "ops"}
    assert got["Role"] == "DEVICE"
    assert (got["Id"], got["Arn"], got["CreatedAt"]) == (created["Id"], created["Arn"], created["CreatedAt"])
    assert got["ProvisioningStatus"] == "UNASSOCIATED"
    assert got["UpdatedAt"] == got["CreatedAt"]
    assert "AuthenticationMaterial" not in got  # not a member of GetManagedThing's output


def test_update_changes_only_the_given_members(client: Any, emulator: EmulatorServer) -> None:
    # GIVEN a thing with a name, an owner and metadata
    created = client.create_managed_thing(**thing(Name="Old", Owner="alice", MetaData={"a": "1"}))

    # WHEN only the name and the Wi-Fi setup are updated
    answer = client.update_managed_thing(
        Identifier=created["Id"], Name="New", WiFiSimpleSetupConfiguration={"TimeoutInMinutes": 15}
    )

    # THEN the update answers 204 and Get shows the new values next to the untouched ones
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    got = client.get_managed_thing(Identifier=created["Id"])
    assert got["Name"] == "New"
    assert got["WiFiSimpleSetupConfiguration"] == {"TimeoutInMinutes": 15}
    assert got["Owner"] == "alice"
    assert got["MetaData"] == {"a": "1"}
    assert got["UpdatedAt"] >= got["CreatedAt"]
    # and the members Get does not show are kept too
    (stored,) = emulator.backend.list_things()
    assert stored["AuthenticationMaterialSha256"] == hashlib.sha256(b"WIFI:S:home;;").hexdigest()
    # the material itself is never stored
    assert "AuthenticationMaterial" not in stored


def test_delete_removes_the_thing(client: Any) -> None:
    # GIVEN two things
    doomed = client.create_managed_thing(**thing())
    kept = client.create_managed_thing(**thing())

    # WHEN one is deleted
    answer = client.delete_managed_thing(Identifier=doomed["Id"], Force=True)

    # THEN the delete answers 204, Get and a second delete answer 404, and only the other is listed
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.get_managed_thing(Identifier=doomed["Id"])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_managed_thing(Identifier=doomed["Id"])
    assert [item["Id"] for item in client.list_managed_things()["Items"]] == [kept["Id"]]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_managed_thing(Identifier="doesnotexist"),
        lambda c: c.update_managed_thing(Identifier="doesnotexist", Name="x"),
        lambda c: c.delete_managed_thing(Identifier="doesnotexist"),
    ],
    ids=["get", "update", "delete"],
)
def test_unknown_thing_is_not_found(client: Any, call: Any) -> None:
    # GIVEN no thing with that Id
    # WHEN it is read, updated or deleted
    # THEN the service's ResourceNotFoundException is raised
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        call(client)


def test_tags_are_added_removed_and_listed_on_the_thing_arn(client: Any) -> None:
    # GIVEN a thing created with one tag
    created = client.create_managed_thing(**thing(Tags={"team": "ops", "env": "dev"}))

    # WHEN a tag is added, one changed and one removed
    client.tag_resource(ResourceArn=created["Arn"], Tags={"cost": "42", "env": "prod"})
    client.untag_resource(ResourceArn=created["Arn"], TagKeys=["team"])

    # THEN ListTagsForResource and Get both show the result
    expected = {"env": "prod", "cost": "42"}
    assert client.list_tags_for_resource(ResourceArn=created["Arn"])["tags"] == expected
    assert client.get_managed_thing(Identifier=created["Id"])["Tags"] == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda c, arn: c.tag_resource(ResourceArn=arn, Tags={"a": "b"}),
        lambda c, arn: c.untag_resource(ResourceArn=arn, TagKeys=["a"]),
        lambda c, arn: c.list_tags_for_resource(ResourceArn=arn),
    ],
    ids=["tag", "untag", "list-tags"],
)
def test_tagging_an_unknown_arn_is_not_found(client: Any, call: Any) -> None:
    # GIVEN a well-formed ARN that names no thing
    arn = f"arn:aws:iotmanagedintegrations:{REGION}:123456789012:managed-thing/0123456789abcdef"

    # WHEN a tagging operation names it
    # THEN ResourceNotFoundException (404) is raised
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        call(client, arn)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_more_tags_than_the_model_allows_are_refused(client: Any) -> None:
    # GIVEN a thing with 50 tags (the model's maximum for a Tags map)
    created = client.create_managed_thing(**thing(Tags={f"k{i}": "v" for i in range(50)}))

    # WHEN one more tag is added
    # THEN TagResource refuses with the error the model gives it, and the thing keeps 50 tags
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.tag_resource(ResourceArn=created["Arn"], Tags={"one-more": "v"})
    assert len(client.list_tags_for_resource(ResourceArn=created["Arn"])["tags"]) == 50


def test_things_belong_to_the_region_the_request_was_signed_for(emulator: EmulatorServer) -> None:
    # GIVEN a thing created through a eu-west-1 client
    ireland = make_client(emulator.url)
    created = ireland.create_managed_thing(**thing())

    # WHEN a us-east-1 client looks for it, and a request without a SigV4 header creates one
    virginia = make_client(emulator.url, region="us-east-1")
    unsigned = RawClient(emulator.url).request("POST", "/managed-things", thing(), headers={"Authorization": ""})

    # THEN the other region does not see it, and the unsigned request lands in the default region, eu-west-1
    with pytest.raises(virginia.exceptions.ResourceNotFoundException):
        virginia.get_managed_thing(Identifier=created["Id"])
    assert virginia.list_managed_things()["Items"] == []
    assert [item["Id"] for item in ireland.list_managed_things()["Items"]] == [created["Id"], unsigned.json["Id"]]
    assert ":eu-west-1:" in unsigned.json["Arn"]


def test_account_id_is_configurable() -> None:
    # GIVEN an emulator for another account
    with EmulatorServer(options=EmulatorOptions(account_id="111122223333")) as emulator:
        # WHEN a thing is created
        created = make_client(emulator.url).create_managed_thing(**thing())

    # THEN its ARN names that account
    assert created["Arn"].startswith(f"arn:aws:iotmanagedintegrations:{REGION}:111122223333:managed-thing/")


def test_endpoint_from_the_standard_environment_variable(emulator: EmulatorServer, monkeypatch: Any) -> None:
    # GIVEN the service-specific endpoint variable botocore reads, and no endpoint_url
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS", emulator.url)
    client = boto3.Session(region_name=REGION).client("iot-managed-integrations")

    # WHEN a thing is created
    created = client.create_managed_thing(**thing())

    # THEN it reached the emulator
    assert [stored["Id"] for stored in emulator.backend.list_things()] == [created["Id"]]
