"""Files only their owner may read (mode 0600): the local secrets (and the state database, ``database.py``).

``write_private`` replaces a file whole: a temporary file created 0600, renamed
over the old one, so a reader sees the old content or the new, never a part.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        with _private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _private(path: Path, flags: int) -> Iterator[TextIO]:
    descriptor = os.open(path, flags, PRIVATE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_MODE)  # O_CREAT's mode is filtered by the umask, and ignored if it existed
    except OSError:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        yield file
        file.flush()
