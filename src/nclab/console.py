"""Terminal output shared by the cli and the demo: the progress display of a grid of runs
(:class:`RichProgress`, the runner's ``Progress`` protocol drawn with rich) and the table of an
experiment's claims (:func:`print_claims`)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

# the colour of each claim status (PASS / FAIL / NOT-RUN / ERROR) in claim tables
STATUS_COLORS = {"PASS": "green", "FAIL": "red", "NOT-RUN": "yellow", "ERROR": "red"}


class RichProgress:
    """A rich progress display: run i/n, its step, the loss and the time left for the grid."""

    def __init__(self, console: Console, label: str, enabled: bool = True):
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console, self.label, self.enabled = console, label, enabled
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False, disable=not enabled,
        )
        self.task = None
        self.n = 0
        self.frac: dict[int, float] = {}
        self.current: dict[int, str] = {}
        self.t0 = time.perf_counter()

    # the runner's Progress protocol
    def start(self, runs, done) -> None:
        self.n = len(runs)
        self.runs = runs
        self.frac = {i: 1.0 for i, d in enumerate(done) if d}
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=max(self.n, 1), info="")
        self._update()

    def run_start(self, index, prun, resumed_at) -> None:
        note = f" (resumed at step {resumed_at})" if resumed_at else ""
        self.current[index] = f"{prun.experiment.id} {prun.run_id}{note}"
        self.frac.setdefault(index, 0.0)
        self._update()

    def step(self, index, step, total, loss) -> None:
        self.frac[index] = step / total if total else 1.0
        loss_text = "" if loss != loss else f"  loss {loss:.4g}"
        self.info = f"run {index + 1}/{self.n}  step {step}/{total}{loss_text}"
        self._update()

    def run_end(self, index, prun, outcome) -> None:
        self.frac[index] = 1.0
        self.current.pop(index, None)
        if outcome.status == "failed":
            self.console.print(f"[red]run {prun.experiment.id}/{prun.run_id} failed:[/red] "
                               f"{outcome.error}")
        elif outcome.status == "busy":
            self.console.print(f"[yellow]waiting:[/yellow] {outcome.error}")
        elif outcome.status == "diverged":
            self.console.print(f"[yellow]run {prun.experiment.id}/{prun.run_id} diverged:"
                               f"[/yellow] {outcome.summary.get('divergence')}")
        self._update()

    def close(self) -> None:
        self._update()
        self.bar.stop()

    def _update(self) -> None:
        if self.task is None:
            return
        done = sum(self.frac.values())
        info = getattr(self, "info", "")
        self.bar.update(self.task, completed=done, info=info,
                        description=f"{self.label} [{int(done)}/{self.n} runs]")


def print_claims(console: Console, exp, outcomes) -> None:
    """The table of ``exp``'s claims: ``outcomes`` is ``[(claim text, ClaimOutcome)]`` (as
    :func:`nclab.experiments.claims.evaluate` returns); nothing when there are none."""
    if not outcomes:
        return
    table = Table(title=f"claims of {exp.id}", title_justify="left", show_lines=False)
    for col in ("status", "claim", "measured", "threshold / reason"):
        table.add_column(col, overflow="fold")
    for text, o in outcomes:
        table.add_row(f"[{STATUS_COLORS[o.status]}]{o.status}[/]", text, o.measured,
                      o.threshold or o.reason)
    console.print(table)
