"""End to end: the provider's Lambda asset on a Lambda-like runtime whose botocore is old.

The asset is built in-process the way CDK bundling builds it. The local deploy's
``LambdaRuntime`` then runs it with another interpreter: a venv that has nothing
but boto3/botocore 1.40 (what an older Lambda Python runtime ships, and a
botocore that does not know WiFiSimpleSetupConfiguration), the asset directory
first on sys.path like /var/task. The handler gets a real CloudFormation Create
event and talks to two local servers only: a stub of the Managed Integrations
API (plain HTTP) and the runtime's stand-in for CloudFormation's presigned
response URL (HTTPS, with its own CA).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO_ROOT, create_venv, pip_install, run
from unit.support import SEED_REQUEST

from managed_things_local.cloudformation.requests import CustomResourceRequest, RequestType
from managed_things_local.lambda_runtime.invoker import FunctionSpec, LambdaRuntime, Outcome
from managed_things_local.lambda_runtime.variables import DirectEndpoint
from managed_things_local.services.responses import ResponseReceiver
from managed_things_model.contract import HANDLER, RESOURCE_TAG

pytestmark = pytest.mark.slow

# An old runtime: boto3/botocore 1.40 know iot-managed-integrations, but not
# CreateManagedThing's WiFiSimpleSetupConfiguration (botocore >= 1.44.8 does).
OLD_BOTOCORE = "1.40.76"
# What an old Lambda Python runtime has besides the standard library.
RUNTIME_DISTRIBUTIONS = {"boto3", "botocore", "jmespath", "s3transfer", "python-dateutil", "six", "urllib3"}
INSTALLER_DISTRIBUTIONS = {"pip", "setuptools", "wheel"}

REGION = "eu-west-1"
SERVICE = "iot-managed-integrations"
THING_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
THING_ARN = f"arn:aws:iotmanagedintegrations:{REGION}:123456789012:managed-thing/{THING_ID}"
CREATED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EVENT_FILE = REPO_ROOT / "tests" / "events" / "create.json"
LOG_NAME = "HomeFleet.log"

# The old runtime on its own, without the asset: what the handler would send through if it used the
# runtime's model instead of the bundled one. It answers with what it found, as its custom resource's Data.
WITHOUT_BUNDLED_MODEL = """
import json
import ssl
import urllib.request

import boto3
import botocore
from botocore.exceptions import ParamValidationError


def handler(event, context):
    client = boto3.client("iot-managed-integrations")
    members = list(client.meta.service_model.operation_model("CreateManagedThing").input_shape.members)
    try:
        client.create_managed_thing(
            Role="CONTROLLER",
            AuthenticationMaterial="WIFI:S:hub;T:WPA;P:example;;",
            AuthenticationMaterialType="WIFI_SETUP_QR_BAR_CODE",
            WiFiSimpleSetupConfiguration={"EnableAsProvisioner": True},
        )
        error = {}
    except ParamValidationError as caught:
        error = {"type": type(caught).__name__, "message": str(caught)}
    data = {"botocore": botocore.__version__, "members": members, "error": error}
    body = {"Status": "SUCCESS", "PhysicalResourceId": "probe", "RequestId": event["RequestId"], "Data": data}
    answer = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT")
    urllib.request.urlopen(answer, context=ssl.create_default_context()).read()
"""


# --- local servers ------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Recorded) -> None:
        with self.lock:
            self.requests.append(request)

    def snapshot(self) -> list[Recorded]:
        with self.lock:
            return list(self.requests)


def _record(handler: BaseHTTPRequestHandler, recorder: Recorder) -> Recorded:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    request = Recorded(handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
    recorder.add(request)
    return request


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", content_type: str = "") -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _api_handler(recorder: Recorder, throttles: int = 0) -> type[BaseHTTPRequestHandler]:
    """A stub of the Managed Integrations API: CreateManagedThing succeeds (after ``throttles`` answers of 429
    ThrottlingException), nothing else exists."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            request = _record(self, recorder)
            if request.path == "/managed-things" and len(recorder.snapshot()) <= throttles:
                body = json.dumps({"message": "Rate exceeded"}).encode()
                self.send_response(429)
                self.send_header("x-amzn-ErrorType", "ThrottlingException")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif request.path == "/managed-things":
                answer = {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": CREATED_AT.timestamp()}
                _reply(self, 201, json.dumps(answer).encode(), "application/json")
            else:
                self._not_found()

        def do_GET(self) -> None:  # noqa: N802
            _record(self, recorder)
            self._not_found()

        do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

        def _not_found(self) -> None:
            body = json.dumps({"message": f"no stub for {self.command} {self.path}"}).encode()
            self.send_response(404)
            self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


@dataclass
class Server:
    url: str
    recorder: Recorder


def _serve(handler: type[BaseHTTPRequestHandler], recorder: Recorder) -> Iterator[Server]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="e2e-api-server", daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_address[1]}", recorder)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def api(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The API stub; ``@pytest.mark.parametrize("api", [N], indirect=True)`` throttles its first N Creates."""
    recorder = Recorder()
    yield from _serve(_api_handler(recorder, getattr(request, "param", 0)), recorder)


# --- the asset and the old runtime --------------------------------------------


@pytest.fixture(scope="module")
def asset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The provider's asset, as CDK's local bundling writes it."""
    from cdk_managed_things._asset import build_asset

    directory = tmp_path_factory.mktemp("asset")
    build_asset(directory)
    return directory


@pytest.fixture(scope="module")
def old_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a venv with boto3/botocore 1.40 and their requirements, and nothing else."""
    venv = tmp_path_factory.mktemp("old-runtime") / "venv"
    python = create_venv(venv)
    pip_install(python, f"boto3=={OLD_BOTOCORE}", f"botocore=={OLD_BOTOCORE}")
    listed = json.loads(run([python, "-m", "pip", "list", "--format=json"]).stdout)
    installed = {item["name"].lower().replace("_", "-") for item in listed} - INSTALLER_DISTRIBUTIONS
    assert installed <= RUNTIME_DISTRIBUTIONS, f"the old runtime has more than boto3: {sorted(installed)}"
    yield python
    shutil.rmtree(venv, ignore_errors=True)  # large: not left to pytest's retention of old runs


@pytest.fixture
def old_lambda(old_runtime: Path, api: Server, tmp_path: Path) -> Iterator[LambdaRuntime]:
    """The local deploy's Lambda runtime on the old interpreter, every API call to the stub."""
    with (
        ResponseReceiver(tmp_path / "state") as receiver,
        LambdaRuntime(
            receiver, DirectEndpoint(api.url), tmp_path / "logs", concurrency=1, interpreter=str(old_runtime)
        ) as runtime,
    ):
        yield runtime


def _function(code_dir: Path, handler: str) -> FunctionSpec:
    """The provider function as the construct declares it."""
    return FunctionSpec(
        logical_id="Provider",
        function_name="HomeFleet-Provider",
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:HomeFleet-Provider",
        code_dir=str(code_dir),
        handler=handler,
        timeout=120,
        memory_size=256,
        region=REGION,
        # /var/task is read-only on Lambda: no bytecode is written next to the asset.
        environment={"POWERTOOLS_SERVICE_NAME": "managed-thing-provider", "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _create(event: dict[str, Any]) -> CustomResourceRequest:
    return CustomResourceRequest(
        RequestType.CREATE,
        stack_id=event["StackId"],
        logical_id=event["LogicalResourceId"],
        resource_type=event["ResourceType"],
        service_token=event["ServiceToken"],
        properties=event["ResourceProperties"],
        request_id=event["RequestId"],
    )


def _answer_data(outcome: Outcome, logs: str) -> dict[str, Any]:
    assert outcome.succeeded and outcome.answer is not None, f"{outcome.reason}\n{logs}"
    return outcome.answer.data


# --- what the handler must send -----------------------------------------------


def _assert_same(actual: Any, expected: Any, path: str = "$") -> None:
    """Equal values of the same JSON types (``1 == True`` and ``1 == 1.0`` do not pass here)."""
    assert type(actual) is type(expected), f"{path}: {actual!r} is a {type(actual).__name__}, expected {expected!r}"
    if isinstance(expected, dict):
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            _assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, expected {len(expected)}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=False)):
            _assert_same(got, want, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def _expected_request(event: dict[str, Any]) -> dict[str, Any]:
    """The CreateManagedThing body for tests/events/create.json: every member, typed as the model says."""
    token = hashlib.sha256(f"{event['StackId']}\n{event['LogicalResourceId']}\n{event['RequestId']}".encode())
    # and the resource's marker, by which a Delete finds what a cancelled Create made (cancelled_create.py)
    marker = hashlib.sha256(f"{event['StackId']}\n{event['LogicalResourceId']}".encode()).hexdigest()[:32]
    tags = {**SEED_REQUEST["Tags"], RESOURCE_TAG: marker}
    return {**SEED_REQUEST, "ClientToken": token.hexdigest(), "Tags": tags}


def _bundled_create_members(asset_dir: Path) -> set[str]:
    """CreateManagedThing's members according to the model bundled in the asset."""
    models = sorted((asset_dir / "managed_things_model" / "botocore_data" / SERVICE).glob("*/service-2.json"))
    assert len(models) == 1, f"expected one bundled service model, found {models}"
    model = json.loads(models[0].read_text())
    shape_name = model["operations"]["CreateManagedThing"]["input"]["shape"]
    return set(model["shapes"][shape_name]["members"])


# --- tests --------------------------------------------------------------------


def test_old_runtime_alone_rejects_wifi_simple_setup(old_lambda: LambdaRuntime, api: Server, tmp_path: Path) -> None:
    """Without the bundled model, botocore 1.40 refuses WiFiSimpleSetupConfiguration before sending anything.

    This is what the next test would run into if the handler used the runtime's model.
    """
    code_dir = tmp_path / "probe"
    code_dir.mkdir()
    (code_dir / "without_bundled_model.py").write_text(WITHOUT_BUNDLED_MODEL)
    event = json.loads(EVENT_FILE.read_text())

    outcome = old_lambda.invoke(_function(code_dir, "without_bundled_model.handler"), _create(event), LOG_NAME)
    report = _answer_data(outcome, (old_lambda.log_dir / LOG_NAME).read_text())

    assert report["botocore"] == OLD_BOTOCORE
    assert "AuthenticationMaterial" in report["members"]
    assert "WiFiSimpleSetupConfiguration" not in report["members"]
    assert report["error"], "botocore 1.40 accepted WiFiSimpleSetupConfiguration"
    assert report["error"]["type"] == "ParamValidationError"
    assert 'Unknown parameter in input: "WiFiSimpleSetupConfiguration"' in report["error"]["message"]
    assert api.recorder.snapshot() == [], "nothing may be sent when validation fails"


def test_create_event_on_old_runtime_sends_every_member(
    asset_dir: Path, old_lambda: LambdaRuntime, api: Server
) -> None:
    event = json.loads(EVENT_FILE.read_text())
    assert not any(asset_dir.rglob("__pycache__")), "the asset must be run as built"

    # The old venv has no crhelper, Powertools nor model: they can only come from the asset, first on the path.
    outcome = old_lambda.invoke(_function(asset_dir, HANDLER), _create(event), LOG_NAME)
    logs = (old_lambda.log_dir / LOG_NAME).read_text()
    data = _answer_data(outcome, logs)

    # One CreateManagedThing request, from the old botocore, signed for the service, with every member of the
    # bundled model, each typed as the model says (not as CloudFormation's strings).
    # Then one DescribeStackResource (the query protocol, on the same endpoint here): was the Create cancelled?
    calls = api.recorder.snapshot()
    assert [(c.method, c.path) for c in calls] == [("POST", "/managed-things"), ("POST", "/")], calls
    assert b"Action=DescribeStackResource" in calls[1].body
    call = calls[0]
    assert f"Boto3/{OLD_BOTOCORE} " in call.headers["user-agent"], call.headers["user-agent"]
    assert f"md/Botocore#{OLD_BOTOCORE} " in call.headers["user-agent"], call.headers["user-agent"]
    assert call.headers["content-type"].startswith("application/json")
    assert re.match(
        rf"AWS4-HMAC-SHA256 Credential=\w+/\d{{8}}/{REGION}/iotmanagedintegrations/aws4_request,",
        call.headers["authorization"],
    ), call.headers["authorization"]
    body = json.loads(call.body)
    assert "WiFiSimpleSetupConfiguration" in body  # unknown to botocore 1.40: the bundled model was used
    assert set(body) == _bundled_create_members(asset_dir)
    assert re.fullmatch("[0-9a-f]{64}", body["ClientToken"]), body["ClientToken"]
    _assert_same(body, _expected_request(event))

    # crhelper's answer on the response URL (its certificate verified), for this request (the receiver checks
    # the RequestId), with the thing's id and attributes.
    assert outcome.answer is not None and outcome.answer.physical_id == THING_ID
    _assert_same(data, {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": CREATED_AT.isoformat()})
    assert not any(asset_dir.rglob("__pycache__")), "the asset must be run as built"

    # Nothing secret reaches the logs: not the material, not the presigned URL.
    assert "START RequestId: " in logs and "REPORT RequestId: " in logs
    for secret in ("hunter22", "cloudformation-response/", "SN-SECRET-0001", "tag-value-secret"):
        assert secret not in logs, f"{secret!r} was logged"


@pytest.mark.parametrize("api", [7], indirect=True)
def test_a_throttled_create_on_old_runtime_is_retried_until_it_succeeds(
    asset_dir: Path, old_lambda: LambdaRuntime, api: Server
) -> None:
    # GIVEN an API that throttles the first 7 Creates (more than the attempts a 5xx gets), on botocore 1.40,
    # whose retry module the provider reads throttling with
    event = json.loads(EVENT_FILE.read_text())

    # WHEN the Create event is handled
    outcome = old_lambda.invoke(_function(asset_dir, HANDLER), _create(event), LOG_NAME)
    data = _answer_data(outcome, (old_lambda.log_dir / LOG_NAME).read_text())

    # THEN it was retried with the same token until the 8th attempt was served
    calls = [c for c in api.recorder.snapshot() if c.path == "/managed-things"]
    assert [(c.method, c.path) for c in calls] == [("POST", "/managed-things")] * 8
    assert len({json.loads(c.body)["ClientToken"] for c in calls}) == 1
    assert data["Id"] == THING_ID
