"""argparse types the commands share; standard library only, so a command's ``--help`` stays fast."""

from __future__ import annotations

import argparse


def positive_number(text: str) -> float:
    """A number above 0 (e.g. a rate in requests a second)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value
