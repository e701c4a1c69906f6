"""Local deploy tests: the proof's synthesized assembly (once per session), and the canary scan (canary_scan.py)
of every output and state file these tests produce."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from canary_scan import SCAN


@pytest.fixture(scope="session")
def proof_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proof_app import synthesize_base

    return synthesize_base(tmp_path_factory.mktemp("proof-base"))


@pytest.fixture(scope="session", autouse=True)
def canary_scan() -> Iterator[None]:
    """Records every ResponseURL issued; at the end of the session, fails if a canary is found anywhere."""
    from managed_things_local.deploy.responses import ResponseReceiver

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
    """Each test's tmp_path joins the final scan (pytest keeps it until the session ends)."""
    if "tmp_path" in request.fixturenames:
        SCAN.directories.append((request.node.nodeid, request.getfixturevalue("tmp_path")))
    yield
