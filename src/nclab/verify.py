"""``nclab verify``: run (or reuse) experiments, check every claim of the papers, and report.

:func:`verify` runs each experiment's grid at a scale (finished runs in the store are reused),
evaluates its claims (:attr:`nclab.experiments.Experiment.claims`) on the stored results,
rebuilds its HTML report and times it. :func:`write_reproduction_html` writes one page with
every claim -- PASS / FAIL / NOT-RUN, measured value, threshold or reason -- linked to the
figure of its experiment's report; :func:`status_markdown` the README's table.

Claims are evaluated by :mod:`nclab.experiments.claims` on the runs of each experiment's
current plan only (stored runs of other run ids, e.g. of an older grid, are left out and
counted in :attr:`ExperimentCheck.left_out`). A claim is NOT-RUN when the scale cannot show it
(the claim says at which scales it is meaningful, with the reason), when its runs are missing,
diverged or outside the claim's regime (its preconditions); NOT-RUN never counts as a pass or
a failure. A check that crashes is an ERROR, and counts as a failure. The exit code of
``nclab verify`` is 0 only if every evaluated claim passes and no run failed.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nclab import __version__
from nclab.experiments.claims import CLAIM_STATUSES as STATUSES
from nclab.experiments.claims import evaluate, planned_results


@dataclass
class ClaimCheck:
    """One claim's verdict, with where to see its evidence (``figure``: a panel index of the
    experiment's report, or None)."""

    text: str
    source: str
    status: str
    measured: str = ""
    threshold: str = ""
    reason: str = ""
    figure: int | None = None


@dataclass
class ExperimentCheck:
    """The verdicts of one (leaf) experiment at one scale."""

    experiment: str
    paper: str
    figure: str
    title: str
    scale: str
    seconds: float = 0.0  # wall time of check_experiment (training only if it ran the runs)
    # training time recorded by the stored runs (CPU-seconds), copies of other experiments'
    # runs left out (their time counts there: ``copied_from`` names those experiments)
    compute_seconds: float = 0.0
    copied_from: list[str] = field(default_factory=list)
    runs: int = 0  # finished runs of the current plan in the store
    left_out: int = 0  # stored runs not in the current plan (never scored)
    trained: int = 0  # runs trained by this call
    failed: int = 0
    interrupted: bool = False
    report: str | None = None
    error: str = ""
    claims: list[ClaimCheck] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.claims) for s in STATUSES}


def _strings(obj, seen=None) -> set[str]:
    """Every string captured by a check function (its closure, recursively)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    out: set[str] = set()
    if isinstance(obj, str):
        return {obj}
    if isinstance(obj, (tuple, list, set, frozenset)):
        for x in obj:
            out |= _strings(x, seen)
    elif callable(obj):
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                out |= _strings(cell.cell_contents, seen)
            except ValueError:  # an empty cell
                pass
    return out


def claim_figure(experiment, claim) -> int | None:
    """The index of the report figure that shows a claim's evidence: the first panel of the
    metric the check reads, else the first panel of a layer it reads, else the only panel;
    None when that cannot be told (the link then goes to the report's claims)."""
    names = _strings(claim.check)
    panels = experiment.panels
    for k, panel in enumerate(panels):
        if panel.metric in names:
            return k
    for k, panel in enumerate(panels):
        if names & set(panel.layers or ()):
            return k
    return 0 if len(panels) == 1 else None


def check_experiment(experiment, store, scale: str, *, run: bool = True, executor=None,
                     progress=None, report: bool = True, outcome=None) -> ExperimentCheck:
    """Run (``run``; finished runs are reused) and evaluate one leaf experiment.

    ``outcome``: the :class:`~nclab.running.ExperimentOutcome` of runs already
    made for it (by :func:`verify`'s shared pool); it is then not run again."""
    from nclab.report import build_report
    from nclab.running import run_experiment

    t0 = time.perf_counter()
    out = ExperimentCheck(experiment.id, experiment.paper, experiment.figure, experiment.title,
                          scale)
    if outcome is None and run and scale in experiment.scales:
        outcome = run_experiment(experiment, store, scale, executor=executor, progress=progress)
    if outcome is not None:
        _apply_outcome(out, outcome)
    if scale in experiment.scales:
        results = planned_results(store, experiment, scale)
        finished = [r for r in store.runs(experiment.id, scale=scale)
                    if r["status"] == "finished" and r["run_id"] in results.run_info]
        out.runs = len(finished)
        out.left_out = len(results.excluded)
        summaries = [r["summary"] or {} for r in finished]  # the trainer's, verified
        out.compute_seconds = sum(float(s.get("seconds", 0.0)) for s in summaries
                                  if "copied_from" not in s)
        out.copied_from = sorted({s["copied_from"].split("/")[0] for s in summaries
                                  if "copied_from" in s})
        verdicts = evaluate(experiment, results)
        if report and not out.interrupted:
            out.report = str(build_report(store, experiment, scale,
                                          claims=[o for _, o in verdicts]))
    else:
        verdicts = [(c.text, None) for c in experiment.claims]
    for claim, (_, o) in zip(experiment.claims, verdicts, strict=True):
        if o is None:
            check = ClaimCheck(claim.text, claim.source, "NOT-RUN",
                               reason=f"{experiment.id} has no {scale!r} scale")
        else:
            check = ClaimCheck(claim.text, claim.source, o.status, o.measured, o.threshold,
                               o.reason)
        check.figure = claim_figure(experiment, claim)
        out.claims.append(check)
    out.seconds = time.perf_counter() - t0
    return out


def _apply_outcome(check: ExperimentCheck, outcome) -> None:
    """What the runs made for ``check``'s experiment by this call tell: trained, failed,
    interrupted, the first error."""
    check.trained = sum(r.status in ("finished", "diverged") for r in outcome.runs)
    check.failed = len(outcome.failed)
    check.interrupted = outcome.interrupted
    if outcome.failed:
        check.error = outcome.failed[0].error


def _check_registered(experiment_id: str, root: str, scale: str, report: bool):
    """:func:`check_experiment` of a registered experiment on the store at ``root`` (what an
    evaluation worker process runs: only ids travel)."""
    from nclab.experiments.registry import get
    from nclab.store import Store

    return check_experiment(get(experiment_id), Store(root), scale, run=False, report=report)


def verify(experiments: Sequence, store, scale: str, *, run: bool = True, executor=None,
           progress=None, on_done=None, on_trained=None, jobs: int = 1) -> list[ExperimentCheck]:
    """:func:`check_experiment` for every leaf of ``experiments`` (skipped ones are listed
    with every claim NOT-RUN and the reason).

    With ``run``, the runs of all the leaves are made first, together
    (:func:`nclab.running.run_experiments`: one plan and, with a pool executor,
    one pool of workers, most expensive work first, so that no worker idles at an
    experiment's end), then every leaf is evaluated, in ``jobs`` worker processes when
    ``jobs > 1`` and the experiments are registered (the verdicts do not depend on it).
    ``progress``: the display of that combined run; ``on_trained()``: called when it ends;
    ``on_done(check)``: called after each evaluation, in the order of ``experiments``. After
    an interruption (Ctrl-C) every check is marked interrupted; what was stored is still
    evaluated."""
    from nclab.running import run_experiments

    leaves = [leaf for exp in experiments for leaf in exp.leaves()]
    todo = [leaf for leaf in leaves if not leaf.skipped and scale in leaf.scales]
    made = {}
    if run and todo:
        outs = run_experiments([(leaf, scale) for leaf in todo], store, executor=executor,
                               progress=progress)
        made = {leaf.id: o for leaf, o in zip(todo, outs, strict=True)}
    if on_trained is not None:
        on_trained()
    from nclab.experiments.registry import is_registered
    from nclab.store import Store

    pool, futures = None, {}
    if jobs > 1 and len(todo) > 1 and type(store) is Store and all(map(is_registered, todo)):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(min(jobs, len(todo)), mp_context=mp.get_context("spawn"))
        futures = {leaf.id: pool.submit(_check_registered, leaf.id, str(store.root), scale,
                                        not (leaf.id in made and made[leaf.id].interrupted))
                   for leaf in todo}
    checks = []
    try:
        for leaf in leaves:
            if leaf.skipped:
                check = ExperimentCheck(leaf.id, leaf.paper, leaf.figure, leaf.title, scale,
                                        error=f"skipped: {leaf.skipped}")
                check.claims = [ClaimCheck(c.text, c.source, "NOT-RUN", reason=leaf.skipped)
                                for c in leaf.claims]
            elif leaf.id in futures:
                try:
                    check = futures[leaf.id].result()
                except Exception:  # noqa: BLE001 -- e.g. a worker killed: evaluated here
                    check = check_experiment(leaf, store, scale, run=False,
                                             outcome=made.get(leaf.id))
                else:
                    if leaf.id in made:
                        _apply_outcome(check, made[leaf.id])
            else:
                check = check_experiment(leaf, store, scale, run=False,
                                         outcome=made.get(leaf.id))
            checks.append(check)
            if on_done is not None:
                on_done(check)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return checks


def exit_code(checks: Sequence[ExperimentCheck]) -> int:
    """0 if every evaluated claim passed and nothing failed or was interrupted, else 1."""
    bad = any(c.status in ("FAIL", "ERROR") for ch in checks for c in ch.claims)
    return 1 if bad or any(ch.failed or ch.interrupted for ch in checks) else 0


# ---- outputs ---------------------------------------------------------------------------------
def _e(x) -> str:
    return html.escape(str(x))


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;
vertical-align:top;text-align:left}th{background:#f4f4f4}.PASS{color:#07702b;font-weight:bold}
.FAIL,.ERROR{color:#b00020;font-weight:bold}.NOT-RUN{color:#8a6100}.num{text-align:right}
.meta{color:#666;font-size:.9em}"""


def write_reproduction_html(checks: Sequence[ExperimentCheck], path) -> Path:
    """One static page: a summary per experiment and every claim, each linked to the figure of
    its experiment's report (relative links; no external assets)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    totals = {s: sum(ch.counts[s] for ch in checks) for s in STATUSES}
    scales = sorted({ch.scale for ch in checks})
    rows = []
    for ch in checks:
        href = None
        if ch.report:
            href = os.path.relpath(ch.report, path.parent).replace(os.sep, "/")
        name = f"<a href=\"{_e(href)}\">{_e(ch.experiment)}</a>" if href else _e(ch.experiment)
        note = f"<br><span class=\"meta\">{_e(ch.error)}</span>" if ch.error else ""
        for k, c in enumerate(ch.claims):
            link = ""
            if href:
                anchor = f"#fig-{c.figure}" if c.figure is not None else "#claims"
                link = f"<a href=\"{_e(href + anchor)}\">figure</a>"
            detail = c.threshold if c.status in ("PASS", "FAIL") else c.reason
            head = (f"<td rowspan=\"{len(ch.claims)}\">{name} ({_e(ch.figure)}){note}<br>"
                    f"<span class=\"meta\">{ch.runs} runs, {ch.compute_seconds:.0f} s training"
                    f"{_left_out(ch)}{_copied(ch)}</span></td>" if k == 0 else "")
            rows.append(f"<tr>{head}<td class=\"{_e(c.status)}\">{_e(c.status)}</td>"
                        f"<td>{_e(c.text)}<br><span class=\"meta\">{_e(c.source)}</span></td>"
                        f"<td>{_e(c.measured)}</td><td>{_e(detail)}</td><td>{link}</td></tr>")
        if not ch.claims:
            rows.append(f"<tr><td>{name}{note}</td><td colspan=\"5\">no claims</td></tr>")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>nclab reproduction ({_e(', '.join(scales))})</title>\n<style>{_CSS}</style>\n"
        "</head>\n<body>\n<h1>Reproduction status</h1>\n"
        f"<p>Scale {_e(', '.join(scales))}: {len(checks)} experiments, "
        f"<span class=\"PASS\">{totals['PASS']} PASS</span>, "
        f"<span class=\"FAIL\">{totals['FAIL']} FAIL</span>, "
        f"<span class=\"NOT-RUN\">{totals['NOT-RUN']} NOT-RUN</span>, "
        f"<span class=\"ERROR\">{totals['ERROR']} ERROR</span>.</p>\n"
        "<table><tr><th>experiment</th><th>status</th><th>claim</th><th>measured</th>"
        "<th>threshold / reason</th><th>evidence</th></tr>\n" + "\n".join(rows) +
        f"\n</table>\n<p class=\"meta\">Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by "
        f"nclab {_e(__version__)}.</p>\n</body>\n</html>\n"
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page)
    tmp.replace(path)
    return path


def _left_out(check: ExperimentCheck) -> str:
    n = check.left_out
    return f"; {n} stored run{'s' if n != 1 else ''} not in the current plan left out" if n \
        else ""


def _copied(check: ExperimentCheck) -> str:
    return "".join(f"; runs of {_e(e)}" for e in check.copied_from)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def status_markdown(checks: Sequence[ExperimentCheck], command: str,
                    wall_seconds: float | None = None) -> str:
    """The README's "Reproduction status" block: per-experiment counts and training time (the
    CPU time of its stored runs: runs of all experiments share the workers, so their times
    add up to more than the wall time), the total wall time (``wall_seconds``, default: the
    sum of the checks' times), then every claim that did not pass (FAIL, and NOT-RUN with
    its reason). Stored runs not in an experiment's current plan are counted next to its runs
    ("+N not in the plan, left out"); runs stored as copies of another experiment's identical
    runs count no time ("0 s (runs of `<experiment>`)": it is counted there)."""
    totals = {s: sum(ch.counts[s] for ch in checks) for s in STATUSES}
    wall = wall_seconds if wall_seconds is not None else sum(
        ch.seconds + ch.compute_seconds for ch in checks)
    cpu = sum(ch.compute_seconds for ch in checks)
    lines = [
        f"Generated by `{command}` (nclab {__version__}, {time.strftime('%Y-%m-%d')}): "
        f"{len(checks)} experiments, **{totals['PASS']} PASS, {totals['FAIL']} FAIL, "
        f"{totals['NOT-RUN']} NOT-RUN, {totals['ERROR']} ERROR**, wall time {wall / 60:.1f} min "
        f"({cpu / 60:.0f} CPU-min of training).",
        "",
        "| experiment | figure | PASS | FAIL | NOT-RUN | ERROR | runs | training CPU time |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for ch in checks:
        n = ch.counts
        left = f" (+{ch.left_out} not in the plan, left out)" if ch.left_out else ""
        shared = "".join(f" (runs of `{e}`)" for e in ch.copied_from)
        lines.append(f"| `{ch.experiment}` | {_md(ch.figure)} | {n['PASS']} | {n['FAIL']} | "
                     f"{n['NOT-RUN']} | {n['ERROR']} | {ch.runs}{left} | "
                     f"{ch.compute_seconds:.0f} s{shared} |")
    not_passed = [(ch, c) for ch in checks for c in ch.claims if c.status != "PASS"]
    if not_passed:
        lines += ["", "Claims that did not pass:", "",
                  "| experiment | status | claim | measured | threshold / reason |",
                  "|---|---|---|---|---|"]
        for ch, c in not_passed:
            detail = c.threshold if c.status == "FAIL" else c.reason
            lines.append(f"| `{ch.experiment}` | {c.status} | {_md(c.text)} | "
                         f"{_md(c.measured)} | {_md(detail)} |")
    return "\n".join(lines) + "\n"


START, END = "<!-- reproduction-status:start -->", "<!-- reproduction-status:end -->"


def check_readme(path) -> str:
    """The text of ``path`` if :func:`update_readme` can write to it (checked before a long
    run, not after it): a readable file with the reproduction-status markers."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--readme {path}: no such file (it must exist and hold the "
                         f"{START} ... {END} markers)")
    text = path.read_text()
    if START not in text or END not in text:
        raise ValueError(f"--readme {path} has no {START} ... {END} markers")
    return text


def update_readme(path, block: str) -> None:
    """Replace the text between the reproduction-status markers of ``path`` by ``block``
    (written to a temporary file and renamed over ``path``: a kill leaves the old page)."""
    path = Path(path)
    head, rest = check_readme(path).split(START, 1)
    _, tail = rest.split(END, 1)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{head}{START}\n{block}{END}{tail}")
    os.replace(tmp, path)


def as_json(checks: Sequence[ExperimentCheck]) -> list[dict]:
    from dataclasses import asdict

    return [dict(asdict(ch), counts=ch.counts) for ch in checks]
