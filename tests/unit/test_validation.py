"""Validation of request values against the botocore model of iot-managed-integrations."""

from __future__ import annotations

from typing import Any

import pytest

from managed_thing_provider.errors import ProviderError
from managed_thing_provider.properties import parse_properties, validate_material
from managed_things_model.service_model import input_shape, sensitive_members, service_model
from managed_things_model.validation import Problem, ValidationFailed, compile_pattern, validate
from unit.support import SEED_REQUEST, properties, request

CREATE = input_shape("CreateManagedThing")


def member(name: str) -> Any:
    return CREATE.members[name]


def problems_at(problems: list[Problem], path: str) -> list[Problem]:
    return [p for p in problems if p.path == path]


def schema_item(**changes: Any) -> dict[str, Any]:
    item = dict(SEED_REQUEST["CapabilitySchemas"][0])
    item.update(changes)
    return item


def test_the_seed_request_is_valid_and_sets_every_create_member() -> None:
    # GIVEN the typed request the seed event stands for
    # WHEN it is validated against CreateManagedThing
    problems = validate(CREATE, request())
    # THEN it has no problem, and it exercises every member a template may set
    assert problems == []
    assert set(SEED_REQUEST) == set(CREATE.members) - {"ClientToken"}


# --- required -----------------------------------------------------------------


@pytest.mark.parametrize("missing", ["Role", "AuthenticationMaterial", "AuthenticationMaterialType"])
def test_a_missing_required_member_is_reported(missing: str) -> None:
    # GIVEN a request without a member the model requires
    value = request(**{missing: None})
    # WHEN it is validated
    problems = validate(CREATE, value)
    # THEN exactly that member is reported as required
    assert [p.describe() for p in problems] == [f"{missing} is required"]


def test_a_missing_nested_required_member_is_reported_with_its_path() -> None:
    # GIVEN a capability report without its version, and a schema item without Schema
    report = dict(SEED_REQUEST["CapabilityReport"])
    del report["version"]
    item = schema_item()
    del item["Schema"]
    # WHEN they are validated
    problems = validate(CREATE, request(CapabilityReport=report, CapabilitySchemas=[item]))
    # THEN each is reported at its full path
    assert {p.path for p in problems} == {"CapabilityReport.version", "CapabilitySchemas[0].Schema"}
    assert all(p.message == "is required" for p in problems)


# --- enum ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bad", "allowed"),
    [
        ("Role", "ADMIN", "CONTROLLER, DEVICE"),
        ("AuthenticationMaterialType", "QR", "CUSTOM_PROTOCOL_QR_BAR_CODE, WIFI_SETUP_QR_BAR_CODE"),
    ],
)
def test_a_value_outside_the_enum_is_reported_with_the_allowed_values(name: str, bad: str, allowed: str) -> None:
    # GIVEN a value the model's enum does not list
    # WHEN it is validated
    problems = validate(CREATE, request(**{name: bad}))
    # THEN the problem lists the allowed values and (not sensitive) what was given
    assert len(problems) == 1
    assert problems[0].path == name
    assert problems[0].message.startswith("must be one of ")
    assert allowed in problems[0].message
    assert problems[0].got == repr(bad)


def test_an_enum_inside_a_list_is_checked() -> None:
    # GIVEN a capability schema whose Format is not AWS, ZCL or CONNECTOR
    value = request(CapabilitySchemas=[schema_item(Format="JSON")])
    # WHEN it is validated
    problems = validate(CREATE, value)
    # THEN the item's Format is reported
    assert [p.describe() for p in problems] == [
        "CapabilitySchemas[0].Format must be one of AWS, ZCL, CONNECTOR (got 'JSON')"
    ]


@pytest.mark.parametrize("good", ["CONTROLLER", "DEVICE"])
def test_every_enum_value_is_accepted(good: str) -> None:
    # GIVEN a Role the model lists
    # WHEN it is validated
    # THEN there is no problem
    assert validate(member("Role"), good) == []


# --- string length --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("CredentialLockerId", "a" * 64, True),
        ("CredentialLockerId", "a" * 65, False),
        ("CredentialLockerId", "", False),
        ("Name", "n" * 128, True),
        ("Name", "n" * 129, False),
        ("Capabilities", "{}" * 2, True),
        ("Capabilities", "", False),
    ],
)
def test_string_lengths_follow_the_model(name: str, value: str, ok: bool) -> None:
    # GIVEN a string at or beyond its shape's length bounds
    # WHEN it is validated
    problems = validate(member(name), value, name)
    # THEN only the out-of-bounds one is reported, as a length problem
    if ok:
        assert problems == []
    else:
        lo, hi = member(name).metadata["min"], member(name).metadata["max"]
        assert [p.describe(echo_values=False) for p in problems] == [f"{name} must be {lo} to {hi} characters long"]


def test_the_empty_string_is_a_length_problem_not_a_pattern_problem() -> None:
    # GIVEN an empty Name (min 1, and a pattern with '+')
    # WHEN it is validated
    problems = validate(member("Name"), "", "Name")
    # THEN one problem: its length
    assert [p.message for p in problems] == ["must be 1 to 128 characters long"]


# --- list and map sizes -----------------------------------------------------------


def test_a_list_longer_than_its_max_is_reported() -> None:
    # GIVEN 41 capability schemas (the model allows 0 to 40)
    value = [schema_item() for _ in range(41)]
    # WHEN they are validated
    problems = validate(member("CapabilitySchemas"), value, "CapabilitySchemas")
    # THEN the list size is reported, and no item (each is valid)
    assert [p.describe() for p in problems] == ["CapabilitySchemas must have 0 to 40 items (got 41 items)"]
    assert validate(member("CapabilitySchemas"), value[:40]) == []


def test_an_empty_list_is_accepted_where_the_model_allows_zero_items() -> None:
    # GIVEN no capability schemas and a report without endpoints
    # WHEN they are validated
    problems = validate(CREATE, request(CapabilitySchemas=[], CapabilityReport={"version": "1.0.0", "endpoints": []}))
    # THEN there is no problem
    assert problems == []


@pytest.mark.parametrize(("size", "ok"), [(0, False), (1, True), (50, True), (51, False)])
def test_map_sizes_follow_the_model(size: int, ok: bool) -> None:
    # GIVEN MetaData with a number of entries around its bounds (1 to 50)
    value = {f"key{i}": "v" for i in range(size)}
    # WHEN it is validated
    problems = validate(member("MetaData"), value, "MetaData")
    # THEN only the out-of-bounds sizes are reported
    if ok:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problems[0].path == "MetaData"
        assert problems[0].message == "must have 1 to 50 entries"


def test_map_keys_and_values_are_checked_against_their_shapes() -> None:
    # GIVEN MetaData whose key is too long (max 128) and whose value is too long (max 800)
    value = {"k" * 129: "v", "ok": "v" * 801}
    # WHEN it is validated
    problems = validate(member("MetaData"), value, "MetaData")
    # THEN both are reported, at the key and at the entry
    assert {p.message for p in problems} == {"must be 0 to 128 characters long", "must be 0 to 800 characters long"}
    assert {p.path for p in problems} == {f"MetaData[{'k' * 129!r}] key", "MetaData['ok']"}


# --- numbers --------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "ok"), [(4, False), (5, True), (10, True), (15, True), (16, False), (-1, False)])
def test_wifi_setup_timeout_is_between_5_and_15(minutes: int, ok: bool) -> None:
    # GIVEN a WiFi simple setup timeout
    value = {"TimeoutInMinutes": minutes}
    # WHEN it is validated
    problems = validate(member("WiFiSimpleSetupConfiguration"), value, "WiFiSimpleSetupConfiguration")
    # THEN only values outside 5..15 are reported
    if ok:
        assert problems == []
    else:
        assert [p.describe() for p in problems] == [
            f"WiFiSimpleSetupConfiguration.TimeoutInMinutes must be between 5 and 15 (got {minutes})"
        ]


@pytest.mark.parametrize(("version", "ok"), [(0, False), (1, True), (10, True), (11, False)])
def test_extrinsic_version_is_between_1_and_10(version: int, ok: bool) -> None:
    # GIVEN a capability schema with an ExtrinsicVersion
    # WHEN it is validated
    problems = validate(CREATE, request(CapabilitySchemas=[schema_item(ExtrinsicVersion=version)]))
    # THEN only values outside 1..10 are reported
    if ok:
        assert problems == []
    else:
        assert [p.describe() for p in problems] == [
            f"CapabilitySchemas[0].ExtrinsicVersion must be between 1 and 10 (got {version})"
        ]


@pytest.mark.parametrize("bad", ["10", "ten", 10.0, 10.5, True, [10]])
def test_an_integer_member_rejects_other_types(bad: Any) -> None:
    # GIVEN a value of the wrong type where an integer belongs (a string, a float, a boolean...)
    value = {"TimeoutInMinutes": bad}
    # WHEN it is validated
    problems = validate(member("WiFiSimpleSetupConfiguration"), value, "W")
    # THEN it is reported as not an integer
    assert [p.message for p in problems] == ["must be an integer"]
    assert problems[0].path == "W.TimeoutInMinutes"


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("EnableAsProvisioner", "true", "must be a boolean"),
        ("EnableAsProvisioner", 1, "must be a boolean"),
    ],
)
def test_a_boolean_member_rejects_other_types(name: str, bad: Any, message: str) -> None:
    # GIVEN a string or an integer where a boolean belongs
    # WHEN it is validated
    problems = validate(member("WiFiSimpleSetupConfiguration"), {name: bad})
    # THEN it is reported as not a boolean
    assert [p.message for p in problems] == [message]


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("Name", 5, "must be a string"),
        ("WiFiSimpleSetupConfiguration", "yes", "must be an object"),
        ("CapabilitySchemas", {"Format": "AWS"}, "must be a list"),
        ("MetaData", ["floor"], "must be a map of strings"),
    ],
)
def test_a_value_of_the_wrong_kind_is_reported(name: str, bad: Any, message: str) -> None:
    # GIVEN a value of the wrong kind for its shape
    # WHEN it is validated
    problems = validate(CREATE, request(**{name: bad}))
    # THEN the member is reported with the expected kind
    assert [(p.path, p.message) for p in problems] == [(name, message)]


# --- patterns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "ok"), [("1.0.0", True), ("1.0.1", False), ("2.0.0", False), ("1.0.0x", False), ("1x0x0", False)]
)
def test_capability_report_version_must_be_1_0_0(version: str, ok: bool) -> None:
    # GIVEN a capability report version
    report = dict(SEED_REQUEST["CapabilityReport"], version=version)
    # WHEN it is validated
    problems = validate(member("CapabilityReport"), report, "CapabilityReport")
    # THEN anything but 1.0.0 (matched whole, not as a prefix or with '.' as any character) is reported
    if ok:
        assert problems == []
    else:
        assert [(p.path, p.message) for p in problems] == [
            ("CapabilityReport.version", r"must match the pattern 1\.0\.0")
        ]


@pytest.mark.parametrize("name", ["Küche 2", "Living room hub", "Salón_1.b-c", "居間", "٣ غرفة"])
def test_name_accepts_unicode_letters_and_numbers(name: str) -> None:
    # GIVEN a Name of letters and numbers in any script, spaces, '.', '_' and '-'
    # WHEN it is validated against [\p{L}\p{N} ._-]+
    # THEN it is accepted
    assert validate(member("Name"), name) == []


@pytest.mark.parametrize("name", ["bad*name", "tab\there", "emoji 🙂", "semi;colon", "new\nline"])
def test_name_rejects_other_characters(name: str) -> None:
    # GIVEN a Name with a character outside [\p{L}\p{N} ._-]
    # WHEN it is validated
    problems = validate(member("Name"), name, "Name")
    # THEN it is reported as not matching the pattern
    assert [p.message for p in problems] == [r"must match the pattern [\p{L}\p{N} ._-]+"]


@pytest.mark.parametrize("capabilities", ['{"onOff": true}', '"quoted"', "{'single': [1, 2]}", "a\\b/c $x+y=z"])
def test_capabilities_accepts_double_quotes_written_as_x0022(capabilities: str) -> None:
    # GIVEN Capabilities with a double quote (the model writes it as \x{0022}) and other allowed characters
    # WHEN it is validated
    # THEN it is accepted
    assert validate(member("Capabilities"), capabilities) == []


@pytest.mark.parametrize("capabilities", ['{"a": "<b>"}', "50%", "a&b"])
def test_capabilities_rejects_characters_outside_its_class(capabilities: str) -> None:
    # GIVEN Capabilities with '<', '%' or '&' (not in the model's class)
    # WHEN it is validated
    problems = validate(member("Capabilities"), capabilities, "Capabilities")
    # THEN it is reported as not matching the pattern
    assert len(problems) == 1
    assert problems[0].message.startswith("must match the pattern ")


@pytest.mark.parametrize(
    ("extrinsic_id", "ok"), [("0x0006", True), ("0X1f", True), ("6", True), ("0x", False), ("x6", False), ("6a", False)]
)
def test_extrinsic_id_alternatives_are_matched_whole(extrinsic_id: str, ok: bool) -> None:
    # GIVEN an ExtrinsicId (pattern 0[xX][0-9a-fA-F]+$|^[0-9]+)
    # WHEN it is validated
    problems = validate(CREATE, request(CapabilitySchemas=[schema_item(ExtrinsicId=extrinsic_id)]))
    # THEN hexadecimal and decimal ids pass and anything else is reported
    assert (problems == []) is ok


def test_every_pattern_in_the_service_model_compiles() -> None:
    # GIVEN every pattern of every shape of the service model
    model = service_model()
    patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names} - {None}
    assert len(patterns) > 20
    # WHEN each is compiled
    failures = {}
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except Exception as error:  # noqa: BLE001 - every failure is reported at once
            failures[pattern] = repr(error)
    # THEN none fails
    assert failures == {}


def test_compiled_patterns_translate_unicode_properties_and_code_points() -> None:
    # GIVEN the two constructs Python's re lacks
    # WHEN patterns using them are compiled
    letters = compile_pattern(r"[\p{L}]+")
    numbers = compile_pattern(r"[\p{N}]+")
    quote = compile_pattern(r"[a\x{0022}]+")
    # THEN they mean what ECMAScript means
    assert letters.fullmatch("Küche") and not letters.fullmatch("K2") and not letters.fullmatch("a_b")
    assert numbers.fullmatch("42٣") and not numbers.fullmatch("4a")
    assert quote.fullmatch('a"a') and not quote.fullmatch("a'a")


# --- unknown members ----------------------------------------------------------------


def test_an_unknown_member_is_reported_with_the_known_ones() -> None:
    # GIVEN a WiFi configuration with a member the model does not have
    value = {"TimeoutInMinutes": 10, "Channel": 6}
    # WHEN it is validated
    problems = validate(member("WiFiSimpleSetupConfiguration"), value, "WiFiSimpleSetupConfiguration")
    # THEN the unknown member is named and the known ones listed
    assert len(problems) == 1
    assert problems[0].path == "WiFiSimpleSetupConfiguration.Channel"
    assert "is not a known member" in problems[0].message
    assert "TimeoutInMinutes" in problems[0].message


def test_an_unknown_property_is_reported_by_parse_properties() -> None:
    # GIVEN ResourceProperties with a property that is not a CreateManagedThing member
    props = properties(Colour="blue")
    # WHEN they are parsed
    desired = parse_properties(props)
    # THEN the property is reported, is not sent, and its value is not shown
    assert [p.describe() for p in desired.problems] == ["Colour is not a property of a managed thing"]
    assert "Colour" not in desired.request


def test_the_client_token_cannot_be_set_by_a_template() -> None:
    # GIVEN ResourceProperties that try to set the ClientToken
    # WHEN they are parsed
    desired = parse_properties(properties(ClientToken="mine"))
    # THEN it is refused: the provider derives the token from the request
    assert [p.path for p in desired.problems] == ["ClientToken"]


def test_cloudformation_properties_are_not_request_members() -> None:
    # GIVEN the seed's properties, which include ServiceToken and ServiceTimeout
    # WHEN they are parsed
    desired = parse_properties(properties())
    # THEN neither is a problem nor part of the request
    assert desired.problems == []
    assert "ServiceToken" not in desired.request and "ServiceTimeout" not in desired.request


def test_a_secret_arn_replaces_the_required_material() -> None:
    # GIVEN the material's secret instead of the material
    props = properties(
        AuthenticationMaterial=None,
        AuthenticationMaterialSecretArn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-AbCdEf",
    )
    # WHEN they are parsed
    desired = parse_properties(props)
    # THEN the missing material is not a problem, and the ARN is kept apart from the request
    assert desired.problems == []
    assert desired.secret_arn.endswith(":secret:hub-AbCdEf")
    assert "AuthenticationMaterialSecretArn" not in desired.request


@pytest.mark.parametrize(
    ("props", "path"),
    [
        (
            properties(AuthenticationMaterialSecretArn="arn:aws:secretsmanager:eu-west-1:1:secret:x"),
            "AuthenticationMaterial",
        ),
        (
            properties(AuthenticationMaterial=None, AuthenticationMaterialSecretArn="hub material*"),
            "AuthenticationMaterialSecretArn",
        ),
    ],
)
def test_secret_arn_misuse_is_reported(props: dict[str, Any], path: str) -> None:
    # GIVEN both the material and its secret, or a secret that is neither an ARN nor a secret name
    # WHEN they are parsed
    desired = parse_properties(props)
    # THEN the misuse is reported
    assert [p.path for p in desired.problems] == [path]


def test_a_secret_name_is_accepted_as_well_as_an_arn() -> None:
    # GIVEN a secret named as ManagedThingFleet writes it (Secrets Manager's SecretId takes both)
    desired = parse_properties(properties(AuthenticationMaterial=None, AuthenticationMaterialSecretArn="fleet/p-1"))
    # THEN no problem, and the name is the secret to read
    assert desired.problems == [] and desired.secret_arn == "fleet/p-1"


# --- sensitive members ------------------------------------------------------------


SENSITIVE_CASES = [
    ("SerialNumber", "SN*SECRET*0001"),
    ("SerialNumber", "S" * 129),
    ("Brand", "Secret!Brand"),
    ("Model", "Secret%Model"),
    ("Owner", "secret owner!"),
    ("Classification", "C" * 65),
    ("AuthenticationMaterial", "WIFI:S:secret-hub;P:hünter22;;"),
    ("AuthenticationMaterial", "secret-" * 80),
    ("Tags", {"secret-key-" + "k" * 130: "tag-value-secret"}),
    ("Tags", {"secret-tag": "secret-value-" + "v" * 256}),
    ("Tags", "secret-tag=tag-value-secret"),
    ("Tags", {"secret-tag": 12345678}),
    ("Owner", 98765432),
]


@pytest.mark.parametrize(("name", "bad"), SENSITIVE_CASES)
def test_problems_with_sensitive_members_never_carry_the_value(name: str, bad: Any) -> None:
    # GIVEN an invalid value of a member the model marks sensitive
    assert name in sensitive_members()
    # WHEN it is validated, and described with values echoed
    problems = validate(CREATE, request(**{name: bad}))
    texts = [p.describe(echo_values=True) for p in problems] + [str(ValidationFailed(problems, echo_values=True))]
    # THEN the member is reported, but no text contains the value or a piece of it
    assert problems and all(p.path.startswith(name) for p in problems)
    assert all(p.got is None or p.got.endswith(("characters", "entries", "items")) for p in problems)
    fragments = _fragments(bad)
    for text in texts:
        assert [f for f in fragments if f in text] == [], text


def test_echoed_problems_do_show_values_of_members_that_are_not_sensitive() -> None:
    # GIVEN an invalid value of a member that is not sensitive
    problems = validate(CREATE, request(CredentialLockerId="locker-01"))
    # WHEN described with and without echo
    # THEN the value is shown only when echo is on (so the sensitive test above can fail)
    assert problems[0].describe(echo_values=True).endswith("(got 'locker-01')")
    assert "locker-01" not in problems[0].describe(echo_values=False)
    assert "locker-01" not in str(ValidationFailed(problems))


def test_a_sensitive_map_hides_its_keys_in_paths() -> None:
    # GIVEN a tag key that is too long, and a MetaData key that is too long
    value = request(Tags={"secret-key-" + "k" * 130: "v"}, MetaData={"meta-" + "m" * 130: "v"})
    # WHEN validated
    paths = {p.path for p in validate(CREATE, value)}
    # THEN the tag key is not named, the (not sensitive) MetaData key is
    assert "Tags[...] key" in paths
    assert f"MetaData[{'meta-' + 'm' * 130!r}] key" in paths


def test_material_read_from_a_secret_is_validated_without_echo() -> None:
    # GIVEN material from a secret with a character the model does not allow
    material = "WIFI:S:vault-secret;P:pässword;;"
    # WHEN it is validated
    with pytest.raises(ProviderError) as raised:
        validate_material(material)
    # THEN the reason names where it came from, never the value
    assert str(raised.value).startswith("AuthenticationMaterial (from AuthenticationMaterialSecretArn) must match")
    assert "vault-secret" not in str(raised.value) and "pässword" not in str(raised.value)


@pytest.mark.parametrize("material", [b"WIFI:S:bytes-secret;;", "", None])
def test_material_from_a_secret_must_be_a_non_empty_string(material: Any) -> None:
    # GIVEN a binary secret, an empty one, or none
    # WHEN it is validated
    # THEN it is refused
    with pytest.raises(ProviderError) as raised:
        validate_material(material)
    assert "bytes-secret" not in str(raised.value)


# --- documents and skipped values ---------------------------------------------------


@pytest.mark.parametrize("schema", [float("nan"), {"a": float("inf")}, {"a": {1, 2}}, object()])
def test_a_schema_that_is_not_json_is_reported(schema: Any) -> None:
    # GIVEN a capability Schema that JSON cannot carry
    # WHEN it is validated
    problems = validate(CREATE, request(CapabilitySchemas=[schema_item(Schema=schema)]))
    # THEN it is reported at the Schema
    assert [p.path for p in problems] == ["CapabilitySchemas[0].Schema"]


@pytest.mark.parametrize("schema", [{"x": None}, [1, "a", None, 0.5, True], "bare", 3, 2.5, False])
def test_any_json_value_is_a_valid_schema(schema: Any) -> None:
    # GIVEN a Schema that is any JSON value (object, array, string, number, boolean, with nulls)
    # WHEN it is validated
    # THEN there is no problem
    assert validate(CREATE, request(CapabilitySchemas=[schema_item(Schema=schema)])) == []


def test_skipped_values_are_not_validated() -> None:
    # GIVEN a predicate that marks unresolved values (CDK tokens at synth time)
    token = "${Token[TOKEN.42]}"
    # WHEN a request carrying one in an integer and a patterned member is validated
    value = request(Name=token, WiFiSimpleSetupConfiguration={"TimeoutInMinutes": token})
    problems = validate(CREATE, value, skip=lambda v: v == token)
    # THEN the tokens are not reported (and without the predicate they are)
    assert problems == []
    assert {p.path for p in validate(CREATE, value)} == {"Name", "WiFiSimpleSetupConfiguration.TimeoutInMinutes"}


def _fragments(value: Any) -> list[str]:
    """The value, and each 6-character piece of every string in it."""
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in (*_fragments(k), *_fragments(v))]
    text = str(value)
    pieces = {text} | {text[i : i + 6] for i in range(0, max(len(text) - 5, 1), 3)}
    return sorted(pieces)
