"""Process segments: which process trained which steps of a run, where and with what code.

A long run (hours on a CPU, or on a preemptible accelerator) is trained by several
processes, one after another: each resumes the last checkpoint of the one before. The
run's ``segments.json`` keeps one entry per process, so the record says how the run was
made, and never hides a resume under other code:

* ``first_step``: the step it resumed from (0 for the first process);
* ``last_step``: the last step it checkpointed (work after that was lost with the process
  and trained again by the next one);
* ``train_seconds``: training time it contributed up to ``last_step``; the summary's
  ``train_seconds`` is their sum, so the hours a machine was off (or the steps a killed
  process trained in vain) are never counted;
* ``wall_seconds``, ``started``, ``updated``: wall-clock time from its start to its last
  record (evaluation and checkpointing included);
* ``peak_rss_gb``: the process's peak resident memory at its last record
  (:func:`rethink_jax.records.peak_rss_gb`; host memory, not an accelerator's);
* ``host``, ``pid``, ``git`` (the package's commit, ``+dirty`` when edited), ``jax``,
  ``backend``, ``device_kinds``, ``device_count``, ``process_count``;
* ``command``: the command line that started the process (``sys.argv``, as a shell would
  quote it), so a table can say how its rows were made;
* ``end``: ``"finished"``, ``"error: <type>"``, or ``null`` while it runs (a process
  killed by a signal or a power cut keeps ``null``; the next one says so in ``end`` of the
  earlier entry: ``"killed"``).

The next process corrects the previous entry from the checkpoint it resumes (a kill
between a checkpoint and the segment's own update loses nothing), and warns when its code
differs from the previous segment's. A run directory written before segments were kept
gets a first entry reconstructed from its ``config.json`` (``"reconstructed": true``, ``end``
``"unknown"``).
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shlex
import socket
import sys
import time
from typing import Any

from rethink_jax import records

__all__ = ["SEGMENTS", "RunSegments", "read_segments", "describe"]

SEGMENTS = records.SEGMENTS


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_segments(workdir) -> list[dict]:
  """The segments of the run in ``workdir`` (``[]`` if it has none); a corrupt file raises
  :class:`rethink_jax.records.RecordError` naming it."""
  path = pathlib.Path(workdir).expanduser() / SEGMENTS
  if not path.exists():
    return []
  saved = records.read_json(path)
  if not isinstance(saved, dict) or not isinstance(saved.get("segments"), list):
    raise records.RecordError(f"{path} is not a segments record (a JSON object with a 'segments' list).")
  return saved["segments"]


def _this_process() -> dict[str, Any]:
  env = records.environment()
  return {"host": socket.gethostname(), "pid": os.getpid(), "git": env["git"],
          "command": _command_line(),
          "jax": env["versions"].get("jax"), "backend": env["backend"], "device_kinds": env["device_kinds"],
          "device_count": env["device_count"], "process_count": env["process_count"]}


def _command_line() -> str | None:
  """``sys.argv`` as a shell would take it; ``python -m rethink_jax`` for the package's main."""
  if not sys.argv or not sys.argv[0]:
    return None
  argv = list(sys.argv)
  if pathlib.Path(argv[0]).parts[-2:] == ("rethink_jax", "__main__.py"):
    argv[0:1] = ["python", "-m", "rethink_jax"]
  return " ".join(shlex.quote(a) for a in argv)


class RunSegments:
  """``segments.json`` of one run, kept by the process training it (process 0 only writes).

  Open it after the checkpoint is restored and **before** ``config.json`` is rewritten
  (``config.json``'s ``environment`` is the only trace that a run directory from before
  segments were kept has of its first process).
  """

  def __init__(self, workdir, first_step: int, train_seconds: float, *, write: bool = True):
    self.path = pathlib.Path(workdir) / SEGMENTS
    self.write = write
    self._t0 = time.monotonic()
    self._seconds_before = float(train_seconds)
    saved = read_segments(workdir) if first_step > 0 else []
    if first_step > 0 and not saved:
      saved = [self._reconstructed(workdir, first_step, train_seconds)]
    if saved:
      self._close_previous(saved, first_step, train_seconds)
    self.segments = saved
    self.current = {"first_step": int(first_step), "last_step": int(first_step), "train_seconds": 0.0,
                    "wall_seconds": 0.0, "started": _now(), "updated": _now(), **_this_process(), "end": None}
    self.segments.append(self.current)
    self._save()

  @staticmethod
  def _reconstructed(workdir, first_step: int, train_seconds: float) -> dict:
    env = {}
    cfg = pathlib.Path(workdir) / records.CONFIG
    if cfg.exists():
      env = (records.read_json(cfg) or {}).get("environment") or {}
    return {"first_step": 0, "last_step": int(first_step), "train_seconds": float(train_seconds),
            "wall_seconds": None, "started": None, "updated": None, "host": None, "pid": None, "command": None,
            "git": env.get("git"), "jax": (env.get("versions") or {}).get("jax"), "backend": env.get("backend"),
            "device_kinds": env.get("device_kinds"), "device_count": env.get("device_count"),
            "process_count": env.get("process_count"), "end": "unknown", "reconstructed": True}

  @staticmethod
  def _close_previous(saved: list[dict], first_step: int, train_seconds: float) -> None:
    """The checkpoint this process resumes was the previous process's last: its entry ends there."""
    prev = saved[-1]
    before = sum(s["train_seconds"] for s in saved[:-1])
    if prev.get("last_step") != first_step:
      prev["last_step"] = int(first_step)
      prev["train_seconds"] = max(0.0, float(train_seconds) - before)
    if prev.get("end") is None:
      prev["end"] = "killed"

  def checkpointed(self, step: int, train_seconds: float) -> None:
    """Records that this process's work up to ``step`` is saved (call right after a checkpoint)."""
    self.current.update(last_step=int(step), train_seconds=float(train_seconds) - self._seconds_before)
    self._touch()

  def ended(self, how: str) -> None:
    """``how``: ``"finished"`` or ``"error: <type>"``; the entry keeps its last checkpointed step."""
    self.current["end"] = how
    self._touch()

  @property
  def total_train_seconds(self) -> float:
    return sum(s["train_seconds"] for s in self.segments)

  def code_change(self) -> str | None:
    """A one-line notice when this process runs other code than the previous segment, else ``None``."""
    if len(self.segments) < 2 or self.segments[-2].get("git") == self.current["git"]:
      return None
    return (f"resuming at step {self.current['first_step']} under git {self.current['git']}; the previous segment "
            f"ran git {self.segments[-2].get('git')} (both are kept in {self.path})")

  def _touch(self) -> None:
    self.current.update(updated=_now(), wall_seconds=round(time.monotonic() - self._t0, 3),
                        peak_rss_gb=round(records.peak_rss_gb(), 3))
    self._save()

  def _save(self) -> None:
    if self.write:
      records.write_json(self.path, {"segments": self.segments})


def describe(segments: list[dict]) -> str:
  """One line per segment, for logs and reports."""
  lines = []
  for i, s in enumerate(segments):
    wall = "?" if s.get("wall_seconds") is None else f"{s['wall_seconds'] / 60:.1f} min wall"
    if s.get("peak_rss_gb") is not None:
      wall += f", peak RSS {s['peak_rss_gb']:.2f} GB"
    lines.append(f"segment {i}: steps {s['first_step']}-{s['last_step']}, {s['train_seconds'] / 60:.1f} min "
                 f"training, {wall}, host {s.get('host') or '?'}, git {s.get('git') or '?'}, "
                 f"{s.get('end') or 'running'}" + (" (reconstructed)" if s.get("reconstructed") else ""))
  return "\n".join(lines)

