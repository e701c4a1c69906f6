"""A fleet thing's names, derived from its key alone: its logical id, its label in output, and (with ``shards``)
its shard by hash.

Pure functions of the key, so adding or removing other rows, or reordering them, changes none of them. The
benchmarks lay out their raw resources with the same functions.
"""

from __future__ import annotations

import hashlib
import re

# A logical id keeps this many of the key's alphanumerics (255 is CloudFormation's limit; short ids read better).
KEY_CHARACTERS = 40
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def shard_of(key: str, shards: int) -> int:
    """The shard of ``key`` among ``shards`` (from 0): the first 8 bytes of its SHA-256, modulo ``shards``."""
    return int.from_bytes(_digest(key)[:8], "big") % shards


def thing_logical_id(key: str, *, sensitive: bool) -> str:
    """The thing's logical id: ``Thing`` + the key's first 40 alphanumerics + 16 hex digits of its SHA-256.

    The digest tells apart keys that differ only in other characters (``SN-1``, ``SN1``) or after the 40th (64
    bits: no collision to expect among a billion keys sharing a prefix). A ``sensitive`` key (the model marks
    ``SerialNumber`` so) appears only as the digest: logical ids show in progress output, logs and state files.
    """
    digest = _digest(key).hex()[:16]
    if sensitive:
        return f"Thing{digest}"
    return f"Thing{_NOT_ALPHANUMERIC.sub('', key)[:KEY_CHARACTERS]}{digest}"


def thing_label(key: str, *, sensitive: bool) -> str:
    """How output names the thing of ``key``: the key itself, or, for a ``sensitive`` key, its last four characters
    behind asterisks (``****0001``; ``****`` alone for a key of eight characters or fewer)."""
    if not sensitive:
        return key
    return "****" + (key[-4:] if len(key) > 8 else "")
