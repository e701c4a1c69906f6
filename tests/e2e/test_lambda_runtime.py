"""End to end: the provider's Lambda asset on a Lambda-like runtime whose botocore is old.

The asset is built in-process the way CDK bundling builds it. It then runs in a
separate interpreter that has nothing but boto3/botocore 1.40 (what an older
Lambda Python runtime ships, and a botocore that does not know
WiFiSimpleSetupConfiguration), with the asset directory first on sys.path like
/var/task. The handler gets a real CloudFormation Create event and talks to two
local servers only: a stub of the Managed Integrations API (plain HTTP) and a
stand-in for CloudFormation's presigned response URL (HTTPS, with a test CA).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from e2e_support import REPO_ROOT, create_venv, pip_install, run
from unit.support import SEED_REQUEST

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

# The handler and its Lambda context, run by the old runtime's interpreter. It
# prints one line of JSON (after the handler's own logs) for the test to read.
RUNNER = r"""
import json
import sys


class LambdaContext:
    function_name = "HomeFleet-Provider"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:HomeFleet-Provider"
    aws_request_id = "5f1e1f0e-aaaa-bbbb-cccc-0123456789ab"
    log_group_name = "/aws/lambda/HomeFleet-Provider"
    log_stream_name = "2026/01/02/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self):
        return 120000


with open(sys.argv[1]) as file:
    event = json.load(file)

import boto3
import botocore
import managed_thing_provider.index as index

index.handler(event, LambdaContext())

import aws_lambda_powertools
import crhelper
import managed_things_model.service_model as service_model

print("E2E-REPORT " + json.dumps({
    "boto3": boto3.__version__,
    "botocore": botocore.__version__,
    "files": {module.__name__: module.__file__
              for module in (boto3, botocore, index, service_model, crhelper, aws_lambda_powertools)},
    "bundled_data_dir": str(service_model.BUNDLED_DATA_DIR),
    "status": index.helper.Status,
    "reason": index.helper.Reason,
}))
"""

# The same old runtime on its own, without the asset: what the handler would send
# through if it used the runtime's model instead of the bundled one.
WITHOUT_BUNDLED_MODEL = r"""
import json
import sys

import boto3
import botocore
from botocore.exceptions import ParamValidationError

client = boto3.client("iot-managed-integrations", region_name="eu-west-1", endpoint_url=sys.argv[1],
                      aws_access_key_id="testing", aws_secret_access_key="testing")
members = list(client.meta.service_model.operation_model("CreateManagedThing").input_shape.members)
try:
    client.create_managed_thing(
        Role="CONTROLLER",
        AuthenticationMaterial="WIFI:S:hub;T:WPA;P:example;;",
        AuthenticationMaterialType="WIFI_SETUP_QR_BAR_CODE",
        WiFiSimpleSetupConfiguration={"EnableAsProvisioner": True},
    )
    error = None
except ParamValidationError as caught:
    error = {"type": type(caught).__name__, "message": str(caught)}
print("E2E-REPORT " + json.dumps({"botocore": botocore.__version__, "members": members, "error": error}))
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


def _api_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    """A stub of the Managed Integrations API: CreateManagedThing succeeds, nothing else exists."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            request = _record(self, recorder)
            if request.path == "/managed-things":
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


def _response_url_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    """Stands in for the presigned S3 URL that CloudFormation reads custom resource answers from."""

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802
            _record(self, recorder)
            _reply(self, 200)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


@dataclass
class Server:
    url: str
    recorder: Recorder


def _serve(
    handler: type[BaseHTTPRequestHandler], recorder: Recorder, scheme: str, ssl_context: ssl.SSLContext | None = None
) -> Iterator[Server]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name=f"e2e-{scheme}-server", daemon=True)
    thread.start()
    try:
        yield Server(f"{scheme}://127.0.0.1:{server.server_address[1]}", recorder)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def api() -> Iterator[Server]:
    recorder = Recorder()
    yield from _serve(_api_handler(recorder), recorder, "http")


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def response_url_server(test_ca: trustme.CA) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1").configure_cert(context)
    recorder = Recorder()
    yield from _serve(_response_url_handler(recorder), recorder, "https", context)


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


def _lambda_env(home: Path, asset_dir: Path | None, **extra: str) -> dict[str, str]:
    """A Lambda-like environment, built from scratch: nothing of the test process leaks in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "PYTHONNOUSERSITE": "1",
        # /var/task is read-only on Lambda: no bytecode is written next to the asset.
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "AKIDE2ETESTING",
        "AWS_SECRET_ACCESS_KEY": "e2e-testing-secret",
        "AWS_SESSION_TOKEN": "e2e-testing-token",
        "AWS_LAMBDA_FUNCTION_NAME": "HomeFleet-Provider",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "POWERTOOLS_SERVICE_NAME": "managed-thing-provider",
        # Never the developer's AWS configuration, never the instance metadata service.
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    if asset_dir is not None:
        env["PYTHONPATH"] = str(asset_dir)
    env.update(extra)
    return env


def _report(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("E2E-REPORT ")]
    assert len(lines) == 1, f"expected one report line, got:\n{stdout}"
    return json.loads(lines[0].removeprefix("E2E-REPORT "))


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
    return {**SEED_REQUEST, "ClientToken": token.hexdigest()}


def _bundled_create_members(asset_dir: Path) -> set[str]:
    """CreateManagedThing's members according to the model bundled in the asset."""
    models = sorted((asset_dir / "managed_things_model" / "botocore_data" / SERVICE).glob("*/service-2.json"))
    assert len(models) == 1, f"expected one bundled service model, found {models}"
    model = json.loads(models[0].read_text())
    shape_name = model["operations"]["CreateManagedThing"]["input"]["shape"]
    return set(model["shapes"][shape_name]["members"])


# --- tests --------------------------------------------------------------------


def test_old_runtime_alone_rejects_wifi_simple_setup(old_runtime: Path, api: Server, tmp_path: Path) -> None:
    """Without the bundled model, botocore 1.40 refuses WiFiSimpleSetupConfiguration before sending anything.

    This is what the next test would run into if the handler used the runtime's model.
    """
    script = tmp_path / "without_bundled_model.py"
    script.write_text(WITHOUT_BUNDLED_MODEL)
    result = run([old_runtime, script, api.url], cwd=tmp_path, env=_lambda_env(tmp_path, None))
    report = _report(result.stdout)

    assert report["botocore"].startswith("1.40."), report["botocore"]
    assert "AuthenticationMaterial" in report["members"]
    assert "WiFiSimpleSetupConfiguration" not in report["members"]
    assert report["error"] is not None, "botocore 1.40 accepted WiFiSimpleSetupConfiguration"
    assert report["error"]["type"] == "ParamValidationError"
    assert 'Unknown parameter in input: "WiFiSimpleSetupConfiguration"' in report["error"]["message"]
    assert api.recorder.snapshot() == [], "nothing may be sent when validation fails"


def test_create_event_on_old_runtime_sends_every_member(
    asset_dir: Path,
    old_runtime: Path,
    api: Server,
    response_url_server: Server,
    test_ca: trustme.CA,
    tmp_path: Path,
) -> None:
    event = json.loads(EVENT_FILE.read_text())
    response_path = f"/{quote(event['StackId'], safe='')}/{event['LogicalResourceId']}?X-Amz-Signature=SECRET-SIGNATURE"
    event["ResponseURL"] = response_url_server.url + response_path
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    runner = tmp_path / "runner" / "run_handler.py"
    runner.parent.mkdir()
    runner.write_text(RUNNER)
    ca_file = tmp_path / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    assert not any(asset_dir.rglob("__pycache__")), "the asset must be run as built"

    result = run(
        [old_runtime, runner, event_file],
        cwd=asset_dir,
        env=_lambda_env(
            tmp_path,
            asset_dir,
            AWS_ENDPOINT_URL_IOT_MANAGED_INTEGRATIONS=api.url,
            SSL_CERT_FILE=str(ca_file),  # crhelper verifies the response URL's certificate
        ),
    )
    report = _report(result.stdout)
    output = result.stdout + result.stderr

    # The runtime really is the old one, and the provider and its libraries come from the asset.
    assert report["botocore"].startswith("1.40."), report["botocore"]
    assert report["boto3"].startswith("1.40."), report["boto3"]
    for module in ("boto3", "botocore"):
        assert Path(report["files"][module]).is_relative_to(old_runtime.parent.parent), report["files"]
    vendored = ("managed_thing_provider.index", "managed_things_model.service_model", "crhelper")
    for module in (*vendored, "aws_lambda_powertools"):
        assert Path(report["files"][module]).is_relative_to(asset_dir), report["files"]
    assert Path(report["bundled_data_dir"]).is_dir()
    assert report["status"] == "SUCCESS", f"{report['reason']}\n{output}"

    # One CreateManagedThing request, signed for the service, with every member of the
    # bundled model, each typed as the model says (not as CloudFormation's strings).
    calls = api.recorder.snapshot()
    assert [(c.method, c.path) for c in calls] == [("POST", "/managed-things")], calls
    call = calls[0]
    assert call.headers["content-type"].startswith("application/json")
    assert re.match(
        rf"AWS4-HMAC-SHA256 Credential=AKIDE2ETESTING/\d{{8}}/{REGION}/iotmanagedintegrations/aws4_request,",
        call.headers["authorization"],
    ), call.headers["authorization"]
    body = json.loads(call.body)
    assert "WiFiSimpleSetupConfiguration" in body  # unknown to botocore 1.40: the bundled model was used
    assert set(body) == _bundled_create_members(asset_dir)
    assert re.fullmatch("[0-9a-f]{64}", body["ClientToken"]), body["ClientToken"]
    _assert_same(body, _expected_request(event))

    # crhelper's answer to CloudFormation, over HTTPS to the response URL.
    answers = response_url_server.recorder.snapshot()
    assert [(a.method, a.path) for a in answers] == [("PUT", response_path)], answers
    answer = json.loads(answers[0].body)
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == THING_ID
    assert {k: answer[k] for k in ("StackId", "RequestId", "LogicalResourceId")} == {
        k: event[k] for k in ("StackId", "RequestId", "LogicalResourceId")
    }
    _assert_same(answer["Data"], {"Id": THING_ID, "Arn": THING_ARN, "CreatedAt": CREATED_AT.isoformat()})

    # Nothing secret reaches the logs: not the material, not the presigned URL's signature.
    for secret in ("hunter22", "SECRET-SIGNATURE", "SN-SECRET-0001", "tag-value-secret"):
        assert secret not in output, f"{secret!r} was logged"
