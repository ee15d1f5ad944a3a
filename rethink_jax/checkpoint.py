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

import os
import pathlib
from typing import Any

from rethink_jax import records

__all__ = ["Checkpoints"]


class Checkpoints:
  """The checkpoints in ``directory`` of the run(s) whose identity hash is ``identity``."""

  def __init__(self, directory: str | os.PathLike, identity: str, *, keep: int = 2):
    import orbax.checkpoint as ocp

    self.directory = pathlib.Path(directory).absolute()
    self.identity = identity
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
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
    out = self._manager.restore(step, args=args.Composite(state=args.StandardRestore(state),
                                                          sums=args.StandardRestore(sums),
                                                          meta=args.JsonRestore()))
    return out["state"], out["sums"], dict(out["meta"]), step

  def restore_state(self, state: Any, step: int | None = None) -> Any:
    """Only the train state of checkpoint ``step`` (default: the latest), for analysis."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"No checkpoint in {self.directory}.")
    args = self._ocp.args
    return self._manager.restore(step, args=args.Composite(state=args.StandardRestore(state)))["state"]

  def save(self, step: int, state: Any, sums: Any, meta: dict) -> None:
    """Saves the train state, the step sums since the last log and ``meta`` (with this run's
    identity) as checkpoint ``step``; orbax finalises it atomically."""
    args = self._ocp.args
    self._manager.save(step, args=args.Composite(state=args.StandardSave(state), sums=args.StandardSave(sums),
                                                 meta=args.JsonSave({**meta, "identity": self.identity})),
                       force=True)

  def close(self) -> None:
    """Waits for a save in flight to finish, then releases the manager."""
    self._manager.wait_until_finished()
    self._manager.close()
