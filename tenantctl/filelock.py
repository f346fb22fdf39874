"""One run at a time per record: an advisory lock beside a state file.

Rollouts and migrations both keep a resumable record; two runs writing one record would
corrupt it. The lock is ``<record>.lock`` held with ``flock``: the kernel releases it when
the process ends, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def holding(record: Path, busy: Exception) -> Iterator[None]:
    """Hold ``<record>.lock`` for the block; raise ``busy`` if another process holds it."""
    record.parent.mkdir(parents=True, exist_ok=True)
    with open(record.with_name(record.name + ".lock"), "a", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
