"""Files only their owner may read (mode 0600): the local secrets and the state vault.

A document is written whole to a temporary file created 0600, then renamed over
the old one, so a reader sees the old document or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

PRIVATE_MODE = 0o600


def write_private_json(path: Path, document: Any) -> None:
    """Replace ``path`` with ``document`` as JSON, atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_MODE)  # O_CREAT's mode is filtered by the umask, and ignored if it existed
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
