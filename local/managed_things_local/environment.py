"""The region and account of a local deploy, resolved the way the CDK CLI resolves them.

A stack's own ``env`` wins; an environment-agnostic stack takes the configured
region (``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then the region of the
profile named by ``AWS_PROFILE`` or ``AWS_DEFAULT_PROFILE`` in the AWS config
file), else ``DEFAULT_REGION``. The CDK CLI would fall back to us-east-1, where
AWS IoT Managed Integrations does not exist; ``DEFAULT_REGION`` is one where it does.
The account cannot be looked up without credentials: it is the stack's, else
``DEFAULT_ACCOUNT`` (or the emulator's ``--account-id``).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"


def configured_region(environ: Mapping[str, str] | None = None) -> str | None:
    """The region the AWS CLI and the CDK CLI would use, or None where nothing is configured."""
    environ = os.environ if environ is None else environ
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(variable):
            return environ[variable]
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    config_file = Path(environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
    section = profile if profile == "default" else f"profile {profile}"
    parser = configparser.RawConfigParser()
    try:
        parser.read(config_file)
    except (OSError, configparser.Error):
        return None
    region = parser.get(section, "region", fallback="").strip()
    return region or None


def resolve_region(stack_region: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The region a stack deploys to: its own, else the configured one, else ``DEFAULT_REGION``."""
    return stack_region or configured_region(environ) or DEFAULT_REGION


def resolve_account(stack_account: str | None, default: str = DEFAULT_ACCOUNT) -> str:
    """The account a stack deploys to: its own, else ``default``."""
    return stack_account or default
