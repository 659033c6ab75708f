"""``nclab list`` and ``nclab run``: the registered experiments, and training one experiment's
grid into the store, then its claims and report."""

from __future__ import annotations

from rich.table import Table

from nclab.console import RichProgress, print_claims

from .backends import backend_args, executor_of
from .common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    get_experiment,
    make_console,
    out_arg,
    print_json,
    report_damage,
    writable_root,
)


def cmd_list(args) -> int:
    """``nclab list``: every experiment and its parts, as a table or JSON."""
    from nclab.experiments.registry import all_experiments

    rows = []
    for exp in all_experiments():
        if args.paper and exp.paper != args.paper:
            continue
        rows.append((0, exp))
        rows += [(1, part) for part in exp.parts]
    if args.json:
        print_json([_describe(e, depth) for depth, e in rows])
        return EXIT_OK
    table = Table(title="nclab experiments: scales s(moke) c(pu) p(aper); cpu min = estimated "
                        "CPU minutes of the cpu scale on one core (measured on a 2 GHz AVX2 core, "
                        "2026-12-02; faster cores take less)", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("figure", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("scales", no_wrap=True)
    table.add_column("cpu min", justify="right", no_wrap=True)
    table.add_column("what", overflow="fold")
    for depth, e in rows:
        scales = "".join(k[0] for k in e.scales) if e.scales else "-"
        est = e.scales.get("cpu").est_cpu_minutes if "cpu" in e.scales else None
        if e.parts:
            scales = "parts"
            ests = [p.scales["cpu"].est_cpu_minutes for p in e.leaves() if "cpu" in p.scales]
            est = sum(x for x in ests if x is not None) if ests else None
        what = f"SKIPPED: {e.skipped}" if e.skipped else e.title
        table.add_row(("  " * depth) + e.id, e.figure, e.kind, scales,
                      "" if est is None else f"{est:g}", what)
    make_console().print(table)
    return EXIT_OK


def _describe(e, depth: int = 0) -> dict:
    """``nclab list --json``'s entry of experiment ``e`` (``depth`` 1: a part of a composite)."""
    return {
        "id": e.id, "paper": e.paper, "figure": e.figure, "kind": e.kind, "title": e.title,
        "part_of_composite": bool(depth), "parts": [p.id for p in e.parts],
        "skipped": e.skipped or None,
        "scales": {k: {"seeds": s.seeds, "grid": {g: list(v) for g, v in s.grid.items()},
                       "est_cpu_minutes": s.est_cpu_minutes, "note": s.note}
                   for k, s in e.scales.items()},
        "claims": [c.text for c in e.claims], "panels": [p.title for p in e.panels],
    }


def _run_summary(store, leaf, scale, outcome_runs, run_ids) -> tuple[dict, list]:
    """``nclab run --json``'s entry of one leaf experiment, and its claims' outcomes scored on
    the runs ``run_ids`` (the plan of this call)."""
    from nclab.experiments.claims import evaluate, planned_results

    results = planned_results(store, leaf, scale, run_ids=run_ids)

    claims = evaluate(leaf, results)
    runs = []
    for r in outcome_runs:
        if r.experiment != leaf.id:
            continue
        info = store.inspect(leaf.id, scale, r.run_id)
        entry = {"run_id": r.run_id, "status": info.status, "outcome": r.status, "dir": r.path,
                 "error": r.error or None}
        if info.summary is not None:
            summary = info.summary.get("summary", {})
            entry["final"] = summary.get("final")
            entry["loss_parts"] = summary.get("loss_parts")
            entry["diverged"] = summary.get("diverged")
            entry["divergence"] = summary.get("divergence")
            entry["error"] = entry["error"] or summary.get("error")
        if info.damage:
            entry["damage"] = info.damage
        runs.append(entry)
    return {
        "experiment": leaf.id, "scale": scale, "runs": runs, "left_out": len(results.excluded),
        "claims": [{"claim": t, "status": o.status, "measured": o.measured,
                    "threshold": o.threshold, "reason": o.reason} for t, o in claims],
    }, claims


def cmd_run(args) -> int:
    """``nclab run EXP``: train the grid, then print the claims and write the report; exit 1 if
    a run failed or diverged."""
    from nclab.report import build_report
    from nclab.running import PlanError, plan, run_experiment
    from nclab.store import Store

    exp = get_experiment(args.experiment)
    try:
        planned = plan(exp, args.scale, seeds=args.seeds, sets=args.set or (),
                       device=args.device, data_dir=args.data_dir)
    except PlanError as err:
        raise UsageError(str(err)) from None
    store = Store(writable_root(args))
    console = make_console(args)
    console.print(f"[bold]{exp.id}[/bold] ({exp.paper}, {exp.figure}): {exp.title}\n"
                  f"scale {args.scale}: {len(planned)} runs -> {store.root}")
    for leaf in exp.leaves():  # these are trained again, their damaged files set aside
        report_damage(console, store, leaf.id)
    progress = RichProgress(console, exp.id, enabled=not args.quiet)
    try:
        outcome = run_experiment(
            exp, store, args.scale, seeds=args.seeds, sets=args.set or (), device=args.device,
            data_dir=args.data_dir, progress=progress, overwrite=args.overwrite,
            executor=executor_of(args),
        )
    except PlanError as err:
        raise UsageError(str(err)) from None
    if outcome.interrupted:
        console.print("[yellow]interrupted[/yellow]: finished runs are stored; run the same "
                      "command again to resume the others")
        if args.json:
            print_json({"experiment": exp.id, "scale": args.scale, "interrupted": True})
        return EXIT_INTERRUPTED
    summaries, reports, any_fail = [], [], False
    for leaf in exp.leaves():
        ids = [p.run_id for p in planned if p.experiment.id == leaf.id]
        summary, claims = _run_summary(store, leaf, args.scale, outcome.runs, ids)
        if not args.no_report:
            report = build_report(store, leaf, args.scale, run_ids=ids)
            summary["report"] = str(report)
            reports.append(report)
        summaries.append(summary)
        any_fail |= any(o.status in ("FAIL", "ERROR") for _, o in claims)
        if not args.json:
            print_claims(console, leaf, claims)
            if summary["left_out"]:
                console.print(f"[yellow]{summary['left_out']} stored run(s) of {leaf.id} not "
                              "in this plan were left out of the claims[/yellow]")
    failed = [r for r in outcome.runs if r.status == "failed"]
    n_new = sum(r.status in ("finished", "diverged") for r in outcome.runs)
    n_skip = sum(r.status == "skipped" for r in outcome.runs)
    n_copied = sum(r.status == "copied" for r in outcome.runs)
    counts = {s: sum(r.stored == s for r in outcome.runs) for s in ("finished", "diverged")}
    copied = f", {n_copied} copied from identical runs" if n_copied else ""
    console.print(f"{n_new} runs trained{copied}, {n_skip} already done, {len(failed)} failed; "
                  f"stored: {counts['finished']} finished, {counts['diverged']} diverged "
                  f"({outcome.seconds:.1f} s)")
    if counts["diverged"]:
        console.print("[yellow]diverged runs are left out of the claims[/yellow] "
                      "(`nclab runs --status diverged` lists them)")
    for report in reports:
        console.print(f"report: {report}")
    if args.json:
        print_json({"experiment": exp.id, "scale": args.scale, "store": str(store.root),
                    "seconds": outcome.seconds, "experiments": summaries})
    return EXIT_FAIL if failed or counts["diverged"] else EXIT_OK


def register(add) -> None:
    """The ``list`` and ``run`` commands."""
    from nclab.experiments.spec import SCALES

    p = add("list", "list the experiments (paper, figure, scales, estimated CPU time)", cmd_list)
    p.add_argument("--paper", help="only this paper (e.g. sukenik2024)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("run", "run an experiment's grid (progress bar; Ctrl-C stops, rerun resumes)",
            cmd_run, "Train (or compute) every run of EXP at a scale, store the records, "
            "evaluate the paper's claims and write the HTML report. Finished runs are skipped; "
            "unfinished ones resume from their last checkpoint.\n\nexample:\n  nclab run "
            "sukenik2024-fig2-top --scale cpu --seeds 2 --set optim.steps=20000")
    p.add_argument("experiment", metavar="EXP", help="experiment id (see `nclab list`)")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default: cpu")
    p.add_argument("--seeds", type=int, metavar="N", help="number of seeds (default: the scale's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, repeatable (e.g. optim.lr=0.1, model.widths=[64,64])")
    out_arg(p)
    p.add_argument("--data-dir", metavar="DIR", help="directory with MNIST / CIFAR-10 files")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="work units trained at once in worker processes (default 1)")
    backend_args(p)
    p.add_argument("--overwrite", action="store_true", help="run finished runs again")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary (run dirs, final metrics per layer, claims)")
