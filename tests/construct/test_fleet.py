"""ManagedThingFleet on synthesized templates: shard stacks within CloudFormation's quotas, things that never move
(the placement file), tags, removal policy, a provider per shard stack, secrets by prefix, outputs, the things
manifest, cfn-lint and cdk-nag."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cfnlint.api import lint

from cdk_managed_things import ConfigurationError, ManagedThingFleet
from cdk_managed_things.fleet import MAX_THINGS_PER_STACK
from constructs import Construct
from managed_things_local.engine.synthesis import CLI_DEFAULT_CONTEXT as CLI_CONTEXT

from .test_template_quality import LINT_REGIONS, _is_cdk_function_role_dependency, validation_report, violations

RESOURCE_TYPE = "Custom::ManagedThing"
DEFAULTS = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}
MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_TEMPLATE_BYTES = 1_000_000


def plug(index: int, **members: Any) -> dict[str, Any]:
    """An inventory row keyed by SerialNumber (a sensitive member) and also by Name (a plain one)."""
    return {
        "SerialNumber": f"SN-{index:06d}",
        "Name": f"plug-{index:06d}",
        "AuthenticationMaterial": f"Z:00124B{index:010d}$I:A1B2C3D4E5F6A7B8",
        **members,
    }


def plugs(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [plug(index) for index in range(start, start + count)]


@dataclass
class Synthesized:
    """One synthesized app: the fleet's stack's template, and per shard stack its template."""

    outdir: Path
    stack: cdk.Stack
    fleet: ManagedThingFleet
    parent: dict[str, Any]
    shards: dict[str, dict[str, Any]]  # shard construct id -> its stack's template

    def layout(self, key_member: str = "SerialNumber") -> dict[str, tuple[str, str, dict[str, Any]]]:
        """key -> (shard, logical id, properties)."""
        found = {}
        for shard, template in self.shards.items():
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] == RESOURCE_TYPE:
                    found[resource["Properties"][key_member]] = (shard, logical_id, resource["Properties"])
        return found

    def things(self) -> list[dict[str, Any]]:
        return [
            resource
            for template in self.shards.values()
            for resource in template["Resources"].values()
            if resource["Type"] == RESOURCE_TYPE
        ]

    def templates(self) -> dict[str, dict[str, Any]]:
        return {"parent": self.parent, **self.shards}

    def template_bytes(self, shard: str) -> int:
        stack = next(s for s in self.fleet.shard_stacks if s.node.id == shard)
        return len((self.outdir / stack.template_file).read_bytes())


def synthesize(
    tmp_path: Path,
    inventory: Sequence[Mapping[str, Any]] | str | Path,
    *,
    around: Callable[[cdk.Stack, ManagedThingFleet], None] | None = None,
    key: str = "SerialNumber",
    context: Mapping[str, Any] | None = None,
    env: cdk.Environment | None = None,
    **arguments: Any,
) -> Synthesized:
    """Synthesize a fleet; rows given as a sequence keep their placement in ``tmp_path/placement.json``."""
    outdir = tmp_path / f"cdk.out.{len(list(tmp_path.glob('cdk.out.*')))}"
    if "shards" not in arguments and not isinstance(inventory, (str, Path)):
        arguments.setdefault("placement", tmp_path / "placement.json")
    app = cdk.App(outdir=str(outdir), context=dict(context or {}))
    stack = cdk.Stack(app, "Devices", env=env)
    fleet = ManagedThingFleet(stack, "Plugs", inventory=inventory, key=key, defaults=DEFAULTS, **arguments)
    if around is not None:
        around(stack, fleet)
    app.synth()
    shards = {s.node.id: json.loads((outdir / s.template_file).read_text()) for s in fleet.shard_stacks}
    parent = json.loads((outdir / stack.template_file).read_text())
    return Synthesized(outdir=outdir, stack=stack, fleet=fleet, parent=parent, shards=shards)


def errors_of(synthesized: Synthesized) -> list[str]:
    """Every error annotation in the app, as ``<path>: <message>``."""
    found = []
    for construct in synthesized.stack.node.root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:error":
                found.append(f"{construct.node.path}: {entry.data}")
    return found


# --- shard stacks: independent operations within every quota ---------------------------


def test_shards_are_independent_stacks_each_its_own_operation(tmp_path: Path) -> None:
    # GIVEN a fleet of 1,000 rows
    synthesized = synthesize(tmp_path, plugs(1000), context=CLI_CONTEXT)
    # THEN its things live in top-level stacks of the app, not in nested stacks of the fleet's stack
    Template.from_json(synthesized.parent).resource_count_is("AWS::CloudFormation::Stack", 0)
    assert synthesized.things() and len(synthesized.things()) == 1000
    assert [s.nested_stack_parent for s in synthesized.fleet.shard_stacks] == [None] * len(synthesized.shards)
    # AND each shard stack is named after the fleet, and is selected by its path
    names = [s.stack_name for s in synthesized.fleet.shard_stacks]
    assert names == ["Devices-Plugs-Shard001", "Devices-Plugs-Shard002", "Devices-Plugs-Shard003"]
    assert [s.node.path for s in synthesized.fleet.shard_stacks][0] == "Devices/Plugs/Shard001"
    # AND shards fill to things_per_stack (450) in turn
    assert [len(t["Resources"]) for t in synthesized.shards.values()] == [450 + 6, 450 + 6, 100 + 6]


def test_a_fleet_of_50_is_one_stack(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(50))
    assert list(synthesized.shards) == ["Shard001"]
    assert len(synthesized.things()) == 50


def test_a_10000_row_fleet_stays_within_every_quota(tmp_path: Path) -> None:
    # GIVEN 10,000 rows, synthesized as the CDK CLI does
    synthesized = synthesize(tmp_path, plugs(10_000), context=CLI_CONTEXT)
    # THEN every template is within 500 resources, 200 outputs, 200 parameters and 1 MB, and one stack operation
    # (a stack and its nested stacks: here none) creates at most 2,500 resources
    assert len(synthesized.shards) == 23
    for name, template in synthesized.templates().items():
        size = synthesized.template_bytes(name) if name != "parent" else 0
        assert len(template["Resources"]) <= MAX_RESOURCES, name
        assert len(template.get("Outputs", {})) <= MAX_OUTPUTS, name
        assert len(template.get("Parameters", {})) <= 200, name
        assert size <= MAX_TEMPLATE_BYTES, (name, size)
        assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"], name
    assert errors_of(synthesized) == []


def test_a_full_shard_is_exactly_500_resources_as_the_cdk_cli_synthesizes_it(tmp_path: Path) -> None:
    # GIVEN one shard filled to the largest things_per_stack, synthesized with the CLI's context (version
    # reporting adds CDK's metadata resource)
    synthesized = synthesize(
        tmp_path, plugs(MAX_THINGS_PER_STACK), things_per_stack=MAX_THINGS_PER_STACK, context=CLI_CONTEXT
    )
    # THEN its stack has CloudFormation's 500 resources, no more (CDK itself refuses more at synth)
    (template,) = synthesized.shards.values()
    assert len(template["Resources"]) == MAX_RESOURCES
    assert [r["Type"] for r in template["Resources"].values()].count("AWS::CDK::Metadata") == 1


def test_shards_are_sized_by_bytes_as_well_as_by_count(tmp_path: Path) -> None:
    # GIVEN 60 rows whose Capabilities take 40,000 characters each (the API allows 65,535): 2.4 MB in all
    inventory = [plug(i, Capabilities="c" * 40_000) for i in range(60)]
    # WHEN synthesized
    synthesized = synthesize(tmp_path, inventory, context=CLI_CONTEXT)
    # THEN they are spread over shard stacks of at most 800 KB each (room for rows that grow), not 60 in one
    sizes = [synthesized.template_bytes(name) for name in synthesized.shards]
    assert len(sizes) == 4 and max(sizes) <= 0.8 * MAX_TEMPLATE_BYTES, sizes
    assert errors_of(synthesized) == []


def test_a_full_shard_whose_rows_grow_past_1_mb_as_the_cdk_cli_writes_it_is_an_error(tmp_path: Path) -> None:
    # GIVEN a shard of 494 small things, whose rows then grow by 1,450 characters each: with the CDK CLI's path
    # metadata on every resource, a template just over 1,000,000 bytes
    synthesize(tmp_path, plugs(MAX_THINGS_PER_STACK), things_per_stack=MAX_THINGS_PER_STACK)
    grown = [plug(i, Capabilities="c" * 1_450) for i in range(MAX_THINGS_PER_STACK)]
    synthesized = synthesize(tmp_path, grown, things_per_stack=MAX_THINGS_PER_STACK, context=CLI_CONTEXT)
    # THEN if the template is over the quota, synth says so
    size = synthesized.template_bytes("Shard001")
    assert size > MAX_TEMPLATE_BYTES
    assert any("Devices/Plugs/Shard001: a template of about" in error for error in errors_of(synthesized))


def test_rows_that_cannot_fit_their_shard_fail_synth_naming_it_and_the_limit(tmp_path: Path) -> None:
    # GIVEN 30 things placed in one shard, whose rows then grow to 40,000 characters of Capabilities each
    synthesize(tmp_path, plugs(30))
    grown = [plug(i, Capabilities="c" * 40_000) for i in range(30)]
    # WHEN synthesized  THEN the shard is an error: its things cannot move, and its template would pass 1 MB
    errors = errors_of(synthesize(tmp_path, grown))
    assert len(errors) == 1
    assert "Devices/Plugs/Shard001: a template of about 1,2" in errors[0]
    assert "more than CloudFormation's 1,000,000 (1 MB)" in errors[0] and "cannot move" in errors[0]


# --- placement: a thing never moves ----------------------------------------------------


def test_adding_a_row_adds_one_thing_and_moves_none(tmp_path: Path) -> None:
    # GIVEN a fleet of 120, then the same inventory with one row more
    before = synthesize(tmp_path, plugs(120)).layout()
    after = synthesize(tmp_path, [*plugs(120), plug(999_999)]).layout()
    # THEN every thing keeps its shard, logical id and properties, and one is new
    assert {key: after[key] for key in before} == before
    assert set(after) - set(before) == {"SN-999999"}


def test_removing_a_row_removes_one_thing_and_moves_none(tmp_path: Path) -> None:
    before = synthesize(tmp_path, plugs(120)).layout()
    inventory = plugs(120)
    del inventory[23]
    after = synthesize(tmp_path, inventory).layout()
    assert after == {key: value for key, value in before.items() if key != "SN-000023"}


def test_reordering_the_inventory_changes_nothing(tmp_path: Path) -> None:
    first = synthesize(tmp_path, plugs(120))
    (tmp_path / "placement.json").unlink()  # even placed afresh
    reordered = synthesize(tmp_path, list(reversed(plugs(120))))
    assert reordered.layout() == first.layout()
    assert reordered.templates() == first.templates()


def test_growing_from_200_to_2000_moves_nothing_and_fills_new_shards(tmp_path: Path) -> None:
    # GIVEN a fleet of 200, grown to 2,000
    before = synthesize(tmp_path, plugs(200))
    grown = synthesize(tmp_path, plugs(2000))
    # THEN the first 200 keep their shard stack, logical id and properties
    after = grown.layout()
    assert len(after) == 2000
    assert {key: after[key] for key in before.layout()} == before.layout()
    written = manifest(grown)["things"]
    assert {k: written[k]["stackName"] for k in before.layout()} == {
        k: v["stackName"] for k, v in manifest(before)["things"].items()
    }
    assert len(grown.shards) == 5


def test_a_shard_emptied_stays_so_its_stack_deletes_its_things_and_new_things_fill_it(tmp_path: Path) -> None:
    # GIVEN two full shards of 3
    synthesize(tmp_path, plugs(6), things_per_stack=3)
    # WHEN every thing of the first shard leaves the inventory
    first = sorted(synthesize(tmp_path, plugs(6), things_per_stack=3).layout().items())
    gone = [key for key, (shard, _, _) in first if shard == "Shard001"]
    remaining = [p for p in plugs(6) if p["SerialNumber"] not in gone]
    emptied = synthesize(tmp_path, remaining, things_per_stack=3)
    # THEN its stack is still in the app, holding no thing (so that deploying it deletes them)
    assert list(emptied.shards) == ["Shard001", "Shard002"]
    assert not [r for r in emptied.shards["Shard001"]["Resources"].values() if r["Type"] == RESOURCE_TYPE]
    # AND new things go there first
    refilled = synthesize(tmp_path, [*remaining, *plugs(2, start=100)], things_per_stack=3).layout()
    assert {refilled[f"SN-{i:06d}"][0] for i in (100, 101)} == {"Shard001"}


def test_a_row_that_leaves_and_comes_back_returns_to_its_shard(tmp_path: Path) -> None:
    # GIVEN two full shards of 2 (deployed)
    first = synthesize(tmp_path, plugs(4), things_per_stack=2).layout()
    # WHEN a synth that is never deployed (a `cdk diff`) sees row 0 missing and a new row, which takes row 0's slot
    synthesize(tmp_path, [*plugs(3, start=1), plug(100)], things_per_stack=2)
    # AND row 0 is back
    back = synthesize(tmp_path, [*plugs(4), plug(100)], things_per_stack=2).layout()
    # THEN it is where it was deployed, and no other thing moved
    assert {key: back[key] for key in first} == first
    assert json.loads((tmp_path / "placement.json").read_text())["retired"] == {}


def test_two_keys_with_one_logical_id_are_refused_naming_both_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keys that share their first 40 letters and digits: the 64-bit digest tells them apart
    prefix = "acme-building-seven-floor-three-west-wing-smart-plug-"
    inventory = [plug(1, Name=prefix + "0002781"), plug(2, Name=prefix + "0012855")]
    ids = {lid for _, lid, _ in synthesize(tmp_path, inventory, key="Name").layout("Name").values()}
    assert len(ids) == 2
    # AND were two keys ever to give one id, synth refuses, naming both rows
    monkeypatch.setattr("cdk_managed_things.fleet.thing_logical_id", lambda key, sensitive: "ThingSame")
    with pytest.raises(ConfigurationError, match=r"inventory\[0\] and inventory\[1\]: two keys give the logical id"):
        synthesize(tmp_path, inventory, key="Name")


def test_a_file_inventory_keeps_its_placement_beside_it(tmp_path: Path) -> None:
    # GIVEN an inventory file
    path = tmp_path / "plugs.json"
    path.write_text(json.dumps(plugs(5)))
    # WHEN synthesized  THEN its placement file is written beside it, naming logical ids, never a serial number
    layout = synthesize(tmp_path, path).layout()
    placement = json.loads((tmp_path / "plugs.placement.json").read_text())
    assert placement["keyMember"] == "SerialNumber" and placement["version"] == 1
    assert sorted(placement["shards"]["Shard001"]) == sorted(lid for _, lid, _ in layout.values())
    assert "SN-0000" not in (tmp_path / "plugs.placement.json").read_text()


def test_a_frozen_placement_fails_synth_when_it_would_change_and_passes_when_current(tmp_path: Path) -> None:
    frozen = {"cdk-managed-things:frozenPlacement": "true"}
    synthesize(tmp_path, plugs(5))
    # WHEN a row is added under the frozen context  THEN synth refuses, naming the file and what to do
    with pytest.raises(ValueError, match=r"Devices/Plugs: the placement file .*placement.json is out of date"):
        synthesize(tmp_path, plugs(6), context=frozen)
    # AND with the same rows it synthesizes
    assert len(synthesize(tmp_path, plugs(5), context=frozen).things()) == 5


def test_a_placement_file_for_another_key_or_broken_is_refused(tmp_path: Path) -> None:
    synthesize(tmp_path, plugs(5))
    with pytest.raises(ValueError, match="places things keyed by SerialNumber, and the fleet's key is now Name"):
        synthesize(tmp_path, plugs(5), key="Name")
    (tmp_path / "placement.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"Devices/Plugs: the placement file .* cannot be read"):
        synthesize(tmp_path, plugs(5))


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"things_per_stack": MAX_THINGS_PER_STACK + 1}, "things_per_stack must be a whole number from 1 to 494"),
        ({"things_per_stack": 0}, "things_per_stack must be"),
        ({"shards": 0}, "shards must be a whole number of at least 1"),
        ({"shards": 2, "placement": "p.json"}, "give shards .* or placement .*, not both"),
        ({"placement": None}, r"an inventory given as rows needs placement="),
        ({"provider_concurrency": 0}, "provider_concurrency must be a whole number of at least 1"),
        ({"key": "AuthenticationMaterial"}, "key AuthenticationMaterial would name things by their secret material"),
    ],
)
def test_arguments_out_of_range_are_refused(tmp_path: Path, arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        synthesize(tmp_path, plugs(2), **arguments)


def test_shards_places_by_hash_into_that_many_stacks_from_the_start(tmp_path: Path) -> None:
    # GIVEN shards=3 (no placement file)
    synthesized = synthesize(tmp_path, plugs(4), shards=3)
    # THEN the three shard stacks exist, even an empty one, and adding rows moves none
    assert list(synthesized.shards) == ["Shard001", "Shard002", "Shard003"]
    before = synthesized.layout()
    after = synthesize(tmp_path, plugs(40), shards=3).layout()
    assert {key: after[key] for key in before} == before
    assert not (tmp_path / "placement.json").exists()


# --- logical ids and labels --------------------------------------------------------------


def test_a_sensitive_key_appears_in_logical_ids_only_as_a_digest_and_is_masked_in_the_manifest(
    tmp_path: Path,
) -> None:
    # GIVEN a fleet keyed by SerialNumber, which the model marks sensitive
    synthesized = synthesize(tmp_path, plugs(20))
    # THEN each logical id is "Thing" and 16 hex digits
    layout = synthesized.layout()
    assert all(len(logical_id) == 21 and logical_id.startswith("Thing") for _, logical_id, _ in layout.values())
    # AND no serial number appears in the fleet's stack, the tree, the placement or the manifest's ids and labels
    tree = (synthesized.outdir / "tree.json").read_text()
    parent = json.dumps(synthesized.parent)
    placement = (tmp_path / "placement.json").read_text()
    entries = manifest(synthesized)["things"]
    shown = json.dumps([(v["stackName"], v["logicalId"], v["label"]) for v in entries.values()])
    for serial_number in layout:
        assert serial_number not in tree and serial_number not in parent and serial_number not in shown
        assert serial_number not in placement and serial_number.replace("-", "") not in tree
        assert entries[serial_number]["label"] == "****" + serial_number[-4:]
    # AND an unknown key is not echoed either
    with pytest.raises(KeyError) as raised:
        synthesized.fleet.thing("SN-SECRET")
    assert "SN-SECRET" not in str(raised.value) and "Devices/Plugs" in str(raised.value)


def test_a_plain_key_is_readable_in_logical_ids_and_keys_differing_in_punctuation_stay_apart(tmp_path: Path) -> None:
    inventory = [plug(1, Name="SN-1"), plug(2, Name="SN1"), plug(3, Name="kitchen plug 3")]
    synthesized = synthesize(tmp_path, inventory, key="Name")
    ids = {key: logical_id for key, (_, logical_id, _) in synthesized.layout("Name").items()}
    assert ids["SN-1"].startswith("ThingSN1") and ids["SN1"].startswith("ThingSN1") and ids["SN-1"] != ids["SN1"]
    assert ids["kitchen plug 3"].startswith("Thingkitchenplug3")
    assert manifest(synthesized)["things"]["kitchen plug 3"]["label"] == "kitchen plug 3"
    with pytest.raises(KeyError, match="no row of the inventory has Name 'nope'"):
        synthesized.fleet.thing("nope")


# --- properties, tags, removal policy ------------------------------------------------


def test_each_thing_carries_its_row_and_the_service_timeout_like_managed_thing(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, [plug(7, MetaData={"room": "hall"})])
    (shard, _, properties) = synthesized.layout()["SN-000007"]
    service_token = properties.pop("ServiceToken")
    assert properties == {"ServiceTimeout": "300", **DEFAULTS, **plug(7, MetaData={"room": "hall"})}
    # the ARN of the shard stack's own provider function
    function_id = next(iter(Template.from_json(synthesized.shards[shard]).find_resources("AWS::Lambda::Function")))
    assert service_token == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "Tags" not in properties  # no fleet tags, no row tags


@pytest.mark.parametrize(("service_timeout", "max_event_age"), [(None, 300), (1200, 1200), (1, 60)])
def test_the_provider_drops_events_older_than_the_service_timeout_floored_at_lambdas_minimum(
    tmp_path: Path, service_timeout: int | None, max_event_age: int
) -> None:
    # GIVEN a fleet with the default ServiceTimeout (300 s), a longer one, and one below Lambda's minimum event age
    arguments = {} if service_timeout is None else {"service_timeout": cdk.Duration.seconds(service_timeout)}
    # WHEN it is synthesized
    synthesized = synthesize(tmp_path, plugs(2), **arguments)
    # THEN each shard's provider keeps an event in Lambda's queue no longer than CloudFormation waits for its answer
    for template in synthesized.shards.values():
        Template.from_json(template).has_resource_properties(
            "AWS::Lambda::EventInvokeConfig", {"MaximumEventAgeInSeconds": max_event_age, "MaximumRetryAttempts": 0}
        )


# Both ways CDK invokes aspects: the default, and with aspect stabilization and mutating priorities (newer apps).
ASPECT_CONTEXTS = [
    {},
    {"@aws-cdk/core:aspectStabilization": True, "@aws-cdk/core:aspectPrioritiesMutating": True},
]


@pytest.mark.parametrize("context", ASPECT_CONTEXTS, ids=["default", "aspect-stabilization"])
def test_fleet_tags_reach_every_thing_merged_with_the_rows_own_where_the_row_wins(
    tmp_path: Path, context: dict[str, Any]
) -> None:
    # GIVEN rows without tags and a row with its own, one of them on a key the fleet sets too
    inventory = [*plugs(30), plug(100, Tags={"team": "row", "room": "hall"})]

    def tag(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        cdk.Tags.of(fleet).add("team", "iot")
        cdk.Tags.of(stack).add("cost-centre", "42")

    # WHEN the fleet and its stack are tagged
    synthesized = synthesize(tmp_path, inventory, around=tag, context=context)
    # THEN every thing has the fleet's and the stack's tags, and the row's own win
    for key, (_, _, properties) in synthesized.layout().items():
        expected = {"team": "iot", "cost-centre": "42"}
        if key == "SN-000100":
            expected = {"team": "row", "room": "hall", "cost-centre": "42"}
        assert properties["Tags"] == expected, key


def test_a_row_with_tags_keeps_them_as_they_are_without_fleet_tags(tmp_path: Path) -> None:
    layout = synthesize(tmp_path, [plug(1, Tags={"room": "hall"}), plug(2)]).layout()
    assert layout["SN-000001"][2]["Tags"] == {"room": "hall"}
    assert "Tags" not in layout["SN-000002"][2]


def test_invalid_fleet_tags_fail_synth_without_echoing_them(tmp_path: Path) -> None:
    # GIVEN a fleet tag value over the model's 256 characters
    def tag(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        cdk.Tags.of(fleet).add("team", "v" * 257)

    # WHEN synthesized  THEN it fails naming the fleet and the member, not the value
    with pytest.raises(Exception, match="Devices/Plugs: Tags") as raised:
        synthesize(tmp_path, plugs(3), around=tag)
    assert "v" * 257 not in str(raised.value)


def test_too_many_tags_once_merged_fail_naming_the_row(tmp_path: Path) -> None:
    # GIVEN a row with 45 tags and 10 fleet tags: 55, over the model's 50
    row_tags = {f"row{i}": "x" for i in range(45)}

    def tag(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        for i in range(10):
            cdk.Tags.of(fleet).add(f"fleet{i}", "y")

    with pytest.raises(Exception, match=r"inventory\[1\]: with the fleet's tags, Tags") as raised:
        synthesize(tmp_path, [plug(1), plug(2, Tags=row_tags)], around=tag)
    assert "row1" not in str(raised.value)


def test_removal_policy_applies_to_every_thing(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(40), removal_policy=cdk.RemovalPolicy.RETAIN)
    things = synthesized.things()
    assert len(things) == 40
    assert {(t.get("DeletionPolicy"), t.get("UpdateReplacePolicy")) for t in things} == {("Retain", "Retain")}


def test_plaintext_material_in_rows_is_a_warning_on_the_fleet(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(2))
    Annotations.from_stack(synthesized.stack).has_warning("/Devices/Plugs", Match.string_like_regexp("plain text"))


# --- the providers -------------------------------------------------------------------


def test_each_shard_stack_has_its_own_provider_reading_only_its_own_stacks_status(tmp_path: Path) -> None:
    # GIVEN a fleet over two shard stacks
    synthesized = synthesize(tmp_path, plugs(12), things_per_stack=6)
    assert len(synthesized.shards) == 2
    # THEN the fleet's stack has no function, and each shard stack has one
    Template.from_json(synthesized.parent).resource_count_is("AWS::Lambda::Function", 0)
    for template in synthesized.shards.values():
        shard = Template.from_json(template)
        shard.resource_count_is("AWS::Lambda::Function", 1)
        (function,) = shard.find_resources("AWS::Lambda::Function").values()
        (policy_id,) = shard.find_resources("AWS::IAM::Policy")
        # AND the function depends on its role's policy, so every thing (which references the function) is
        # deleted while the provider still has its permissions
        assert policy_id in function["DependsOn"]
        assert "ReservedConcurrentExecutions" not in function["Properties"]
        # AND the provider may read the status of its own stack and of its resources there, whose StackId the
        # things' events carry
        (policy,) = shard.find_resources("AWS::IAM::Policy").values()
        status = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if "cloudformation:DescribeStacks" in s["Action"]]  # fmt: skip
        assert [(sorted(s["Action"]), s["Resource"]) for s in status] == [
            (["cloudformation:DescribeStackResource", "cloudformation:DescribeStacks"], {"Ref": "AWS::StackId"})
        ]


def test_provider_concurrency_reserves_each_shard_functions_concurrency_and_warns_past_the_pool(
    tmp_path: Path,
) -> None:
    synthesized = synthesize(tmp_path, plugs(4), provider_concurrency=10, things_per_stack=2)
    for template in synthesized.shards.values():
        Template.from_json(template).has_resource_properties(
            "AWS::Lambda::Function", {"ReservedConcurrentExecutions": 10}
        )
    # AND reserving more than an account's default pool allows, over every shard, is a warning on the fleet
    wide = synthesize(tmp_path, plugs(4), provider_concurrency=500, things_per_stack=2)
    Annotations.from_stack(wide.stack).has_warning(
        "/Devices/Plugs", Match.string_like_regexp("reserves that much for each of 2 shard stacks")
    )


def secret_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in plug(i).items() if k != "AuthenticationMaterial"},
            "AuthenticationMaterialSecretName": f"fleet/plugs/{i}",
        }  # fmt: skip
        for i in range(count)
    ]


def test_secrets_named_by_rows_cost_one_statement_per_shard_stack(tmp_path: Path) -> None:
    # GIVEN 50 rows naming their material's secret under one prefix
    synthesized = synthesize(tmp_path, secret_rows(50), secret_name_prefix="fleet/plugs/")
    # THEN each thing carries its secret's name, never a material
    for properties in (t["Properties"] for t in synthesized.things()):
        assert properties["AuthenticationMaterialSecretArn"].startswith("fleet/plugs/")
        assert "AuthenticationMaterial" not in properties and "AuthenticationMaterialSecretName" not in properties
    # AND the shard's provider policy has one Secrets Manager statement, on the prefix
    statements = [
        s
        for policy in Template.from_json(synthesized.shards["Shard001"]).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in json.dumps(s["Action"])
    ]
    assert len(statements) == 1
    assert statements[0]["Action"] == "secretsmanager:GetSecretValue"
    resource = json.dumps(statements[0]["Resource"])
    assert ":secretsmanager:" in resource and ":secret:fleet/plugs/*" in resource


def test_secrets_without_a_prefix_or_outside_it_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="so secret_name_prefix is required"):
        synthesize(tmp_path, secret_rows(2))
    with pytest.raises(
        ValueError, match=r"inventory\[1\]: AuthenticationMaterialSecretName must start with the"
    ) as outside:
        synthesize(tmp_path, secret_rows(2), secret_name_prefix="other/")
    assert "inventory[0]" in str(outside.value)
    with pytest.raises(ValueError, match="secret_name_prefix"):
        synthesize(tmp_path, secret_rows(2), secret_name_prefix="fleet/*")


# --- finding things: tokens, outputs, the manifest ------------------------------------


def manifest(synthesized: Synthesized) -> dict[str, Any]:
    return json.loads((synthesized.outdir / synthesized.fleet.manifest_file_name).read_text())


def test_a_things_attributes_used_in_the_fleets_stack_are_exports_of_its_shard_stack(tmp_path: Path) -> None:
    def outputs(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        thing = fleet.thing("SN-000002")
        cdk.CfnOutput(stack, "PlugId", value=thing.managed_thing_id)
        cdk.CfnOutput(stack, "PlugArn", value=thing.managed_thing_arn)

    synthesized = synthesize(tmp_path, plugs(10), around=outputs)
    shard, logical_id, _ = synthesized.layout()["SN-000002"]
    shard_outputs = synthesized.shards[shard]["Outputs"]
    assert sorted(o["Value"]["Fn::GetAtt"][1] for o in shard_outputs.values()) == ["Arn", "Id"]
    assert all(o["Value"]["Fn::GetAtt"][0] == logical_id and "Export" in o for o in shard_outputs.values())
    assert list(synthesized.parent["Outputs"]["PlugId"]["Value"]) == ["Fn::ImportValue"]
    # AND the fleet's stack now depends on that shard stack (deployed after it)
    assert synthesized.stack.dependencies == [synthesized.fleet.locate("SN-000002").stack]
    assert len(synthesized.fleet) == 10 and synthesized.fleet.keys == tuple(p["SerialNumber"] for p in plugs(10))


def test_another_stack_gets_a_thing_through_an_export_of_its_shard_stack(tmp_path: Path) -> None:
    consumer: dict[str, cdk.Stack] = {}

    def use_elsewhere(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        other = consumer["stack"] = cdk.Stack(stack.node.scope, "Dashboards")  # type: ignore[arg-type]
        cdk.CfnOutput(other, "PlugArn", value=fleet.thing("SN-000004").managed_thing_arn)

    synthesized = synthesize(tmp_path, plugs(8), around=use_elsewhere)
    other = json.loads((synthesized.outdir / consumer["stack"].template_file).read_text())
    assert list(other["Outputs"]["PlugArn"]["Value"]) == ["Fn::ImportValue"]
    exported = [o for t in synthesized.shards.values() for o in t.get("Outputs", {}).values() if "Export" in o]
    assert len(exported) == 1 and exported[0]["Value"]["Fn::GetAtt"][1] == "Arn"


def test_more_than_200_outputs_in_a_shard_fail_synth_pointing_at_the_lookup(tmp_path: Path) -> None:
    def outputs(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        for index, key in enumerate(fleet.keys):
            cdk.CfnOutput(stack, f"Id{index}", value=fleet.thing(key).managed_thing_id)
            cdk.CfnOutput(stack, f"Arn{index}", value=fleet.thing(key).managed_thing_arn)

    errors = errors_of(synthesize(tmp_path, plugs(101), around=outputs))
    assert len(errors) == 1
    assert "Devices/Plugs/Shard001: 202 outputs, more than CloudFormation's 200 per template" in errors[0]
    assert "fleet.locate(key)" in errors[0] and "Devices.Plugs.things.json" in errors[0]


def test_outputs_added_to_a_shard_stack_are_counted_wherever_they_are(tmp_path: Path) -> None:
    # GIVEN 201 outputs added to a shard stack through locate(), under a construct of the user's
    def outputs(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        scope = Construct(fleet.locate("SN-000001").stack, "Mine")
        for index in range(201):
            cdk.CfnOutput(scope, f"Out{index}", value="x")

    errors = errors_of(synthesize(tmp_path, plugs(3), around=outputs))
    assert len(errors) == 1 and "Devices/Plugs/Shard001: 201 outputs, more than CloudFormation's 200" in errors[0]


def test_shard_stacks_carry_the_fleets_stack_tags(tmp_path: Path) -> None:
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Devices", tags={"cost-center": "42"})
    fleet = ManagedThingFleet(stack, "Plugs", inventory=plugs(2), key="SerialNumber", defaults=DEFAULTS,
                              placement=tmp_path / "p.json")  # fmt: skip
    assembly = app.synth()
    (shard,) = fleet.shard_stacks
    assert assembly.get_stack_artifact(shard.artifact_id).tags == {"cost-center": "42"}


def test_the_manifest_and_locate_find_every_thing_in_the_templates(tmp_path: Path) -> None:
    # GIVEN a synthesized fleet over 4 shard stacks
    synthesized = synthesize(tmp_path, plugs(60), things_per_stack=15)
    written = manifest(synthesized)
    # THEN the manifest names the stack, the fleet, the key member, and every key
    assert (written["version"], written["stack"], written["fleet"], written["keyMember"]) == (
        2, "Devices", "Devices/Plugs", "SerialNumber"
    )  # fmt: skip
    assert set(written["things"]) == {p["SerialNumber"] for p in plugs(60)}
    layout = synthesized.layout()
    stacks = {s.node.id: s for s in synthesized.fleet.shard_stacks}
    for key, entry in written["things"].items():
        # AND each entry names the shard stack holding the thing under that logical id
        stack = stacks[entry["shard"]]
        assert (entry["stack"], entry["stackName"]) == (stack.artifact_id, stack.stack_name)
        assert layout[key][:2] == (entry["shard"], entry["logicalId"])
        location = synthesized.fleet.locate(key)
        assert (location.stack, location.logical_id) == (stack, entry["logicalId"])


# --- region ----------------------------------------------------------------------------


def test_a_stack_in_a_region_without_managed_integrations_is_an_error(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(2), env=cdk.Environment(region="us-east-1"))
    errors = errors_of(synthesized)
    assert len(errors) == 1 and "Devices: region us-east-1 has no AWS IoT Managed Integrations" in errors[0]
    # AND the shard stacks are in the fleet's stack's region
    assert {s.region for s in synthesized.fleet.shard_stacks} == {"us-east-1"}
    # AND a region the service has, or one the app's context adds, is not
    assert errors_of(synthesize(tmp_path, plugs(2), env=cdk.Environment(region="eu-west-1"))) == []
    added = {"cdk-managed-things:regions": ["us-east-1"]}
    assert errors_of(synthesize(tmp_path, plugs(2), env=cdk.Environment(region="us-east-1"), context=added)) == []


def test_an_environment_agnostic_stack_is_a_warning_naming_the_regions(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(2))
    Annotations.from_stack(synthesized.stack).has_warning(
        "/Devices", Match.string_like_regexp("environment-agnostic: deploy it to a region with AWS IoT Managed")
    )


# --- cfn-lint and cdk-nag ------------------------------------------------------------


def test_templates_are_cfn_lint_clean_and_cdk_nag_finds_nothing_unacknowledged(tmp_path: Path) -> None:
    # GIVEN a stack with a fleet of plaintext rows and one of secrets, with concurrency, tags and outputs
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Devices", env=cdk.Environment(region="eu-west-1"))
    fleet = ManagedThingFleet(stack, "Plugs", inventory=plugs(40), key="SerialNumber", defaults=DEFAULTS,
                              provider_concurrency=5, placement=tmp_path / "p.json", things_per_stack=20)  # fmt: skip
    ManagedThingFleet(stack, "Locks", inventory=secret_rows(10), key="SerialNumber", defaults=DEFAULTS,
                      secret_name_prefix="fleet/plugs/", provider_concurrency=5, shards=2)  # fmt: skip
    cdk.Tags.of(stack).add("team", "iot")
    cdk.CfnOutput(stack, "PlugName", value=fleet.thing("SN-000001").managed_thing_id)
    cdk.Annotations.of(stack).acknowledge_warning("cdk-managed-things:plaintextAuthenticationMaterial", "test rows")
    pack = cdk_nag.AwsSolutionsChecks(app)
    cdk.Validations.of(app).add_plugins(pack)
    # WHEN synthesized
    app.synth()
    # THEN cdk-nag reports nothing unacknowledged, nor CDK's own template rules (the fleet's stack holds no resource:
    # the fleet acknowledges it, since the CDK CLI skips deploying a stack without resources)
    assert violations(validation_report(outdir)) == []
    assert pack.validate_scope(app).success
    # AND cfn-lint finds nothing in any shard stack
    templates = sorted(p.name for p in outdir.glob("Devices*Shard*.template.json"))
    assert len(templates) == 4
    for name in templates:
        template = json.loads((outdir / name).read_text())
        findings = [
            f"{m.rule.id} {m.path_string}: {m.message}"
            for m in lint(json.dumps(template), regions=LINT_REGIONS)
            if not _is_cdk_function_role_dependency(m, template)
        ]
        assert findings == [], name


def test_service_timeout_sets_how_long_cloudformation_waits_for_each_thing(tmp_path: Path) -> None:
    # GIVEN a fleet whose things may wait in Lambda's queue behind a small reserved concurrency
    synthesized = synthesize(tmp_path, plugs(3), provider_concurrency=2, service_timeout=cdk.Duration.minutes(30))
    # THEN every thing asks CloudFormation to wait 30 minutes for its answer
    assert {t["Properties"]["ServiceTimeout"] for t in synthesized.things()} == {"1800"}
    # AND a wait CloudFormation does not allow fails synth, naming the fleet
    with pytest.raises(ValueError, match=r"Devices/Plugs: service_timeout must be a whole number of seconds from 1"):
        synthesize(tmp_path, plugs(3), service_timeout=cdk.Duration.hours(2))
