"""The one training loop, shared by every engine (paper Section 2's runs, single or many).

:func:`run` owns everything between two compiled steps: step boundaries, the non-finite
loss guard (read once per boundary, **before** any checkpoint is written), periodic
evaluation, time to fit and stop-at-fit, checkpoint save and restore, ``metrics.jsonl``,
``examples.npz`` (per-example records, with ``config.track_examples``), ``summary.json``,
TensorBoard and W&B rows, progress and log lines. An engine supplies only what differs,
as a :class:`Program`: the compiled steps over its data, its evaluation and its
learning-rate schedule.

* Single runs: :func:`rethink_jax.train.train_and_evaluate` (the dataset on the devices).
* K vmapped runs: :func:`rethink_jax.multirun.train_many` (one program, K run directories).
* ImageNet: :func:`rethink_jax.imagenet.train_and_evaluate` (streamed from the host).

Boundaries are multiples of ``log_every_steps``, ``eval_every_steps`` and
``checkpoint_every_steps`` and the last step. Each checkpoint holds, beside the train
state, the metric sums since the last log row and the loop's bookkeeping, so a run killed
anywhere and resumed writes the same ``metrics.jsonl``, row for row, as one that never
stopped (timings aside).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import pathlib
import shutil
import sys
import time
from typing import Any, NamedTuple, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax import checkpoint, locking, monitoring, records, segments
from rethink_jax.configs import schema

__all__ = ["Program", "Run", "StepSums", "add_step", "run", "begin", "owned", "already_finished",
           "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or infinite; the last good checkpoint is kept."""


class StepSums(NamedTuple):
  """Per-interval sums kept on device: summed batch loss and accuracy, and the first
  step whose loss was not finite (-1 if none). Scalars, or ``[K]`` for K vmapped runs."""
  loss: jax.Array
  accuracy: jax.Array
  nonfinite_step: jax.Array

  @classmethod
  def zeros(cls, shape: tuple[int, ...] = ()) -> "StepSums":
    return cls(jnp.zeros(shape), jnp.zeros(shape), jnp.full(shape, -1, jnp.int32))


def add_step(sums: StepSums, metrics: dict, step: jax.Array, active: jax.Array | bool = True) -> StepSums:
  """Adds one step's ``loss`` and ``accuracy`` (inside compiled code) and notes the first non-finite step."""
  bad = jnp.logical_and(active, jnp.logical_and(sums.nonfinite_step < 0, ~jnp.isfinite(metrics["loss"])))
  return StepSums(sums.loss + jnp.where(active, metrics["loss"], 0.0),
                  sums.accuracy + jnp.where(active, metrics["accuracy"], 0.0),
                  jnp.where(bad, step, sums.nonfinite_step))


class Program(Protocol):
  """What an engine gives the loop."""

  engine: str            # "single", "vmapped" or "imagenet" (recorded in config.json and summary.json)
  num_runs: int          # K; each run has its own directory
  steps_per_epoch: int
  batch_size: int
  fit_metric: str        # the evaluation metric time to fit watches, e.g. "train_accuracy"

  def zero_sums(self) -> StepSums:
    """The step sums at zero, placed as :meth:`train` expects them."""
    ...

  def train(self, state: Any, sums: StepSums, first_step: int, num_steps: int, active: np.ndarray
            ) -> tuple[Any, StepSums]:
    """Steps ``first_step .. first_step + num_steps - 1``, dispatched without reading anything back."""

  def evaluate(self, state: Any) -> list[dict[str, float]]:
    """One dict of evaluation metrics per run; with ``config.track_examples``, each also holds
    ``examples``: the per-example arrays of the training set (``records.EXAMPLE_SERIES``)."""

  def learning_rate(self, step: int) -> float:
    """The schedule's learning rate at ``step`` (logged with each row)."""
    ...

  def predictions(self, state: Any) -> list[dict[str, np.ndarray]]:
    """Per run, every example's outputs on the whole training set and the test set
    (:func:`rethink_jax.train.prediction_arrays`); asked for at the end of subset-trained runs."""


@dataclasses.dataclass
class Run:
  """One run of a program: its directory, config and what its records say about it."""

  workdir: pathlib.Path
  config: Any              # ml_collections.ConfigDict
  record: dict             # config.json entries the engine knows (dataset, shapes, ...)
  corruption: dict         # the corruption record
  dataset: str             # data provenance, corruption included
  num_params: int
  examples: dict | None = None  # with config.track_examples: corrupted, labels, clean_labels ([n] each)
  subset: dict | None = None    # with subset.ratio < 1: mask, labels, clean_labels, test_labels


def begin(config, workdir, engine: str) -> tuple[pathlib.Path, dict | None]:
  """An engine's first step, before anything is loaded or written: checks ``config``
  (:func:`rethink_jax.validation.check`) and the run directory; returns the run
  directory and, if it already holds this run finished, its summary."""
  from rethink_jax import validation

  validation.check(config, engine)
  if not (workdir or config.workdir):
    raise validation.ConfigError("No run directory: pass workdir or set config.workdir.")
  workdir = pathlib.Path(workdir or config.workdir).expanduser()
  return workdir, already_finished(workdir, config)


def owned(*directories) -> contextlib.ExitStack:
  """Claims each directory for this process (:func:`rethink_jax.locking.claim`: created,
  checked writable, locked; process 0 of a multi-host run holds the locks) until the
  returned context exits. An engine enters it before its first write and leaves it after
  :func:`run` returns."""
  stack = contextlib.ExitStack()
  try:
    for d in directories:
      stack.enter_context(locking.claim(d, hold=jax.process_index() == 0))
  except BaseException:
    stack.close()
    raise
  return stack


def already_finished(workdir, config) -> dict | None:
  """The summary of a finished run of ``config`` in ``workdir`` (saying so), else ``None``."""
  summary = records.finished_summary(workdir, config)
  if summary is not None and jax.process_index() == 0:
    print(f"{workdir} is finished (step {summary['step']}); remove it or pass another --workdir to train again.",
          file=sys.stderr, flush=True)
  return summary


def _host(x) -> np.ndarray:
  return np.atleast_1d(np.asarray(jax.device_get(x)))


def run(program: Program, state: Any, runs: Sequence[Run], checkpoint_dir: str | pathlib.Path, *,
        label: str | None = None) -> list[dict]:
  """Trains ``program`` from its latest checkpoint (or ``state``) to the end; returns the summaries.

  ``runs[i].config`` must agree on everything but what the runs' identities let differ;
  the loop's settings (intervals, budget, fit) are read from ``runs[0].config``. The run
  directories must exist (the engine validated everything before creating them).
  """
  if len(runs) != program.num_runs:
    raise ValueError(f"{program.num_runs} runs in the program but {len(runs)} run records.")
  c = runs[0].config
  if schema.setting(c, "track_examples") and any(r.examples is None for r in runs):
    raise ValueError(f"config.track_examples is set but the {program.engine} engine gave no per-example record.")
  loop = _Loop(program, runs, checkpoint_dir, state, label)
  try:  # writers and the checkpoint manager are closed however the loop ends
    loop.open_records()
    loop.train()
    return loop.finish()
  except BaseException as e:
    loop.failed(e)
    raise
  finally:
    loop.close()


class _Loop:
  """The state of one :func:`run`: the program's train state and metric sums, the loop's
  bookkeeping (``meta``, saved in every checkpoint), and each run's records."""

  def __init__(self, program: Program, runs: Sequence[Run], checkpoint_dir, state: Any, label: str | None):
    self.program, self.runs, self.k = program, runs, len(runs)
    c = self.config = runs[0].config
    self.is_main = jax.process_index() == 0
    self.total = records.total_steps(c, program.steps_per_epoch)
    self.fit_threshold = schema.setting(c, "fit_threshold")
    self.stop_at_fit = schema.setting(c, "stop_at_fit")
    self.ckpt = checkpoint.Checkpoints(checkpoint_dir, records.identity_hash(*[r.config for r in runs]),
                                       keep=c.keep_checkpoints)
    self.logs, self.views, self.examples, self.segs = [], [], [], []
    self.state, self.sums = state, program.zero_sums()
    self.meta = {"train_seconds": 0.0, "time_to_fit": [None] * self.k, "active": [True] * self.k,
                 "steps_since_log": 0}
    self.step, self.resumed = 0, False
    restored = self.ckpt.restore(self.state, self.sums)
    if restored is not None:
      self.state, self.sums, saved, self.step = restored
      self.meta.update({key: saved[key] for key in self.meta})
      self.resumed = True
    self.label = label or (runs[0].workdir.name if self.k == 1 else f"{self.k} vmapped runs")
    self.progress = monitoring.Progress(label=self.label, total=self.total, initial=self.step,
                                        stop_at_fit=self.stop_at_fit, enabled=c.progress, is_main=self.is_main)
    if self.resumed:
      where = runs[0].workdir if self.k == 1 else self.ckpt.directory
      self.progress.message(f"Resuming from step {self.step} of {where}")
    self.last_log = {"seconds": self.meta["train_seconds"], "step": self.step}

  def open_records(self) -> None:
    """Segments, config.json, metrics, per-example records and live views of every run."""
    step, k, is_main = self.step, self.k, self.is_main
    keep = step if self.resumed else None
    if is_main:  # temporary files of a write that a kill cut short (the records themselves are whole)
      for r in self.runs:
        records.remove_stale_temp_files(r.workdir)
      for r in self.runs:  # first: on resume, checked against the saved subset before anything is rewritten
        if r.subset is not None:
          records.write_subset(r.workdir, r.subset["mask"], schema.setting(r.config, "subset.ratio"),
                               schema.setting(r.config, "subset.index"))
    # Before config.json is rewritten: a run from before segments were kept is known by its environment only.
    self.segs = [segments.RunSegments(r.workdir, step, self.meta["train_seconds"], write=is_main) for r in self.runs]
    notice = self.segs[0].code_change()
    if notice:
      self.progress.message(f"{self.label}: {notice}")
    identity = self.ckpt.identity
    for r in self.runs:
      if is_main:
        records.write_json(r.workdir / records.CONFIG, {
            "config": r.config.to_dict(), "identity": records.identity_hash(r.config), "engine": self.program.engine,
            "seed": r.config.seed, "num_params": r.num_params, "corruption": r.corruption, "dataset": r.dataset,
            "steps_per_epoch": self.program.steps_per_epoch, "vmapped_runs": k, **r.record,
            "environment": records.environment()})
        (r.workdir / records.SUMMARY).unlink(missing_ok=True)  # a run going on is not finished
      self.logs.append(records.MetricsLog(r.workdir / records.METRICS, keep, write=is_main))
      self.examples.append(records.ExamplesLog(r.workdir / records.EXAMPLES, r.examples, keep, write=is_main)
                           if r.examples is not None else None)
      self.views.append(_views(r, identity) if is_main else [])

  def _speed(self, step: int) -> float | None:
    """Images per second since the last row: through the whole program (K vmapped runs each train a batch)."""
    last, seconds = self.last_log, self.meta["train_seconds"]
    speed = None
    if step > last["step"] and seconds > last["seconds"]:
      speed = (step - last["step"]) * self.program.batch_size * self.k / (seconds - last["seconds"])
    last.update(seconds=seconds, step=step)
    return speed

  def _fitted(self, i: int, row: dict) -> None:
    meta = self.meta
    if meta["time_to_fit"][i] is None and row[self.program.fit_metric] >= self.fit_threshold:
      meta["time_to_fit"][i] = {"step": row["step"], "epoch": row["epoch"], "seconds": meta["train_seconds"]}
      if self.stop_at_fit:
        meta["active"][i] = False

  def log(self, step: int, sums: StepSums | None, n_steps: int, with_eval: bool) -> None:
    """One metrics row per active run (with an evaluation when ``with_eval``)."""
    program, meta, spe = self.program, self.meta, self.program.steps_per_epoch
    evals = program.evaluate(self.state) if with_eval else None
    speed = self._speed(step)
    base = {"step": step, "epoch": step / spe, "examples": step * program.batch_size,
            "lr": program.learning_rate(step), "train_seconds": meta["train_seconds"]}
    if speed is not None:
      base["images_per_second"] = speed
    if n_steps:
      loss, accuracy = _host(sums.loss), _host(sums.accuracy)
    shown = []
    for i in range(self.k):
      if not meta["active"][i]:
        continue  # a run that stopped at its fit writes nothing more, as it would alone
      row = dict(base)
      if n_steps:
        row.update(batch_loss=float(loss[i]) / n_steps, batch_accuracy=float(accuracy[i]) / n_steps)
      if evals is not None:
        per_example = evals[i].pop("examples", None)
        if self.examples[i] is not None:  # kept in memory; written before each checkpoint (see ExamplesLog)
          self.examples[i].append(step, step / spe, per_example)
        row.update(evals[i])
        self._fitted(i, row)
        shown.append(row)
      self.logs[i].append(row)
      for view in self.views[i]:
        view.write(row)
    if evals is not None:
      self.progress.evaluated(step, step / spe, shown, speed, sum(t is not None for t in meta["time_to_fit"]),
                              self.k)

  def _diverged(self, bad: np.ndarray) -> NonFiniteLossError:
    i = int(np.argmax(bad >= 0))
    kept = self.ckpt.latest_step()
    kept = (f"the last good checkpoint (step {kept}) in {self.ckpt.directory} is kept" if kept is not None else
            "no checkpoint had been written yet")
    return NonFiniteLossError(f"Training loss of {self.runs[i].workdir} became non-finite at step {int(bad[i])}; "
                              f"{kept}. Lower the learning rate.")

  def train(self) -> None:
    """From the restored step to the budget (or every run's fit), boundary by boundary."""
    c, meta, total = self.config, self.meta, self.total
    log_every, eval_every, ckpt_every = c.log_every_steps, c.eval_every_steps, c.checkpoint_every_steps
    if not self.resumed:
      self.log(0, None, 0, with_eval=c.eval_at_start)
    while self.step < total and any(meta["active"]):
      step = self.step
      nxt = min([total] + [(step // b + 1) * b for b in (log_every, eval_every, ckpt_every)])
      t0 = time.perf_counter()
      self.state, self.sums = self.program.train(self.state, self.sums, step, nxt - step, np.asarray(meta["active"]))
      bad = _host(self.sums.nonfinite_step)  # the one host sync per boundary
      meta["train_seconds"] += time.perf_counter() - t0
      if (bad >= 0).any():
        raise self._diverged(bad)
      meta["steps_since_log"] += nxt - step
      self.step = step = nxt
      self.progress.advance(step)
      with_eval = step % eval_every == 0 or step == total
      if with_eval or step % log_every == 0:
        self.log(step, self.sums, meta["steps_since_log"], with_eval)
        self.sums, meta["steps_since_log"] = self.program.zero_sums(), 0
      if step % ckpt_every == 0:
        self._save()

  def _save(self) -> None:
    _save(self.ckpt, self.step, self.state, self.sums, self.meta, self.examples, self.segs)

  def finish(self) -> list[dict]:
    """The last evaluation and checkpoint, then each run's summary."""
    step, meta, program = self.step, self.meta, self.program
    if any(meta["active"][i] and (program.fit_metric not in (self.logs[i].last or {}) or
                                  self.logs[i].last["step"] != step) for i in range(self.k)):
      self.log(step, self.sums, meta["steps_since_log"], with_eval=True)  # every run ends on an evaluation
    if self.ckpt.latest_step() != step:
      self._save()
    if any(r.subset is not None for r in self.runs):  # before the summaries: a finished run has its predictions
      outputs = program.predictions(self.state)
      for i, (r, out) in enumerate(zip(self.runs, outputs)):
        if self.is_main and r.subset is not None:
          records.write_predictions(r.workdir, self.logs[i].last["step"],
                                    {**out, **{k: v for k, v in r.subset.items() if k != "mask"}})
    for s in self.segs:
      s.ended("finished")
    summaries = []
    for i, r in enumerate(self.runs):
      evaluated = [row for row in self.logs[i].rows if program.fit_metric in row]
      summary = records.make_summary(
          engine=program.engine, step=self.logs[i].last["step"], steps_per_epoch=program.steps_per_epoch,
          train_seconds=self.segs[i].total_train_seconds, segments=self.segs[i].segments,
          time_to_fit=meta["time_to_fit"][i], fit_metric=program.fit_metric, fit_threshold=self.fit_threshold,
          num_params=r.num_params, model=r.config.model, corruption=r.corruption, dataset=r.dataset,
          vmapped_runs=self.k, evaluations=evaluated)
      if self.is_main:
        records.write_json(r.workdir / records.SUMMARY, summary)
      summaries.append(summary)
    return summaries

  def failed(self, e: BaseException) -> None:
    """Records how the run stopped; a full disk is one :class:`RunDirError` line."""
    full = _is_no_space(e)
    for s in self.segs:
      try:
        s.ended(f"error: {'no space left' if full else type(e).__name__}")
      except OSError:
        pass  # the disk that stopped the run may not take this record either
    if full and not isinstance(e, records.RunDirError):
      raise records.RunDirError(f"No space left on the device of {self.runs[0].workdir} (writing the run's records); "
                                f"checkpoint {self.ckpt.latest_step()} is kept. Free some space and run the same "
                                "command to resume.") from None

  def close(self) -> None:
    # While an error propagates (a full disk, say), closing must not replace it by its own.
    closing = [lambda: _flush(self.examples),  # the rows so far, also of a stopped run (a resume cuts them back)
               self.progress.close, self.ckpt.close, *(v.close for vs in self.views for v in vs)]
    failing = sys.exc_info()[0] is not None
    for close in closing:
      try:
        close()
      except Exception:
        if not failing:
          raise


def _save(ckpt, step: int, state, sums, meta: dict, examples: list, segs: list) -> None:
  """A checkpoint, with the per-example rows it covers written first and each run's segment advanced after.

  A disk without room for it is found before anything is written (the last checkpoint stays
  whole), and a write that fails for want of space anyway is one :class:`RunDirError` line."""
  need = sum(int(x.nbytes) for x in jax.tree.leaves((state, sums)) if hasattr(x, "nbytes")) + (1 << 20)
  free = shutil.disk_usage(ckpt.directory if ckpt.directory.exists() else ckpt.directory.parent).free
  if free < need:
    raise records.RunDirError(_no_space_message(ckpt, step, need, free))
  try:
    _flush(examples)
    ckpt.save(step, state, sums, meta)
    for s in segs:
      s.checkpointed(step, meta["train_seconds"])
  except Exception as e:
    if _is_no_space(e):
      raise records.RunDirError(_no_space_message(ckpt, step, need, None)) from None
    raise


def _no_space_message(ckpt, step: int, need: int, free: int | None) -> str:
  kept = ckpt.latest_step()
  kept = f"checkpoint {kept} is kept whole" if kept is not None else "no checkpoint was written yet"
  room = f"{free:,} bytes free" if free is not None else "it ran out of space while writing"
  return (f"No space for checkpoint {step} in {ckpt.directory}: {room}, it needs about {need:,} bytes; {kept}. "
          "Free some space and run the same command to resume.")


def _is_no_space(e: BaseException | None) -> bool:
  seen = set()
  while e is not None and id(e) not in seen:
    seen.add(id(e))
    if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in str(e):
      return True
    e = e.__cause__ or e.__context__
  return False


def _flush(examples: list) -> None:
  for log in examples:
    if log is not None:
      log.flush()


def _views(r: Run, identity: str) -> list:
  out = [monitoring.TensorBoard(r.workdir / records.TENSORBOARD)]
  wandb = r.config.wandb
  if wandb.project:
    out.append(monitoring.Wandb(wandb.project, r.workdir, r.config.to_dict(), identity, entity=wandb.entity))
  return out
