"""Fleet inventories: every format read into CreateManagedThing requests, every problem reported once.

Each line of the error reads ``<construct path>: <file:line or inventory[i]>: <Member> <problem>``;
values of members the model marks sensitive (the key's too, when it is one) never appear.
The three files under ``inventories/`` describe the same three things.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_managed_things import AuthenticationMaterialType, Role, WiFiSimpleSetupConfiguration
from cdk_managed_things._inventory import (
    IGNORED_COLUMNS_WARNING,
    SECRET_NAME_MEMBER,
    InventoryRow,
    InventoryWarning,
    load_inventory,
)

INVENTORIES = Path(__file__).parent / "inventories"
SCOPE = "HomeFleet/Plugs"
DEFAULTS: dict[str, Any] = {
    "Role": Role.CONTROLLER,
    "AuthenticationMaterialType": AuthenticationMaterialType.ZWAVE_QR_BAR_CODE,
}
PREFIX = "home/plugs/"
CANARY = "CANARY"

CAPABILITIES = '{"endpoints": [\n  {"id": "1", "capabilities": ["OnOff"]}\n], "version": "1.0"}'
# The requests the three files describe, with DEFAULTS applied.
EXPECTED_REQUESTS: list[dict[str, Any]] = [
    {
        "SerialNumber": "PLUG-0001",
        "Role": "DEVICE",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        SECRET_NAME_MEMBER: "home/plugs/PLUG-0001",
        "Name": "Kitchen plug",
        "WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": 10, "EnableAsProvisionee": True},
        "Tags": {"room": "kitchen"},
    },
    {
        "SerialNumber": "PLUG-0002",
        "Role": "DEVICE",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        "AuthenticationMaterial": "Z:PLUGCODE2",
        "Name": "Hall plug",
        "Capabilities": CAPABILITIES,
        "CapabilitySchemas": [
            {
                "Format": "AWS",
                "CapabilityId": "aws.OnOff@1.4",
                "ExtrinsicId": "0x0006",
                "ExtrinsicVersion": 4,
                "Schema": {"type": "object", "x": [1.5, None, False]},
            }
        ],
    },
    {
        "SerialNumber": "PLUG-0003",
        "Role": "CONTROLLER",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        SECRET_NAME_MEMBER: "home/plugs/PLUG-0003",
    },
]
VALID_ROW: dict[str, Any] = {"SerialNumber": "PLUG-0001", "Role": "DEVICE", "AuthenticationMaterial": "Z:CODE"}


def _load(inventory: Any, **options: Any) -> list[InventoryRow]:
    options = {"key": "SerialNumber", "defaults": DEFAULTS, "secret_name_prefix": PREFIX, **options}
    return load_inventory(inventory, scope_path=SCOPE, **options)


def _problems(inventory: Any, **options: Any) -> list[str]:
    """The problem lines of the ValueError that loading ``inventory`` raises (after checking the header)."""
    with pytest.raises(ValueError) as raised:
        _load(inventory, **options)
    header, *lines = str(raised.value).splitlines()
    assert lines, "the error names no problem"
    assert header == f"Invalid ManagedThingFleet inventory ({len(lines)} problem{'' if len(lines) == 1 else 's'}):"
    assert all(line.startswith(f"{SCOPE}: ") for line in lines), lines
    return lines


def _rows(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**VALID_ROW, "SerialNumber": f"PLUG-{index:04d}", **row} for index, row in enumerate(rows)]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = list(dict.fromkeys(name for row in rows for name in row))
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in columns])
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# --- every format -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        # The second record's quoted Capabilities cell spans three lines: the third record starts on line 6.
        ("devices.csv", [2, 3, 6]),
        ("devices.json", [2, 10, 17]),
        # A blank line is skipped, and counted.
        ("devices.jsonl", [1, 2, 4]),
    ],
)
def test_each_file_format_reads_the_same_things(name: str, lines: list[int]) -> None:
    # GIVEN an inventory file with JSON cells or objects, a multi-line value, defaults and a secret name
    path = INVENTORIES / name
    # WHEN it is loaded
    rows = _load(str(path))
    # THEN each row is the boto3 request, defaults applied where the row sets nothing, located by its first line
    assert [row.request for row in rows] == EXPECTED_REQUESTS
    assert [row.key for row in rows] == ["PLUG-0001", "PLUG-0002", "PLUG-0003"]
    assert [row.where for row in rows] == [f"{path}:{line}" for line in lines]


def test_a_sequence_of_mappings_takes_dataclasses_enums_and_none() -> None:
    # GIVEN the same things as Python mappings, with an enum, a dataclass and a None member
    inventory = [
        {
            **{k: v for k, v in EXPECTED_REQUESTS[0].items() if k != "WiFiSimpleSetupConfiguration"},
            "Role": Role.DEVICE,
            "WiFiSimpleSetupConfiguration": WiFiSimpleSetupConfiguration(
                timeout_in_minutes=10, enable_as_provisionee=True
            ),
        },
        EXPECTED_REQUESTS[1],
        {"SerialNumber": "PLUG-0003", "Role": None, SECRET_NAME_MEMBER: "home/plugs/PLUG-0003"},
    ]
    # WHEN it is loaded
    rows = _load(inventory)
    # THEN the values are boto3's, and each row is located by its index
    assert [row.request for row in rows] == EXPECTED_REQUESTS
    assert [row.where for row in rows] == ["inventory[0]", "inventory[1]", "inventory[2]"]


def test_a_relative_path_resolves_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a project directory holding the inventory, as the current directory of the CDK app
    (tmp_path / "fleet").mkdir()
    shutil.copy(INVENTORIES / "devices.csv", tmp_path / "fleet" / "devices.csv")
    monkeypatch.chdir(tmp_path)
    # WHEN it is loaded by a relative path
    rows = _load(Path("fleet/devices.csv"))
    # THEN it is found, and rows are located by the path as given
    assert [row.where for row in rows] == ["fleet/devices.csv:2", "fleet/devices.csv:3", "fleet/devices.csv:6"]


def test_defaults_fill_what_a_row_leaves_unset(tmp_path: Path) -> None:
    # GIVEN defaults for Name and Tags, a row setting its own Name, and an empty CSV cell
    path = _write_csv(tmp_path / "d.csv", _rows({"Name": "Own name"}, {"Name": None}))
    # WHEN it is loaded
    rows = _load(str(path), defaults={**DEFAULTS, "Name": "Plug", "Tags": {"fleet": "home"}})
    # THEN the row's value wins, and the empty cell takes the default
    assert [row.request["Name"] for row in rows] == ["Own name", "Plug"]
    assert [row.request["Tags"] for row in rows] == [{"fleet": "home"}] * 2


def test_an_empty_inventory_has_no_rows(tmp_path: Path) -> None:
    # GIVEN a CSV file with the header only
    path = tmp_path / "none.csv"
    path.write_text("SerialNumber,Role\n")
    # WHEN it is loaded
    # THEN there is no row (a fleet of none), and no error
    assert _load(str(path)) == []


# --- the file itself ------------------------------------------------------------------


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text("[]")
    assert _problems(str(path)) == [
        f"{SCOPE}: {path}: has an unknown suffix '.yaml': an inventory is a .csv, .json or .jsonl file"
    ]


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _problems("fleet/devices.csv") == [
        f"{SCOPE}: fleet/devices.csv: no such file (looked for {tmp_path / 'fleet' / 'devices.csv'})"
    ]


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    # GIVEN a JSON array whose second object misses a comma on line 3, column 32
    path = tmp_path / "devices.json"
    path.write_text('[\n  {"SerialNumber": "PLUG-0001"},\n  {"SerialNumber": "PLUG-0002" "Role": "DEVICE"}\n]')
    # WHEN it is loaded
    problems = _problems(str(path))
    # THEN the decoding error is located (the first row's own problems are reported too)
    assert f"{SCOPE}: {path}:3:32: invalid JSON: Expecting ',' delimiter" in problems
    assert f"{SCOPE}: {path}:2: AuthenticationMaterial or {SECRET_NAME_MEMBER} is required, and only one of them" in (
        problems
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"SerialNumber": "A"}', "1:1", "must hold a JSON array of objects, one per thing"),
        ("[\n]\n]", "3:1", "invalid JSON: Extra data after the array"),
        ('[{"SerialNumber": "A"}\n {}]', "2:2", "invalid JSON: Expecting ',' or ']' after an element of the array"),
        ('[{"SerialNumber": "A"},\n]', "2:1", "invalid JSON: Expecting value"),
    ],
)
def test_malformed_json_arrays(tmp_path: Path, text: str, where: str, message: str) -> None:
    path = tmp_path / "devices.json"
    path.write_text(text)
    assert f"{SCOPE}: {path}:{where}: {message}" in _problems(str(path))


def test_invalid_json_line_is_located_and_the_other_lines_still_checked(tmp_path: Path) -> None:
    # GIVEN JSON Lines whose second line is cut short and third has an invalid role
    path = tmp_path / "devices.jsonl"
    good, bad_role = json.dumps(VALID_ROW), json.dumps({**VALID_ROW, "SerialNumber": "PLUG-0003", "Role": "HUB"})
    path.write_text(f'{good}\n{{"SerialNumber": "PLUG-0002",\n{bad_role}\n')
    # WHEN it is loaded
    # THEN both are reported, each on its line
    assert _problems(str(path)) == [
        f"{SCOPE}: {path}:2:30: invalid JSON: Expecting property name enclosed in double quotes",
        f"{SCOPE}: {path}:3: Role must be one of CONTROLLER, DEVICE (got 'HUB')",
    ]


def test_elements_that_are_not_objects(tmp_path: Path) -> None:
    json_path, lines_path = tmp_path / "devices.json", tmp_path / "devices.jsonl"
    json_path.write_text(f'[\n{json.dumps(VALID_ROW)},\n["PLUG-0002"]\n]')
    lines_path.write_text('"PLUG-0001"\n')
    assert _problems(str(json_path)) == [f"{SCOPE}: {json_path}:3: must be a JSON object (got an array)"]
    assert _problems(str(lines_path)) == [f"{SCOPE}: {lines_path}:1: must be a JSON object (got a string)"]
    assert _problems([VALID_ROW, "PLUG-0002"]) == [
        f"{SCOPE}: inventory[1]: must be a mapping of members (got a string)"
    ]


def test_csv_record_with_the_wrong_number_of_cells(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text("SerialNumber,Role,AuthenticationMaterial\nPLUG-0001,DEVICE\n")
    assert _problems(str(path)) == [f"{SCOPE}: {path}:2: has 2 cells, the header 3"]


def test_csv_written_by_a_spreadsheet_with_a_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    # GIVEN a CSV file starting with a UTF-8 BOM, with CRLF line ends and a quoted CRLF inside a cell
    path = tmp_path / "devices.csv"
    capabilities = '{"version": "1.0",\r\n"endpoints": []}'
    quoted = '"' + capabilities.replace('"', '""') + '"'
    header = "SerialNumber,Role,AuthenticationMaterial,Capabilities"
    text = f"{header}\r\nPLUG-0001,DEVICE,Z:CODE,{quoted}\r\nPLUG-0002,,Z:C,\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    # WHEN it is loaded
    rows = _load(str(path))
    # THEN the first column is SerialNumber, the cell keeps its line break, and lines are counted once
    assert [row.request["SerialNumber"] for row in rows] == ["PLUG-0001", "PLUG-0002"]
    assert rows[0].request["Capabilities"] == capabilities
    assert [row.where for row in rows] == [f"{path}:2", f"{path}:4"]


def test_csv_header_naming_a_member_twice(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text("SerialNumber,Role,AuthenticationMaterial,Role\nPLUG-0001,DEVICE,Z:CODE,DEVICE\n")
    assert _problems(str(path)) == [f"{SCOPE}: {path}:1: Role names two columns"]


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    # GIVEN a file that is not UTF-8, and a directory named like an inventory
    latin = tmp_path / "latin.csv"
    latin.write_bytes("SerialNumber\nK\u00fcche\n".encode("latin-1"))
    (tmp_path / "folder.json").mkdir()
    # THEN each is a clear problem
    assert _problems(str(latin)) == [f"{SCOPE}: {latin}: is not UTF-8 text (invalid start byte at byte offset 14)"]
    assert _problems(str(tmp_path / "folder.json")) == [
        f"{SCOPE}: {tmp_path / 'folder.json'}: cannot be read: Is a directory"
    ]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _problems(str(empty)) == [
        f"{SCOPE}: {empty}:1: is empty: the first line must name the members, one a column"
    ]


# --- members and the key ---------------------------------------------------------------


def test_unknown_member_in_a_row_and_in_a_csv_header(tmp_path: Path) -> None:
    # GIVEN a row with a misspelt member, a row setting ClientToken, and a CSV header with a misspelt column
    problems = _problems(_rows({"Colour": "blue"}, {"ClientToken": "abc"}))
    csv_path = _write_csv(tmp_path / "devices.csv", _rows({"Colour": "blue"}, {"Colour": "red"}))
    csv_problems = _problems(str(csv_path))
    # THEN each is named; the CSV column once, at its header
    assert len(problems) == 2
    assert problems[0].startswith(f"{SCOPE}: inventory[0]: Colour is not a member of CreateManagedThing (known: Role,")
    assert problems[1] == (
        f"{SCOPE}: inventory[1]: ClientToken is not set in an inventory: the provider derives one per request"
    )
    assert len(csv_problems) == 1
    assert csv_problems[0].startswith(f"{SCOPE}: {csv_path}:1: Colour is not a member of CreateManagedThing")


def test_missing_key(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "devices.csv", _rows({}, {"SerialNumber": None}))
    assert _problems(str(path)) == [f"{SCOPE}: {path}:3: SerialNumber is required: it is the fleet's key"]


def test_a_required_member_as_key_is_reported_once() -> None:
    # GIVEN Role as the key (the model requires it anyway) and a row without one (nor a default)
    defaults = {"AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE"}
    problems = _problems(_rows({"Role": None, "Name": "x"}), key="Role", defaults=defaults)
    # THEN the missing key is one problem, not two
    assert problems == [f"{SCOPE}: inventory[0]: Role is required: it is the fleet's key"]


def test_duplicate_sensitive_key_names_both_lines_but_not_the_value(tmp_path: Path) -> None:
    # GIVEN three rows, the first and third with the same serial number (a sensitive member)
    rows = _rows({}, {}, {})
    rows[2]["SerialNumber"] = rows[0]["SerialNumber"] = f"{CANARY}-0001"
    path = _write_csv(tmp_path / "devices.csv", rows)
    # WHEN it is loaded
    problems = _problems(str(path))
    # THEN the second occurrence names the first, and the value is not shown
    assert problems == [f"{SCOPE}: {path}:4: SerialNumber is a duplicate key, also at {path}:2"]


def test_duplicate_key_not_sensitive_is_shown() -> None:
    problems = _problems(_rows({"Name": "Hall"}, {"Name": "Hall"}), key="Name")
    assert problems == [f"{SCOPE}: inventory[1]: Name is a duplicate key, also at inventory[0] (got 'Hall')"]


def test_key_that_is_not_a_string(tmp_path: Path) -> None:
    # GIVEN JSON rows whose serial numbers are a number and an object
    path = tmp_path / "devices.jsonl"
    path.write_text("\n".join(json.dumps({**VALID_ROW, "SerialNumber": value}) for value in (1234, {"n": 1})))
    # THEN each is reported, without the (sensitive) value
    assert _problems(str(path)) == [
        f"{SCOPE}: {path}:1: SerialNumber must be a string",
        f"{SCOPE}: {path}:2: SerialNumber must be a string",
    ]


def test_key_that_is_not_a_string_member() -> None:
    problems = _problems(_rows({}), key="Tags")
    assert len(problems) == 1
    assert problems[0].startswith(f"{SCOPE}: key: 'Tags' is not a string member of CreateManagedThing (one of: Role,")
    assert _problems(_rows({}), key="serial_number")[0].startswith(f"{SCOPE}: key: 'serial_number' is not a string")


def test_key_must_be_known_at_synth_time() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    serial = cdk.CfnParameter(stack, "Serial").value_as_string
    assert _problems(_rows({"SerialNumber": serial})) == [
        f"{SCOPE}: inventory[0]: SerialNumber must be known at synth time (not a token): it is the fleet's key"
    ]


# --- defaults ----------------------------------------------------------------------------


def test_problems_with_defaults_are_reported_once() -> None:
    # GIVEN three rows, and defaults with an invalid role, an unknown member, the key and bad tags
    defaults = {**DEFAULTS, "Role": "HUB", "Colour": "blue", "SerialNumber": "PLUG-9", "Tags": {"": "x"}}
    rows = [{k: v for k, v in row.items() if k != "Role"} for row in _rows({}, {}, {})]
    # WHEN they are loaded
    problems = _problems(rows, defaults=defaults)
    # THEN each problem of the defaults is one line, naming defaults, not one per row
    assert len(problems) == 4, problems
    assert f"{SCOPE}: defaults: Role must be one of CONTROLLER, DEVICE (got 'HUB')" in problems
    assert f"{SCOPE}: defaults: SerialNumber is the fleet's key: each row sets its own" in problems
    assert f"{SCOPE}: defaults: Tags[...] key must be 1 to 128 characters long (got 0 characters)" in problems
    assert [p for p in problems if p.startswith(f"{SCOPE}: defaults: Colour is not a member of CreateManagedThing")]


# --- authentication material and secrets ------------------------------------------------


def test_material_and_secret_both_or_neither() -> None:
    # GIVEN a row with both, and one with neither
    rows = _rows({SECRET_NAME_MEMBER: f"{PREFIX}x"}, {"AuthenticationMaterial": None})
    # THEN each is asked for exactly one
    expected = f"AuthenticationMaterial or {SECRET_NAME_MEMBER} is required, and only one of them"
    assert _problems(rows) == [f"{SCOPE}: inventory[0]: {expected}", f"{SCOPE}: inventory[1]: {expected}"]


def test_material_and_secret_count_after_defaults() -> None:
    # GIVEN a default secret name, a row without material (takes it) and a row with material (has both)
    rows = _rows({"AuthenticationMaterial": None}, {})
    problems = _problems(rows, defaults={**DEFAULTS, SECRET_NAME_MEMBER: f"{PREFIX}shared"})
    assert problems == [
        f"{SCOPE}: inventory[1]: AuthenticationMaterial or {SECRET_NAME_MEMBER} is required, and only one of them"
    ]


def test_secret_outside_the_prefix() -> None:
    rows = _rows({"AuthenticationMaterial": None, SECRET_NAME_MEMBER: "other/plug"})
    assert _problems(rows) == [
        f"{SCOPE}: inventory[0]: {SECRET_NAME_MEMBER} must start with the secret_name_prefix "
        f"'{PREFIX}' (got 'other/plug')"
    ]


def test_secret_names_without_a_prefix_are_one_problem() -> None:
    # GIVEN 3 rows naming secrets, and no secret_name_prefix
    rows = _rows(*[{"AuthenticationMaterial": None, SECRET_NAME_MEMBER: f"plug/{i}"} for i in range(3)])
    # THEN one line asks for the prefix
    assert _problems(rows, secret_name_prefix=None) == [
        f"{SCOPE}: inventory[0]: {SECRET_NAME_MEMBER} is set (here first), so secret_name_prefix is required: "
        "the prefix every secret name of the fleet starts with"
    ]


@pytest.mark.parametrize("prefix", ["", "plugs/*", "?"])
def test_prefix_that_would_grant_too_much(prefix: str) -> None:
    problems = _problems(_rows({}), secret_name_prefix=prefix)
    assert len(problems) == 1
    assert problems[0].startswith(f"{SCOPE}: secret_name_prefix: must be a non-empty string without IAM wildcards")


# --- the model's checks ------------------------------------------------------------------


def test_model_violations_in_csv_cells(tmp_path: Path) -> None:
    # GIVEN rows with: an unknown role, a name too long, a pattern mismatch, an invalid JSON cell,
    # a JSON cell of the wrong type, nested values of the wrong type, and missing nested members
    rows = _rows(
        {"Role": "HUB"},
        {"Name": "n" * 129},
        {"CredentialLockerId": "locker-01!"},
        {"WiFiSimpleSetupConfiguration": '{"TimeoutInMinutes": 10'},
        {"MetaData": "[1, 2]"},
        {"WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": "10", "EnableAsProvisioner": "yes"}},
        {"CapabilitySchemas": [{"Format": "XML", "CapabilityId": "aws.OnOff@1.4", "ExtrinsicId": "1"}]},
    )
    path = _write_csv(tmp_path / "devices.csv", rows)
    # WHEN it is loaded
    problems = _problems(str(path))
    # THEN each is located and described, with its value (none of them is sensitive)
    assert problems == [
        f"{SCOPE}: {path}:2: Role must be one of CONTROLLER, DEVICE (got 'HUB')",
        f"{SCOPE}: {path}:3: Name must be 1 to 128 characters long (got 129 characters)",
        f"{SCOPE}: {path}:4: CredentialLockerId must match the pattern [a-zA-Z0-9]* (got 'locker-01!')",
        f"{SCOPE}: {path}:5: WiFiSimpleSetupConfiguration is not valid JSON: Expecting ',' delimiter "
        "(line 1 column 24 of the cell)",
        f"{SCOPE}: {path}:6: MetaData must be a map of strings (got [1, 2])",
        f"{SCOPE}: {path}:7: WiFiSimpleSetupConfiguration.TimeoutInMinutes must be an integer (got '10')",
        f"{SCOPE}: {path}:7: WiFiSimpleSetupConfiguration.EnableAsProvisioner must be a boolean (got 'yes')",
        f"{SCOPE}: {path}:8: CapabilitySchemas[0].ExtrinsicVersion is required",
        f"{SCOPE}: {path}:8: CapabilitySchemas[0].Schema is required",
        f"{SCOPE}: {path}:8: CapabilitySchemas[0].Format must be one of AWS, ZCL, CONNECTOR (got 'XML')",
    ]


def test_model_violations_in_json_values(tmp_path: Path) -> None:
    # GIVEN JSON rows with a number for a string and a string for an object
    path = tmp_path / "devices.jsonl"
    path.write_text(json.dumps({**VALID_ROW, "Name": 7, "CapabilityReport": "report"}))
    assert _problems(str(path)) == [
        f"{SCOPE}: {path}:1: Name must be a string (got 7)",
        f"{SCOPE}: {path}:1: CapabilityReport must be an object (got 'report')",
    ]


def test_tokens_are_left_for_deploy_time() -> None:
    # GIVEN deploy-time values in rows and in defaults
    stack = cdk.Stack(cdk.App(), "Stack")
    text = cdk.CfnParameter(stack, "Text").value_as_string
    number = cdk.CfnParameter(stack, "Number", type="Number").value_as_number
    rows = _rows({"Name": text, "WiFiSimpleSetupConfiguration": {"TimeoutInMinutes": number}, "Tags": {"o": text}})
    # WHEN they are loaded
    loaded = _load(rows, defaults={**DEFAULTS, "Owner": text})
    # THEN nothing is rejected, and the tokens are in the request for the construct to encode
    assert loaded[0].request["Name"] == text
    assert loaded[0].request["Owner"] == text


# --- many rows, sensitive values -----------------------------------------------------------


def test_2000_rows_with_5_bad_give_exactly_5_lines(tmp_path: Path) -> None:
    # GIVEN 2,000 rows, 5 of them with one problem each, spread over the file
    rows = _rows(*[{} for _ in range(2000)])
    rows[0]["Role"] = "HUB"
    rows[499]["Name"] = ""
    rows[1000]["AuthenticationMaterial"] = None
    rows[1500]["SerialNumber"] = rows[1499]["SerialNumber"]
    rows[1999]["Colour"] = "blue"
    path = tmp_path / "devices.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    # WHEN they are loaded
    problems = _problems(str(path))
    # THEN there are exactly 5 problem lines, each on its row's line
    assert [line.split(": ")[1] for line in problems] == [f"{path}:{n}" for n in (1, 500, 1001, 1501, 2000)]


def test_no_sensitive_value_in_any_message(tmp_path: Path) -> None:
    # GIVEN invalid values carrying the canary for every sensitive member, in a file, in rows and in defaults,
    # and a duplicate serial number carrying it too
    sensitive = {
        "AuthenticationMaterial": f"{CANARY} material\u00e9",
        "Owner": f"{CANARY} owner",
        "SerialNumber": f"{CANARY}!serial",
        "Brand": CANARY * 40,
        "Model": f"{CANARY}@model",
        "Classification": CANARY * 20,
        "Tags": {f"{CANARY}-key" * 17: f"{CANARY}-value" * 30},
    }
    rows = _rows(sensitive, {"SerialNumber": f"{CANARY} 1"}, {"SerialNumber": f"{CANARY} 1"})
    path = _write_csv(tmp_path / "devices.csv", rows)
    messages = []
    for inventory, defaults in ((str(path), DEFAULTS), (rows, DEFAULTS), (_rows({}), {**DEFAULTS, **sensitive})):
        with pytest.raises(ValueError) as raised:
            _load(inventory, defaults={k: v for k, v in defaults.items() if k != "SerialNumber"})
        messages.append(str(raised.value))
    # THEN every member is reported
    for message in messages:
        for member in ("AuthenticationMaterial", "Owner", "Brand", "Model", "Classification"):
            assert f"{member} must " in message, (member, message)
        assert "Tags[...] key must" in message
    assert "SerialNumber must " in messages[0]
    assert "SerialNumber is a duplicate key" in messages[0]
    # AND no value appears
    for message in messages:
        assert CANARY not in message


# --- columns that are not members: asset-register exports --------------------------------------------

# An asset register's export: its own column names, and columns that are no member of CreateManagedThing.
EXPORT_HEADER = "Serial,Role,AuthenticationMaterial,Device name,Firmware,Location"
EXPORT_RECORDS = ["PLUG-0001,DEVICE,Z:CODE1,Kitchen plug,1.2.3,Kitchen", "PLUG-0002,,Z:CODE2,,{not json,Hall"]
EXPORT_COLUMNS = {"Serial": "SerialNumber", "Device name": "Name", "Firmware": None, "Location": None}
EXPORT_REQUESTS: list[dict[str, Any]] = [
    {
        "SerialNumber": "PLUG-0001",
        "Role": "DEVICE",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        "AuthenticationMaterial": "Z:CODE1",
        "Name": "Kitchen plug",
    },
    {
        "SerialNumber": "PLUG-0002",
        "Role": "CONTROLLER",
        "AuthenticationMaterialType": "ZWAVE_QR_BAR_CODE",
        "AuthenticationMaterial": "Z:CODE2",
    },
]


def _export(directory: Path, suffix: str) -> Path:
    """The asset register's export as a CSV, JSON or JSON Lines file (each JSON object keeps its empty fields out)."""
    path = directory / f"export{suffix}"
    if suffix == ".csv":
        path.write_text("\n".join([EXPORT_HEADER, *EXPORT_RECORDS]) + "\n")
        return path
    objects = [dict(row) for row in csv.DictReader(io.StringIO("\n".join([EXPORT_HEADER, *EXPORT_RECORDS])))]
    objects = [{name: value for name, value in row.items() if value} for row in objects]
    if suffix == ".json":
        path.write_text("[\n" + ",\n".join(json.dumps(row) for row in objects) + "\n]\n")
    else:
        path.write_text("\n".join(json.dumps(row) for row in objects) + "\n")
    return path


def test_an_export_with_columns_that_are_not_members_is_refused_by_default_with_the_way_out(tmp_path: Path) -> None:
    # GIVEN an export whose Firmware and Location columns are no members
    path = _export(tmp_path, ".csv")
    # WHEN it is loaded without saying what the columns hold
    problems = _problems(str(path), defaults=DEFAULTS)
    # THEN each unknown column is reported once, at the header, with how to rename or ignore it (and the rows,
    # with no SerialNumber column, lack their key)
    assert [line.split(" is not a member")[0] for line in problems[:4]] == [
        f"{SCOPE}: {path}:1: Serial",
        f"{SCOPE}: {path}:1: 'Device name'",
        f"{SCOPE}: {path}:1: Firmware",
        f"{SCOPE}: {path}:1: Location",
    ]
    assert problems[2].endswith(
        "; map the column to a member (columns={'Firmware': 'Member'}) or ignore it (columns={'Firmware': None}, "
        "or ignore_unknown_columns=True)"
    )


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_columns_renames_and_ignores_columns_in_every_format(tmp_path: Path, suffix: str) -> None:
    # GIVEN the export in each format, and a mapping that renames two columns and ignores two
    path = _export(tmp_path, suffix)
    # WHEN it is loaded with the key coming from a renamed column
    rows = _load(str(path), columns=EXPORT_COLUMNS)
    # THEN the rows are the requests under the members' names; ignored cells are not even read (invalid JSON is fine)
    assert [row.request for row in rows] == EXPORT_REQUESTS
    assert [row.key for row in rows] == ["PLUG-0001", "PLUG-0002"]
    # AND nothing is said about columns the user named
    assert rows.warnings == ()


def test_columns_applies_to_a_sequence_of_mappings_too() -> None:
    # GIVEN rows as csv.DictReader gives them from the export
    rows = [dict(row) for row in csv.DictReader(io.StringIO("\n".join([EXPORT_HEADER, *EXPORT_RECORDS[:1]])))]
    # WHEN they are loaded with the mapping
    loaded = _load(rows, columns=EXPORT_COLUMNS)
    # THEN they read like the file
    assert [row.request for row in loaded] == EXPORT_REQUESTS[:1]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_ignore_unknown_columns_ignores_every_non_member_and_names_them_once(tmp_path: Path, suffix: str) -> None:
    # GIVEN the export, with only the renames given
    path = _export(tmp_path, suffix)
    renames = {"Serial": "SerialNumber", "Device name": "Name"}
    # WHEN it is loaded ignoring unknown columns
    rows = _load(str(path), columns=renames, ignore_unknown_columns=True)
    # THEN the requests are the same, and one warning names the ignored columns where each first appeared
    assert [row.request for row in rows] == EXPORT_REQUESTS
    where = f"{path}:1"  # the CSV header, or the first JSON row
    assert rows.warnings == (
        InventoryWarning(
            IGNORED_COLUMNS_WARNING,
            f"ignore_unknown_columns ignores Firmware ({where}), Location ({where}): "
            "they are not members of CreateManagedThing",
        ),
    )


def test_ignore_unknown_columns_still_refuses_client_token() -> None:
    # GIVEN a row setting ClientToken, which the provider derives per request
    problems = _problems(_rows({"ClientToken": "abc"}), ignore_unknown_columns=True)
    # THEN it is still refused
    assert problems == [
        f"{SCOPE}: inventory[0]: ClientToken is not set in an inventory: the provider derives one per request"
    ]


def test_defaults_use_member_names_not_column_names() -> None:
    # GIVEN a rename of "Device name" to Name, and defaults under each name
    columns = {"Device name": "Name"}
    # WHEN the defaults use the member's name, rows take it; under the column's name, it is an unknown member
    rows = _load(_rows({}), columns=columns, defaults={**DEFAULTS, "Name": "Plug"})
    problems = _problems(_rows({}), columns=columns, defaults={**DEFAULTS, "Device name": "Plug"})
    assert rows[0].request["Name"] == "Plug"
    assert len(problems) == 1
    assert problems[0].startswith(f"{SCOPE}: defaults: 'Device name' is not a member of CreateManagedThing (known:")


def test_a_renamed_column_beside_its_member_is_an_error_naming_the_line(tmp_path: Path) -> None:
    # GIVEN a CSV header with Serial (renamed to SerialNumber) and SerialNumber, and JSON Lines where row 2 has both
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text("Serial,SerialNumber,Role,AuthenticationMaterial\nPLUG-1,PLUG-1,DEVICE,Z:C\n")
    lines_path = tmp_path / "devices.jsonl"
    both = {**VALID_ROW, "Serial": f"{CANARY}-2", "SerialNumber": f"{CANARY}-2"}
    only_serial = {"Serial": "PLUG-3", **{k: v for k, v in VALID_ROW.items() if k != "SerialNumber"}}
    lines_path.write_text("\n".join(json.dumps(row) for row in (VALID_ROW, both, only_serial)))
    columns = {"Serial": "SerialNumber"}
    # WHEN each is loaded
    # THEN the header line, or the row's line, names both columns (and no value)
    expected = "Serial and SerialNumber both hold SerialNumber: keep one, or map the other to None in columns"
    assert _problems(str(csv_path), columns=columns) == [f"{SCOPE}: {csv_path}:1: {expected}"]
    assert _problems(str(lines_path), columns=columns) == [f"{SCOPE}: {lines_path}:2: {expected}"]


def test_two_columns_renamed_to_one_member_serve_two_exports_but_not_one_row() -> None:
    # GIVEN one mapping for two exports that spell the serial number differently
    columns = {"Serial": "SerialNumber", "S/N": "SerialNumber"}
    first = [{"Serial": "PLUG-1", "Role": "DEVICE", "AuthenticationMaterial": "Z:C"}]
    second = [{"S/N": "PLUG-2", "Role": "DEVICE", "AuthenticationMaterial": "Z:C"}]
    # WHEN each is loaded, and a row with both
    # THEN each export reads, the row with both is refused
    assert [row.key for row in _load(first, columns=columns)] == ["PLUG-1"]
    assert [row.key for row in _load(second, columns=columns)] == ["PLUG-2"]
    assert _problems([{**first[0], **second[0]}], columns=columns) == [
        f"{SCOPE}: inventory[0]: 'S/N' and Serial both hold SerialNumber: keep one, or map the other to None in columns"
    ]


def test_a_mapping_naming_a_column_no_row_has_is_not_an_error() -> None:
    # GIVEN a mapping shared by exports, naming columns this inventory does not have
    rows = _load(_rows({}), columns={"Firmware": None, "Serial": "SerialNumber"})
    # THEN the inventory loads (a misspelt column name still leaves its column unknown, which is reported)
    assert [row.key for row in rows] == ["PLUG-0000"]


def test_an_invalid_columns_mapping_is_reported_once_as_columns() -> None:
    # GIVEN a mapping onto a misspelt member, onto ClientToken, onto a number, and a non-string column name
    columns: dict[Any, Any] = {"Serial": "SerialNumbr", "Token": "ClientToken", "Rank": 3, 7: None}
    # WHEN three rows are loaded
    problems = _problems(_rows({}, {}, {}), columns=columns)
    # THEN each entry is one problem, reported as columns
    assert len(problems) == 4, problems
    assert problems[0].startswith(
        f"{SCOPE}: columns: Serial: SerialNumbr is not a member of CreateManagedThing (known: Role,"
    )
    assert problems[1:] == [
        f"{SCOPE}: columns: Token: ClientToken is not set in an inventory: the provider derives one per request",
        f"{SCOPE}: columns: Rank: must map to a member's name, or to None to ignore the column (got 3)",
        f"{SCOPE}: columns: 7: a column's name is a string",
    ]
    assert _problems(_rows({}), columns=["Serial"]) == [
        f"{SCOPE}: columns: must map column names to member names, or to None (got a list)"
    ]
    assert _problems(_rows({}), ignore_unknown_columns="yes") == [
        f"{SCOPE}: ignore_unknown_columns: must be True or False (got 'yes')"
    ]


def test_problems_in_renamed_columns_name_the_column_and_never_echo_sensitive_values(tmp_path: Path) -> None:
    # GIVEN renamed columns holding an invalid model number (sensitive), a duplicate serial number (sensitive),
    # a Wi-Fi cell that is not JSON and a Wi-Fi timeout of the wrong type
    path = tmp_path / "devices.csv"
    header = "Serial,Role,AuthenticationMaterial,Model no,WiFi"
    path.write_text(
        f"{header}\n"
        f"{CANARY}-1,DEVICE,Z:C,{CANARY * 30},\n"
        f'{CANARY}-1,DEVICE,Z:C,,"{{""TimeoutInMinutes"": ""ten""}}"\n'
        f"PLUG-3,DEVICE,Z:C,,{{not json\n"
    )
    columns = {"Serial": "SerialNumber", "Model no": "Model", "WiFi": "WiFiSimpleSetupConfiguration"}
    # WHEN it is loaded
    problems = _problems(str(path), columns=columns)
    # THEN each problem names the member and the column, and no sensitive value appears
    assert problems == [
        f"{SCOPE}: {path}:2: Model (column 'Model no') must be 1 to 128 characters long (got 180 characters)",
        f"{SCOPE}: {path}:3: WiFiSimpleSetupConfiguration.TimeoutInMinutes (column WiFi) must be an integer "
        "(got 'ten')",
        f"{SCOPE}: {path}:3: SerialNumber (column Serial) is a duplicate key, also at {path}:2",
        f"{SCOPE}: {path}:4: WiFiSimpleSetupConfiguration (column WiFi) is not valid JSON: Expecting property name "
        "enclosed in double quotes (line 1 column 2 of the cell)",
    ]
    assert all(CANARY not in line for line in problems)


def test_an_unknown_json_field_is_reported_once_not_once_a_row(tmp_path: Path) -> None:
    # GIVEN 2,000 JSON rows, every one with a Firmware field
    path = tmp_path / "devices.jsonl"
    path.write_text("\n".join(json.dumps({**row, "Firmware": "1.0"}) for row in _rows(*[{} for _ in range(2000)])))
    # WHEN it is loaded
    problems = _problems(str(path))
    # THEN one line names it, at the first row that has it
    assert len(problems) == 1
    assert problems[0].startswith(f"{SCOPE}: {path}:1: Firmware is not a member of CreateManagedThing")
