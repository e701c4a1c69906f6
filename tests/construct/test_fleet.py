"""ManagedThingFleet on synthesized templates: things never move, shards respect CloudFormation's limits,
tags, removal policy, the one provider, secrets by prefix, outputs, the things manifest, cfn-lint and cdk-nag."""

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

from cdk_managed_things import ManagedThingFleet
from cdk_managed_things._sharding import MAX_THINGS_PER_STACK
from managed_things_local.deploy.assembly import CLI_DEFAULT_CONTEXT as CLI_CONTEXT

from .test_template_quality import LINT_REGIONS, _is_cdk_function_role_dependency, validation_report, violations

RESOURCE_TYPE = "Custom::ManagedThing"
DEFAULTS = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}
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
    """One synthesized app: its parent template, and per thing key where it landed and what it holds."""

    outdir: Path
    stack: cdk.Stack
    fleet: ManagedThingFleet
    parent: dict[str, Any]
    nested: dict[str, dict[str, Any]]  # shard construct id -> its template

    def layout(self, key_member: str = "SerialNumber") -> dict[str, tuple[str, str, dict[str, Any]]]:
        """key -> (shard, logical id, properties)."""
        found = {}
        for shard, template in self.nested.items():
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] == RESOURCE_TYPE:
                    found[resource["Properties"][key_member]] = (shard, logical_id, resource["Properties"])
        return found

    def things(self) -> list[dict[str, Any]]:
        return [
            resource
            for template in self.nested.values()
            for resource in template["Resources"].values()
            if resource["Type"] == RESOURCE_TYPE
        ]

    def templates(self) -> dict[str, dict[str, Any]]:
        return {"parent": self.parent, **self.nested}


def synthesize(
    tmp_path: Path,
    inventory: Sequence[Mapping[str, Any]] | str | Path,
    *,
    around: Callable[[cdk.Stack, ManagedThingFleet], None] | None = None,
    key: str = "SerialNumber",
    context: Mapping[str, Any] | None = None,
    **arguments: Any,
) -> Synthesized:
    outdir = tmp_path / f"cdk.out.{len(list(tmp_path.glob('cdk.out.*')))}"
    app = cdk.App(outdir=str(outdir), context=dict(context or {}))
    stack = cdk.Stack(app, "Devices")
    fleet = ManagedThingFleet(stack, "Plugs", inventory=inventory, key=key, defaults=DEFAULTS, **arguments)
    if around is not None:
        around(stack, fleet)
    app.synth()
    nested = {}
    for child in fleet.node.children:
        if isinstance(child, cdk.NestedStack):
            nested[child.node.id] = json.loads((outdir / child.template_file).read_text())
    parent = json.loads((outdir / stack.template_file).read_text())
    return Synthesized(outdir=outdir, stack=stack, fleet=fleet, parent=parent, nested=nested)


# --- a thing never moves -------------------------------------------------------------


def test_adding_a_row_adds_one_thing_and_moves_none(tmp_path: Path) -> None:
    # GIVEN a fleet of 300, then the same inventory with one row more
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
    reordered = synthesize(tmp_path, list(reversed(plugs(120))))
    assert reordered.layout() == first.layout()
    # AND the templates are the same bytes: the nested templates' hashes (in the parent's TemplateURLs) too
    assert reordered.parent == first.parent
    assert reordered.nested == first.nested


def test_growing_tenfold_moves_nothing_and_every_template_stays_within_cloudformation_limits(tmp_path: Path) -> None:
    # GIVEN a fleet of 200, grown to 2,000
    before = synthesize(tmp_path, plugs(200), context=CLI_CONTEXT)
    grown = synthesize(tmp_path, plugs(2000), context=CLI_CONTEXT)
    # THEN the first 200 keep their shard, logical id and properties
    after = grown.layout()
    assert len(after) == 2000
    assert {key: after[key] for key in before.layout()} == before.layout()
    # AND their nested stacks keep their logical ids in the parent
    nested_ids = {k: v["nestedStackLogicalId"] for k, v in manifest(grown)["things"].items()}
    assert {k: nested_ids[k] for k in before.layout()} == {
        k: v["nestedStackLogicalId"] for k, v in manifest(before)["things"].items()
    }
    # AND every template, parent and nested, is within 500 resources, 200 outputs and 1 MB
    for name, template in grown.templates().items():
        size = len(json.dumps(template, separators=(",", ":")))
        assert len(template["Resources"]) <= 500, name
        assert len(template.get("Outputs", {})) <= MAX_OUTPUTS, name
        assert size <= MAX_TEMPLATE_BYTES, (name, size)
    assert len(grown.nested) <= 32


# --- shards --------------------------------------------------------------------------


def test_a_shard_over_things_per_stack_fails_synth_saying_which_and_what_to_do(tmp_path: Path) -> None:
    # GIVEN 6 rows in one shard of at most 5
    # WHEN the fleet is built
    with pytest.raises(ValueError, match="shards overflow") as raised:
        synthesize(tmp_path, plugs(6), shards=1, things_per_stack=5)
    # THEN the error names the shard, its count, the cap, and the ways out
    message = str(raised.value)
    assert "Devices/Plugs/Shard00: 6 things, more than things_per_stack=5" in message
    assert f"Raise things_per_stack (at most {MAX_THINGS_PER_STACK})" in message
    assert "NEW fleet only" in message and "second fleet" in message


def test_a_full_shard_is_exactly_500_resources_as_the_cdk_cli_synthesizes_it(tmp_path: Path) -> None:
    # GIVEN one shard filled to the largest things_per_stack, synthesized with the CLI's context (version
    # reporting adds CDK's metadata resource to nested stacks too)
    synthesized = synthesize(
        tmp_path, plugs(MAX_THINGS_PER_STACK), shards=1, things_per_stack=MAX_THINGS_PER_STACK, context=CLI_CONTEXT
    )
    # THEN its nested stack has CloudFormation's 500 resources, no more (CDK itself refuses more at synth)
    (template,) = synthesized.nested.values()
    assert len(template["Resources"]) == 500
    assert [r["Type"] for r in template["Resources"].values()].count("AWS::CDK::Metadata") == 1


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"things_per_stack": MAX_THINGS_PER_STACK + 1}, "things_per_stack must be a whole number from 1 to 499"),
        ({"things_per_stack": 0}, "things_per_stack must be"),
        ({"shards": 0}, "shards must be a whole number of at least 1"),
        ({"provider_concurrency": 0}, "provider_concurrency must be a whole number of at least 1"),
    ],
)
def test_arguments_out_of_range_are_refused(tmp_path: Path, arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        synthesize(tmp_path, plugs(2), **arguments)


def test_only_non_empty_shards_become_nested_stacks_each_holding_only_its_things(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(3))
    assert 1 <= len(synthesized.nested) <= 3
    assert sum(len(t["Resources"]) for t in synthesized.nested.values()) == 3
    Template.from_json(synthesized.parent).resource_count_is("AWS::CloudFormation::Stack", len(synthesized.nested))


# --- logical ids ---------------------------------------------------------------------


def test_a_sensitive_key_appears_in_logical_ids_only_as_a_digest(tmp_path: Path) -> None:
    # GIVEN a fleet keyed by SerialNumber, which the model marks sensitive
    synthesized = synthesize(tmp_path, plugs(20))
    # THEN each logical id is "Thing" and 16 hex digits
    layout = synthesized.layout()
    assert all(len(logical_id) == 21 and logical_id.startswith("Thing") for _, logical_id, _ in layout.values())
    # AND no serial number appears in the parent template, the tree or the manifest's ids
    tree = (synthesized.outdir / "tree.json").read_text()
    parent = json.dumps(synthesized.parent)
    ids = json.dumps(
        [(v["shard"], v["logicalId"], v["nestedStackLogicalId"]) for v in manifest(synthesized)["things"].values()]
    )
    for serial_number in layout:
        assert serial_number not in tree and serial_number not in parent and serial_number not in ids
        assert serial_number.replace("-", "") not in tree
    # AND an unknown key is not echoed either
    with pytest.raises(KeyError) as raised:
        synthesized.fleet.thing("SN-SECRET")
    assert "SN-SECRET" not in str(raised.value) and "Devices/Plugs" in str(raised.value)


def test_a_plain_key_is_readable_in_logical_ids_and_keys_differing_in_punctuation_stay_apart(tmp_path: Path) -> None:
    inventory = [plug(1, Name="SN-1"), plug(2, Name="SN1"), plug(3, Name="kitchen plug 3")]
    layout = synthesize(tmp_path, inventory, key="Name").layout("Name")
    ids = {key: logical_id for key, (_, logical_id, _) in layout.items()}
    assert ids["SN-1"].startswith("ThingSN1") and ids["SN1"].startswith("ThingSN1") and ids["SN-1"] != ids["SN1"]
    assert ids["kitchen plug 3"].startswith("Thingkitchenplug3")
    with pytest.raises(KeyError, match="no row of the inventory has Name 'nope'"):
        synthesize(tmp_path, inventory, key="Name").fleet.thing("nope")


# --- properties, tags, removal policy ------------------------------------------------


def test_each_thing_carries_its_row_and_the_service_timeout_like_managed_thing(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, [plug(7, MetaData={"room": "hall"})])
    (_, _, properties) = synthesized.layout()["SN-000007"]
    service_token = properties.pop("ServiceToken")
    assert properties == {"ServiceTimeout": "300", **DEFAULTS, **plug(7, MetaData={"room": "hall"})}
    assert list(service_token) == ["Ref"]  # the provider's ARN, a parameter of the nested stack
    assert "Tags" not in properties  # no fleet tags, no row tags


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
    layout = synthesize(tmp_path, inventory, around=tag, context=context).layout()
    # THEN every thing has the fleet's and the stack's tags, and the row's own win
    for key, (_, _, properties) in layout.items():
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


# --- the provider --------------------------------------------------------------------


def test_one_provider_in_the_fleets_stack_serves_every_shard(tmp_path: Path) -> None:
    # GIVEN a fleet over several shards
    synthesized = synthesize(tmp_path, plugs(100), shards=4)
    parent = Template.from_json(synthesized.parent)
    # THEN the parent stack has the one function, and no nested stack has any
    parent.resource_count_is("AWS::Lambda::Function", 1)
    assert all(
        r["Type"] == RESOURCE_TYPE for template in synthesized.nested.values() for r in template["Resources"].values()
    )
    # AND each nested stack gets its ARN as a parameter, and depends on the provider's policy (Delete needs it)
    function_id = next(iter(parent.find_resources("AWS::Lambda::Function")))
    policy_id = next(iter(parent.find_resources("AWS::IAM::Policy")))
    for nested in parent.find_resources("AWS::CloudFormation::Stack").values():
        assert list(nested["Properties"]["Parameters"].values()) == [{"Fn::GetAtt": [function_id, "Arn"]}]
        assert policy_id in nested["DependsOn"]
    # AND no reserved concurrency unless asked
    parent.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": Match.absent()})
    # AND the provider may read the status of the nested stacks, whose StackIds the things' events carry
    # (without it a rollback Update of a fleet thing cannot be told from a forward one), and of no other stack
    status_resources = [
        json.dumps(s["Resource"])
        for policy in parent.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "cloudformation:DescribeStacks"
    ]
    assert len(status_resources) == 2
    assert '{"Ref": "AWS::StackId"}' in status_resources
    nested_arn = next(r for r in status_resources if "AWS::StackId" not in r)
    assert ":cloudformation:" in nested_arn and ':stack/", {"Ref": "AWS::StackName"}, "-*/*"' in nested_arn


def test_provider_concurrency_reserves_the_functions_concurrency(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, plugs(3), provider_concurrency=10)
    Template.from_json(synthesized.parent).has_resource_properties(
        "AWS::Lambda::Function", {"ReservedConcurrentExecutions": 10}
    )


def test_two_fleets_of_a_stack_asking_for_different_concurrency_are_refused(tmp_path: Path) -> None:
    def second(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        ManagedThingFleet(stack, "Lamps", inventory=plugs(2, 50), key="SerialNumber", defaults=DEFAULTS,
                          provider_concurrency=20)  # fmt: skip

    with pytest.raises(ValueError, match="Devices/Lamps: provider_concurrency=20, but Devices/Plugs set 10"):
        synthesize(tmp_path, plugs(2), provider_concurrency=10, around=second)


def secret_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in plug(i).items() if k != "AuthenticationMaterial"},
            "AuthenticationMaterialSecretName": f"fleet/plugs/{i}",
        }  # fmt: skip
        for i in range(count)
    ]


def test_secrets_named_by_rows_cost_one_statement_for_the_whole_fleet(tmp_path: Path) -> None:
    # GIVEN 50 rows naming their material's secret under one prefix
    synthesized = synthesize(tmp_path, secret_rows(50), secret_name_prefix="fleet/plugs/")
    # THEN each thing carries its secret's name, never a material
    for properties in (t["Properties"] for t in synthesized.things()):
        assert properties["AuthenticationMaterialSecretArn"].startswith("fleet/plugs/")
        assert "AuthenticationMaterial" not in properties and "AuthenticationMaterialSecretName" not in properties
    # AND the provider's policy has one Secrets Manager statement, on the prefix
    statements = [
        s
        for policy in Template.from_json(synthesized.parent).find_resources("AWS::IAM::Policy").values()
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


def test_a_things_attributes_used_in_the_parent_become_outputs_of_its_nested_stack(tmp_path: Path) -> None:
    def outputs(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        thing = fleet.thing("SN-000002")
        cdk.CfnOutput(stack, "PlugId", value=thing.managed_thing_id)
        cdk.CfnOutput(stack, "PlugArn", value=thing.managed_thing_arn)

    synthesized = synthesize(tmp_path, plugs(10), around=outputs)
    shard, logical_id, _ = synthesized.layout()["SN-000002"]
    nested_outputs = synthesized.nested[shard]["Outputs"]
    assert sorted(o["Value"]["Fn::GetAtt"][1] for o in nested_outputs.values()) == ["Arn", "Id"]
    assert all(o["Value"]["Fn::GetAtt"][0] == logical_id for o in nested_outputs.values())
    assert synthesized.parent["Outputs"]["PlugId"]["Value"]["Fn::GetAtt"][1].startswith("Outputs.")
    assert len(synthesized.fleet) == 10 and synthesized.fleet.keys == tuple(p["SerialNumber"] for p in plugs(10))


def test_another_stack_gets_a_thing_through_an_export_of_the_fleets_stack(tmp_path: Path) -> None:
    consumer: dict[str, cdk.Stack] = {}

    def use_elsewhere(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        other = consumer["stack"] = cdk.Stack(stack.node.scope, "Dashboards")  # type: ignore[arg-type]
        cdk.CfnOutput(other, "PlugArn", value=fleet.thing("SN-000004").managed_thing_arn)

    synthesized = synthesize(tmp_path, plugs(8), around=use_elsewhere)
    other = json.loads((synthesized.outdir / consumer["stack"].template_file).read_text())
    assert list(other["Outputs"]["PlugArn"]["Value"]) == ["Fn::ImportValue"]
    exported = [o for o in synthesized.parent["Outputs"].values() if "Export" in o]
    assert len(exported) == 1 and exported[0]["Value"]["Fn::GetAtt"][1].startswith("Outputs.")


def test_more_than_200_outputs_in_a_shard_fail_synth_pointing_at_the_lookup(tmp_path: Path) -> None:
    def outputs(stack: cdk.Stack, fleet: ManagedThingFleet) -> None:
        for index, key in enumerate(fleet.keys):
            cdk.CfnOutput(stack, f"Id{index}", value=fleet.thing(key).managed_thing_id)
            cdk.CfnOutput(stack, f"Arn{index}", value=fleet.thing(key).managed_thing_arn)

    with pytest.raises(Exception, match=r"Devices/Plugs/Shard00: 202 outputs, more than CloudFormation's 200") as e:
        synthesize(tmp_path, plugs(101), shards=1, around=outputs)
    assert "fleet.locate(key)" in str(e.value) and "Devices.Plugs.things.json" in str(e.value)


def test_the_manifest_and_locate_find_every_thing_in_the_templates(tmp_path: Path) -> None:
    # GIVEN a synthesized fleet
    synthesized = synthesize(tmp_path, plugs(60), shards=4)
    written = manifest(synthesized)
    # THEN the manifest names the stack, the fleet, the key member, and every key
    assert (written["stack"], written["fleet"], written["keyMember"]) == ("Devices", "Devices/Plugs", "SerialNumber")
    assert set(written["things"]) == {p["SerialNumber"] for p in plugs(60)}
    layout = synthesized.layout()
    for key, entry in written["things"].items():
        # AND each entry's nested stack is a resource of the parent, holding the thing under that logical id
        assert synthesized.parent["Resources"][entry["nestedStackLogicalId"]]["Type"] == "AWS::CloudFormation::Stack"
        assert layout[key][:2] == (entry["shard"], entry["logicalId"])
        location = synthesized.fleet.locate(key)
        assert (location.nested_stack.node.id, location.logical_id) == (entry["shard"], entry["logicalId"])


def test_an_inventory_file_synthesizes_like_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "plugs.json"
    path.write_text(json.dumps(plugs(5)))
    assert synthesize(tmp_path, path).layout() == synthesize(tmp_path, plugs(5)).layout()


# --- cfn-lint and cdk-nag ------------------------------------------------------------


def test_templates_are_cfn_lint_clean_and_cdk_nag_finds_nothing_unacknowledged(tmp_path: Path) -> None:
    # GIVEN a stack with a fleet of plaintext rows and one of secrets, with concurrency, tags and outputs
    outdir = tmp_path / "cdk.out"
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Devices")
    fleet = ManagedThingFleet(stack, "Plugs", inventory=plugs(40), key="SerialNumber", defaults=DEFAULTS,
                              provider_concurrency=5, shards=4)  # fmt: skip
    ManagedThingFleet(stack, "Locks", inventory=secret_rows(10), key="SerialNumber", defaults=DEFAULTS,
                      secret_name_prefix="fleet/plugs/", provider_concurrency=5, shards=2)  # fmt: skip
    cdk.Tags.of(stack).add("team", "iot")
    cdk.CfnOutput(stack, "PlugId", value=fleet.thing("SN-000001").managed_thing_id)
    cdk.Annotations.of(stack).acknowledge_warning("cdk-managed-things:plaintextAuthenticationMaterial", "test rows")
    pack = cdk_nag.AwsSolutionsChecks(app)
    cdk.Validations.of(app).add_plugins(pack)
    # WHEN synthesized
    app.synth()
    # THEN cdk-nag reports nothing unacknowledged
    assert violations(validation_report(outdir)) == []
    assert pack.validate_scope(app).success
    # AND cfn-lint finds nothing in the parent template nor in any nested one
    templates = [stack.template_file] + [p.name for p in outdir.glob("*.nested.template.json")]
    assert len(templates) > 2
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
