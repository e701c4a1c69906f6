"""Warm execution environments: reused like Lambda's, bounded per function, discarded when they fail, all stopped."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_support import (
    LOG_NAME,
    NOWHERE,
    create_request,
    front_door_to,
    function_spec,
    is_running,
    kill_and_wait,
    log_text,
    receiver,
    write_code,
)

from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.emulator.server import EmulatorServer
from managed_things_local.lambda_runtime.invoker import FunctionSpec, LambdaRuntime, Outcome
from managed_things_local.lambda_runtime.pool import EnvironmentPool, PoolClosed
from managed_things_local.services.responses import ResponseReceiver

__all__ = ["receiver"]  # the fixture

# Counts its invocations in a module global; what it does is chosen by the event's properties.
COUNTING_HANDLER = """
    import json, os, ssl, subprocess, time, urllib.request

    INVOCATIONS = 0


    def handler(event, context):
        global INVOCATIONS
        INVOCATIONS += 1
        properties = event["ResourceProperties"]
        action = properties.get("Action", "answer")
        if properties.get("PidFile"):
            with open(properties["PidFile"], "w") as file:
                file.write(str(os.getpid()))
        if properties.get("ChildPidFile"):
            with open(properties["ChildPidFile"], "w") as file:
                file.write(str(subprocess.Popen(["sleep", "60"]).pid))
        if action == "crash":
            os._exit(7)
        if action == "hang":
            time.sleep(60)
        if action == "sleep":
            time.sleep(float(properties["Seconds"]))
        data = {"Pid": str(os.getpid()), "Invocations": str(INVOCATIONS)}
        if action == "trust":
            data["CaCertificates"] = str(len(ssl.create_default_context().get_ca_certs()))
            data["CaDirectory"] = str(ssl.get_default_verify_paths().capath)
        if action == "spawn":
            data["ChildPid"] = str(subprocess.Popen(["sleep", "60"]).pid)
        body = {"Status": "SUCCESS", "PhysicalResourceId": "thing-1", "RequestId": event["RequestId"], "Data": data}
        request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT")
        urllib.request.urlopen(request, context=ssl.create_default_context()).read()
"""


@pytest.fixture
def counting_function(tmp_path: Path) -> FunctionSpec:
    return function_spec(write_code(tmp_path / "code", COUNTING_HANDLER), timeout=5)


@pytest.fixture
def runtime(tmp_path: Path, receiver: ResponseReceiver) -> Iterator[LambdaRuntime]:
    with LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=4) as started:
        yield started


def invoke(runtime: LambdaRuntime, function: FunctionSpec, **properties: Any) -> Outcome:
    return runtime.invoke(function, create_request(properties), LOG_NAME)


def data(outcome: Outcome) -> dict[str, Any]:
    assert outcome.succeeded and outcome.answer is not None, outcome.reason
    return outcome.answer.data


def request(
    request_type: RequestType, properties: dict[str, Any], physical_id: str, old: dict[str, Any] | None = None
) -> CustomResourceRequest:
    """An Update or Delete of the thing ``create_request`` made."""
    created = create_request(properties)
    return CustomResourceRequest(
        request_type,
        stack_id=created.stack_id,
        logical_id=created.logical_id,
        resource_type=created.resource_type,
        service_token=created.service_token,
        properties=properties,
        physical_id=physical_id,
        old_properties=old,
    )


def reports(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("REPORT RequestId: ")]


def invoke_at_once(runtime: LambdaRuntime, function: FunctionSpec, count: int, **properties: Any) -> list[Outcome]:
    """``count`` invocations started together from their own threads, as the engine's workers do."""
    barrier = threading.Barrier(count)
    outcomes: list[Outcome] = []

    def one() -> None:
        barrier.wait()
        outcomes.append(invoke(runtime, function, **properties))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_module_state_carries_over_between_invocations_of_one_function(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a handler that counts its invocations in a module global
    # WHEN the same function is invoked twice
    first, second = data(invoke(runtime, counting_function)), data(invoke(runtime, counting_function))

    # THEN the second ran in the same warm environment, its module state intact
    assert (first["Invocations"], second["Invocations"]) == ("1", "2")
    assert first["Pid"] == second["Pid"]


@pytest.mark.parametrize(
    ("concurrency", "reserved", "environments"),
    [(2, None, 2), (4, 1, 1)],
    ids=["concurrency", "reserved-concurrency"],
)
def test_a_function_runs_at_most_its_concurrency_of_environments_at_once(
    tmp_path: Path,
    receiver: ResponseReceiver,
    counting_function: FunctionSpec,
    concurrency: int,
    reserved: int | None,
    environments: int,
) -> None:
    # GIVEN a function limited by the runtime's concurrency or by its own ReservedConcurrentExecutions
    function = function_spec(Path(counting_function.code_dir), reserved_concurrency=reserved)

    # WHEN six invocations that take a while arrive at once
    with LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=concurrency) as runtime:
        outcomes = invoke_at_once(runtime, function, 6, Action="sleep", Seconds="0.3")

    # THEN all of them are served, by exactly the limit of environments, the others waiting for one to be free
    served: dict[str, int] = {}  # pid -> invocations it counted
    for outcome in outcomes:
        pid, count = data(outcome)["Pid"], int(data(outcome)["Invocations"])
        served[pid] = max(served.get(pid, 0), count)
    assert len(served) == environments
    assert sum(served.values()) == 6


def test_an_idle_environment_stays_warm_while_another_function_runs_in_the_shared_concurrency(
    tmp_path: Path, receiver: ResponseReceiver, counting_function: FunctionSpec
) -> None:
    # GIVEN two functions without ReservedConcurrentExecutions (one per nested stack, say), room for one invocation
    first = counting_function
    second = function_spec(
        Path(first.code_dir), function_name="Other-Provider", arn=first.arn.replace("Stack", "Other")
    )

    # WHEN the first, then the second, then the first again are invoked
    with LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=1) as runtime:
        before, _, after = (data(invoke(runtime, function)) for function in (first, second, first))

    # THEN the second's invocation did not take the first's idle environment away: it is still warm
    assert before["Pid"] == after["Pid"]
    assert after["Invocations"] == "2"


class FakeEnvironment:
    """What the pool needs of an execution environment, with the memory it reports; counts nothing by itself."""

    def __init__(self, function: FunctionSpec, memory_mb: int) -> None:
        self.function = function
        self.max_memory_used_mb = memory_mb
        self.usable = True
        self.stopped = False

    def stop(self) -> None:
        self.usable, self.stopped = False, True

    def stop_process(self) -> None:
        self.usable = False


class FakeEnvironments:
    """An environment factory for ``EnvironmentPool`` that records every environment it makes (a cold start)."""

    def __init__(self, memory_mb: int = 60) -> None:
        self.memory_mb = memory_mb
        self.made: list[FakeEnvironment] = []

    def __call__(self, function: FunctionSpec) -> FakeEnvironment:
        environment = FakeEnvironment(function, self.memory_mb)
        self.made.append(environment)
        return environment

    def cold_starts(self, function: FunctionSpec) -> int:
        return sum(1 for environment in self.made if environment.function == function)


def functions(count: int, **overrides: Any) -> list[FunctionSpec]:
    return [
        function_spec(
            Path("/code"), function_name=f"Shard{i}-Provider", arn=f"arn:aws:lambda:::function:{i}", **overrides
        )
        for i in range(count)
    ]


def run_one(pool: EnvironmentPool, function: FunctionSpec) -> FakeEnvironment:
    """One invocation of ``function`` that succeeds: the environment it ran in."""
    environment = pool.acquire(function)
    pool.release(function, environment, reusable=True)
    return environment


@pytest.mark.parametrize(("concurrency", "function_count"), [(1, 2), (2, 3), (4, 5)])
def test_functions_taking_turns_in_the_shared_concurrency_cold_start_once_each(
    concurrency: int, function_count: int
) -> None:
    # GIVEN more functions without ReservedConcurrentExecutions than the shared concurrency (nested stacks' providers)
    made = FakeEnvironments()
    pool = EnvironmentPool(made, concurrency=concurrency, reuse=True)
    shards = functions(function_count)

    # WHEN they take turns, ten invocations each
    for _ in range(10):
        for function in shards:
            run_one(pool, function)

    # THEN each cold started once: an idle environment is not evicted because another function runs
    assert [made.cold_starts(function) for function in shards] == [1] * function_count
    assert not any(environment.stopped for environment in made.made)
    pool.close(0)
    assert all(environment.stopped for environment in made.made)


def test_idle_environments_beyond_the_memory_budget_are_stopped_least_recently_used_first() -> None:
    # GIVEN idle environments of 60 MB each and room for two of them
    made = FakeEnvironments(memory_mb=60)
    pool = EnvironmentPool(made, concurrency=4, reuse=True, idle_memory_mb=120)
    first, second, third = functions(3)

    # WHEN three functions run one after the other
    environments = [run_one(pool, function) for function in (first, second, third)]

    # THEN the least recently used (the first's) was stopped when the third's became idle
    assert [environment.stopped for environment in environments] == [True, False, False]

    # AND WHEN the first and the third run again, THEN the first cold starts and the third is still warm
    assert run_one(pool, first) is not environments[0]
    assert run_one(pool, third) is environments[2]
    assert made.cold_starts(first) == 2 and made.cold_starts(third) == 1


def test_the_last_idle_environment_is_kept_even_beyond_the_memory_budget() -> None:
    # GIVEN a function whose environment alone is larger than the idle budget
    made = FakeEnvironments(memory_mb=600)
    pool = EnvironmentPool(made, concurrency=1, reuse=True, idle_memory_mb=100)
    (function,) = functions(1)

    # WHEN it is invoked twice, THEN the second invocation is warm
    assert run_one(pool, function) is run_one(pool, function)


def until(condition: Callable[[], object], what: str) -> None:
    """Wait for ``condition`` (a guard against a hang, not a measurement: it holds at once or never)."""
    give_up = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < give_up, f"never: {what}"
        time.sleep(0.001)


def acquire_in_thread(pool: EnvironmentPool, function: FunctionSpec) -> list[FakeEnvironment]:
    """An invocation waiting for an environment in its own thread: the list it appends its environment to."""
    acquired: list[FakeEnvironment] = []
    waiting_before = pool.waiting

    def acquire() -> None:
        with contextlib.suppress(PoolClosed):
            acquired.append(pool.acquire(function))

    threading.Thread(target=acquire, daemon=True).start()
    until(lambda: pool.waiting > waiting_before or acquired, f"{function.function_name} asks for an environment")
    return acquired


def test_the_room_freed_in_the_shared_concurrency_goes_to_a_warm_invocation_before_a_cold_one() -> None:
    # GIVEN a shared concurrency of two, both busy (one with the first function, which also has an idle environment)
    made = FakeEnvironments()
    pool = EnvironmentPool(made, concurrency=2, reuse=True)
    warm, cold, other = functions(3)
    busy_warm, idle_warm = pool.acquire(warm), pool.acquire(warm)
    pool.release(warm, idle_warm, reusable=True)
    busy_other = pool.acquire(other)
    try:
        # WHEN an invocation of a function with no environment waits, then one of the function with an idle one,
        # and one invocation ends
        cold_got = acquire_in_thread(pool, cold)
        warm_got = acquire_in_thread(pool, warm)
        pool.release(other, busy_other, reusable=True)
        until(lambda: warm_got or cold_got, "the freed room is taken")

        # THEN the warm one ran first, in its idle environment; the cold one waits for the next room, then starts
        assert warm_got == [idle_warm] and cold_got == [] and made.cold_starts(cold) == 0
        pool.release(warm, busy_warm, reusable=True)
        until(lambda: cold_got, "the cold invocation starts")
        assert made.cold_starts(cold) == 1 and cold_got[0].function == cold
    finally:
        pool.close(0)


def test_a_function_whose_configuration_changed_gets_new_environments() -> None:
    # GIVEN a function with one idle environment and one busy, and an update of its configuration
    made = FakeEnvironments()
    pool = EnvironmentPool(made, concurrency=4, reuse=True)
    (function,) = functions(1)
    idle, busy = pool.acquire(function), pool.acquire(function)
    pool.release(function, idle, reusable=True)
    updated = dataclasses.replace(function, environment={"LOG_LEVEL": "DEBUG"})

    # WHEN the updated function is invoked, and the busy environment of the old configuration ends its invocation
    fresh = pool.acquire(updated)
    pool.release(function, busy, reusable=True)
    pool.release(updated, fresh, reusable=True)

    # THEN neither old environment serves it again: both were stopped, and the new one is the one kept warm
    assert fresh not in (idle, busy) and idle.stopped and busy.stopped
    assert run_one(pool, updated) is fresh


@pytest.mark.parametrize("reserved", [None, 1], ids=["shared-concurrency", "reserved-concurrency"])
def test_an_invocation_beyond_the_concurrency_waits_for_one_to_end(reserved: int | None) -> None:
    # GIVEN a concurrency of one busy environment (the runtime's, or the function's reserved one beside room to spare)
    made = FakeEnvironments()
    pool = EnvironmentPool(made, concurrency=1 if reserved is None else 4, reuse=True)
    first, second = functions(2, reserved_concurrency=reserved) if reserved else functions(2)
    if reserved:
        second = first  # a reserved concurrency caps its own function only
    busy = pool.acquire(first)
    served: list[FakeEnvironment] = []

    # WHEN a second invocation arrives while the first runs
    waiting = threading.Thread(target=lambda: served.append(pool.acquire(second)))
    waiting.start()
    waiting.join(0.2)

    # THEN it waits, and runs once the first ends
    assert waiting.is_alive() and served == []
    pool.release(first, busy, reusable=True)
    waiting.join()
    assert len(served) == 1
    pool.release(second, served[0], reusable=True)
    pool.close(0)


def test_the_handlers_default_ssl_context_trusts_the_local_ca_alone(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # WHEN a handler looks at what its default SSL context (crhelper's, for the ResponseURL) trusts
    trust = data(invoke(runtime, counting_function, Action="trust"))

    # THEN it is the local ResponseURL's CA, through which it answered, and no directory of the system's CAs
    assert trust["CaCertificates"] == "1"
    assert trust["CaDirectory"] == "None"


def test_a_function_with_a_reserved_concurrency_of_zero_is_throttled(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN ReservedConcurrentExecutions 0, WHEN invoked
    outcome = invoke(runtime, function_spec(Path(counting_function.code_dir), reserved_concurrency=0))

    # THEN Lambda throttles it, and the handler never runs
    assert not outcome.succeeded
    assert "Rate Exceeded" in outcome.reason
    assert log_text(runtime.log_dir) == ""


def test_a_function_whose_code_directory_is_gone_fails_with_the_reason(tmp_path: Path, runtime: LambdaRuntime) -> None:
    # GIVEN a function whose staged code was removed, WHEN invoked
    outcome = invoke(runtime, function_spec(tmp_path / "removed"))

    # THEN it fails in one line saying so
    assert not outcome.succeeded
    assert outcome.reason.startswith("Could not start the function Stack-Provider: ") and "\n" not in outcome.reason


def test_a_crash_discards_the_environment_and_the_next_event_cold_starts(
    tmp_path: Path, runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a warm environment
    before = data(invoke(runtime, counting_function))

    # WHEN its process exits in the middle of an invocation (leaving a process it started), and another event follows
    child_pid_file = tmp_path / "child.pid"
    crashed = invoke(runtime, counting_function, Action="crash", ChildPidFile=str(child_pid_file))
    after = data(invoke(runtime, counting_function))

    # THEN the crash fails that invocation as Lambda reports it, and the next event had a new environment's INIT
    assert not crashed.succeeded
    assert "Runtime.ExitError" in crashed.reason and "exit status 7" in crashed.reason
    assert str(runtime.log_dir / LOG_NAME) in crashed.reason
    assert after["Pid"] != before["Pid"] and after["Invocations"] == "1"
    assert not is_running(int(child_pid_file.read_text()))
    log = log_text(runtime.log_dir)
    assert "Error: Runtime exited with error: exit status 7\nRuntime.ExitError" in log
    assert "Status: error\tError Type: Runtime.ExitError" in reports(log)[1]
    assert ["Init Duration" in line for line in reports(log)] == [True, False, True]


def test_an_environment_killed_while_idle_is_replaced_by_a_cold_start(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a warm environment, killed from outside between two events
    before = data(invoke(runtime, counting_function))
    kill_and_wait(int(before["Pid"]))

    # WHEN the next event comes
    after = invoke(runtime, counting_function)

    # THEN it is served, by a new environment that ran INIT
    assert data(after)["Pid"] != before["Pid"] and data(after)["Invocations"] == "1"
    assert ["Init Duration" in line for line in reports(log_text(runtime.log_dir))] == [True, True]


def test_a_timeout_kills_the_environment(
    tmp_path: Path, runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a function with a Timeout of 1 s, and a handler that runs longer
    function = function_spec(Path(counting_function.code_dir), timeout=1)
    pid_file = tmp_path / "hanging.pid"

    # WHEN it is invoked, and then invoked again
    outcome = invoke(runtime, function, Action="hang", PidFile=str(pid_file))
    after = data(invoke(runtime, function))

    # THEN the invocation timed out, its process is gone, and the next event got a new environment
    assert not outcome.succeeded
    assert "did not answer within its Timeout of 1 s and was stopped" in outcome.reason
    assert not is_running(int(pid_file.read_text()))
    assert after["Pid"] != pid_file.read_text() and after["Invocations"] == "1"
    log = log_text(runtime.log_dir)
    assert re.search(r"Task timed out after 1\.00 seconds", log)
    assert "Status: timeout" in reports(log)[0]


def test_an_import_error_is_reported_and_a_later_invocation_retries_init(
    tmp_path: Path, runtime: LambdaRuntime
) -> None:
    # GIVEN a handler module that imports a module its code directory lacks
    code = write_code(tmp_path / "code", "import helpers\n\ndef handler(event, context):\n    helpers.answer(event)\n")
    function = function_spec(code)

    # WHEN it is invoked, then the missing module appears, and it is invoked again
    failed = invoke(runtime, function)
    write_code(
        code, COUNTING_HANDLER.replace("def handler(", "def answer(").replace("(event, context)", "(event)"), "helpers"
    )
    retried = invoke(runtime, function)

    # THEN the first failed INIT as Lambda reports it, and the second ran INIT again and answered
    assert not failed.succeeded
    assert "Runtime.ImportModuleError: ModuleNotFoundError: No module named 'helpers'" in failed.reason
    assert retried.succeeded, retried.reason
    log = log_text(runtime.log_dir)
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'provider': No module named 'helpers'" in log
    assert re.search(r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error", log)
    assert all("Init Duration" in line for line in reports(log))


def test_cold_gives_every_invocation_a_new_environment(
    tmp_path: Path, receiver: ResponseReceiver, counting_function: FunctionSpec
) -> None:
    # GIVEN a runtime told to start cold every time
    with LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=4, cold=True) as runtime:
        # WHEN the same function is invoked twice
        first = data(invoke(runtime, counting_function))
        second = data(invoke(runtime, counting_function))

        # THEN each ran INIT in its own process, and the first process is gone
        assert first["Pid"] != second["Pid"]
        assert (first["Invocations"], second["Invocations"]) == ("1", "1")
        assert not is_running(int(first["Pid"]))
        assert all("Init Duration" in line for line in reports(log_text(runtime.log_dir)))


def test_a_ctrl_c_at_the_terminal_does_not_reach_the_environments(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a warm environment
    pid = int(data(invoke(runtime, counting_function))["Pid"])

    # THEN it runs in a session of its own, so the terminal's SIGINT (sent to the deploy's foreground group) misses it
    assert os.getsid(pid) == pid != os.getsid(0)


def test_close_leaves_no_process_running(
    tmp_path: Path, receiver: ResponseReceiver, counting_function: FunctionSpec
) -> None:
    # GIVEN two warm environments, each of whose handlers left a process of its own running
    runtime = LambdaRuntime(receiver, NOWHERE, tmp_path / "logs", concurrency=2)
    outcomes = invoke_at_once(runtime, counting_function, 2, Action="spawn")
    pids = [int(data(o)[key]) for o in outcomes for key in ("Pid", "ChildPid")]
    assert all(is_running(pid) for pid in pids)

    # WHEN the runtime is closed
    runtime.close()

    # THEN none of them is left
    assert not any(is_running(pid) for pid in pids)


def test_each_invocation_is_logged_like_lambda_and_the_response_url_never(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a cold then a warm invocation
    invoke(runtime, counting_function)
    invoke(runtime, counting_function)

    # THEN each has START, END and REPORT lines with Lambda's fields, INIT's duration on the cold start only
    log = log_text(runtime.log_dir)
    starts = re.findall(r"^START RequestId: ([0-9a-f-]{36}) Version: \$LATEST$", log, re.MULTILINE)
    ends = re.findall(r"^END RequestId: ([0-9a-f-]{36})$", log, re.MULTILINE)
    assert len(starts) == 2 and starts == ends
    report = (
        r"REPORT RequestId: {}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB"
        r"\tMax Memory Used: \d+ MB"
    )
    cold, warm = reports(log)
    assert re.fullmatch(report.format(starts[0]) + r"\tInit Duration: [\d.]+ ms", cold)
    assert re.fullmatch(report.format(starts[1]), warm)
    assert "cloudformation-response" not in log and runtime.receiver.base_url not in log


@pytest.fixture(scope="module")
def provider_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real provider's Lambda asset, as CDK's local bundling writes it."""
    from cdk_managed_things._asset import build_asset

    directory = tmp_path_factory.mktemp("asset")
    build_asset(directory)
    return directory


def test_the_real_provider_creates_updates_and_deletes_a_thing_in_one_warm_environment(
    tmp_path: Path, receiver: ResponseReceiver, provider_asset: Path
) -> None:
    # GIVEN the provider's asset and the embedded emulator
    function = function_spec(provider_asset, handler="managed_thing_provider.index.handler", timeout=60)
    material = "Z:00124B0000000001$I:A1B2C3D4E5F6A7B8"
    properties = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE"}
    old = {**properties, "AuthenticationMaterial": material, "Name": "Kitchen sensor"}
    new = {**old, "Name": "Pantry sensor"}
    with (
        EmulatorServer() as emulator,
        front_door_to(receiver, emulator.url) as front_door,
        LambdaRuntime(receiver, front_door, tmp_path / "logs", concurrency=1) as runtime,
    ):
        # WHEN one thing is created, renamed, and deleted, one event after the other
        created = runtime.invoke(function, create_request(old), LOG_NAME)
        assert created.succeeded and created.answer is not None, created.reason
        thing_id = created.answer.physical_id
        named_after_create = [thing.get("Name") for thing in emulator.backend.list_things()]
        updated = runtime.invoke(function, request(RequestType.UPDATE, new, thing_id, old), LOG_NAME)
        named_after_update = [thing.get("Name") for thing in emulator.backend.list_things()]
        deleted = runtime.invoke(function, request(RequestType.DELETE, new, thing_id), LOG_NAME)
        left = [thing["Id"] for thing in emulator.backend.list_things() if thing.get("ProvisioningStatus") != "DELETED"]

    # THEN each step answered SUCCESS with the same thing, and one environment ran INIT once for all three
    assert updated.succeeded and updated.answer is not None and updated.answer.physical_id == thing_id, updated.reason
    assert deleted.succeeded, deleted.reason
    assert (named_after_create, named_after_update, left) == (["Kitchen sensor"], ["Pantry sensor"], [])
    log = log_text(tmp_path / "logs")
    assert ["Init Duration" in line for line in reports(log)] == [True, False, False]
    assert "cloudformation-response" not in log and material not in log


def test_the_real_provider_near_its_deadline_calls_the_service_by_the_host_its_endpoint_rules_give(
    tmp_path: Path, receiver: ResponseReceiver, provider_asset: Path
) -> None:
    # GIVEN the real provider with a 15 s timeout: every call has under 13 s left, so a sibling client with
    # shorter timeouts makes it (the case), and the engine's front door before the emulator
    function = function_spec(provider_asset, handler="managed_thing_provider.index.handler", timeout=15)
    properties = {
        "Role": "DEVICE",
        "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
        "AuthenticationMaterial": "Z:1$I:2",
    }
    with (
        EmulatorServer() as emulator,
        front_door_to(receiver, emulator.url) as front_door,
        LambdaRuntime(receiver, front_door, tmp_path / "logs", concurrency=1) as runtime,
    ):
        # WHEN a thing is created and deleted
        created = runtime.invoke(function, create_request(properties), LOG_NAME)
        assert created.succeeded and created.answer is not None, created.reason
        deleted = runtime.invoke(
            function, request(RequestType.DELETE, properties, created.answer.physical_id), LOG_NAME
        )

    # THEN both went to the service's own host (api.aws), and no other host was asked but CloudFormation's (the
    # Create asks it whether the resource was cancelled: DescribeStackResource)
    assert deleted.succeeded, deleted.reason
    assert set(front_door.asked) == {
        "api.iotmanagedintegrations.eu-west-1.api.aws",
        "cloudformation.eu-west-1.amazonaws.com",
    }
    assert front_door.refused == set()


def test_nothing_of_one_event_carries_over_into_the_next_answer_of_a_warm_provider(
    tmp_path: Path, receiver: ResponseReceiver, provider_asset: Path
) -> None:
    # GIVEN the real provider, warm after a Create that failed validation and one that created a thing
    function = function_spec(provider_asset, handler="managed_thing_provider.index.handler", timeout=60)
    valid = {"Role": "DEVICE", "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE", "AuthenticationMaterial": "Z:1$I:2"}
    with (
        EmulatorServer() as emulator,
        front_door_to(receiver, emulator.url) as front_door,
        LambdaRuntime(receiver, front_door, tmp_path / "logs", concurrency=1) as runtime,
    ):
        failed = runtime.invoke(function, create_request({**valid, "Role": "NOT_A_ROLE"}, "Bad"), LOG_NAME)
        created = runtime.invoke(function, create_request(valid, "Good"), LOG_NAME)

        # WHEN the same environment deletes the resource whose Create failed (as a rollback would)
        assert failed.answer is not None
        never_created = failed.answer.physical_id
        deleted = runtime.invoke(function, request(RequestType.DELETE, valid, never_created), LOG_NAME)

    # THEN each answer is its own: no Reason after the failure, no Data or id of the thing created before
    assert not failed.succeeded and "Role must be one of" in failed.reason
    assert created.succeeded and created.answer is not None and created.answer.reason == "", created.reason
    assert deleted.succeeded and deleted.answer is not None, deleted.reason
    assert (deleted.answer.physical_id, deleted.answer.data, deleted.answer.reason) == (never_created, {}, "")
    assert ["Init Duration" in line for line in reports(log_text(tmp_path / "logs"))] == [True, False, False]


def test_an_environment_started_from_a_large_process_reports_its_own_memory(
    runtime: LambdaRuntime, counting_function: FunctionSpec
) -> None:
    # GIVEN a deploy (or test) process holding much more memory than any environment
    ballast = bytearray(600 * 1024 * 1024)
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1

    # WHEN an environment started from it serves an invocation
    invoke(runtime, counting_function)

    # THEN it reports its own peak, not its parent's (which the idle environments' memory budget would count)
    (report,) = reports(log_text(runtime.log_dir))
    used = int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))  # type: ignore[union-attr]
    assert used < 300
    del ballast
