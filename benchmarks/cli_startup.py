"""How soon ``managed-things`` answers when it has nothing to deploy: ``--version``, ``--help``, a preflight error.

Target: each <= 300 ms of wall time, a fresh process from start to exit (the command imports only what it runs:
the deploy engine, botocore and the emulator come once the checks before synth have passed).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .report import BenchmarkError, verdict

TARGET_SECONDS = 0.300
# No emulator URL without a scheme can answer: the deploy's last check before synth refuses it.
PREFLIGHT_ERROR = ("deploy", "--cdk-out", "cdk.out", "--endpoint-url", "127.0.0.1:8765")
COMMANDS = {
    "--version": (("--version",), 0),
    "--help": (("--help",), 0),
    "deploy refused by a check before synth": (PREFLIGHT_ERROR, 1),
}


def command_line() -> list[str]:
    """The console script beside this interpreter, as a user runs it; else the package as a module."""
    script = Path(sys.executable).parent / "managed-things"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "managed_things_local"]


def measure(repeat: int) -> None:
    """Print each command's wall time (median of ``repeat`` fresh processes) beside the target."""
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeat):  # alternate, so drift in machine load hits all alike
            for name, (argv, expected) in COMMANDS.items():
                start = time.perf_counter()
                result = subprocess.run(
                    [*command_line(), *argv], cwd=workdir, capture_output=True, text=True, check=False
                )
                samples[name].append(time.perf_counter() - start)
                if result.returncode != expected:
                    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                    raise BenchmarkError(f"managed-things {' '.join(argv)} exited {result.returncode}: {last}")
    for name, times in samples.items():
        median = statistics.median(times)
        print(
            f"managed-things {name}: median {median * 1e3:.0f} ms "
            f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f}, n={len(times)}); "
            f"target <= {TARGET_SECONDS * 1e3:.0f} ms: {verdict(median, TARGET_SECONDS)}"
        )
