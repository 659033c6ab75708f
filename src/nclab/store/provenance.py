"""Where a run's code came from: the nclab version and the git commit of its checkout."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import nclab

PACKAGE_DIR = Path(nclab.__file__).resolve().parent


def nclab_version() -> str:
    return nclab.__version__


@functools.cache
def git_commit(package_dir: Path = PACKAGE_DIR) -> str | None:
    """``git rev-parse HEAD`` of the checkout that tracks ``package_dir/__init__.py``; None when
    the package is not a tracked file of a git checkout (an installed wheel, no git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(package_dir), *args],
                capture_output=True, text=True, timeout=10, check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    return git("rev-parse", "HEAD") or None
