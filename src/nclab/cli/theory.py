"""``nclab theory``: the papers' closed forms (SRG vs DNC losses, the NC1 bound)."""

from __future__ import annotations

from rich.table import Table

from .common import EXIT_OK, EXIT_USAGE, UsageError, fmt, make_console, print_json


def cmd_theory(args) -> int:
    """``nclab theory`` without WHAT: its help, exit code 2."""
    args.theory_parser.print_help()
    return EXIT_USAGE


def cmd_theory_srg(args) -> int:
    """``nclab theory srg``: the SRG and DNC optima of the L-DUFM for K = C(r, 2) classes."""
    from nclab.theory import (
        dnc_optimum,
        layer_ranks,
        srg_optimum,
        srg_solution,
        theorem5_condition,
    )

    r, L, lam, n = args.r, args.layers, args.lam, args.n
    if r < 4 or L < 3:
        raise UsageError("the SRG construction needs --r >= 4 and --layers >= 3")
    K = r * (r - 1) // 2
    lam_H = args.lam_h if args.lam_h is not None else lam
    try:
        srg, dnc = srg_optimum(r, L, lam_H, lam, n=n), dnc_optimum(K, L, lam_H, lam, n=n)
        sol = srg_solution(r, L, n, (lam_H, lam))
    except ValueError as err:
        raise UsageError(str(err)) from None
    ranks = layer_ranks(sol["H1"], sol["Ws"], rtol=1e-8)
    out = {"r": r, "K": K, "L": L, "lambda": lam, "lambda_H1": lam_H, "n": n,
           "srg_loss": srg["loss"], "dnc_loss": dnc["loss"],
           "ratio": srg["loss"] / dnc["loss"], "theorem5_condition": theorem5_condition(r, L),
           "srg_trivial": srg["trivial"], "dnc_trivial": dnc["trivial"],
           "srg_ranks_post": ranks["post"], "srg_ranks_pre": ranks["pre"]}
    if args.json:
        print_json(out)
        return EXIT_OK
    table = Table(title=f"SRG vs DNC: r = {r} (K = {K}), L = {L}, λ = {lam:g}, "
                        f"λ_H1 = {lam_H:g}, n = {n}", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k in ("srg_loss", "dnc_loss", "ratio", "theorem5_condition", "srg_ranks_pre",
              "srg_ranks_post"):
        table.add_row(k, fmt(out[k]) if not isinstance(out[k], list) else str(out[k]))
    make_console().print(table)
    return EXIT_OK


def cmd_theory_bound(args) -> int:
    """``nclab theory bound``: the NC1 bound of Jacot et al. Thm B.1 eq (18)."""
    from nclab.theory import nc1_bound

    try:
        value = nc1_bound(args.eps1, args.eps2, args.r, args.N, args.K, args.n_prev, args.sK_Y)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = {"nc1_bound": value, "eps1": args.eps1, "eps2": args.eps2, "r": args.r, "N": args.N,
           "K": args.K, "n_prev": args.n_prev, "sK_Y": args.sK_Y}
    if args.json:
        print_json(out)
    else:
        make_console().print(f"NC1(Z_L-1) <= {fmt(value)}  (Jacot et al. Thm B.1 eq (18))")
    return EXIT_OK


def register(add) -> None:
    """The ``theory`` command and its ``srg`` and ``bound`` subcommands."""
    p = add("theory", "closed forms of the papers", cmd_theory)
    tsub = p.add_subparsers(dest="theory_command", metavar="WHAT")
    p.set_defaults(theory_parser=p)
    t = tsub.add_parser("srg", help="SRG vs DNC losses of the L-DUFM (Súkeník et al. Thm 5)",
                        description="Optimal SRG and DNC losses, their ratio and Theorem 5's "
                                    "condition for K = C(r, 2) classes.")
    t.add_argument("--r", type=int, required=True, help="vertices of K_r (K = r(r-1)/2)")
    t.add_argument("--layers", type=int, required=True, help="L, the DUFM depth")
    t.add_argument("--lambda", dest="lam", type=float, required=True, help="λ of every W_l")
    t.add_argument("--lambda-h1", dest="lam_h", type=float, help="λ_H1 (default: --lambda)")
    t.add_argument("--n", type=int, default=1, help="samples per class (default 1)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_theory_srg)
    t = tsub.add_parser("bound", help="NC1 bound of Jacot et al. Thm B.1 eq (18)",
                        description="Upper bound on NC1(Z_L-1) from ε1, ε2, r, N, K, "
                                    "n_{L-1} and s_K(Y).")
    for name, tp, hlp in (("--eps1", float, "interpolation error ||Z_L - Y||_F"),
                          ("--eps2", float, "max imbalance of the linear layers"),
                          ("--r", float, "bound on the operator norms"),
                          ("--N", int, "number of samples"), ("--K", int, "number of classes"),
                          ("--n-prev", int, "width n_{L-1}"),
                          ("--sK-Y", float, "s_K(Y) = sqrt(min class size)")):
        t.add_argument(name, type=tp, required=True, help=hlp,
                       dest=name[2:].replace("-", "_"))
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_theory_bound)
