"""Secrets in the local engine: AWS::SecretsManager::Secret deployed into a local Secrets Manager, read by the
real provider through Powertools; imported secrets put with ``managed-things secret put``; values never leak."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_secretsmanager as secretsmanager
from deploy_support import ZIGBEE, Run, by_name, emulator_things, run_cli, stack_state, state_dir, synth

from cdk_managed_things import ManagedThing, Role

CANARY = "Z:00124B0000000042$I:C0FFEE5EC2E7CA4A"  # a valid Zigbee material, and the value nothing may echo
IMPORTED = "fleet/setup-code"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secretive(*, role: Role = Role.DEVICE):
    """Stack "Secretive": a thing whose material is a secret of the stack, and a generated, retained secret."""

    def define(app: cdk.App) -> None:
        stack = cdk.Stack(app, "Secretive")
        secret = secretsmanager.Secret(
            stack, "SetupCode", secret_string_value=cdk.SecretValue.unsafe_plain_text(CANARY)
        )
        ManagedThing(
            stack,
            "Sensor",
            role=role,
            name="Sensor",
            authentication_material_type=ZIGBEE,
            authentication_material_secret=secret,
        )
        secretsmanager.Secret(
            stack,
            "Generated",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=20,
                exclude_punctuation=True,
                secret_string_template='{"user": "admin"}',
                generate_string_key="password",
            ),
        )
        cdk.CfnOutput(stack, "SecretArn", value=secret.secret_arn)

    return define


def secret_resource(run: Run, stack: str, construct_id: str) -> dict[str, Any]:
    resources = run.stack(stack)["resources"]
    return next(r for r in resources if r["type"] == "AWS::SecretsManager::Secret" and construct_id in r["path"])


def vault(cdk_out: Path) -> list[dict[str, str]]:
    path = state_dir(cdk_out) / "secrets.json"
    return json.loads(path.read_text())["secrets"] if path.exists() else []


def assert_never_echoed(cdk_out: Path, *runs: Run) -> None:
    """The canary is in no output, no log, no state or journal file, not in the emulator's database."""
    for run in runs:
        assert CANARY not in run.stdout and CANARY not in run.stderr
    files = [p for p in state_dir(cdk_out).rglob("*") if p.is_file() and p.name != "secrets.json"]
    assert any(p.parent.name == "logs" for p in files) and any(p.name.endswith(".sqlite") for p in files)
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
        assert b"C0FFEE5EC2E7CA4A" not in path.read_bytes(), path


def test_a_secret_of_the_stack_is_deployed_read_by_the_provider_and_destroyed(tmp_path: Path, capsys) -> None:
    # GIVEN a stack whose thing takes its material from a secret of the stack
    cdk_out = synth(tmp_path / "cdk.out", secretive())

    # WHEN it is deployed
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--json")

    # THEN the secrets are resources of the stack, Ref is the ARN, and the thing was made with the secret's value
    assert run.code == 0, run.stderr
    secret = secret_resource(run, "Secretive", "SetupCode")
    assert secret["status"] == "CREATE_COMPLETE"
    arn = secret["physicalId"]
    assert arn.startswith("arn:aws:secretsmanager:") and ":secret:SetupCode" in arn
    assert arn in json.dumps(run.stack("Secretive")["outputs"])
    sensor = by_name(emulator_things(cdk_out))["Sensor"]
    assert sensor["AuthenticationMaterialSha256"] == sha256(CANARY)
    # AND the generated secret honours its options; the values are kept only in secrets.json, mode 0600
    stored = {s["arn"]: s for s in vault(cdk_out)}
    assert stored[arn]["value"] == CANARY
    (generated,) = [json.loads(s["value"]) for a, s in stored.items() if a != arn]
    assert generated["user"] == "admin" and len(generated["password"]) == 20 and generated["password"].isalnum()
    assert stat.S_IMODE((state_dir(cdk_out) / "secrets.json").stat().st_mode) == 0o600
    # AND the state records the ARN and a digest, never the value
    state = json.loads(stack_state(cdk_out, "Secretive").read_text())
    (record,) = [r for lid, r in state["resources"].items() if lid.startswith("SetupCode")]
    assert record["properties"]["SecretString"].startswith("sha256:") and record["physical_id"] == arn

    # WHEN the thing is replaced by a later deploy (a new process: moto's server starts empty and is re-seeded)
    cdk_out = synth(tmp_path / "cdk.out", secretive(role=Role.CONTROLLER))
    again = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--json")

    # THEN the new thing reads the same secret again, which kept its ARN and was not touched
    assert again.code == 0, again.stderr
    things = emulator_things(cdk_out)
    assert [t["Role"] for t in things.values()] == ["CONTROLLER"]
    assert by_name(things)["Sensor"]["AuthenticationMaterialSha256"] == sha256(CANARY)
    assert secret_resource(again, "Secretive", "SetupCode")["physicalId"] == arn

    # WHEN the stack is destroyed
    gone = run_cli(capsys, "destroy", "--cdk-out", str(cdk_out), "--json")

    # THEN the thing and the secret are deleted; the retained secret stays
    assert gone.code == 0, gone.stderr
    assert emulator_things(cdk_out) == {}
    assert [json.loads(s["value"])["user"] for s in vault(cdk_out)] == ["admin"]
    # AND the value was never echoed nor written anywhere else
    assert_never_echoed(cdk_out, run, again, gone)


def importer(app: cdk.App) -> None:
    """Stack "Importer": a thing whose material is an imported secret, beside a secret of its own."""
    stack = cdk.Stack(app, "Importer")
    secretsmanager.Secret(stack, "Companion", secret_string_value=cdk.SecretValue.unsafe_plain_text("companion"))
    ManagedThing(
        stack,
        "Sensor",
        role=Role.DEVICE,
        name="Sensor",
        authentication_material_type=ZIGBEE,
        authentication_material_secret=secretsmanager.Secret.from_secret_name_v2(stack, "Imported", IMPORTED),
    )


def test_an_imported_secret_is_read_after_secret_put(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack whose thing imports a secret nobody has put
    cdk_out = synth(tmp_path / "cdk.out", importer)

    # WHEN it is deployed
    failed = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--json")

    # THEN the thing fails reading the secret, and the rollback deletes the secret the stack created
    assert failed.code == 1
    assert failed.stack("Importer")["status"] == "ROLLBACK_COMPLETE"
    assert "could not read the secret" in failed.stack("Importer")["error"]
    assert vault(cdk_out) == []

    # WHEN its value is put from standard input, then listed
    monkeypatch.setattr("sys.stdin", io.StringIO(CANARY + "\n"))
    put = run_cli(capsys, "secret", "put", IMPORTED, "--state-dir", str(state_dir(cdk_out)))
    listed = run_cli(capsys, "secret", "list", "--json", "--state-dir", str(state_dir(cdk_out)))

    # THEN it is stored (without a newline) and listed by name and ARN, never echoed
    assert put.code == 0, put.stderr
    (entry,) = listed.document["secrets"]
    assert entry["name"] == IMPORTED and entry["arn"] in put.stdout and "value" not in entry
    assert [s["value"] for s in vault(cdk_out)] == [CANARY]

    # WHEN the stack is deployed again
    run = run_cli(capsys, "deploy", "--cdk-out", str(cdk_out), "--json")

    # THEN the thing is made with the imported secret's value
    assert run.code == 0, run.stderr
    assert by_name(emulator_things(cdk_out))["Sensor"]["AuthenticationMaterialSha256"] == sha256(CANARY)
    assert_never_echoed(cdk_out, failed, put, listed, run)


def test_secret_put_takes_no_value_from_the_command_line(tmp_path: Path, capsys, monkeypatch) -> None:
    # GIVEN empty standard input, WHEN a value is put, THEN it is refused in one line
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run = run_cli(capsys, "secret", "put", IMPORTED, "--state-dir", str(tmp_path / ".managed-things"))
    assert run.code == 1
    assert run.stderr.strip().splitlines() == ["managed-things secret put: no value given (standard input was empty)"]
    # AND a value given as an argument is not an option at all
    with pytest.raises(SystemExit):
        run_cli(capsys, "secret", "put", IMPORTED, CANARY)
