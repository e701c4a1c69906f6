"""The example app through the real, pinned CDK CLI: offline, no Docker, no AWS account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def test_cdk_cli_synthesizes_the_example_app_offline(tmp_path: Path) -> None:
    # GIVEN the pinned CLI, this interpreter first on PATH, telemetry and notices off
    assert CDK.exists(), "run `make setup` (npm ci) first: the pinned aws-cdk CLI is missing"
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(variable, None)  # with credentials the CLI looks the account up through STS

    # WHEN synthesizing the README's example app
    result = subprocess.run(
        [str(CDK), "synth", "--no-notices", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    # THEN it succeeds, with three managed things served by one bundled provider
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "cdk.out" / "HomeFleet.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("Custom::ManagedThing") == 3
    assert types.count("AWS::Lambda::Function") == 1
    # and the fleet's 36 plugs in its 4 nested stacks
    assert types.count("AWS::CloudFormation::Stack") == 4
    nested = [json.loads(p.read_text()) for p in (tmp_path / "cdk.out").glob("HomeFleet*.nested.template.json")]
    assert sum([r["Type"] for r in t["Resources"].values()].count("Custom::ManagedThing") for t in nested) == 36
    assets = list((tmp_path / "cdk.out").glob("asset.*/managed_thing_provider/index.py"))
    assert len(assets) == 1
    # and every Id and Arn is exported for other stacks
    exports = {output["Export"]["Name"] for output in template["Outputs"].values()}
    assert exports == {
        f"HomeFleet-{name}{attribute}"
        for name in ("Hub", "Device1", "Device2", "PLUG0001", "PLUG0002")
        for attribute in ("Id", "Arn")
    }
    # and the demo's acknowledged plain-text warning does not clutter the output
    assert "plain text" not in result.stderr
