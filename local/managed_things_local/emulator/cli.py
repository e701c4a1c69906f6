"""``managed-things emulator``: serve the emulator on loopback until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from typing import Any

from ..arguments import positive_number
from .faults import EmulatorOptions
from .server import EmulatorServer
from .store import StateFileError

READY_LINE = "Managed Integrations emulator listening on {url}"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "emulator",
        help="serve the Managed Integrations emulator",
        description="Serve the managed-thing operations of AWS IoT Managed Integrations (REST-JSON, as botocore "
        "and the AWS CLI call them) until SIGINT or SIGTERM. Prints one line with its URL once it is ready.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=0, metavar="PORT", help="0 to 65535; 0 (the default) picks a free port"
    )
    parser.add_argument(
        "--state", default=None, metavar="FILE", help="SQLite file to keep things in (default: in memory)"
    )
    parser.add_argument("--account-id", default=EmulatorOptions.account_id, help="the account in ARNs")
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument("--rate-limit", type=positive_number, metavar="N", help="requests per second; beyond: 429")
    faults.add_argument("--throttle-fraction", type=_fraction, default=0.0, metavar="F", help="share answered 429")
    faults.add_argument(
        "--error-fraction", type=_fraction, default=0.0, metavar="F", help="share answered 500/503 before any change"
    )
    faults.add_argument(
        "--error-after-commit-fraction",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="share of Creates answered 500 after the thing is created",
    )
    faults.add_argument("--latency", type=_non_negative, default=0.0, metavar="SECONDS", help="added to every request")
    faults.add_argument("--seed", type=int, default=None, metavar="N", help="repeatable fault draws")
    parser.set_defaults(run=run)


def options_from(args: argparse.Namespace) -> EmulatorOptions:
    return EmulatorOptions(
        rate_limit=args.rate_limit,
        throttle_fraction=args.throttle_fraction,
        error_fraction=args.error_fraction,
        error_after_commit_fraction=args.error_after_commit_fraction,
        latency=args.latency,
        seed=args.seed,
        account_id=args.account_id,
    )


def run(args: argparse.Namespace) -> int:
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    try:
        emulator = EmulatorServer(args.host, args.port, args.state, options_from(args))
    except (OSError, StateFileError) as error:
        print(f"managed-things emulator: {error}", file=sys.stderr)
        return 1
    try:
        url = emulator.start()
    except OSError as error:
        emulator.stop()
        print(f"managed-things emulator: {listen_failure(args.host, args.port, error)}", file=sys.stderr)
        return 1
    try:
        print(READY_LINE.format(url=url), flush=True)
        stopping.wait()
    finally:
        emulator.stop()
    return 0


def listen_failure(host: str, port: int, error: OSError) -> str:
    """One line for a failed bind: what failed, and what to do."""
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: the port is in use; pick another --port, or 0 for a free one"
    if error.errno == errno.EACCES:
        return f"cannot listen on {host}:{port}: permission denied; ports below 1024 need privileges, pick another"
    return f"cannot listen on {host}:{port}: {error.strerror or error}; check --host and --port"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 65535")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value
