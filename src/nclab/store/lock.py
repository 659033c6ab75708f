"""One writer per run: an exclusive ``flock`` on ``<run dir>/.lock`` held while a run is open.

The lock file holds its owner as JSON (``pid``, ``host``, ``acquired``), for messages only:
whether the owner is alive is the kernel's answer, because the kernel drops a ``flock`` when
its process dies, however it dies (``kill -9`` included). So a run without ``summary.json``
is ``running`` while its lock is held and ``interrupted`` once it is not, with no stale lock
to clean up and no pid that a new process could reuse. The lock file is never deleted
(deleting a lock file that another process has opened would let two owners coexist).
On a network file system the lock is as good as its ``flock`` (NFSv4 forwards it to the
server).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

LOCK = ".lock"


class RunBusy(BlockingIOError):
    """The run is open in another process (or another handle of this one). A
    ``BlockingIOError`` (EWOULDBLOCK), so that callers below the store can catch it."""

    def __init__(self, path: Path, owner: dict | None):
        self.path, self.owner = Path(path), owner or {}
        who = (f"pid {self.owner.get('pid')} on {self.owner.get('host')}"
               if self.owner else "another process")
        self.message = f"run {self.path.parent} is being written by {who} ({self.path})"
        super().__init__(errno.EWOULDBLOCK, self.message)

    def __str__(self) -> str:
        return self.message


def _try_flock(fd: int, kind: int) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def read_owner(path: Path) -> dict | None:
    """The owner written in the lock file (None if absent or unreadable)."""
    try:
        owner = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock (a shared probe, released at once)."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return not _try_flock(fd, fcntl.LOCK_SH)  # only an exclusive owner conflicts
    finally:
        os.close(fd)


class RunLock:
    """The exclusive lock of one run directory; :meth:`release` (or process death) frees it."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunBusy` naming the owner."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        for _ in range(40):  # another process's status probe holds a shared lock briefly
            if _try_flock(fd, fcntl.LOCK_EX):
                break
            time.sleep(0.005)
        else:
            owner = read_owner(self.path)
            os.close(fd)
            raise RunBusy(self.path, owner)
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "acquired": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __del__(self):
        self.release()
