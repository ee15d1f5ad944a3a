"""Live views of a run: TensorBoard event files, Weights & Biases, progress at a terminal
or one log line per evaluation in a cluster log.

Only process 0 writes or prints; the training loop (:mod:`rethink_jax.loop`) feeds these
with the same rows it appends to ``metrics.jsonl``.

* TensorBoard: ``<run dir>/tensorboard/``, written with TensorBoard's own writer
  (``tensorboard.summary.Writer``), which needs no TensorFlow. After a resume the rows
  after the restored step are written again with the same steps; TensorBoard's reader
  drops the older copies (its purge of orphaned steps), so the curves show each step once.
  View with ``tensorboard --logdir runs/``.
* Weights & Biases: with ``config.wandb.project`` set and ``wandb`` installed (it is not a
  dependency), each run logs its rows to a W&B run of the same name; the run's W&B id is
  fixed by its directory and identity, so a resumed run continues the same W&B run.
* Progress: at a terminal, a tqdm bar whose total is the step budget (labelled as a
  budget when the run stops at fit); elsewhere, one line per evaluation on stderr:
  step, epoch, train/test accuracy, images/s, elapsed time.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys
import time
from typing import Any, Sequence

__all__ = ["TensorBoard", "Wandb", "Progress", "fraction", "scalar_tag", "wandb_available"]

_NOT_SCALARS = ("step", "epoch", "examples")


def fraction(x: float, digits: int = 4, scale: float = 1.0) -> str:
  """``x * scale`` with ``digits`` decimals, and more where needed so that short of 1 never reads
  as 1 (0.99998 gives ``0.99998``, not ``1.0000``: one of 50,000 examples wrong is not a fit).
  Within float32 rounding of 1 (a mean of ones summed in float32) counts as 1."""
  while x < 1 - 1e-6 and float(f"{scale * x:.{digits}f}") >= scale and digits < 8:
    digits += 1
  return f"{scale * x:.{digits}f}"


def scalar_tag(key: str) -> str:
  """Row key -> TensorBoard tag: ``train_loss`` -> ``train/loss``, ``batch_accuracy`` -> ``batch/accuracy``."""
  if key in ("images_per_second", "train_seconds"):  # timings, not train-split metrics
    return f"perf/{key}"
  split, _, name = key.partition("_")
  if split in ("train", "test", "batch") and name:
    return f"{split}/{name}"
  return key


class TensorBoard:
  """Scalars of one run as TensorBoard event files in ``logdir``."""

  def __init__(self, logdir: str | pathlib.Path):
    from tensorboard import summary as tb_summary

    logdir = pathlib.Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    self._writer = tb_summary.Writer(tb_summary.DirectoryOutput(str(logdir)))

  def write(self, row: dict) -> None:
    """Adds every numeric entry of a metrics row as a scalar at the row's step, then flushes."""
    for key, value in row.items():
      if key not in _NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool):
        self._writer.add_scalar(scalar_tag(key), float(value), int(row["step"]))
    self._writer.flush()

  def close(self) -> None:
    """Closes the event file."""
    self._writer.close()


def _wandb_module():
  try:
    import wandb
  except ImportError:
    return None
  return wandb


class Wandb:
  """One Weights & Biases run per run directory (``config.wandb.project`` names the project)."""

  def __init__(self, project: str, workdir: pathlib.Path, config: dict, identity: str, entity: str = ""):
    wandb = _wandb_module()
    if wandb is None:
      raise ImportError("config.wandb.project is set but the wandb package is not installed: pip install wandb.")
    run_id = hashlib.sha256(f"{pathlib.Path(workdir).absolute()}|{identity}".encode()).hexdigest()[:16]
    self._run = wandb.init(project=project, entity=entity or None, name=pathlib.Path(workdir).name, id=run_id,
                           dir=str(workdir), config=config, resume="allow", reinit=True)

  def write(self, row: dict) -> None:
    """Logs every numeric entry of a metrics row at the row's step."""
    values = {scalar_tag(k): v for k, v in row.items() if k != "step" and isinstance(v, (int, float))}
    self._run.log(values, step=int(row["step"]))

  def close(self) -> None:
    """Finishes the W&B run."""
    self._run.finish()


def wandb_available() -> bool:
  """Whether ``wandb`` can be imported (the optional Weights & Biases logger)."""
  return _wandb_module() is not None


class Progress:
  """A tqdm bar at a terminal, else one line per evaluation on stderr (process 0 only)."""

  def __init__(self, *, label: str, total: int, initial: int, stop_at_fit: bool, enabled: bool, is_main: bool):
    self.label, self.total = label, total
    self.enabled = enabled and is_main
    self.is_main = is_main
    self.tty = sys.stderr.isatty()
    self.start = time.perf_counter()
    self._bar = None
    if self.enabled and self.tty:
      from tqdm.auto import tqdm

      desc = f"{label} (budget; stops at fit)" if stop_at_fit else label
      self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, desc=desc)

  def message(self, text: str) -> None:
    """A line for the user (resume, finished), whatever the progress setting."""
    if not self.is_main:
      return
    if self._bar is not None:
      self._bar.write(text, file=sys.stderr)
    else:
      print(text, file=sys.stderr, flush=True)

  def advance(self, step: int) -> None:
    """Moves the bar to ``step`` (no-op without a terminal)."""
    if self._bar is not None:
      self._bar.update(step - self._bar.n)

  def evaluated(self, step: int, epoch: float, rows: Sequence[dict[str, Any]], images_per_second: float | None,
                fitted: int, num_runs: int) -> None:
    """Reports an evaluation: ``rows`` are the evaluated rows of the runs still training."""
    if not self.enabled or not rows:
      return
    keys = [k for k in rows[0] if k.startswith(("train_", "test_")) and ("accuracy" in k or "top" in k)]

    def show(key):
      values = [r[key] for r in rows if key in r]
      lo, hi = min(values), max(values)
      return fraction(lo) if len(values) == 1 else f"{fraction(lo)}-{fraction(hi)}"

    if self._bar is not None:
      self._bar.set_postfix({k: show(k) for k in keys})
      return
    parts = [f"{self.label}: step {step}/{self.total}", f"epoch {epoch:.1f}"] + [f"{k} {show(k)}" for k in keys]
    if num_runs > 1:
      parts.append(f"fitted {fitted}/{num_runs}")
    if images_per_second:
      parts.append(f"{images_per_second:,.0f} img/s")
    parts.append(f"elapsed {time.perf_counter() - self.start:.1f} s")
    print(" | ".join(parts), file=sys.stderr, flush=True)

  def close(self) -> None:
    """Closes the bar, if any."""
    if self._bar is not None:
      self._bar.close()
