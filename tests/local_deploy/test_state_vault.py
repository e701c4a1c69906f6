"""The state vault: no sensitive value in the stacks' records or journals, and every reader gets the values back."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import aws_cdk as cdk
import pytest
from canary_scan import BRAND, SERIAL_NUMBER, TAGS
from deploy_support import device, material, run_cli, stack_state, synth
from fake_runtime import FakeApp, FakeRuntime, deploy_dying_at, thing
from state_support import raw_bytes, records_text, sensitive_values

from managed_things_local.errors import DeployError
from managed_things_local.state.state import StateStore
from managed_things_model.service_model import sensitive_members

SENSITIVE = {"AuthenticationMaterial": material(1), "SerialNumber": SERIAL_NUMBER, "Brand": BRAND, "Tags": TAGS}


def plug(serial: str = SERIAL_NUMBER, **properties: object) -> dict:
    return thing("p1", **{**SENSITIVE, "SerialNumber": serial, **properties})


def record(app: FakeApp, stack: str = "Fake") -> dict:
    """The stack's record as stored (sealed)."""
    with app.store.database.transaction() as db:
        return json.loads(db.execute("SELECT doc FROM stacks WHERE name = ?", (stack,)).fetchone()[0])


def assert_no_sensitive_value(app: FakeApp, *values: str) -> None:
    text = records_text(app.store)
    assert text, "no state was written"
    for value in [material(1), SERIAL_NUMBER, BRAND, *TAGS, *TAGS.values(), *values]:
        assert value not in text, "a record or journal entry holds a sensitive value"


def assert_no_sensitive_value_left(app: FakeApp, *values: str) -> None:
    """Not in a table, not in the database's bytes (a deleted row's free page, the write-ahead log)."""
    assert app.store.all() == [] and sensitive_values(app.store) == {}
    stored = raw_bytes(app.store.directory)
    for value in [material(1), SERIAL_NUMBER, BRAND, *TAGS, *TAGS.values(), *values]:
        assert value.encode() not in stored, f"state.sqlite's bytes hold {value!r}"


def test_the_tests_cover_every_sensitive_member_of_the_model() -> None:
    # The canaries the suite deploys (deploy_support.CANARY_ARGUMENTS, proof_app.CANARY_MEMBERS) cover the model.
    from deploy_support import CANARY_ARGUMENTS
    from proof_app import CANARY_MEMBERS

    from cdk_managed_things.managed_thing import ARGUMENT_MEMBERS

    covered = {ARGUMENT_MEMBERS[argument] for argument in CANARY_ARGUMENTS} | set(CANARY_MEMBERS) | {"Brand"}
    assert sensitive_members() - {"AuthenticationMaterial"} <= covered


def test_the_state_refers_to_sensitive_values_and_a_load_gives_them_back(tmp_path: Path) -> None:
    # GIVEN a deployed thing with sensitive members
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    app.deploy(FakeRuntime())
    # THEN the record refers to each by a keyed digest, and the database (0600) holds the values apart
    stored = record(app)
    properties = stored["resources"]["Plug"]["properties"]
    assert stored["format"] == 2
    assert {k for k, v in properties.items() if isinstance(v, dict) and "Vault" in v} == set(SENSITIVE)
    assert properties["Id"] == "p1"  # what is not sensitive stays as it is
    assert_no_sensitive_value(app)
    stored_values = [json.loads(value) for value in sensitive_values(app.store).values()]
    assert all(value in stored_values for value in SENSITIVE.values())
    files = sorted(app.store.directory.glob("state.sqlite*"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files
    # AND loading the state gives the values back exactly
    loaded = app.store.load("Fake")
    assert loaded is not None
    assert {k: loaded.resources["Plug"].properties[k] for k in SENSITIVE} == SENSITIVE


def test_a_reference_reveals_nothing_not_even_to_whoever_hashes_a_guess(tmp_path: Path) -> None:
    # GIVEN the same serial number deployed from two project directories
    references = []
    for project in ("one", "two"):
        app = FakeApp(tmp_path / project)
        app.write({"Fake": {"Plug": plug()}})
        app.deploy(FakeRuntime())
        references.append(record(app)["resources"]["Plug"]["properties"]["SerialNumber"]["Vault"])
    # THEN the digests are keyed per project: they differ, and neither is the plain hash of the value
    import hashlib

    plain = hashlib.sha256(json.dumps(SERIAL_NUMBER).encode()).hexdigest()
    assert references[0] != references[1]
    assert all(plain not in reference for reference in references)


def test_a_rollback_restores_the_exact_old_sensitive_values(tmp_path: Path) -> None:
    # GIVEN a deployed thing, and a sibling deployed after it
    app = FakeApp(tmp_path)
    sibling = {**thing("s1"), "DependsOn": ["Plug"]}
    app.write({"Fake": {"Plug": plug(), "Sibling": sibling}})
    app.deploy(FakeRuntime())
    # WHEN its serial number and tags change (in place) and the sibling's update fails
    new_tags = {"room": "hall"}
    app.write(
        {
            "Fake": {
                "Plug": plug("SN-2", Tags=new_tags),
                "Sibling": {**sibling, "Properties": {**sibling["Properties"], "Name": "changed"}},
            }
        }
    )
    runtime = FakeRuntime(fail={("Sibling", "Update"): "rejected"})
    report = app.deploy(runtime).report()
    # THEN the rollback Update of the thing sends exactly the old values, the attempted ones as old
    assert report.status == "UPDATE_ROLLBACK_COMPLETE"
    forward, rollback = [r for r in runtime.requests if r.logical_id == "Plug"]
    assert forward.properties["SerialNumber"] == "SN-2" and forward.old_properties is not None
    assert {k: rollback.properties[k] for k in SENSITIVE} == SENSITIVE
    assert rollback.old_properties == forward.properties
    # AND the state keeps no value, old or new, and loads as the old thing
    assert_no_sensitive_value(app, "SN-2", "hall")
    loaded = app.store.load("Fake")
    assert loaded is not None and loaded.resources["Plug"].properties["SerialNumber"] == SERIAL_NUMBER


def test_recovery_delivers_again_the_exact_request_journaled_by_reference(tmp_path: Path) -> None:
    # GIVEN a deploy that died while the thing's Create was in flight
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    sent = deploy_dying_at(app)
    assert_no_sensitive_value(app)  # the journal refers to the values
    # WHEN the stack is destroyed
    runtime = FakeRuntime()
    app.destroy(runtime)
    # THEN the same Create is delivered again: same request id, the exact properties; then its thing is deleted
    redelivered = runtime.requests[0]
    assert (str(redelivered.request_type), redelivered.request_id) == ("Create", sent[0].request_id)
    assert redelivered.properties == sent[0].properties
    assert runtime.calls()[1:] == [("Delete", "Plug", "p1")]
    # AND destroy leaves no state and no sensitive value
    assert_no_sensitive_value_left(app)


def test_destroy_empties_the_vault_and_an_update_drops_the_values_no_longer_used(tmp_path: Path) -> None:
    # GIVEN a deployed thing
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    app.deploy(FakeRuntime())
    # WHEN its serial number changes, THEN the vault keeps the new value only
    app.write({"Fake": {"Plug": plug("SN-2")}})
    app.deploy(FakeRuntime())
    values = [json.loads(value) for value in sensitive_values(app.store).values()]
    assert "SN-2" in values and SERIAL_NUMBER not in values
    # WHEN destroyed, THEN no value is left, in a table or in the file's bytes
    app.destroy(FakeRuntime())
    assert_no_sensitive_value_left(app, "SN-2")


def test_a_state_written_by_the_previous_version_loads_and_is_rewritten_by_reference(tmp_path: Path) -> None:
    # GIVEN a snapshot of format 1 (plain values, no vault), as the JSON files were written before state.sqlite
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    app.deploy(FakeRuntime())
    state = app.store.load("Fake")
    assert state is not None
    app.store.path.unlink()
    stacks = app.root / ".managed-things" / "stacks"
    stacks.mkdir()
    (stacks / "Fake.json").write_text(json.dumps({**state.to_json(), "format": 1}))
    # WHEN it is loaded, THEN the values are there; a deploy of the same template changes nothing
    loaded = app.store.load("Fake")
    assert loaded == state
    runtime = FakeRuntime()
    app.deploy(runtime)
    assert runtime.calls() == []
    # AND it was migrated by reference: the file is gone, no value is in a record
    assert not stacks.exists()
    assert_no_sensitive_value(app)


def test_a_lost_value_is_said_in_one_line_naming_the_member_never_the_value(tmp_path: Path) -> None:
    # GIVEN a deployed thing whose sensitive values were removed from the database
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    app.deploy(FakeRuntime())
    database = sqlite3.connect(app.store.path)
    with database:
        database.execute("DELETE FROM sensitive")
    database.close()
    # WHEN the state is loaded, THEN it is refused, naming the stack, the resource and a member
    with pytest.raises(DeployError) as refused:
        StateStore(app.root / ".managed-things").load("Fake")
    message = str(refused.value)
    assert "the record of Fake: Plug." in message and "state vault does not hold" in message
    assert SERIAL_NUMBER not in message and material(1) not in message


def test_diff_after_a_deploy_sees_every_sensitive_member_unchanged(tmp_path: Path, capsys) -> None:
    # GIVEN a thing with every sensitive member (deploy_support's canaries), deployed through the CLI
    cdk_out = synth(tmp_path / "cdk.out", lambda app: device(cdk.Stack(app, "Vaulted"), "Plug", 1))
    assert run_cli(capsys, "deploy", "--cdk-out", str(cdk_out)).code == 0
    snapshot = stack_state(cdk_out, "Vaulted").read_text()
    assert not [value for value in (material(1), SERIAL_NUMBER, BRAND, *TAGS) if value in snapshot]
    # WHEN diffed against the same app, THEN the thing is unchanged: the diff read the values from the vault
    run = run_cli(capsys, "diff", "--cdk-out", str(cdk_out), "--json")
    assert run.code == 0 and run.document["stacks"][0]["things"] == []


def test_a_journal_written_by_the_previous_version_still_drives_the_recovery(tmp_path: Path) -> None:
    # GIVEN a deploy that died while the thing's Create was in flight, journaled in a file as before state.sqlite
    # (plain values, no vault), its last line cut short by the crash
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    sent = deploy_dying_at(app)
    plain = app.store.journal("Fake").entries()
    app.store.path.unlink()
    stacks = app.root / ".managed-things" / "stacks"
    stacks.mkdir()
    lines = "".join(json.dumps(entry) + "\n" for entry in plain)
    (stacks / "Fake.journal.jsonl").write_text(lines + '{"entry": "answer", "request_id": "cut-sh')
    # WHEN the stack is destroyed, THEN the same Create, with the exact properties, is delivered again
    runtime = FakeRuntime()
    app.destroy(runtime)
    assert runtime.requests[0].request_id == sent[0].request_id
    assert runtime.requests[0].properties == sent[0].properties
    assert runtime.calls()[1:] == [("Delete", "Plug", "p1")]
    assert_no_sensitive_value_left(app)


def test_a_vault_line_cut_short_by_a_crash_does_not_lose_the_other_values(tmp_path: Path) -> None:
    # GIVEN a state in the files before state.sqlite: a snapshot by reference, and a vault whose last line a crash
    # cut short after the values the snapshot refers to
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": plug()}})
    app.deploy(FakeRuntime())
    state = app.store.load("Fake")
    assert state is not None
    sealed, values = record(app), sensitive_values(app.store)
    with app.store.database.transaction() as db:
        key = db.execute("SELECT value FROM settings WHERE name = 'vault_key'").fetchone()[0]
    app.store.path.unlink()
    directory = app.root / ".managed-things"
    (directory / "stacks").mkdir()
    (directory / "stacks" / "Fake.json").write_text(json.dumps(sealed))
    vault = [json.dumps({"key": key})] + [json.dumps({"ref": r, "value": json.loads(v)}) for r, v in values.items()]
    (directory / "state-vault.jsonl").write_text("\n".join(vault) + '\n{"ref": "sha256:cut-sh')
    # WHEN a new process loads it, THEN every value is back
    assert StateStore(directory).load("Fake") == state
    assert not (directory / "state-vault.jsonl").exists()
