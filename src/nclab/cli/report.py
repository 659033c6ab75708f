"""``nclab report``: (re)build the figures and HTML report of an experiment, a run id or a run
directory from the store."""

from __future__ import annotations

from pathlib import Path

from .common import (
    EXIT_OK,
    UsageError,
    get_experiment,
    make_console,
    out_arg,
    report_damage,
    store_root,
)


def cmd_report(args) -> int:
    """``nclab report RUN|EXP``: the reports of every scale with runs (or ``--scale``); a
    Monitor's own runs are reported from their records."""
    from nclab.report import build_report
    from nclab.store import Store

    store = Store(store_root(args))
    target = args.target
    path = Path(target)
    if path.is_dir() and (path / "config.json").is_file():
        from nclab.store.integrity import inspect_run

        info = inspect_run(path)  # the directory names the run even if its files are damaged
        report_damage(make_console(stderr=True), Store(path.parents[2]), info.experiment)
        exp_id, scales = info.experiment, [info.scale]
        store = Store(path.parents[2])
    else:
        exp_id, scales = target, None
        rows = store.runs(where=f"run_id = '{target}'") if "'" not in target else []
        if rows and not _is_experiment(target):
            exp_id, scales = rows[0]["experiment"], [rows[0]["scale"]]
    if not _is_experiment(exp_id) and store.root.is_dir() and store.runs(exp_id):
        from nclab.integrations.monitor import records_experiment  # a Monitor's own runs

        exp = records_experiment(store, exp_id)
    else:
        exp = get_experiment(exp_id)
    written = []
    for leaf in exp.leaves():
        found = scales or ([args.scale] if args.scale else
                           [s for s in leaf.scales if store.runs(leaf.id, scale=s)])
        for scale in found:
            if scale not in leaf.scales:
                continue
            written.append(build_report(store, leaf, scale))
    if not written:
        raise UsageError(f"no runs of {exp.id} in {store.root}; run `nclab run {exp.id}` first")
    for p in written:
        make_console().print(f"report: {p}")
    return EXIT_OK


def _is_experiment(text: str) -> bool:
    """Whether ``text`` is a registered experiment id."""
    from nclab.experiments.registry import ids

    return text in ids()


def register(add) -> None:
    """The ``report`` command."""
    from nclab.experiments.spec import SCALES

    p = add("report", "(re)build the figures and the HTML report of an experiment or a run",
            cmd_report)
    p.add_argument("target", metavar="RUN|EXP", help="experiment id, run id or run directory")
    p.add_argument("--scale", choices=SCALES, help="default: every scale with runs")
    out_arg(p)
