"""Executors for :func:`nclab.running.run_experiments`: where and how grid points run.

- :class:`LocalExecutor` (``--backend local``, the default): compatible grid points trained
  as groups (one batched computation each) in this process, or one by one (``vmap=False``);
  ``jobs > 1``: work units in a pool of worker processes. A run's numbers are the same either
  way.
- :class:`RayExecutor` (``--backend ray``): each work unit a Ray task on an existing cluster
  (``ray start --head`` on your machines, then ``--address auto`` or ``HOST:PORT``) or on a
  local Ray instance; every task writes its runs into the shared store.
- :class:`SlurmExecutor` (``--backend slurm``): one Slurm job array per sweep via ``submitit``
  (``cluster="local"`` runs the same jobs as local processes, for tests).

Every backend skips finished runs (before dispatch and again inside the task, so a retried
task never redoes a finished run) and never leaves a half-written run: a run is finished only
when its ``summary.json`` is written, after its metrics. A failed task is retried (Ray:
``max_retries``; Slurm: re-run the command); its unfinished runs resume.

The remote backends re-plan each run from the experiment registry by id (only ids and
options travel), so they need registered experiments and nclab installed on every node, and
a store directory that every node sees at the same path (a shared file system).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from .execute import DEFAULT_MAX_REPLICAS, RunOutcome, execute_unit, spread_units, work_units
from .plan import Options, PlanError, registered
from .pool import UnitSpec, run_pool, run_unit_spec
from .progress import Progress

BACKENDS = ("local", "ray", "slurm")


class LocalExecutor:
    """Groups of compatible runs (``vmap``; else one run per unit) in this process, or work
    units in ``jobs`` processes."""

    def __init__(self, *, vmap: bool = True, jobs: int = 1, compile: bool = False,
                 max_replicas: int | None = DEFAULT_MAX_REPLICAS):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.vmap, self.jobs, self.compile, self.max_replicas = vmap, jobs, compile, max_replicas

    def __call__(self, runs, pending, store, progress: Progress, options: Options,
                 outcomes: dict) -> None:
        units = work_units(runs, pending, vmap=self.vmap, max_replicas=self.max_replicas)
        pool = self.jobs > 1 and registered(runs)  # workers re-plan runs from the registry
        if pool:
            units = spread_units(units, self.jobs)
        if pool and len(units) > 1:
            tasks = [(u, UnitSpec.of(runs, u, store, options, self.compile)) for u in units]
            run_pool(tasks, run_unit_spec, runs, progress, self.jobs, outcomes)
            return
        for unit in units:
            execute_unit([runs[i] for i in unit], unit, store, progress, options=options,
                         compile=self.compile, outcomes=outcomes)


def _need_registered(runs, backend: str) -> None:
    if not registered(runs):
        raise PlanError(f"--backend {backend} re-plans runs from the registry: it needs "
                        "registered experiments (not ad-hoc Experiment objects)")


def _remote_options(runs, pending, store, options: Options) -> Options:
    """Options for remote tasks: with ``overwrite``, finished runs are removed here, once, and
    the tasks get ``overwrite=False`` (so that a retried task never redoes a finished run)."""
    if not options.overwrite:
        return options
    for i in pending:
        p = runs[i]
        if store.is_done(p.experiment.id, p.scale, p.run_id):
            shutil.rmtree(store.run_dir(p.experiment.id, p.scale, p.run_id))
    return dataclasses.replace(options, overwrite=False)


def _failed_unit(store, runs, unit, err) -> dict:
    """Outcomes of a unit whose task failed for good: its runs that are finished in the store
    (the task got that far) count as done, the others failed."""
    out = {}
    for i in unit:
        p = runs[i]
        path = str(store.run_dir(p.experiment.id, p.scale, p.run_id))
        if store.is_done(p.experiment.id, p.scale, p.run_id):
            status = store.status(p.experiment.id, p.scale, p.run_id)
            out[i] = RunOutcome(p.run_id, p.experiment.id, status, path=path)
        else:
            out[i] = RunOutcome(p.run_id, p.experiment.id, "failed", path=path,
                                error=f"{type(err).__name__}: {err}")
    return out


class RayExecutor:
    """Work units as Ray tasks (Ray core, not Tune). ``address``: an existing cluster
    (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``) or None to start a local instance
    (``num_cpus``; bound to loopback, ``temp_dir`` kept short). ``max_retries``: retries of a
    task whose worker died or raised; ``cpus_per_task``: Ray's CPU reservation per task."""

    def __init__(self, address: str | None = None, *, vmap: bool = True,
                 compile: bool = False, max_retries: int = 2, cpus_per_task: float = 1.0,
                 num_cpus: int | None = None, temp_dir: str | None = None,
                 max_replicas: int | None = DEFAULT_MAX_REPLICAS):
        self.address, self.vmap, self.compile = address, vmap, compile
        self.max_retries, self.cpus_per_task = max_retries, cpus_per_task
        self.num_cpus, self.temp_dir, self.max_replicas = num_cpus, temp_dir, max_replicas

    def __call__(self, runs, pending, store, progress: Progress, options: Options,
                 outcomes: dict) -> None:
        ray = import_ray()
        _need_registered(runs, "ray")
        options = _remote_options(runs, pending, store, options)
        started = not ray.is_initialized()
        if started:
            init_ray(ray, self.address, num_cpus=self.num_cpus, temp_dir=self.temp_dir)
        remaining: list = []
        try:
            task = ray.remote(max_retries=self.max_retries, retry_exceptions=True,
                              num_cpus=self.cpus_per_task)(run_unit_spec)
            units = work_units(runs, pending, vmap=self.vmap, max_replicas=self.max_replicas)
            refs = {}
            for unit in units:
                spec = UnitSpec.of(runs, unit, store, options, self.compile)
                ref = task.remote(spec)
                refs[ref] = unit
                remaining.append(ref)
                for i in unit:
                    progress.run_start(i, runs[i], None)
            while remaining:
                ready, remaining = ray.wait(remaining, num_returns=1)
                for ref in ready:
                    try:
                        got = ray.get(ref)
                    except Exception as err:  # noqa: BLE001 -- retries exhausted
                        got = _failed_unit(store, runs, refs[ref], err)
                    _record(got, runs, progress, outcomes)
        except KeyboardInterrupt:
            for ref in remaining:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started:
                ray.shutdown()


def _record(got: dict, runs, progress, outcomes: dict) -> None:
    for i, outcome in got.items():
        outcomes[i] = outcome
        progress.run_end(i, runs[i], outcome)


def import_ray():
    try:
        import ray
    except ImportError:
        raise PlanError("--backend ray needs Ray: pip install 'nclab[ray]' "
                        "(or pip install 'ray>=2.9')") from None
    return ray


def init_ray(ray, address: str | None = None, *, num_cpus: int | None = None,
             temp_dir: str | None = None) -> None:
    """Connect to ``address`` or start a local Ray bound to loopback, without dashboard, with
    a short temp dir (Unix socket paths must stay under ~100 characters)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is not None:
        ray.init(address=address, log_to_driver=False)
        return
    temp = temp_dir or f"/tmp/ray-{os.getuid()}"
    Path(temp).mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             _temp_dir=temp, log_to_driver=False, configure_logging=False)


class SlurmExecutor:
    """One Slurm job array per sweep via ``submitit``: each work unit an array task writing
    into the shared store. ``folder``: submitit's logs and pickled job specs (default
    ``<store>/_slurm``); ``cluster``: None (auto-detect Slurm) or ``"local"`` (local processes,
    for tests); ``parameters``: executor parameters such as ``timeout_min``,
    ``slurm_partition``, ``cpus_per_task``, ``gpus_per_node``, ``slurm_array_parallelism``."""

    def __init__(self, folder: str | None = None, *, cluster: str | None = None,
                 vmap: bool = True, compile: bool = False, parameters: dict | None = None,
                 max_replicas: int | None = DEFAULT_MAX_REPLICAS):
        self.folder, self.cluster, self.vmap, self.compile = folder, cluster, vmap, compile
        self.parameters = {"timeout_min": 60, "cpus_per_task": 1, **(parameters or {})}
        self.max_replicas = max_replicas

    def __call__(self, runs, pending, store, progress: Progress, options: Options,
                 outcomes: dict) -> None:
        try:
            import submitit
        except ImportError:
            raise PlanError("--backend slurm needs submitit: pip install 'nclab[slurm]' "
                            "(or pip install submitit)") from None
        _need_registered(runs, "slurm")
        options = _remote_options(runs, pending, store, options)
        folder = Path(self.folder or Path(store.root) / "_slurm")
        executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=self.cluster)
        executor.update_parameters(**self.parameters)
        units = work_units(runs, pending, vmap=self.vmap, max_replicas=self.max_replicas)
        specs = [UnitSpec.of(runs, u, store, options, self.compile) for u in units]
        jobs = executor.map_array(run_unit_spec, specs)
        for unit in units:
            for i in unit:
                progress.run_start(i, runs[i], None)
        try:
            for job, unit in zip(jobs, units, strict=True):
                try:
                    got = job.result()
                except Exception as err:  # noqa: BLE001 -- the job failed
                    got = _failed_unit(store, runs, unit, err)
                _record(got, runs, progress, outcomes)
        except KeyboardInterrupt:
            for job in jobs:
                job.cancel(check=False)
            raise


def make_executor(backend: str = "local", *, vmap: bool = True, jobs: int = 1,
                  compile: bool = False, address: str | None = None,
                  slurm_folder: str | None = None, slurm_parameters: dict | None = None):
    """The executor of ``--backend`` (``local``, ``ray``, ``slurm``)."""
    if backend == "local":
        return LocalExecutor(vmap=vmap, jobs=jobs, compile=compile)
    if backend == "ray":
        return RayExecutor(address, vmap=vmap, compile=compile,
                           num_cpus=jobs if jobs > 1 and not address else None)
    if backend == "slurm":
        return SlurmExecutor(slurm_folder, vmap=vmap, compile=compile,
                             parameters=slurm_parameters)
    raise PlanError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
