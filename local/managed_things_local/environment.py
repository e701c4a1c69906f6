"""The region and account of a local deploy, resolved the way the CDK CLI resolves them.

A stack's own ``env`` wins. For an environment-agnostic stack the CDK CLI
(``AwsCliCompatible.region()``) takes the first of: ``AWS_REGION``,
``AMAZON_REGION``, ``AWS_DEFAULT_REGION``, ``AMAZON_DEFAULT_REGION``; then the
``region`` of the profile (``AWS_PROFILE``, else ``AWS_DEFAULT_PROFILE``, else
``default``) in the shared credentials file, then in the config file; then the
``default`` profile's region in the credentials file, then in the config file.
Where nothing is configured it would fall back to us-east-1, where AWS IoT
Managed Integrations does not exist; ``DEFAULT_REGION`` is one where it does.
The account cannot be looked up without credentials: it is the stack's, else
``DEFAULT_ACCOUNT`` (or the emulator's ``--account-id``).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"
REGION_VARIABLES = ("AWS_REGION", "AMAZON_REGION", "AWS_DEFAULT_REGION", "AMAZON_DEFAULT_REGION")


def configured_region(environ: Mapping[str, str] | None = None) -> str | None:
    """The region the CDK CLI would use for an environment-agnostic stack, or None where nothing is configured."""
    environ = os.environ if environ is None else environ
    for variable in REGION_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    credentials = _profiles(_shared_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials"), config=False)
    config = _profiles(_shared_file(environ, "AWS_CONFIG_FILE", "config"), config=True)
    for profiles, name in ((credentials, profile), (config, profile), (credentials, "default"), (config, "default")):
        region = profiles.get(name, {}).get("region")
        if region is not None:  # like the CLI's `??`: a profile that names a region, even an empty one, ends the search
            return region or None
    return None


def resolve_region(stack_region: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The region a stack deploys to: its own, else the configured one, else ``DEFAULT_REGION``."""
    return stack_region or configured_region(environ) or DEFAULT_REGION


def resolve_account(stack_account: str | None, default: str = DEFAULT_ACCOUNT) -> str:
    """The account a stack deploys to: its own, else ``default``."""
    return stack_account or default


def _shared_file(environ: Mapping[str, str], variable: str, name: str) -> Path:
    return Path(environ.get(variable) or Path.home() / ".aws" / name).expanduser()


def _profiles(path: Path, *, config: bool) -> dict[str, dict[str, str]]:
    """Profile name -> its settings; in the config file a profile is ``[profile NAME]`` (or ``[default]``)."""
    parser = configparser.RawConfigParser(default_section="\0no-defaults")
    try:
        parser.read(path)
    except (OSError, configparser.Error, UnicodeDecodeError):
        return {}
    return dict(_named_sections(parser, config=config))


def _named_sections(parser: configparser.RawConfigParser, *, config: bool) -> Iterator[tuple[str, dict[str, str]]]:
    for section in parser.sections():
        settings = {key: value.strip() for key, value in parser.items(section)}
        name = section.strip()
        if not config:
            yield name, settings
        elif name == "default":
            yield name, settings
        elif name.startswith("profile "):
            yield name.removeprefix("profile ").strip(), settings
