"""The synthesized templates pass cfn-lint and cdk-nag (AwsSolutions).

One app is synthesized once for the module, in process, with cdk-nag registered
as a CDK validation plugin: app.py's ``HomeFleetStack`` and an ``Everything``
stack that sets every ManagedThing argument (plus a thing whose material is in
Secrets Manager).

How cdk-nag v3 reports: ``AwsSolutionsChecks`` is an ``IPolicyValidationPlugin``.
At synth CDK runs it over the construct tree and writes every unacknowledged
finding to ``validation-report.json`` in the cloud assembly directory
(``pluginReports[].violations``). Error-level findings also make ``app.synth()``
raise ``ValidationFailed``; warning-level ones only land in the report. Findings
acknowledged with ``Validations.of(construct).acknowledge(...)`` are left out by
cdk-nag itself. So the suite asserts that synth did not raise *and* that the
report holds no violation.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from cfnlint.api import lint
from conftest import REPO_ROOT

from cdk_managed_things import ManagedThing

from .arguments import device, every_argument

APP_PY = REPO_ROOT / "app.py"
STACKS = ("HomeFleet", "Everything")
# app.py's fleet of plugs: its one shard stack (by artifact id), with a provider of its own.
SHARD_STACK = "HomeFleetPlugsShard0012BF96CCA"
SHARD_PATH = "HomeFleet/Plugs/Shard001"
LINT_REGIONS = ["us-east-1", "eu-west-1"]
NAG_PLUGIN = "AwsSolutions"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hub-code-AbCdEf"
# The only acknowledgements the library makes (on its provider role): see _provider.py.
PROVIDER_ACKNOWLEDGEMENTS = {
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iotmanagedintegrations:<AWS::Region>:<AWS::AccountId>"
    ":managed-thing/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iotmanagedintegrations:<AWS::Region>:<AWS::AccountId>"
    ":credential-locker/*]",
}


def app_stack_classes() -> dict[str, Any]:
    """The classes app.py defines, without running its module-level ``app.synth()``."""
    module = ast.parse(APP_PY.read_text(), str(APP_PY))
    module.body = [
        node for node in module.body if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef))
    ]
    namespace: dict[str, Any] = {"__name__": "app", "__file__": str(APP_PY)}
    exec(compile(module, str(APP_PY), "exec"), namespace)  # noqa: S102 - the repository's own example app
    return namespace


class EverythingStack(cdk.Stack):
    """Every argument of ManagedThing, and a thing whose material is a Secrets Manager secret."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        hub = ManagedThing(self, "Hub", **every_argument())
        cdk.Tags.of(hub).add("room", "kitchen")
        secret = secretsmanager.Secret.from_secret_complete_arn(self, "LockCode", SECRET_ARN)
        ManagedThing(self, "Lock", **device(authentication_material=None, authentication_material_secret=secret))
        cdk.Tags.of(self).add("team", "iot")


@dataclass
class Synthesis:
    app: cdk.App
    outdir: Path
    pack: cdk_nag.AwsSolutionsChecks
    error: Exception | None

    def template(self, stack_name: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack_name}.template.json").read_text())


def validation_report(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "validation-report.json").read_text())


def violations(report: dict[str, Any], plugin: str | None = None) -> list[str]:
    """``<rule> at <construct path>`` for every unacknowledged violation in a validation report."""
    found = []
    for plugin_report in report.get("pluginReports", []):
        if plugin is not None and plugin_report.get("pluginName") != plugin:
            continue
        for violation in plugin_report.get("violations", []):
            paths = [c.get("constructPath") for c in violation.get("violatingConstructs", [])] or ["?"]
            found += [f"{plugin_report.get('pluginName')}: {violation['ruleName']} at {path}" for path in paths]
    return found


@pytest.fixture(scope="module")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))
    app_stack_classes()["HomeFleetStack"](app, "HomeFleet")
    EverythingStack(app, "Everything")
    pack = cdk_nag.AwsSolutionsChecks(app)
    cdk.Validations.of(app).add_plugins(pack)
    error = None
    try:
        app.synth()
    except Exception as raised:  # noqa: BLE001 - asserted on by a test, with the report
        error = raised
    return Synthesis(app=app, outdir=outdir, pack=pack, error=error)


# --- synthesis -----------------------------------------------------------------------


def test_app_synthesizes_without_validation_failures(synthesis: Synthesis) -> None:
    # GIVEN app.py's stack and the Everything stack, with cdk-nag registered
    # WHEN the app is synthesized
    # THEN synth succeeds (no error-level finding, no failing construct validation)
    report = validation_report(synthesis.outdir) if (synthesis.outdir / "validation-report.json").exists() else {}
    assert synthesis.error is None, f"{synthesis.error}\n{violations(report)}"
    for stack_name in STACKS:
        assert synthesis.template(stack_name)["Resources"]


# --- cfn-lint --------------------------------------------------------------------------


def _is_cdk_function_role_dependency(match: Any, template: dict[str, Any]) -> bool:
    """W3005 on a Lambda function's DependsOn of the role its Role property already reads.

    aws-cdk-lib's ``lambda.Function`` always adds that DependsOn (next to the one on
    the role's DefaultPolicy, which is needed). It is redundant, not wrong, and not
    this library's doing: the only finding let through, and only in exactly this shape.
    """
    path = list(match.path)
    if match.rule.id != "W3005" or len(path) != 4 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resource = template["Resources"][path[1]]
    dependency = resource["DependsOn"][path[3]]
    return resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Role"] == {
        "Fn::GetAtt": [dependency, "Arn"]
    }


@pytest.mark.parametrize("stack_name", [*STACKS, SHARD_STACK])
def test_cfn_lint_finds_no_errors_or_warnings(synthesis: Synthesis, stack_name: str) -> None:
    # GIVEN a synthesized template
    template = synthesis.template(stack_name)
    # WHEN cfn-lint checks it
    matches = lint(json.dumps(template), regions=LINT_REGIONS)
    # THEN it reports nothing (bar aws-cdk-lib's redundant Lambda-to-role DependsOn)
    findings = [
        f"{m.rule.id} {m.path_string}: {m.message}"
        for m in matches
        if not _is_cdk_function_role_dependency(m, template)
    ]
    assert findings == []


def test_cfn_lint_exemption_is_only_the_cdk_function_role_dependency(synthesis: Synthesis) -> None:
    # GIVEN the Everything template
    template = synthesis.template("Everything")
    # WHEN cfn-lint checks it
    matches = lint(json.dumps(template), regions=LINT_REGIONS)
    exempted = [m for m in matches if _is_cdk_function_role_dependency(m, template)]
    # THEN what the suite lets through is one W3005, on the provider function
    assert len(exempted) <= 1
    assert all(template["Resources"][m.path[1]]["Type"] == "AWS::Lambda::Function" for m in exempted)


# --- cdk-nag ---------------------------------------------------------------------------


def test_cdk_nag_reports_nothing_unacknowledged(synthesis: Synthesis) -> None:
    # GIVEN the app synthesized with AwsSolutionsChecks registered
    # WHEN its validation report is read
    report = validation_report(synthesis.outdir)
    # THEN no plugin (cdk-nag, nor CDK's built-in template validation) reports a violation
    assert violations(report) == []


def test_cdk_nag_rules_pass_when_run_directly(synthesis: Synthesis) -> None:
    # GIVEN the synthesized app's construct tree
    # WHEN the AwsSolutions pack checks it directly (not through the report)
    result = synthesis.pack.validate_scope(synthesis.app)
    # THEN every rule passes or is acknowledged
    found = [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in result.violations]
    assert found == []
    assert result.success


def test_only_the_provider_acknowledges_nag_findings_and_says_why(synthesis: Synthesis) -> None:
    # GIVEN the synthesized app
    # WHEN every rule acknowledgement in the construct tree is collected
    acknowledged: dict[str, tuple[str, str]] = {}
    for construct in synthesis.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in dict(entry.data).items():
                    # CDK stores an id given without a plugin namespace as "Annotation::<id>"
                    rule_id = re.sub(r"^annotation::", "", rule, flags=re.IGNORECASE)
                    acknowledged[f"{construct.node.path} {rule_id}"] = (rule, reason)
    nag_acknowledgements = {key: value for key, value in acknowledged.items() if "AwsSolutions-" in key}
    # THEN the only ones are the wildcard findings on each stack's provider role, each with a reason
    expected = [
        f"{stack}/CdkManagedThingsProvider/Role {rule}"
        for stack in (*STACKS, SHARD_PATH)
        for rule in PROVIDER_ACKNOWLEDGEMENTS
    ]
    assert sorted(nag_acknowledgements) == sorted(expected)
    assert all(reason.strip() for _, reason in nag_acknowledgements.values())


def test_nag_findings_are_reported_where_this_suite_looks(tmp_path: Path) -> None:
    # GIVEN a small app (no ManagedThing) with a role that has an unacknowledged wildcard
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Canary")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["iotmanagedintegrations:GetManagedThing"], resources=["*"]))
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    # WHEN it is synthesized
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    # THEN the finding is in validation-report.json, where test_cdk_nag_reports_nothing_unacknowledged looks
    assert violations(validation_report(tmp_path), NAG_PLUGIN) == [
        "AwsSolutions: AwsSolutions-IAM5[Resource::*] at Canary/Role/DefaultPolicy/Resource"
    ]
