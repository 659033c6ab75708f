"""``nclab runs``: list the stored runs, or run SQL on the store's DuckDB views."""

from __future__ import annotations

import json

from rich.table import Table

from .common import (
    EXIT_OK,
    UsageError,
    fmt,
    make_console,
    out_arg,
    print_json,
    report_damage,
    store_root,
)


def cmd_runs(args) -> int:
    """``nclab runs``: the stored runs (filtered) or the rows of ``--sql``; damaged files on
    stderr."""
    from nclab.store import Store

    store = Store(store_root(args))
    try:
        if args.sql:
            rows = store.query(args.sql)
        else:
            rows = store.runs(args.exp, scale=args.scale, status=args.status, where=args.where)
    except Exception as err:  # noqa: BLE001 -- DuckDB errors are user errors here
        raise UsageError(f"query failed: {err}") from None
    report_damage(make_console(stderr=True), store, args.exp)
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        make_console().print(f"no runs in {store.root}")
        return EXIT_OK
    if args.sql:
        cols = list(rows[0])
    else:
        cols = ["experiment", "scale", "run_id", "status", "seed", "params", "finished"]
    table = Table(title=f"{len(rows)} rows from {store.root}", title_justify="left")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else fmt(r[c]))
                        if r.get(c) is not None else "" for c in cols])
    make_console().print(table)
    return EXIT_OK


def register(add) -> None:
    """The ``runs`` command."""
    from nclab.experiments.spec import SCALES
    from nclab.store import STATUSES

    p = add("runs", "list or query the stored runs (DuckDB views `runs` and `metrics`)",
            cmd_runs, "List stored runs, or run SQL on the DuckDB views `runs` and `metrics`."
            "\n\nexamples:\n  nclab runs --exp sukenik2024-fig2-top\n  nclab runs --where "
            "\"status = 'failed'\"\n  nclab runs --sql \"SELECT layer, avg(value) FROM metrics "
            "WHERE metric = 'nc1_trace' GROUP BY layer\"")
    p.add_argument("--exp", metavar="EXP", help="only this experiment")
    p.add_argument("--scale", choices=SCALES)
    p.add_argument("--status", choices=STATUSES[1:],
                   help="finished, diverged, failed, interrupted (killed; a re-run resumes "
                   "it), running (its process is alive) or damaged (a file fails its checksum)")
    p.add_argument("--where", metavar="SQL", help="extra condition on the runs view")
    p.add_argument("--sql", metavar="QUERY", help="any SQL query on the views")
    out_arg(p)
    p.add_argument("--json", action="store_true")
