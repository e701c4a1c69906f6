"""Where a fleet's thing lives: its shard (a nested stack) and its logical id, both derived from its key alone.

Pure functions of the key, so a thing never moves: adding or removing other rows, or reordering them, changes
neither. The benchmarks lay out their raw resources with the same functions.
"""

from __future__ import annotations

import hashlib
import re

# CloudFormation's limit is 500 resources per stack. A shard's nested stack holds its things and, when the CDK CLI
# synthesizes (version reporting), CDK's AWS::CDK::Metadata resource; its one parameter (the provider's
# ServiceToken) and its outputs are not resources.
MAX_THINGS_PER_STACK = 499
# The default cap leaves 50 resources of room below the limit.
THINGS_PER_STACK = 450
# A shard's load is binomial: with n things over 32 shards the fullest holds about n/32 + 3.5 sqrt(n/32)
# (3.5 standard deviations: exceeded by one shard of 32 less than once in a hundred fleets). At 10,000 things
# that is about 375, under 450; 450 is reached near 12,000 things (499 near 13,700). A fixed count, because
# changing it moves things (see ManagedThingFleet): never change this default.
SHARDS = 32
# A logical id keeps this many of the key's alphanumerics (255 is CloudFormation's limit; short ids read better).
_KEY_CHARACTERS = 40
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def shard_of(key: str, shards: int) -> int:
    """The shard of ``key`` among ``shards``: the first 8 bytes of its SHA-256, modulo ``shards``."""
    return int.from_bytes(_digest(key)[:8], "big") % shards


def shard_id(shard: int) -> str:
    """The construct id of shard ``shard``'s nested stack: ``Shard07``."""
    return f"Shard{shard:02d}"


def thing_logical_id(key: str, *, sensitive: bool) -> str:
    """The thing's logical id: ``Thing`` + the key's alphanumerics + 8 hex digits of its SHA-256.

    The digest tells apart keys that differ only in other characters (``SN-1``, ``SN1``). A ``sensitive``
    key (the model marks ``SerialNumber`` so) appears only as 16 hex digits of its digest: logical ids show
    in progress output, logs and state files.
    """
    digest = _digest(key).hex()
    if sensitive:
        return f"Thing{digest[:16]}"
    return f"Thing{_NOT_ALPHANUMERIC.sub('', key)[:_KEY_CHARACTERS]}{digest[:8]}"
