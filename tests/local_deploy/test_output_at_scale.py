"""What a deploy prints at fleet scale: a progress bar on a terminal, short notes, counts and times at the end."""

from __future__ import annotations

import io
from pathlib import Path

from fake_runtime import FakeApp, FakeRuntime, thing

from managed_things_local.cli.progress import Progress, print_summary
from managed_things_local.cloudformation.requests import RequestType
from managed_things_local.cloudformation.stack_events import (
    Action,
    Phase,
    ResourceEvent,
    ResourceStatus,
    StackEvent,
    StackStatus,
)

OTHERS = {
    "Role": {"Type": "AWS::IAM::Role"},
    "Logs": {"Type": "AWS::Logs::LogGroup"},
    "Queue": {"Type": "AWS::SQS::Queue"},
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def event(logical_id: str, status: ResourceStatus) -> ResourceEvent:
    return ResourceEvent("Fleet", logical_id, "Custom::ManagedThing", "", status, Action.CREATE, Phase.DEPLOY)


def test_a_terminal_gets_a_bar_of_done_total_rate_elapsed_and_failures_and_a_line_per_failure() -> None:
    # GIVEN a progress bar on a terminal
    terminal = Terminal()
    progress = Progress(terminal, bar=True)
    # WHEN three resources start, two complete and one fails
    progress(StackEvent("Fleet", StackStatus.CREATE_IN_PROGRESS))
    for lid in ("A", "B", "C"):
        progress(event(lid, ResourceStatus.CREATE_IN_PROGRESS))
    progress(event("A", ResourceStatus.CREATE_COMPLETE))
    progress(event("B", ResourceStatus.CREATE_COMPLETE))
    progress(ResourceEvent("Fleet", "C", "Custom::ManagedThing", "", ResourceStatus.CREATE_FAILED, Action.CREATE,
                           Phase.DEPLOY, reason="told to fail"))  # fmt: skip
    progress.close()
    # THEN the bar shows 3/3, a rate, the elapsed time and one failure; only the stack and the failure get lines
    output = terminal.getvalue()
    assert "3/3" in output and "resources/s" in output and "failures: 1" in output and "00:00" in output
    assert "Fleet | CREATE_IN_PROGRESS | AWS::CloudFormation::Stack | Fleet" in output
    assert "Fleet | CREATE_FAILED | Custom::ManagedThing | C | told to fail" in output
    assert "Fleet | CREATE_COMPLETE | Custom::ManagedThing | A" not in output


def test_without_a_bar_every_event_is_a_line() -> None:
    # GIVEN progress to a pipe, WHEN a resource completes, THEN it is one line
    stream = io.StringIO()
    Progress(stream)(event("A", ResourceStatus.CREATE_COMPLETE))
    assert stream.getvalue() == "Fleet | CREATE_COMPLETE | Custom::ManagedThing | A\n"


def test_what_is_not_deployed_is_one_short_line_only_when_the_stack_changes(tmp_path: Path) -> None:
    # GIVEN a stack with things and four resources of other types (the provider function included)
    app = FakeApp(tmp_path)
    app.write({"Fleet": {"A": thing("a1"), **OTHERS}})
    # WHEN deployed, THEN one short line names the count and the first types
    first = app.deploy(FakeRuntime())
    short = [line for line in first.lines if "not deployed locally" in line]
    assert short == [
        "Fleet | 4 resources of other types not deployed locally "
        "(AWS::IAM::Role, AWS::Lambda::Function, AWS::Logs::LogGroup, ...)"
    ]
    # WHEN deployed again without changes, THEN it is not repeated
    again = app.deploy(FakeRuntime())
    assert not [line for line in again.lines if "not deployed locally" in line]
    # AND --verbose lists every one
    app.write({"Fleet": {"A": thing("a2"), **OTHERS}})
    engine, lines, _ = app.engine(FakeRuntime())
    engine.verbose = True
    engine.deploy(engine.deploy_order(engine.assembly.select([])))
    (full,) = [line for line in lines if "not deployed locally" in line]
    assert "Role (AWS::IAM::Role)" in full and "Queue (AWS::SQS::Queue)" in full and "Provider (AWS::Lambda" in full


def test_the_summary_counts_each_action_and_gives_the_deployment_and_total_time(tmp_path: Path) -> None:
    # GIVEN a deployed stack, then one thing replaced, one updated, one removed and one added
    app = FakeApp(tmp_path)
    app.write({"Fleet": {"A": thing("a1"), "B": thing("b1"), "C": thing("c1")}})
    app.deploy(FakeRuntime())
    app.write({"Fleet": {"A": thing("a2"), "B": thing("b1", Name="new"), "D": thing("d1")}})
    deployed = app.deploy(FakeRuntime())
    # WHEN the summary is printed
    stream = io.StringIO()
    print_summary(deployed.reports, "deploy", stream, total_seconds=1.5)
    # THEN it counts each action and gives the times like cdk deploy
    text = stream.getvalue()
    assert " 1 created, 1 deleted, 1 replaced, 1 updated\n" in text
    assert "✨  Deployment time: " in text and text.rstrip().endswith("✨  Total time: 1.50s")


def test_a_failed_stack_counts_its_failures_in_the_bar_through_a_real_run(tmp_path: Path) -> None:
    # GIVEN a stack whose second thing fails, and a terminal
    app = FakeApp(tmp_path)
    app.write({"Fleet": {"A": thing("a1"), "B": thing("b1", Upstream={"Ref": "A"})}})
    engine, _, _ = app.engine(FakeRuntime(fail={("B", RequestType.CREATE): "told to fail"}))
    terminal = Terminal()
    bar = Progress(terminal, bar=True)
    engine.executor.listeners = [bar]
    # WHEN deployed
    engine.deploy(engine.deploy_order(engine.assembly.select([])))
    bar.close()
    # THEN the bar counted every resource event, the failure among them
    assert "failures: 1" in terminal.getvalue()
    assert "Fleet | CREATE_FAILED | Custom::ManagedThing | B | told to fail" in terminal.getvalue()
