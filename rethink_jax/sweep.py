"""Many runs in one sweep directory, resumable: finished runs are skipped, a half-finished
run resumes from its checkpoint (through :func:`rethink_jax.train.train_and_evaluate`).

A sweep directory holds ``sweep.json`` (the paper artifact it reproduces, and each run's
name, config and metadata such as the Table 1 row it reproduces; see
:func:`rethink_jax.records.write_sweep`) and one run directory per run. Each artifact's
config module turns its config into runs (``rethink_jax.configs.table1.build_runs(config)``
and so on), as :class:`SweepRuns`, which carries the artifact's name.
"""

from __future__ import annotations

import os
import pathlib
import shutil

from rethink_jax import locking, monitoring, records, report, train
from rethink_jax import validation
from rethink_jax.configs.common import SweepRuns

__all__ = ["run_sweep", "check_only", "check_reuse", "find_reusable", "run_dir_name", "load_sweep", "SweepRuns",
           "SWEEP_FILE"]

SWEEP_FILE = records.SWEEP


def run_sweep(runs: SweepRuns, sweep_dir, *, only: str | None = None, train_fn=None, vmapped: bool = False,
              reuse=()) -> dict[str, dict]:
  """Runs every run of the sweep not yet finished; returns ``{name: summary}``.

  A run counts as finished when :func:`rethink_jax.records.finished_summary` says so (same
  identity, and its budget reached); otherwise ``train_fn`` (default
  :func:`rethink_jax.train.train_and_evaluate`) resumes or starts it. A :class:`SweepRuns` built with
  ``merge=True`` keeps the other runs already listed in the sweep directory (a sweep grown
  one run at a time, as Table 1's and ImageNet's Table 2 rows are). ``vmapped=True`` trains all unfinished runs as one
  program (:func:`rethink_jax.multirun.train_many`; they must differ only in labels and seeds).
  ``reuse``: other sweep directories whose finished runs are taken instead of trained again,
  where one computes exactly what a run of this sweep asks (:func:`find_reusable`): its records
  are copied into this sweep (checkpoints and TensorBoard events stay behind) and
  ``sweep.json`` names where from.
  Figure 1a's true- and random-labels runs are Table 1's rows, for one.
  """
  artifact = getattr(runs, "artifact", None)
  if artifact is None:
    raise ValueError("run_sweep needs SweepRuns (the paper artifact it reproduces), as each config module's build_runs returns.")
  if artifact not in report.ARTIFACTS:  # checked before anything is written: the report must know how to build it
    raise ValueError(f"Unknown paper artifact {artifact!r}; choose one of {', '.join(report.ARTIFACTS)}.")
  check_only(runs, only)
  engine = "imagenet" if artifact == "table2" else "single"
  sweep_dir = pathlib.Path(sweep_dir).expanduser()
  reuse = check_reuse(reuse, sweep_dir)  # before anything is written
  dirs = {}
  for name, (cfg, _) in runs.items():  # a bad entry or a mismatched run directory fails before anything is written
    validation.check(cfg, engine)
    dirs[name] = run_dir_name(sweep_dir, name, cfg)
    records.check_run_dir(sweep_dir / dirs[name], cfg)
  # sweep.json is read and rewritten under the sweep directory's lock; each run then holds its own
  # directory's, so processes running different runs of one sweep (``only``) do not block each other.
  with locking.claim(sweep_dir):
    spec = {}
    if getattr(runs, "merge", False) and (sweep_dir / SWEEP_FILE).exists():
      saved_artifact, saved = records.read_sweep(sweep_dir)
      if saved_artifact != artifact:
        raise records.RecordError(f"{sweep_dir / SWEEP_FILE} holds a {saved_artifact} sweep, not {artifact}.")
      spec = {name: {"config": run["config"], "meta": run["meta"], "dir": pathlib.Path(run["dir"]).name}
              for name, run in saved.items()}
    spec.update({name: {"config": cfg.to_dict(), "meta": meta, "dir": dirs[name]} for name, (cfg, meta) in runs.items()})
    for name, (cfg, _) in runs.items():
      if (not only or name == only) and reuse and not (sweep_dir / dirs[name]).exists():
        source = find_reusable(cfg, reuse)
        if source is not None:  # records first, then sweep.json names them: a crash between leaves a plain run
          _copy_run(source, sweep_dir / dirs[name])
          spec[name]["reused_from"] = str(source)
          print(f"[{name}] reused from {source}")
    records.write_sweep(sweep_dir, artifact, spec)
  summaries, todo = {}, {}
  for name, (cfg, meta) in runs.items():
    if only and name != only:
      continue
    done = records.finished_summary(sweep_dir / dirs[name], cfg)
    if done is not None:
      summaries[name] = done
      print(f"[{name}] finished earlier: skipped")
      continue
    todo[name] = cfg
  if vmapped:
    from rethink_jax import multirun

    # Runs that may share a program (same model, data and optimizer) train as one; the others alone.
    groups: dict[str, dict] = {}
    for name, cfg in todo.items():
      groups.setdefault(multirun.group_key(cfg), {})[name] = cfg
    for group in groups.values():
      if len(group) < 2:
        continue
      print(f"[{', '.join(group)}] {len(group)} runs as one vmapped program", flush=True)
      done = multirun.train_many(list(group.values()), [sweep_dir / dirs[name] for name in group],
                                 group_dir=sweep_dir / "_vmapped")
      for name, s in zip(group, done):
        print(f"[{name}] train {monitoring.fraction(s['train_accuracy'])} test {monitoring.fraction(s['test_accuracy'])} "
              f"steps {s['step']}", flush=True)
        del todo[name]
      summaries.update(zip(group, done))
  for name, cfg in todo.items():
    print(f"[{name}] {cfg.model}, {cfg.corruption.kind}" + (f" p={cfg.corruption.p}" if cfg.corruption.kind ==
                                                             "partial_labels" else ""), flush=True)
    workdir = sweep_dir / dirs[name]
    summaries[name] = train_fn(cfg, workdir) if train_fn else train.train_and_evaluate(cfg, workdir)
    s = summaries[name]
    accuracy = (f"train {monitoring.fraction(s['train_accuracy'])} test {monitoring.fraction(s['test_accuracy'])}"
                if "train_accuracy" in s else
                f"train top-1 {monitoring.fraction(s['train_top1'])} test top-1 {monitoring.fraction(s['test_top1'])} "
                f"top-5 {monitoring.fraction(s['test_top5'])}")
    print(f"[{name}] {accuracy} steps {s['step']} ({s['train_seconds']:.0f} s)", flush=True)
  return summaries


def check_only(runs: SweepRuns, only: str | None) -> None:
  """``only`` (a run's name, or None for all) names a run of ``runs``, else
  :class:`~rethink_jax.validation.ConfigError` listing them, one line."""
  if only is not None and only not in runs:
    raise validation.ConfigError(f"--only {only}: no run of that name in this sweep; its runs are "
                                 f"{', '.join(sorted(runs))}.")


def check_reuse(reuse, sweep_dir) -> list[pathlib.Path]:
  """The ``reuse`` directories as paths, each a readable sweep directory other than ``sweep_dir``
  (else :class:`~rethink_jax.records.RecordError`, one line)."""
  out = [pathlib.Path(d).expanduser() for d in reuse]
  for other in out:
    if not (other / SWEEP_FILE).is_file():
      raise records.RecordError(f"--reuse {other}: no {SWEEP_FILE} there; it must be a sweep directory.")
    if other.resolve() == pathlib.Path(sweep_dir).expanduser().resolve():
      raise records.RecordError(f"--reuse {other} is this sweep's own directory.")
    records.read_sweep(other)
  return out


def find_reusable(config, sweep_dirs) -> pathlib.Path | None:
  """The first run directory in ``sweep_dirs`` (sweep directories) that already did what
  ``config`` asks: the same identity (:func:`rethink_jax.records.identity`; how often it
  evaluated or checkpointed does not count) and finished
  (:func:`rethink_jax.records.finished_summary`); ``None`` if there is none."""
  for sweep_dir in sweep_dirs:
    _, runs = records.read_sweep(sweep_dir)
    for run in runs.values():
      try:
        if records.finished_summary(run["dir"], config) is not None:
          return pathlib.Path(run["dir"])
      except records.ConfigMismatchError:  # another run: not this one
        continue
  return None


def _copy_run(src: pathlib.Path, dest: pathlib.Path) -> None:
  """A finished run's records (all but checkpoints and TensorBoard events), copied whole into
  a temporary directory renamed into place: ``dest`` holds all of them or does not exist."""
  tmp = dest.with_name(f".{dest.name}.reuse.{os.getpid()}")
  shutil.rmtree(tmp, ignore_errors=True)
  shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(records.CHECKPOINTS, records.TENSORBOARD, ".*"))
  os.replace(tmp, dest)


def run_dir_name(sweep_dir, name: str, config) -> str:
  """The directory of run ``name`` in a sweep: ``<name>-<identity hash>``, like a single run's
  default directory, so that a sweep run with other settings (another learning rate, say)
  gets a directory of its own. A directory named ``name`` alone, as sweeps wrote before
  their run directories carried the hash, is kept when it holds this very run."""
  legacy = pathlib.Path(sweep_dir).expanduser() / name / records.CONFIG
  if legacy.exists():
    saved = records.read_json(legacy)
    if isinstance(saved, dict) and "config" in saved and not records.identity_diff(
        records.identity(saved["config"]), records.identity(config)):
      return name
  return f"{name}-{records.identity_hash(config)}"


def load_sweep(sweep_dir) -> dict[str, dict]:
  """``{name: {"meta", "config", "summary" (or None), "metrics", "dir"}}`` for every run of a sweep."""
  return records.read_sweep(sweep_dir)[1]
