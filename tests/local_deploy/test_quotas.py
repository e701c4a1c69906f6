"""The local deploy refuses, before anything runs, what CloudFormation refuses: a template beyond its quotas, or
more resources created, updated or deleted in one stack operation than it allows (nested stacks' included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from deploy_support import material, run_cli, state_dir, synth
from fake_runtime import FakeApp, FakeRuntime, nested_stack, thing

from cdk_managed_things import ManagedThingFleet
from managed_things_local.errors import DeployError

OPERATION_QUOTA = "managed_things_local.cloudformation.quotas.MAX_RESOURCES_PER_OPERATION"


@pytest.fixture
def app(tmp_path: Path) -> FakeApp:
    return FakeApp(tmp_path)


def things(count: int, prefix: str = "t") -> dict[str, Any]:
    return {f"Thing{i}": thing(f"{prefix}{i}") for i in range(count)}


def shards(count: int, things_each: int, first: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A root stack's nested stacks ``Shard<i>``, each a template of a provider and ``things_each`` things."""
    resources = {f"Shard{i}": nested_stack(f"Shard{i}.json", f"Fake/Shard{i}") for i in range(first, count)}
    nested = {f"Shard{i}.json": {"Resources": things(things_each, f"s{i}-")} for i in range(first, count)}
    return resources, nested


def refusal(app: FakeApp, capsys: Any) -> str:
    """The one-line error of ``managed-things deploy`` of the app, which left nothing behind."""
    run = run_cli(capsys, "deploy", "--cdk-out", str(app.cdk_out))
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "Total time" not in run.stdout  # nothing ran: the error is all there is to say
    assert not state_dir(app.cdk_out).exists()  # no stack state, no emulator, no staged code
    return lines[0]


# -- per template -------------------------------------------------------------------------------------------------


def test_a_template_of_501_resources_is_refused_with_cloudformations_message(app: FakeApp, capsys: Any) -> None:
    # GIVEN a stack of a provider and 500 things: 501 resources
    app.write({"Fake": things(500)})

    # WHEN it is deployed, THEN CloudFormation's message names the stack and its file, and nothing is left behind
    line = refusal(app, capsys)
    assert "Template format error: Number of resources, 501, is greater than maximum allowed, 500" in line
    assert f"Fake ({app.cdk_out / 'Fake.template.json'})" in line


def test_a_template_of_500_resources_passes(app: FakeApp) -> None:
    # GIVEN a stack of a provider and 499 things: 500 resources
    app.write({"Fake": things(499)})
    engine, _, _ = app.engine(FakeRuntime())

    # WHEN its deploy is checked, THEN nothing is refused
    engine.check_quotas(engine.assembly.stacks)


@pytest.mark.parametrize(
    ("section", "entry", "message"),
    [
        ("Outputs", {"Value": "v"}, "Template format error: Outputs count 201 is greater than max allowed 200"),
        (
            "Parameters",
            {"Type": "String", "Default": "d"},
            "Template format error: Parameter count 201 is greater than max allowed 200",
        ),
    ],
)
def test_201_outputs_or_parameters_in_a_nested_template_are_refused(
    app: FakeApp, section: str, entry: dict[str, Any], message: str
) -> None:
    # GIVEN a nested template with 201 outputs (or parameters)
    nested = {"Resources": things(1), section: {f"Entry{i}": entry for i in range(201)}}
    app.write({"Fake": {"Shard0": nested_stack("Shard0.json", "Fake/Shard0")}}, nested={"Shard0.json": nested})
    runtime = FakeRuntime()

    # WHEN deployed, THEN CloudFormation's message names the nested stack's construct path and file
    with pytest.raises(DeployError) as refused:
        app.deploy(runtime)
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"Fake/Shard0 ({app.cdk_out / 'Shard0.json'}): ")
    # and nothing ran, nothing is recorded
    assert runtime.requests == []
    assert app.state() == {}


def test_a_template_over_1_mb_is_refused(app: FakeApp) -> None:
    # GIVEN a nested template of 1,000,001 bytes or more (CloudFormation's "1 MB" for a template in S3)
    nested = {"Resources": {"Big": thing("big", Notes="x" * 1_000_000)}}
    app.write({"Fake": {"Shard0": nested_stack("Shard0.json", "Fake/Shard0")}}, nested={"Shard0.json": nested})

    # WHEN deployed, THEN it is refused with CloudFormation's message and its size
    with pytest.raises(DeployError) as refused:
        app.deploy(FakeRuntime())
    size = (app.cdk_out / "Shard0.json").stat().st_size
    assert f"Template may not exceed 1000000 bytes in size. (it has {size:,} bytes)" in str(refused.value)


# -- per stack operation ------------------------------------------------------------------------------------------


def test_a_first_deploy_of_6_nested_stacks_of_450_things_is_refused(app: FakeApp, capsys: Any) -> None:
    # GIVEN a root stack with 6 nested stacks of 450 things each (2,713 resources in all)
    resources, nested = shards(6, 450)
    app.write({"Fake": resources}, nested=nested)

    # WHEN it is deployed, THEN CloudFormation's message, the count, and nothing left behind
    line = refusal(app, capsys)
    assert "Fake: Limit on the number of resources in a single stack operation exceeded" in line
    assert "would create, update or delete 2,713 resources" in line


def test_a_first_deploy_of_5_nested_stacks_of_450_things_passes(app: FakeApp) -> None:
    # GIVEN a root stack with 5 nested stacks of 450 things each (2,261 resources in all)
    resources, nested = shards(5, 450)
    app.write({"Fake": resources}, nested=nested)
    engine, _, _ = app.engine(FakeRuntime())

    # WHEN its deploy is checked, THEN nothing is refused
    engine.check_quotas(engine.assembly.stacks)


def test_an_update_counts_what_it_touches_not_what_the_stacks_hold(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN (with a quota of 10 per operation) a deployed tree of 7 resources: a provider, a nested stack of 5
    monkeypatch.setattr(OPERATION_QUOTA, 10)
    resources, nested = shards(1, 4)
    app.write({"Fake": resources}, nested=nested)
    app.deploy(FakeRuntime())

    # WHEN a second nested stack of 5 resources is added (a tree of 13), THEN the update (6 touched) deploys
    resources, nested = shards(2, 4)
    app.write({"Fake": resources}, nested=nested)
    runtime = FakeRuntime()
    assert not app.deploy(runtime).report().failed
    assert len(runtime.requests) == 4

    # BUT the same tree deployed from nothing (13 touched) is refused
    fresh = FakeApp(app.root / "fresh")
    fresh.write({"Fake": resources}, nested=nested)
    with pytest.raises(DeployError, match="would create, update or delete 13 resources"):
        fresh.deploy(FakeRuntime())


def test_a_refused_update_leaves_the_stack_as_it_was(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN (with a quota of 10 per operation) a deployed stack of 4 things
    monkeypatch.setattr(OPERATION_QUOTA, 10)
    app.write({"Fake": things(4)})
    app.deploy(FakeRuntime())
    before = app.state()

    # WHEN every thing changes and 8 are added (12 touched)
    app.write({"Fake": things(12, prefix="new")})
    runtime = FakeRuntime()
    with pytest.raises(DeployError, match="would create, update or delete 12 resources"):
        app.deploy(runtime)

    # THEN nothing ran and the stack is as it was
    assert runtime.requests == []
    assert app.state() == before


def test_a_destroy_of_more_than_the_quota_is_refused(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a deployed tree of 7 recorded resources (a nested stack of 6 things), then a quota of 5 per operation
    resources, nested = shards(1, 6)
    app.write({"Fake": resources}, nested=nested)
    app.deploy(FakeRuntime())
    before = app.state()
    monkeypatch.setattr(OPERATION_QUOTA, 5)

    # WHEN destroyed, THEN CloudFormation's message, and nothing deleted
    runtime = FakeRuntime()
    with pytest.raises(DeployError, match="Limit on the number of resources in a single stack operation exceeded"):
        app.destroy(runtime)
    assert runtime.requests == []
    assert app.state() == before


# -- nested templates without asset metadata ------------------------------------------------------------------------


def without_asset_metadata(app: FakeApp) -> None:
    """Drop the nested stacks' aws:asset:path metadata; name their templates in an asset manifest instead."""
    template_file = app.cdk_out / "Fake.template.json"
    template = json.loads(template_file.read_text())
    files = {}
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata") or {}
        if metadata.pop("aws:asset:property", None) != "TemplateURL":
            continue
        digest = f"{len(files):064x}"
        files[digest] = {"source": {"path": metadata.pop("aws:asset:path"), "packaging": "file"}}
        bucket = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
        resource["Properties"]["TemplateURL"] = {"Fn::Join": ["", ["https://s3.", bucket, f"/{digest}.json"]]}
    template_file.write_text(json.dumps(template))
    (app.cdk_out / "Fake.assets.json").write_text(json.dumps({"version": "36.0.0", "files": files}))
    manifest = json.loads((app.cdk_out / "manifest.json").read_text())
    manifest["artifacts"]["Fake.assets"] = {"type": "cdk:asset-manifest", "properties": {"file": "Fake.assets.json"}}
    (app.cdk_out / "manifest.json").write_text(json.dumps(manifest))


def test_a_nested_template_is_found_through_the_asset_manifest(app: FakeApp) -> None:
    # GIVEN a nested stack whose template only the asset manifest names
    resources, nested = shards(1, 2)
    app.write({"Fake": resources}, nested=nested)
    without_asset_metadata(app)
    runtime = FakeRuntime()

    # WHEN deployed, THEN its things are created
    deployed = app.deploy(runtime)
    assert not deployed.report().failed, deployed.report().error
    assert sorted(runtime.calls()) == [("Create", "Thing0", "s0-0"), ("Create", "Thing1", "s0-1")]


def test_a_fleet_synthesized_without_asset_metadata_deploys(tmp_path: Path) -> None:
    # GIVEN a fleet synthesized as `python app.py` would (no CLI context: no asset metadata)
    def define(cdk_app: cdk.App) -> None:
        stack = cdk.Stack(cdk_app, "Fake")
        rows = [{"SerialNumber": f"SN-{i}", "AuthenticationMaterial": material(i)} for i in range(4)]
        defaults = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}
        ManagedThingFleet(stack, "Fleet", inventory=rows, key="SerialNumber", defaults=defaults, shards=2)

    synth(tmp_path / "cdk.out", define, cli_context=False)
    assert "aws:asset:path" not in (tmp_path / "cdk.out" / "Fake.template.json").read_text()
    runtime = FakeRuntime()

    # WHEN deployed, THEN every row's thing is created through its nested stack
    deployed = FakeApp(tmp_path).deploy(runtime)
    assert not deployed.report().failed, deployed.report().error
    assert len([r for r in runtime.requests if r.resource_type == "Custom::ManagedThing"]) == 4


# -- the advice for an --endpoint-url where nothing listens ----------------------------------------------------------


@pytest.mark.parametrize("port", [1, 0])
def test_an_unreachable_endpoint_on_a_privileged_port_advises_a_port_anyone_may_use(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, port: int
) -> None:
    # GIVEN an app directory, and an --endpoint-url on a port only root may listen on (or 0)
    (tmp_path / "cdk.json").write_text('{"app": "true"}')
    monkeypatch.chdir(tmp_path)

    # WHEN deployed against it
    run = run_cli(capsys, "deploy", "--endpoint-url", f"http://127.0.0.1:{port}")

    # THEN the advice is an emulator on the README's port, and the URL to pass
    assert run.code == 1
    assert "`managed-things emulator --port 8765` and pass --endpoint-url http://127.0.0.1:8765" in run.stderr
    assert f"--port {port}`" not in run.stderr
