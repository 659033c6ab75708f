"""``nclab demo``: the demo experiments at the cpu scale (see :mod:`nclab.demo`)."""

from __future__ import annotations

from .common import make_console, out_arg, store_root


def cmd_demo(args) -> int:
    """``nclab demo``: :func:`nclab.demo.run_demo` into the store."""
    from nclab.demo import run_demo

    return run_demo(root=store_root(args), jobs=args.jobs, console=make_console())


def register(add) -> None:
    """The ``demo`` command."""
    p = add("demo", "train the demo experiments at cpu scale, print a table, write reports",
            cmd_demo, "Runs sukenik2024-fig2-top (4-DUFM, K = 10), sukenik2024-fig3-left, "
            "jacot2025-fig4 and papyan2020-fmnist at the cpu scale (a few minutes on 2 cores), "
            "prints the losses against L_DNC / L_SRG, ranks and NC metrics per layer, NC1-NC4 "
            "through the terminal phase, and writes the reports.")
    out_arg(p)
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs at once (default: min(2, CPU count))")
