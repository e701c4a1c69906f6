"""The state database (state.sqlite): each change one transaction, whatever point a crash comes at; the files of the
earlier format migrated once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from canary_scan import SENSITIVE_CANARIES
from deploy_support import run_cli
from fake_runtime import FakeApp, FakeRuntime, thing
from state_support import records_text, refuse_writes, sensitive_values

from managed_things_local.state import vault
from managed_things_local.state.journal import answer_entry, request_entry, stack_entry
from managed_things_local.state.state import ResourceState, StackState, StateStore
from managed_things_model.contract import RESOURCE_TYPE

LEGACY_STATE = Path(__file__).parent / "legacy_state"  # written by the JSON-file store (see its README)


def stack(version: int, name: str = "Fake") -> StackState:
    properties = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE", "SerialNumber": f"SN-{version}"}
    resource = ResourceState("Thing", RESOURCE_TYPE, f"id-{version}", properties)
    return StackState(name, f"arn:{name}", "eu-west-1", "123456789012", resources={"Thing": resource})


def journal_a_run(store: StateStore, version: int) -> None:
    """What a run journals before it saves: the stack, a request, its answer."""
    journal, state = store.journal("Fake"), stack(version)
    journal.append(stack_entry(state))
    journal.append(request_entry(f"request-{version}", "Update", state.resources["Thing"], None))
    journal.append(answer_entry(f"request-{version}", True, f"id-{version}", {}))


def crash_at(point: str, store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next save fail at ``point`` of its transaction."""

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # as Ctrl-C, or anything else raised mid-transaction

    if point == "sealing the values":
        monkeypatch.setattr(vault, "seal", crash)
    elif point == "writing the record":
        refuse_writes(store, "stacks")
    elif point == "dropping the journal":
        refuse_writes(store, "journal", events=("DELETE",))
    elif point == "collecting the values":
        monkeypatch.setattr(vault, "collect", crash)


@pytest.mark.parametrize(
    "point", ["sealing the values", "writing the record", "dropping the journal", "collecting the values"]
)
def test_a_save_that_fails_at_any_point_leaves_the_old_record_and_the_journal(
    tmp_path: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stack saved at version 0, and a run that journaled version 1
    store = StateStore(tmp_path / ".managed-things")
    store.save(stack(0))
    journal_a_run(store, 1)
    before = (records_text(store), sensitive_values(store), store.load("Fake"))
    assert before[2] is not None and before[2].resources["Thing"].physical_id == "id-1"
    # WHEN its save fails at that point
    crash_at(point, store, monkeypatch)
    with pytest.raises((KeyboardInterrupt, OSError)):
        store.save(stack(1))
    monkeypatch.undo()
    # THEN nothing changed: the old record, the whole journal, every value both refer to
    assert (records_text(store), sensitive_values(store), store.load("Fake")) == before


def test_a_request_that_cannot_be_recorded_leaves_no_value_behind(tmp_path: Path) -> None:
    # GIVEN a journal that refuses rows
    store = StateStore(tmp_path / ".managed-things")
    store.save(stack(0))
    values = sensitive_values(store)
    refuse_writes(store, "journal")
    # WHEN a request with a new sensitive value is recorded, THEN it fails, and its value was not kept either
    with pytest.raises(OSError):
        store.journal("Fake").append(request_entry("r1", "Update", stack(1).resources["Thing"], None))
    assert sensitive_values(store) == values and store.load("Fake") == stack(0)


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path[:0] = [{tests!r}]
    from test_state_store import journal_a_run, stack
    from managed_things_local.state.state import StateStore

    store = StateStore(Path({directory!r}))
    version = 0
    while True:
        version += 1
        journal_a_run(store, version)
        store.save(stack(version))
        print(version, flush=True)
    """
)


def test_a_process_killed_while_it_writes_leaves_whole_records(tmp_path: Path) -> None:
    # GIVEN a process journaling and saving a stack as fast as it can
    directory = tmp_path / ".managed-things"
    script = _WRITER.format(tests=str(Path(__file__).parent), directory=str(directory))
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    for _ in range(30):
        saved = int(writer.stdout.readline())
    # WHEN it is killed mid-write (SIGKILL: no handler, no cleanup)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    # THEN the state loads whole: the last version saved or a later one, each value its record refers to there,
    # each journal entry whole, and no value that nothing refers to
    store = StateStore(directory)
    state = store.load("Fake")
    assert state is not None
    version = int(state.resources["Thing"].physical_id.removeprefix("id-"))
    assert version >= saved and state.resources["Thing"].properties["SerialNumber"] == f"SN-{version}"
    entries = store.journal("Fake").entries()
    assert all(e["entry"] in ("stack", "request", "answer") for e in entries)
    store.save(state)
    assert [json.loads(v) for v in sensitive_values(store).values()] == [f"SN-{version}"]


def test_a_state_directory_of_the_earlier_format_is_migrated_once_on_first_load(tmp_path: Path) -> None:
    # GIVEN the state directory the JSON-file store wrote (legacy_state: Kept deployed; Dying's deploy died while
    # Lamp's Create was in flight), beside the app
    app = FakeApp(tmp_path)
    app.write({"Kept": {"Plug": thing("p1")}, "Dying": {"Lamp": thing("p2")}})
    shutil.copytree(LEGACY_STATE, app.store.directory, ignore=shutil.ignore_patterns("README.md"), dirs_exist_ok=True)
    # WHEN the state is first loaded
    states = {s.stack_name: s for s in app.store.all()}
    # THEN both stacks are there with their exact sensitive values, in state.sqlite (0600) only, by reference
    assert set(states) == {"Kept", "Dying"}
    plug = states["Kept"].resources["Plug"].properties
    assert plug["SerialNumber"] == "SN-CANARY-7Q4X" and plug["Tags"] == {"tagkey-canary-P6N": "tagvalue-canary-H2M"}
    assert sorted(p.name for p in app.store.directory.iterdir() if not p.name.startswith("state.sqlite")) == []
    assert stat.S_IMODE(os.stat(app.store.path).st_mode) == 0o600
    assert not [c for c in SENSITIVE_CANARIES if c in records_text(app.store)]
    # AND a second load finds the same (migrated once)
    assert {s.stack_name: s for s in StateStore(app.store.directory).all()} == states
    # WHEN Dying is destroyed, THEN its unanswered Create is delivered again (same request) and its thing deleted
    runtime = FakeRuntime()
    app.destroy(runtime, stacks=["Dying"])
    dying = [c for c in runtime.calls() if c[1] == "Lamp"]
    assert dying == [("Create", "Lamp", "p2"), ("Delete", "Lamp", "p2")]
    assert runtime.requests[0].properties["SerialNumber"] == "SN-OTHER-0002"


def test_a_state_file_that_is_not_a_database_is_one_line_saying_what_to_do(tmp_path: Path, capsys) -> None:
    # GIVEN a state.sqlite that is not a database, beside a synthesized app
    app = FakeApp(tmp_path)
    app.write({"Fake": {"Plug": thing("p1")}})
    app.store.directory.mkdir(parents=True)
    app.store.path.write_text("not a database " * 20)
    # WHEN the things are listed
    run = run_cli(capsys, "things", "--cdk-out", str(app.cdk_out), "--state-dir", str(app.store.directory))
    # THEN one line names the file, what is wrong and what to do, no traceback
    (line,) = [line for line in run.stderr.splitlines() if line.strip()]
    assert f"The local state {app.store.path} cannot be opened (file is not a database)" in line
    assert "remove the .managed-things directory" in line and "Traceback" not in run.stderr and run.code == 1
