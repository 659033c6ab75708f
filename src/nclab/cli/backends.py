"""Where and how runs execute: the ``--backend`` options of ``run`` and ``verify`` and the
executor they choose."""

from __future__ import annotations

import json

from .common import UsageError


def backend_args(p) -> None:
    """The options that choose where and how runs execute (``run``, ``verify``)."""
    p.add_argument("--backend", choices=("local", "ray", "slurm"), default="local",
                   help="local (default): vectorised groups in this process (--jobs N: N "
                   "worker processes); ray: Ray tasks on a cluster (pip install 'nclab[ray]'); "
                   "slurm: a submitit job array (pip install 'nclab[slurm]')")
    p.add_argument("--no-vmap", action="store_true",
                   help="train every run on its own (no vectorised groups of compatible runs)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the vectorised step (pays off for long runs)")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster address (auto, HOST:PORT, ray://HOST:10001); default: a "
                   "local Ray instance with --jobs CPUs")
    p.add_argument("--slurm", action="append", metavar="KEY=VALUE",
                   help="submitit executor parameter, repeatable (e.g. slurm_partition=gpu, "
                   "timeout_min=120, gpus_per_node=1; cluster=local runs jobs as processes)")


def executor_of(args):
    """The executor chosen by :func:`backend_args`' options."""
    from nclab.running.backends import make_executor

    params: dict = {}
    for item in getattr(args, "slurm", None) or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--slurm {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    if args.backend != "slurm" and params:
        raise UsageError("--slurm applies to --backend slurm only")
    if args.backend != "ray" and args.address:
        raise UsageError("--address applies to --backend ray only")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    cluster = params.pop("cluster", None)
    executor = make_executor(args.backend, vmap=not args.no_vmap, jobs=args.jobs,
                             compile=args.compile, address=args.address,
                             slurm_parameters=params)
    if cluster is not None:
        executor.cluster = cluster
    return executor

