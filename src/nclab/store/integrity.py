"""What a run directory holds, checked: its status, and every damaged file named by path.

``summary.json`` is written last and seals the run: it carries the sha256 of ``config.json``
and ``metrics.parquet`` (``"files"``) and of its own content (``"sha256"``, over the canonical
JSON of every other key), so truncation or a flipped bit in any of the three is detected on
read. A run whose files fail these checks is ``damaged``: readers leave it out of the results
and report it by path; ``nclab run`` sets its files aside (``<name>.damaged-<UTC time>``) and
trains it again. Summaries written before checksums existed (no ``"sha256"``) are trusted.

Statuses (:data:`STATUSES`): ``missing`` (no run directory), ``running`` (no summary, its lock
held by a live process), ``interrupted`` (no summary, no live owner: killed or crashed; a
re-run resumes it), ``damaged``, and the sealed ``finished`` / ``diverged`` (training stopped
at a non-finite value; the records up to there are kept) / ``failed`` (an error; retried).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from .lock import is_locked

CONFIG, METRICS, SUMMARY = "config.json", "metrics.parquet", "summary.json"
SEALED_STATUSES = ("finished", "diverged", "failed")  # what summary.json may say
DONE_STATUSES = ("finished", "diverged")  # complete: a re-run skips them
STATUSES = ("missing", "running", "interrupted", "damaged", *SEALED_STATUSES)
SEALED_FILES = (CONFIG, METRICS)


class DamagedFile(ValueError):
    """A store file that cannot be read or fails its checksum; ``path`` names it."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _body_hash(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(body: dict, run_dir: Path) -> dict:
    """``body`` (JSON values) with the checksums of the run's sealed files and of itself."""
    files = {name: sha256_file(run_dir / name) for name in SEALED_FILES}
    out = {**body, "files": files}
    return {**out, "sha256": _body_hash(out)}


def read_json_file(path: Path) -> dict:
    """A JSON object from ``path``, or :class:`DamagedFile` saying why not."""
    try:
        obj = json.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFile(path, f"not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise DamagedFile(path, f"not a JSON object (got {type(obj).__name__})")
    return obj


def read_summary(run_dir: Path) -> dict:
    """The verified ``summary.json`` of a run: its own checksum, its status and the checksums
    of the files it seals. Raises :class:`DamagedFile` naming the first bad file."""
    path = Path(run_dir) / SUMMARY
    summary = read_json_file(path)
    if "sha256" in summary:
        body = {k: v for k, v in summary.items() if k != "sha256"}
        if _body_hash(body) != summary["sha256"]:
            raise DamagedFile(path, "checksum mismatch (the file was altered after it was written)")
    if summary.get("status") not in SEALED_STATUSES:
        raise DamagedFile(path, f"status {summary.get('status')!r} is not one of "
                                f"{SEALED_STATUSES}")
    files = summary.get("files") or {}
    for name in SEALED_FILES:
        if name not in files:
            continue
        file = Path(run_dir) / name
        if not file.is_file():
            raise DamagedFile(file, "missing (the summary seals it)")
        if sha256_file(file) != files[name]:
            raise DamagedFile(file, "checksum mismatch with summary.json (truncated or altered)")
    return summary


@dataclass
class RunInfo:
    """One run directory as found on disk (see :func:`inspect_run`)."""

    experiment: str
    scale: str
    run_id: str
    path: Path
    status: str
    config: dict | None = None
    summary: dict | None = None
    damage: list[str] = field(default_factory=list)  # "path: reason" of each damaged file
    metrics_ok: bool = False  # metrics.parquet is present and may be read


def inspect_run(run_dir: Path) -> RunInfo:
    """Status, config, verified summary and damage of one run directory (never raises for a
    damaged file: it is listed in ``damage``)."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir.parent.parent.name, run_dir.parent.name, run_dir.name, run_dir,
                   "missing")
    has_config, has_summary = (run_dir / CONFIG).is_file(), (run_dir / SUMMARY).is_file()
    if not has_config and not has_summary:
        return info
    if has_config:
        try:
            info.config = read_json_file(run_dir / CONFIG)
        except DamagedFile as err:
            info.damage.append(str(err))
    if has_summary:
        try:
            info.summary = read_summary(run_dir)
            info.status = info.summary["status"]
        except DamagedFile as err:
            info.damage.append(str(err))
        if not has_config:
            info.damage.append(f"{run_dir / CONFIG}: missing (the run has a summary)")
    else:
        info.status = "running" if is_locked(run_dir) else "interrupted"
    if info.damage:
        info.status = "damaged"
        return info
    metrics = run_dir / METRICS
    if metrics.is_file():
        if info.summary is not None and METRICS in (info.summary.get("files") or {}):
            info.metrics_ok = True  # its checksum was verified above
        else:  # an unsealed (or legacy) file: at least a readable Parquet footer
            try:
                pq.read_metadata(metrics)
                info.metrics_ok = True
            except Exception as err:  # noqa: BLE001 -- any reader error is damage here
                info.damage.append(f"{metrics}: not a readable Parquet file ({err})")
                if info.summary is not None:
                    info.status = "damaged"
    return info


def find_runs(root: Path, experiment: str | None = None, scale: str | None = None
              ) -> list[RunInfo]:
    """Every run directory ``root/<experiment>/<scale>/<run_id>/`` (names not starting with
    ``.`` or ``_``; only those of ``experiment`` / ``scale`` when given), inspected, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for run_dir in sorted(root.glob(f"{experiment or '*'}/{scale or '*'}/*")):
        if run_dir.name[0] in "._" or not run_dir.is_dir():
            continue
        info = inspect_run(run_dir)
        if info.status != "missing":
            out.append(info)
    return out
