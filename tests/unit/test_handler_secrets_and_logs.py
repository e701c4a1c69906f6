"""Authentication material from Secrets Manager, and what the provider lets into its logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from conftest import THING_ARN, THING_ID, load_event, update_event
from crhelper import CfnResource

from managed_thing_provider.lifecycle import client_token
from managed_things_model.service_model import sensitive_members
from unit.support import (
    NEW_THING_ARN,
    NEW_THING_ID,
    REPLACEMENT_OPERATIONS,
    RESPONSE_URL_PARTS,
    SEED,
    SEED_PROPERTIES,
    SEED_SECRETS,
    create_request,
    created,
    leaked,
    properties,
    same_json,
    stub_replacement,
)

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-material-AbCdEf"
OTHER_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-material-2-GhIjKl"
SECRET_VALUE = "WIFI:S:vault-hub;T:WPA;P:vaultpass77;;"
OTHER_SECRET_VALUE = "WIFI:S:vault-hub-2;T:WPA;P:vaultpass88;;"


def secret_properties(arn: str = SECRET_ARN, **changes: Any) -> dict[str, Any]:
    return properties(AuthenticationMaterial=None, AuthenticationMaterialSecretArn=arn, **changes)


def secret_value(value: Any, arn: str = SECRET_ARN) -> dict[str, Any]:
    body: dict[str, Any] = {"ARN": arn, "Name": "hub-material", "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET"}
    body["SecretBinary" if isinstance(value, bytes) else "SecretString"] = value
    return body


def token(event: dict[str, Any]) -> str:
    return client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])


# --- Secrets Manager -------------------------------------------------------------


def test_create_reads_the_material_from_the_secret_and_sends_it(
    provider: Any, api_calls: Any, secretsmanager: Any
) -> None:
    # GIVEN a Create that names the material's secret instead of carrying it
    event = load_event("create", ResourceProperties=secret_properties())
    secretsmanager.stubber.add_response("get_secret_value", secret_value(SECRET_VALUE), {"SecretId": SECRET_ARN})
    expected = create_request(token(event), AuthenticationMaterial=SECRET_VALUE)
    provider.stubber.add_response("create_managed_thing", created(), expected)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the secret is read once (always fresh), and its value is sent as the AuthenticationMaterial
    assert secretsmanager.calls.calls == [("GetSecretValue", {"SecretId": SECRET_ARN})]
    assert "secretsmanager" in secretsmanager.clients_requested
    assert api_calls.operations == ["CreateManagedThing"]
    assert same_json(api_calls.params("CreateManagedThing")[0], expected)
    assert "AuthenticationMaterialSecretArn" not in api_calls.params("CreateManagedThing")[0]
    # AND the answer is a normal SUCCESS
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", THING_ID)


@pytest.mark.parametrize(
    "value",
    ["WIFI:S:vault-hub;P:vaultpäss77;;", "vault-secret-" * 40, "vault\nsecret", b"WIFI:S:vault-binary-secret;;"],
    ids=["bad character", "too long", "newline", "binary"],
)
def test_an_invalid_secret_value_fails_before_create_without_echoing_it(
    provider: Any, api_calls: Any, secretsmanager: Any, value: Any
) -> None:
    # GIVEN a secret whose value is not a valid AuthenticationMaterial
    secretsmanager.stubber.add_response("get_secret_value", secret_value(value))
    # WHEN a Create using it runs
    response = provider.invoke(load_event("create", ResourceProperties=secret_properties()))
    # THEN FAILED says where the material came from, never what it was, and CreateManagedThing is not called
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("AuthenticationMaterial (from AuthenticationMaterialSecretArn) must ")
    text = value.decode() if isinstance(value, bytes) else value
    assert leaked(response["Reason"], [text, "vault", "secret"]) == []
    assert len(response["Reason"]) <= 256


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"])
def test_an_unreadable_secret_fails_naming_the_error_code(
    provider: Any, api_calls: Any, secretsmanager: Any, code: str
) -> None:
    # GIVEN Secrets Manager refusing to return the secret
    secretsmanager.stubber.add_client_error(
        "get_secret_value", service_error_code=code, service_message=f"Cannot read {SECRET_ARN}", http_status_code=400
    )
    # WHEN a Create using it runs
    response = provider.invoke(load_event("create", ResourceProperties=secret_properties()))
    # THEN FAILED names the property and the code, and nothing is created
    assert api_calls.calls == []
    assert response["Status"] == "FAILED"
    assert response["Reason"] == f"AuthenticationMaterialSecretArn: could not read the secret ({code})"


def test_create_reads_a_secret_named_by_a_fleet(provider: Any, api_calls: Any, secretsmanager: Any) -> None:
    # GIVEN a Create whose secret is given by name, as ManagedThingFleet writes it
    name = "fleet/plugs/PLUG-0001"
    event = load_event("create", ResourceProperties=secret_properties(name))
    secretsmanager.stubber.add_response("get_secret_value", secret_value(SECRET_VALUE), {"SecretId": name})
    provider.stubber.add_response("create_managed_thing", created())
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the name is the SecretId, and the material is sent
    assert secretsmanager.calls.calls == [("GetSecretValue", {"SecretId": name})]
    assert api_calls.params("CreateManagedThing")[0]["AuthenticationMaterial"] == SECRET_VALUE
    assert response["Status"] == "SUCCESS"


@pytest.mark.parametrize("secret", ["", "fleet/plugs/*", "name with spaces", "x" * 513])
def test_a_secret_that_is_neither_an_arn_nor_a_name_fails_before_any_call(
    provider: Any, api_calls: Any, secretsmanager: Any, secret: str
) -> None:
    # GIVEN a Create whose secret property is not a Secrets Manager ARN nor a secret name
    event = load_event("create", ResourceProperties=secret_properties(secret))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN FAILED, naming the property, with no call to either service
    assert secretsmanager.calls.calls == [] and api_calls.calls == []
    assert response["Reason"] == (
        "AuthenticationMaterialSecretArn must be the ARN or the name of a Secrets Manager secret"
    )


def test_material_and_its_secret_together_fail_without_reading_the_secret(
    provider: Any, api_calls: Any, secretsmanager: Any
) -> None:
    # GIVEN a Create with both AuthenticationMaterial and AuthenticationMaterialSecretArn
    props = properties(AuthenticationMaterialSecretArn=SECRET_ARN)
    # WHEN the handler runs
    response = provider.invoke(load_event("create", ResourceProperties=props))
    # THEN FAILED, with no call to either service
    assert secretsmanager.calls.calls == [] and api_calls.calls == []
    assert response["Reason"] == "AuthenticationMaterial and AuthenticationMaterialSecretArn are mutually exclusive"


def test_an_api_error_quoting_the_secret_value_is_redacted(provider: Any, api_calls: Any, secretsmanager: Any) -> None:
    # GIVEN the API refusing a material read from a secret, quoting it
    secretsmanager.stubber.add_response("get_secret_value", secret_value(SECRET_VALUE))
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code="ValidationException",
        service_message=f"AuthenticationMaterial {SECRET_VALUE} does not decode",
    )
    # WHEN the handler runs
    response = provider.invoke(load_event("create", ResourceProperties=secret_properties()))
    # THEN the Reason has the code and no secret
    assert (
        response["Reason"]
        == "CreateManagedThing failed: ValidationException: AuthenticationMaterial *** does not decode"
    )


def test_an_in_place_update_does_not_read_an_unchanged_secret(
    provider: Any, api_calls: Any, secretsmanager: Any
) -> None:
    # GIVEN an Update of the Name of a thing whose material comes from a secret
    provider.stubber.add_response("get_managed_thing", created(), {"Identifier": THING_ID})
    provider.stubber.add_response("update_managed_thing", {}, {"Identifier": THING_ID, "Name": "Kitchen hub"})
    event = update_event(secret_properties(), secret_properties(Name="Kitchen hub"))
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the secret is not read and the thing is updated in place
    assert secretsmanager.calls.calls == []
    assert api_calls.operations == ["GetManagedThing", "UpdateManagedThing"]
    assert response["PhysicalResourceId"] == THING_ID


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (secret_properties(), secret_properties(OTHER_SECRET_ARN)),
        (properties(), secret_properties(OTHER_SECRET_ARN)),
    ],
    ids=["other secret", "literal to secret"],
)
def test_a_new_material_source_replaces_the_thing_with_the_new_secret_value(
    provider: Any, api_calls: Any, secretsmanager: Any, cloudformation: Any, old: dict[str, Any], new: dict[str, Any]
) -> None:
    # GIVEN an Update that takes the material from another secret, during a stack update (not a rollback)
    event = update_event(old, new)
    provider.stubber.add_response("get_managed_thing", {**created(), "Role": "CONTROLLER"}, {"Identifier": THING_ID})
    cloudformation.stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "HomeFleet", "CreationTime": "2026-11-26T08:00:00Z", "StackStatus": "UPDATE_IN_PROGRESS"}
            ]
        },
    )
    secretsmanager.stubber.add_response(
        "get_secret_value", secret_value(OTHER_SECRET_VALUE, OTHER_SECRET_ARN), {"SecretId": OTHER_SECRET_ARN}
    )
    expected = create_request(token(event), AuthenticationMaterial=OTHER_SECRET_VALUE)
    stub_replacement(provider, token(event), expected=expected)
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN the new secret is read and a replacement created with its value
    assert api_calls.operations == REPLACEMENT_OPERATIONS
    assert same_json(api_calls.params("CreateManagedThing")[0], expected)
    assert response["PhysicalResourceId"] == NEW_THING_ID


def test_a_replacement_whose_new_secret_cannot_be_read_leaves_no_pending_replacement_behind(
    provider: Any, api_calls: Any, secretsmanager: Any, cloudformation: Any
) -> None:
    # GIVEN an Update that takes the material from a secret the role may not read, during a stack update
    from managed_thing_provider.lifecycle import REPLACEMENT_TAG

    event = update_event(properties(), secret_properties())
    provider.stubber.add_response("get_managed_thing", {**created(), "Role": "CONTROLLER"}, {"Identifier": THING_ID})
    cloudformation.stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "HomeFleet", "CreationTime": "2026-11-26T08:00:00Z", "StackStatus": "UPDATE_IN_PROGRESS"}
            ]
        },
    )
    provider.stubber.add_response("tag_resource", {})
    secretsmanager.stubber.add_client_error("get_secret_value", "AccessDeniedException", http_status_code=400)
    provider.stubber.add_response("untag_resource", {}, {"ResourceArn": THING_ARN, "TagKeys": [REPLACEMENT_TAG]})
    # WHEN the handler runs
    response = provider.invoke(event)
    # THEN it fails naming the secret's error, and the replacement's tag is taken off again: no CreateManagedThing was
    # sent, so the rollback has nothing to recover (it would otherwise read the secret again, and fail as this did)
    assert response["Status"] == "FAILED"
    assert "could not read the secret (AccessDeniedException)" in response["Reason"]
    assert api_calls.operations == ["GetManagedThing", "TagResource", "UntagResource"]


# --- logs ---------------------------------------------------------------------


class FakeHTTPSConnection:
    """Stands in for the socket in crhelper's real _send_response, recording each PUT."""

    puts: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, host: str, context: Any = None) -> None:
        self.host = host

    def request(self, method: str, url: str, body: str, headers: dict[str, str]) -> None:
        FakeHTTPSConnection.puts.append({"host": self.host, "method": method, "url": url, "body": json.loads(body)})

    def getresponse(self) -> Any:
        return type("Response", (), {"reason": "OK", "status": 200})()


@pytest.fixture
def real_response_sender(provider: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """crhelper's own _send and _send_response (and their logging), with only the HTTPS connection faked."""
    import crhelper.utils

    FakeHTTPSConnection.puts = []
    monkeypatch.setattr(crhelper.utils, "HTTPSConnection", FakeHTTPSConnection)
    helper = provider.module.helper

    def send(status: str | None = None, reason: str = "") -> None:
        CfnResource._send(helper, status, reason)  # default send_response: crhelper.utils._send_response
        provider.responses.append(FakeHTTPSConnection.puts[-1]["body"])

    monkeypatch.setattr(helper, "_send", send)
    yield FakeHTTPSConnection.puts


@pytest.fixture
def powertools_to_fd1(provider: Any, capfd: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point Powertools' handler at file descriptor 1, as in Lambda, so ``capfd`` sees its lines.

    The handler keeps the ``sys.stdout`` of the moment the module was imported,
    which under pytest may be another capture's stream.
    """
    stdout = open(1, "w", closefd=False, encoding="utf-8")  # noqa: SIM115 - closed below
    for handler in provider.module.logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", stdout)
    yield
    stdout.flush()
    stdout.close()


def sensitive_values() -> list[str]:
    """Every sensitive value of the seed event (the model's list), its tag keys, and the seed's known secrets."""
    values: list[str] = list(SEED_SECRETS)
    for name in sensitive_members():
        value = SEED_PROPERTIES[name]
        values += [*value, *value.values()] if isinstance(value, dict) else [value]
    return sorted(set(values))


def all_logged(caplog: Any, stdout: str, stderr: str) -> str:
    """Everything logged: both streams, and every log record in full (message, arguments, extras, traceback)."""
    records = []
    for record in caplog.records:
        records.append(repr(record.__dict__))
        records.append(record.getMessage())
        if record.exc_info:
            records.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join([stdout, stderr, caplog.text, *records])


def test_nothing_sensitive_and_nothing_of_the_response_url_is_logged(
    provider: Any,
    api_calls: Any,
    secretsmanager: Any,
    real_response_sender: list[dict[str, Any]],
    powertools_to_fd1: None,
    capfd: Any,
    caplog: Any,
) -> None:
    # GIVEN logs captured at DEBUG, from Powertools (stdout) and crhelper/botocore (root logger)
    caplog.set_level(logging.DEBUG)
    seed = load_event("create")
    # ... a Create that succeeds
    provider.stubber.add_response("create_managed_thing", created())
    # ... a Create the API refuses, quoting the request's sensitive values
    provider.stubber.add_client_error(
        "create_managed_thing",
        service_error_code="ValidationException",
        service_message="Invalid SN-SECRET-0001 / SecretBrand / SecretModel / platform-team / SecretClassification "
        "/ WIFI:S:secret-hub;T:WPA;P:hunter22;; / tag secret-tag=tag-value-secret",
    )
    # ... a Create rejected by validation with sensitive values in error
    invalid = properties(SerialNumber="SN*SECRET*0002", Owner="platform team!", Tags={"secret-tag": "v" * 300})
    # ... an Update in place (Name, a tag changed, a tag removed) and a replacing Update
    provider.stubber.add_response("get_managed_thing", {**created(), "Role": "CONTROLLER"})
    provider.stubber.add_response("update_managed_thing", {})
    provider.stubber.add_response("untag_resource", {})
    provider.stubber.add_response("tag_resource", {})
    provider.stubber.add_response("get_managed_thing", {**created(), "Role": "CONTROLLER"})
    provider.stubber.add_response("tag_resource", {})
    provider.stubber.add_response("create_managed_thing", created(NEW_THING_ID, NEW_THING_ARN))
    provider.stubber.add_response("untag_resource", {})
    # ... a Create from a secret, one with an invalid secret value, and a Delete
    secretsmanager.stubber.add_response("get_secret_value", secret_value(SECRET_VALUE))
    provider.stubber.add_response("create_managed_thing", created())
    secretsmanager.stubber.add_response("get_secret_value", secret_value(OTHER_SECRET_VALUE + "ü"))
    provider.stubber.add_response("delete_managed_thing", {})
    events = [
        seed,
        load_event("create", RequestId="11111111-1111-4c3d-9e8f-0123456789ab"),
        load_event("create", RequestId="22222222-1111-4c3d-9e8f-0123456789ab", ResourceProperties=invalid),
        update_event(properties(), properties(Name="Kitchen hub", Tags={"fleet": "office"})),
        update_event(properties(), properties(Role="DEVICE"), RequestId="33333333-2222-4c3d-9e8f-0123456789ab"),
        load_event("create", RequestId="44444444-1111-4c3d-9e8f-0123456789ab", ResourceProperties=secret_properties()),
        load_event("create", RequestId="55555555-1111-4c3d-9e8f-0123456789ab", ResourceProperties=secret_properties()),
        load_event(
            "create",
            RequestType="Delete",
            RequestId="66666666-1111-4c3d-9e8f-0123456789ab",
            PhysicalResourceId=THING_ID,
        ),
    ]
    # WHEN the handler runs them all
    statuses = [provider.invoke(event)["Status"] for event in events]
    stdout, stderr = capfd.readouterr()
    logged = all_logged(caplog, stdout, stderr)
    # THEN the scenario did what it should (so the logs below are the logs of these paths)
    assert statuses == ["SUCCESS", "FAILED", "FAILED", "SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "SUCCESS"]
    assert api_calls.operations == [
        "CreateManagedThing",
        "CreateManagedThing",
        "GetManagedThing",
        "UpdateManagedThing",
        "UntagResource",
        "TagResource",
        "GetManagedThing",
        "TagResource",
        "CreateManagedThing",
        "UntagResource",
        "CreateManagedThing",
        "DeleteManagedThing",
    ]
    # AND both channels were really captured: Powertools' JSON lines on stdout, crhelper's records on the root logger
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert "Created managed thing" in messages and "Answered FAILED" in messages
    assert "Updated managed thing in place" in messages and "Replaced managed thing" in messages
    assert "Deleted managed thing" in messages
    assert any(r.name.startswith("crhelper") and r.levelno == logging.ERROR for r in caplog.records)
    assert any(r.name == "crhelper.utils" for r in caplog.records)  # the real sender ran and logged
    # AND each answer was PUT to the presigned URL, which is therefore known to the process
    url = urlsplit(SEED["ResponseURL"])
    assert {put["host"] for put in real_response_sender} == {url.netloc}
    assert all("X-Amz-Signature=SECRET-SIGNATURE" in put["url"] for put in real_response_sender)
    # AND yet no sensitive value, no secret value and no part of the ResponseURL was logged
    forbidden = [
        *sensitive_values(),
        SECRET_VALUE,
        OTHER_SECRET_VALUE,
        "vaultpass",
        "SN*SECRET*0002",
        "platform team!",
        *RESPONSE_URL_PARTS,
    ]
    assert leaked(logged, forbidden) == []
    # AND no answer carried them either
    assert leaked(json.dumps(real_response_sender), [v for v in forbidden if v not in RESPONSE_URL_PARTS]) == []


def test_crhelper_and_botocore_log_at_production_levels(provider: Any, api_calls: Any, caplog: Any) -> None:
    # GIVEN logging set to DEBUG before an invocation
    caplog.set_level(logging.DEBUG)
    provider.stubber.add_response("create_managed_thing", created())
    # WHEN the handler runs
    provider.invoke(load_event("create"))
    # THEN crhelper has put the root logger back to INFO (its DEBUG logs the event and the ResponseURL),
    # and botocore (whose DEBUG logs request bodies) to ERROR
    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("botocore").level == logging.ERROR
    assert not any(r.levelno == logging.DEBUG and r.name.startswith(("crhelper", "botocore")) for r in caplog.records)


def test_the_log_check_would_catch_a_leak(capfd: Any, caplog: Any) -> None:
    # GIVEN a record carrying a sensitive value the way a careless log call would
    caplog.set_level(logging.DEBUG)
    logging.getLogger("crhelper.resource_helper").error("event %s", {"SerialNumber": "SN-SECRET-0001"})
    print(json.dumps({"message": "x", "url": SEED["ResponseURL"]}))
    # WHEN the captured logs are searched as above
    stdout, stderr = capfd.readouterr()
    logged = all_logged(caplog, stdout, stderr)
    # THEN both leaks are found
    assert leaked(logged, ["SN-SECRET-0001", "SECRET-SIGNATURE"]) == ["SN-SECRET-0001", "SECRET-SIGNATURE"]
