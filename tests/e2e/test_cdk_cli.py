"""The example app through the real, pinned CDK CLI: offline, no Docker, no AWS account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def run_cdk(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The pinned CLI on the example app: this interpreter first on PATH, telemetry off, no AWS credentials (with
    them the CLI looks the account up through STS)."""
    assert CDK.exists(), "run `make setup` (npm ci) first: the pinned aws-cdk CLI is missing"
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(variable, None)
    return subprocess.run(
        [str(CDK), *arguments, "--no-notices"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_cdk_cli_synthesizes_the_example_app_offline(tmp_path: Path) -> None:
    # GIVEN the pinned CLI, this interpreter first on PATH, telemetry and notices off
    # WHEN synthesizing the README's example app
    result = run_cdk("synth", "--quiet", "--output", str(tmp_path / "cdk.out"))

    # THEN it succeeds, with three managed things served by one bundled provider
    assert result.returncode == 0, result.stderr[-3000:]
    cdk_out = tmp_path / "cdk.out"
    template = json.loads((cdk_out / "HomeFleet.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("Custom::ManagedThing") == 3
    assert types.count("AWS::Lambda::Function") == 1
    # and the fleet's 36 plugs in one shard stack of their own (no nested stack), with its own provider
    assert types.count("AWS::CloudFormation::Stack") == 0
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks = {
        a.get("displayName"): a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"
    }
    assert sorted(stacks) == ["HomeFleet", "HomeFleet/Plugs/Shard001"]
    shard = json.loads((cdk_out / stacks["HomeFleet/Plugs/Shard001"]["properties"]["templateFile"]).read_text())
    shard_types = [r["Type"] for r in shard["Resources"].values()]
    assert (shard_types.count("Custom::ManagedThing"), shard_types.count("AWS::Lambda::Function")) == (36, 1)
    assets = list(cdk_out.glob("asset.*/managed_thing_provider/index.py"))
    assert len(assets) == 1
    # and every Id and Arn is exported for other stacks: the plugs' by the shard stack that holds them
    exports = {o["Export"]["Name"] for t in (template, shard) for o in t["Outputs"].values() if "Export" in o}
    assert {name for name in exports if "ExportsOutput" not in name} == {
        f"HomeFleet-{name}{attribute}"
        for name in ("Hub", "Device1", "Device2", "PLUG0001", "PLUG0002")
        for attribute in ("Id", "Arn")
    }
    # and the demo's acknowledged warnings (plain text, environment-agnostic) do not clutter the output
    assert "plain text" not in result.stderr and "environment-agnostic" not in result.stderr


def test_cdk_cli_selects_a_fleets_shard_stacks_by_glob(tmp_path: Path) -> None:
    # GIVEN the pinned CLI and the example app, whose fleet HomeFleet/Plugs has shard stacks of its own
    # WHEN listing the stacks a `cdk deploy 'HomeFleet/Plugs/*'` would deploy
    result = run_cdk("ls", "HomeFleet/Plugs/*", "--output", str(tmp_path / "cdk.out"))
    # THEN the glob on hierarchical ids selects exactly the shard stacks: display path, then stack name
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["HomeFleet/Plugs/Shard001", "(HomeFleet-Plugs-Shard001)"]
