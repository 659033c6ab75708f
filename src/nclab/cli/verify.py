"""``nclab verify``: run (or reuse) every experiment at a scale, evaluate the papers' claims,
print the verdicts and write the reproduction page."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from nclab.console import STATUS_COLORS, RichProgress

from .backends import backend_args, executor_of
from .common import (
    EXIT_INTERRUPTED,
    UsageError,
    get_experiment,
    make_console,
    out_arg,
    print_json,
    store_root,
    writable_root,
)


def cmd_verify(args) -> int:
    """``nclab verify``: exit 0 only if every evaluated claim passes (130 if interrupted)."""
    from nclab.experiments.registry import all_experiments
    from nclab.running import PlanError
    from nclab.store import Store
    from nclab.verify import (
        STATUSES,
        as_json,
        check_readme,
        exit_code,
        status_markdown,
        update_readme,
        verify,
        write_reproduction_html,
    )

    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.readme:
        try:  # before the runs, which may take an hour
            check_readme(args.readme)
        except (ValueError, OSError) as err:
            raise UsageError(str(err)) from None
    exps = ([get_experiment(e) for e in args.experiments] if args.experiments
            else list(all_experiments()))
    store = Store(store_root(args) if args.no_run else writable_root(args))
    console = make_console(args, stderr=args.json)
    executor = executor_of(args) if not args.no_run else None

    leaves = [leaf for e in exps for leaf in e.leaves()]
    progress = RichProgress(console, f"verify: {len(leaves)} experiments at {args.scale}",
                            enabled=not (args.quiet or args.json))
    t0 = time.perf_counter()

    def trained():
        if not args.json and not args.no_run:
            console.print(f"runs made in {time.perf_counter() - t0:.0f} s; evaluating claims")

    def done(check):
        if args.json:
            return
        n = check.counts
        shared = "".join(f" (runs of {e})" for e in check.copied_from)
        console.print(f"[bold]{check.experiment}[/bold] ({check.figure}): {check.runs} runs, "
                      f"training {check.compute_seconds:.1f} CPU-s{shared}, checks "
                      f"{check.seconds:.1f} s  [green]{n['PASS']} PASS[/] [red]{n['FAIL']} "
                      f"FAIL[/] [yellow]{n['NOT-RUN']} NOT-RUN[/]"
                      + (f" [red]{n['ERROR']} ERROR[/]" if n["ERROR"] else "")
                      + (f" ({check.left_out} stored runs not in the current plan left out)"
                         if check.left_out else "")
                      + (f"  [red]{check.error}[/]" if check.error else ""))
        _print_verdicts(console, check)

    try:
        checks = verify(exps, store, args.scale, run=not args.no_run, executor=executor,
                        progress=progress, on_done=done, on_trained=trained, jobs=args.jobs)
    except PlanError as err:
        raise UsageError(str(err)) from None
    wall = time.perf_counter() - t0
    page = write_reproduction_html(checks, Path(args.html) if args.html
                                   else store.root / "reproduction.html")
    command = "nclab verify --scale " + args.scale + (" --no-run" if args.no_run else "")
    if args.readme:
        update_readme(args.readme, status_markdown(checks, command, wall))
    if args.json:
        print_json({"scale": args.scale, "store": str(store.root), "html": str(page),
                    "wall_seconds": wall,
                    "experiments": as_json(checks)})
    else:
        totals = {s: sum(ch.counts[s] for ch in checks) for s in STATUSES}
        console.print(f"\n{len(checks)} experiments at {args.scale}: {totals['PASS']} PASS, "
                      f"{totals['FAIL']} FAIL, {totals['NOT-RUN']} NOT-RUN, {totals['ERROR']} "
                      f"ERROR in {wall:.0f} s (wall; training "
                      f"{sum(ch.compute_seconds for ch in checks) / 60:.1f} CPU-min)\n"
                      f"reproduction report: {page}")
    if any(ch.interrupted for ch in checks):
        return EXIT_INTERRUPTED
    return exit_code(checks)


def _print_verdicts(console, check) -> None:
    """The claims of one checked experiment, under its summary line (no title, no box)."""
    if not check.claims:
        return
    table = Table(show_header=True, show_lines=False, box=None, pad_edge=False)
    for col in ("status", "claim", "measured", "threshold / reason"):
        table.add_column(col, overflow="fold")
    for c in check.claims:
        table.add_row(f"[{STATUS_COLORS[c.status]}]{c.status}[/]", c.text, c.measured,
                      c.threshold if c.status in ("PASS", "FAIL") else c.reason)
    console.print(table)


def register(add) -> None:
    """The ``verify`` command."""
    from nclab.experiments.spec import SCALES

    p = add("verify", "check the papers' claims: run (or reuse stored runs) and evaluate",
            cmd_verify, "Run every experiment (or EXP ...) at a scale -- finished runs in the "
            "store are reused -- evaluate each paper claim (PASS / FAIL / NOT-RUN with the "
            "reason), print a table with per-experiment training time and the total wall time, "
            "and write reproduction.html linking every claim to its figure. Exit code 0 only if every "
            "evaluated claim passes.\n\nexamples:\n  nclab verify --scale smoke\n  nclab "
            "verify sukenik2024-fig2-top jacot2025-fig4 --scale cpu --jobs 2\n  nclab verify "
            "--scale cpu --readme README.md   # regenerate the README's status table")
    p.add_argument("experiments", metavar="EXP", nargs="*",
                   help="experiment ids (default: all; a composite id checks its panels)")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default: cpu")
    out_arg(p)
    p.add_argument("--no-run", action="store_true",
                   help="only evaluate stored runs (missing ones make claims NOT-RUN)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="work units trained at once in worker processes, then experiments "
                        "evaluated at once (default 1)")
    backend_args(p)
    p.add_argument("--html", metavar="FILE", help="default: <store>/reproduction.html")
    p.add_argument("--readme", metavar="FILE",
                   help="rewrite the block between the reproduction-status markers of FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true",
                   help="print every verdict as JSON (the tables go to stderr)")
