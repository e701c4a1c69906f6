"""What every figure group shares: where things are, how a child Python runs, and how a figure meets its target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY_PATH = [REPO / "constructs", REPO / "lambda", REPO / "model"]
FLEET_APP = Path(__file__).resolve().parent / "fleet_app.py"
# The environment the benchmarks' handler processes get: Lambda's variables, and no AWS configuration of the user's.
LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# A synth outside `make` would print jsii's end-of-life box for this machine's Node 20 (see the Makefile).
SYNTH_ENV = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
MB = 1e6


class BenchmarkError(Exception):
    """A measurement could not be taken (a deploy failed, a handler answered FAILED): the message says why."""


def verdict(value: float, target: float) -> str:
    """``met`` when ``value`` is at most ``target``, else ``MISSED`` (capitals, so a miss stands out)."""
    return "met" if value <= target else "MISSED"


def child_environment(env: dict[str, str] | None = None, path: list[Path] | None = None) -> dict[str, str]:
    """This process's environment with ``env`` over it, and ``path`` (default: the libraries) as PYTHONPATH."""
    environment = dict(os.environ, **(env or {}))
    environment["PYTHONPATH"] = os.pathsep.join(str(p) for p in (path or LIBRARY_PATH))
    return environment


def run_python(
    code: str | Path,
    *argv: str,
    env: dict[str, str] | None = None,
    path: list[Path] | None = None,
    cwd: Path | None = None,
) -> float:
    """Run ``code`` (source text, or a script's path) in a fresh Python; return the float its last line prints."""
    environment = child_environment(env, path)
    command = [sys.executable, str(code)] if isinstance(code, Path) else [sys.executable, "-c", code]
    result = subprocess.run(
        [*command, *argv], env=environment, cwd=cwd or REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"{command[-1] if isinstance(code, Path) else 'a child Python'} failed: {last}")
    return float(result.stdout.strip().splitlines()[-1])


def synthesize_fleet(
    outdir: Path, count: int, nested: int = 0, raw: bool = False, placement: Path | None = None
) -> float:
    """Synthesize the benchmarks' app into ``outdir`` as ``cdk synth`` would (its default context: path and asset
    metadata, which name nested stack templates); the seconds spent in constructs and ``app.synth()``. With
    ``placement``, the things are a ManagedThingFleet placed through that file (or, ``raw``, its raw twin)."""
    flags = [
        *(["--nested", str(nested)] if nested else []),
        *(["--raw"] if raw else []),
        *(["--fleet", "--placement", str(placement)] if placement is not None else []),
    ]
    return run_python(FLEET_APP, str(outdir), str(count), *flags, env=synth_environment())


def synth_environment() -> dict[str, str]:
    """What a synth of the benchmarks' app gets over this process's environment: ``cdk synth``'s context."""
    from managed_things_local.engine.synthesis import CLI_DEFAULT_CONTEXT

    return {**SYNTH_ENV, "CDK_CONTEXT_JSON": json.dumps(CLI_DEFAULT_CONTEXT)}
