"""Local deploy tests: the proof's synthesized assembly (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def proof_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proof_app import synthesize_base

    return synthesize_base(tmp_path_factory.mktemp("proof-base"))
