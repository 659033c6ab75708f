"""Progress callbacks of a running grid, and their relay from worker processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .execute import RunOutcome
    from .plan import PlannedRun


class Progress:
    """Callbacks of :func:`run_experiment` (the default does nothing; the CLI draws a bar)."""

    def start(self, runs: list[PlannedRun], done: list[bool]) -> None:
        """Before the first run: the plan and which runs are already finished."""

    def run_start(self, index: int, prun: PlannedRun, resumed_at: int | None) -> None:
        """Run ``index`` (0-based) begins (``resumed_at``: the step it resumes from)."""

    def step(self, index: int, step: int, total: int, loss: float) -> None:
        """Run ``index`` has reached ``step`` of ``total`` (batch loss ``loss``)."""

    def run_end(self, index: int, prun: PlannedRun, outcome: RunOutcome) -> None:
        """Run ``index`` ended (finished, diverged, failed, skipped, copied: see
        :class:`~nclab.running.RunOutcome`)."""

    def close(self) -> None:
        """After the last run (also after an interruption)."""


class QueueProgress(Progress):
    """Forwards ``run_start`` and ``step`` calls from a worker process to the parent (which
    replays them with :func:`drain_progress`)."""

    def __init__(self, queue):
        self.queue = queue

    def step(self, index: int, step: int, total: int, loss: float) -> None:
        self.queue.put(("step", index, step, total, loss))

    def run_start(self, index: int, prun: PlannedRun, resumed_at: int | None) -> None:
        self.queue.put(("start", index, resumed_at))


def drain_progress(q, progress: Progress, runs: list[PlannedRun]) -> None:
    """Replay the messages a :class:`QueueProgress` has queued so far on ``progress``."""
    import queue as queue_mod

    while True:
        try:
            msg = q.get_nowait()
        except (queue_mod.Empty, EOFError, OSError):
            return
        if msg[0] == "step":
            progress.step(*msg[1:])
        elif msg[0] == "start":
            progress.run_start(msg[1], runs[msg[1]], msg[2])
