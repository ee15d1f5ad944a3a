"""Checkpoints of a run (or of a vmapped group of runs), stamped with the run's identity.

One orbax ``CheckpointManager`` per checkpoint directory. Each checkpoint holds three
items: ``state`` (the train state: step, parameters, BatchNorm statistics, optimizer
state), ``sums`` (the on-device metric sums since the last log row, so that the first row
after a resume averages the same steps as an uninterrupted run's) and ``meta`` (JSON:
training time, time to fit, which runs are still training, and ``identity``, the
:func:`rethink_jax.records.identity_hash` of the config(s) that wrote it).

A checkpoint is restored only under the identity that wrote it: one copied into another
run's directory, or left by a run with another learning rate, raises
:class:`rethink_jax.records.ConfigMismatchError` instead of resuming silently.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from rethink_jax import records
from rethink_jax.preprocess import check_int

__all__ = ["Checkpoints"]


class Checkpoints:
  """The checkpoints in ``directory`` of the run(s) whose identity hash is ``identity``; the
  newest ``keep`` are kept (``None``: all)."""

  def __init__(self, directory: str | os.PathLike, identity: str, *, keep: int | None = 2):
    import orbax.checkpoint as ocp

    if not isinstance(directory, (str, os.PathLike)):
      raise TypeError(f"Checkpoints: directory must be a path, got {type(directory).__name__}.")
    if not isinstance(identity, str) or not identity:  # None would match any checkpoint written without one
      raise TypeError(f"Checkpoints: identity must be the run's identity hash (a non-empty str), got {identity!r}.")
    if keep is not None:  # 0: orbax would delete every checkpoint as soon as it is written
      keep = check_int(keep, "Checkpoints", "keep (checkpoints kept; None: all)")
    if pathlib.Path(directory).exists() and not pathlib.Path(directory).is_dir():
      raise NotADirectoryError(f"Checkpoints: {directory} is a file, not a checkpoint directory.")
    self.directory = pathlib.Path(directory).absolute()
    self.identity = identity
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           enable_async_checkpointing=False)
    self._ocp = ocp
    self._manager = ocp.CheckpointManager(self.directory, options=options)
    self.check_identity()

  def latest_step(self) -> int | None:
    """The step of the newest complete checkpoint, or None if there is none."""
    return self._manager.latest_step()

  def check_identity(self) -> None:
    """Raises ``ConfigMismatchError`` if the latest checkpoint belongs to another identity."""
    step = self.latest_step()
    if step is None:
      return
    try:
      meta = self._manager.restore(step, args=self._ocp.args.Composite(meta=self._ocp.args.JsonRestore()))["meta"]
    except Exception as e:  # orbax raises several types for a missing or corrupt item
      raise records.ConfigMismatchError(f"Checkpoint {step} in {self.directory} has no readable metadata "
                                        f"({type(e).__name__}); refusing to resume it.") from e
    saved = (meta or {}).get("identity")
    if saved != self.identity:
      raise records.ConfigMismatchError(
          f"Checkpoint {step} in {self.directory} was written by another run (identity {saved}, this run is "
          f"{self.identity}); refusing to resume it. Remove it or use another --workdir.")

  def restore(self, state: Any, sums: Any) -> tuple[Any, Any, dict, int] | None:
    """``(state, sums, meta, step)`` of the latest checkpoint, laid out like the templates; ``None`` if none."""
    step = self.latest_step()
    if step is None:
      return None
    args = self._ocp.args
    out = self._restore(step, "restore", state=args.StandardRestore(state), sums=args.StandardRestore(sums),
                        meta=args.JsonRestore())
    return out["state"], out["sums"], dict(out["meta"]), step

  def _restore(self, step: int, fn: str, **items) -> Any:
    """The ``items`` of checkpoint ``step``; what orbax raises for a corrupt checkpoint, one without an
    item, or a template of another shape becomes one :class:`~rethink_jax.records.RecordError`."""
    try:
      return self._manager.restore(step, args=self._ocp.args.Composite(**items))
    except (ValueError, KeyError, OSError) as e:
      detail = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else ""  # orbax's first sentence
      raise records.RecordError(
          f"Checkpoints.{fn}: checkpoint {step} in {self.directory} could not be restored ({type(e).__name__}: "
          f"{detail}); it is corrupt, or the template (model, optimizer) differs from the one that wrote "
          "it.") from e

  def restore_state(self, state: Any, step: int | None = None) -> Any:
    """Only the train state of checkpoint ``step`` (default: the latest), for analysis."""
    if step is not None:
      step = check_int(step, "Checkpoints.restore_state", "step", 0)
      if step not in self._manager.all_steps():
        raise FileNotFoundError(f"Checkpoints.restore_state: there is no checkpoint {step} in {self.directory} "
                                f"(it holds {sorted(self._manager.all_steps()) or 'none'}).")
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"No checkpoint in {self.directory}.")
    return self._restore(step, "restore_state", state=self._ocp.args.StandardRestore(state))["state"]

  def save(self, step: int, state: Any, sums: Any, meta: dict) -> None:
    """Saves the train state, the step sums since the last log and ``meta`` (with this run's
    identity) as checkpoint ``step``; orbax finalises it atomically."""
    step = check_int(step, "Checkpoints.save", "step", 0)
    if not isinstance(meta, dict):
      raise TypeError(f"Checkpoints.save: meta must be a dict, got {type(meta).__name__}.")
    try:  # before anything is written: orbax would fail in its writer thread, after the arrays
      json.dumps(meta)
    except (TypeError, ValueError) as e:
      raise TypeError(f"Checkpoints.save: meta must be JSON-serializable (Python numbers, strings, lists, "
                      f"dicts): {e}.") from None
    args = self._ocp.args
    self._manager.save(step, args=args.Composite(state=args.StandardSave(state), sums=args.StandardSave(sums),
                                                 meta=args.JsonSave({**meta, "identity": self.identity})),
                       force=True)

  def close(self) -> None:
    """Waits for a save in flight to finish, then releases the manager."""
    self._manager.wait_until_finished()
    self._manager.close()

