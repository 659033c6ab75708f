"""Running experiments: plan a grid, execute it into a store, show progress, keep records.

- :mod:`.plan` -- :func:`plan` (grid x seeds -> :class:`PlannedRun` with resolved configs),
  :func:`replan`, :class:`Options`, :class:`PlanError`.
- :mod:`.grid` -- :func:`run_experiments` / :func:`run_experiment`: one plan, finished runs
  skipped, the pending ones handed to an executor.
- :mod:`.backends` -- where runs execute: :class:`LocalExecutor` (groups in this process or a
  pool of workers), :class:`RayExecutor`, :class:`SlurmExecutor`.
- :mod:`.execute` -- work units into the store: a group of training runs (one
  :func:`nclab.train.run_group`, checkpoints, resume, measures) or a theory computation.
- :mod:`.pool` -- worker processes for ``--jobs`` and the :class:`UnitSpec` a worker, a Ray
  task or a Slurm job receives; :mod:`.progress` -- progress callbacks.
- :mod:`.records` -- a run's store rows, its summary and the measures taken on the way.
- :mod:`.twins` -- a run that two experiments plan identically: trained once, stored for both.

A run's stored numbers never depend on how it was scheduled: alone, in a group, in a worker
process or a remote task. Runs are grouped only where grouping is exact
(:func:`nclab.train.exact_grouping`); ``tests/running/test_executors.py`` compares the stores.
"""

from .backends import BACKENDS, LocalExecutor, RayExecutor, SlurmExecutor, make_executor
from .execute import (
    DEFAULT_MAX_REPLICAS,
    ExperimentOutcome,
    RunOutcome,
    execute_group,
    execute_unit,
    work_units,
)
from .grid import Executor, run_experiment, run_experiments
from .plan import Options, PlanError, PlannedRun, plan, replace_scale, replan
from .pool import UnitSpec, run_unit_spec
from .progress import Progress

__all__ = [
    "BACKENDS",
    "DEFAULT_MAX_REPLICAS",
    "Executor",
    "ExperimentOutcome",
    "LocalExecutor",
    "Options",
    "PlanError",
    "PlannedRun",
    "Progress",
    "RayExecutor",
    "RunOutcome",
    "SlurmExecutor",
    "UnitSpec",
    "execute_group",
    "execute_unit",
    "make_executor",
    "plan",
    "replan",
    "replace_scale",
    "run_experiment",
    "run_experiments",
    "run_unit_spec",
    "work_units",
]
