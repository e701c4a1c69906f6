"""Shared fixtures: CloudFormation events, a fake Lambda context, and the provider with a stubbed client."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The provider builds its clients at import: give it a region and fake credentials,
# and make sure nothing can reach a real endpoint or the instance metadata service.
os.environ.update(
    AWS_REGION="eu-west-1",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

EVENTS_DIR = Path(__file__).parent / "events"
REPO_ROOT = Path(__file__).resolve().parent.parent
THING_ID = "a1b2c3d4e5f6"
THING_ARN = f"arn:aws:iotmanagedintegrations:eu-west-1:123456789012:managed-thing/{THING_ID}"


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A CloudFormation event from tests/events/<name>.json, with top-level fields overridden."""
    event = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event.update(copy.deepcopy(overrides))
    return event


def update_event(old_properties: dict[str, Any], new_properties: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An Update event moving a thing from ``old_properties`` to ``new_properties``."""
    event = load_event("create")
    event.update(
        RequestType="Update",
        RequestId="0b6f7c1e-2222-4c3d-9e8f-0123456789ab",
        PhysicalResourceId=THING_ID,
        ResourceProperties=copy.deepcopy(new_properties),
        OldResourceProperties=copy.deepcopy(old_properties),
    )
    event.update(copy.deepcopy(overrides))
    return event


class FakeLambdaContext:
    """The attributes of a Lambda context that crhelper and Powertools read."""

    function_name = "HomeFleet-Provider"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:HomeFleet-Provider"
    aws_request_id = "5f1e1f0e-aaaa-bbbb-cccc-0123456789ab"
    log_group_name = "/aws/lambda/HomeFleet-Provider"
    log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int = 120_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@dataclass
class Provider:
    """The real handler module, its client under a botocore Stubber, and what it answered."""

    module: Any
    stubber: Any
    responses: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.module.handler(event, FakeLambdaContext())
        assert self.responses, "the handler sent no response to CloudFormation"
        return self.responses[-1]


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    from botocore.stub import Stubber

    import managed_thing_provider.index as index

    stubber = Stubber(index.client)
    recorder = Provider(module=index, stubber=stubber)
    send = index.helper._send

    # crhelper binds its HTTPS sender as a default argument: capture the body instead.
    def capture(status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        send(status, reason, send_response=lambda _url, body, _verify: recorder.responses.append(body))

    monkeypatch.setattr(index.helper, "_send", capture)
    with stubber:
        yield recorder
        stubber.assert_no_pending_responses()


# --- the local deploy tests: the proof's synthesized assembly, and the canary scan (local_deploy/canary_scan.py)

LOCAL_DEPLOY = Path(__file__).parent / "local_deploy"


@pytest.fixture(scope="session")
def proof_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proof's cloud assembly (the real provider asset), synthesized once per session."""
    from proof_app import synthesize_base

    return synthesize_base(tmp_path_factory.mktemp("proof-base"))


@pytest.fixture(scope="session", autouse=True)
def canary_scan() -> Iterator[None]:
    """Records every ResponseURL issued; at the end of the session, fails if a canary of the local deploy tests
    (a sensitive value, a ResponseURL) is found in their outputs or files (see local_deploy/canary_scan.py)."""
    try:
        from canary_scan import SCAN  # on the path once a local deploy test was collected
    except ImportError:
        yield
        return
    from managed_things_local.services.responses import ResponseReceiver

    expect = ResponseReceiver.expect

    def recorded(self: ResponseReceiver, request_id: str) -> str:
        url = expect(self, request_id)
        SCAN.url_issued(url)
        return url

    ResponseReceiver.expect = recorded  # type: ignore[method-assign]
    try:
        yield
    finally:
        ResponseReceiver.expect = expect  # type: ignore[method-assign]
    leaks = SCAN.leaks()
    print(
        f"\ncanary scan: {len(SCAN.response_tokens)} ResponseURLs, {len(SCAN.outputs)} outputs, "
        f"{len(SCAN.directories)} test directories; {len(leaks)} leaks"
    )
    assert not leaks, "sensitive values or ResponseURLs leaked:\n  " + "\n  ".join(leaks[:50])


@pytest.fixture(autouse=True)
def scanned_directory(request: pytest.FixtureRequest) -> Iterator[None]:
    """A local deploy test's tmp_path joins the final canary scan (pytest keeps it until the session ends)."""
    if "tmp_path" in request.fixturenames and LOCAL_DEPLOY in Path(str(request.node.path)).parents:
        from canary_scan import SCAN

        SCAN.directories.append((request.node.nodeid, request.getfixturevalue("tmp_path")))
    yield
