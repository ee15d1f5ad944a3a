"""One process owns a run directory while it trains.

Two processes writing one run directory would interleave their ``metrics.jsonl`` rows and
race each other's checkpoints. An engine therefore *claims* each directory it writes (run
directories, a vmapped group's checkpoint directory, a sweep directory) with the
operating system's advisory lock (``flock``) on a ``.owner`` file inside it, before it
writes anything else there, and holds it until it returns. The kernel releases the lock
when the process ends in any way, ``kill -9`` and power cuts included, so a stale lock
never blocks the next run. A second process refuses at once with
:class:`RunDirLockedError`, one line naming the directory and the holder (host, pid,
since when): the command-line scripts print it and exit with status 2.

``flock`` locks are shared by every process of one machine and, on most network file
systems (NFS v4, Lustre, GPFS), across machines; on file systems that do not support it
the claim fails with a clear error rather than going on unprotected.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import pathlib
import socket

from rethink_jax import records

__all__ = ["OWNER_FILE", "RunDirLockedError", "Claim", "claim"]

OWNER_FILE = ".owner"


class RunDirLockedError(records.RunDirError):
  """Another live process holds the run directory."""


class Claim:
  """The lock on one directory; release it with :meth:`release` or by leaving a ``with`` block."""

  def __init__(self, directory: pathlib.Path, fd: int | None):
    self.directory, self._fd = directory, fd

  @property
  def held(self) -> bool:
    return self._fd is not None

  def release(self) -> None:
    """Gives the directory up (idempotent); the lock file stays."""
    if self._fd is not None:
      os.close(self._fd)  # closing the descriptor drops the flock; the file stays for the next owner
      self._fd = None

  def __enter__(self) -> "Claim":
    return self

  def __exit__(self, *exc) -> None:
    self.release()

  def __del__(self):
    self.release()


def _holder(path: pathlib.Path) -> str:
  try:
    info = json.loads(path.read_text() or "{}")
  except (OSError, ValueError):
    info = {}
  if not info:
    return "another process (it has not yet written who it is)"
  return f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('since', '?')}"


def claim(directory, *, hold: bool = True) -> Claim:
  """Creates ``directory`` if needed, checks a file can be written there
  (:func:`rethink_jax.records.check_writable`) and takes its lock.

  ``hold=False`` (processes other than 0 of a multi-host run, which write nothing there)
  only creates it. Raises :class:`RunDirLockedError` if another process holds it and
  :class:`rethink_jax.records.RunDirError` if it cannot be written or locked.
  """
  import fcntl

  if not hold:  # writes nothing there: no probe that process 0's start-up could sweep away as a stale temp file
    directory = pathlib.Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return Claim(directory, None)
  directory = records.check_writable(directory)
  path = directory / OWNER_FILE
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    os.close(fd)
    if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
      raise RunDirLockedError(f"{directory} is in use by {_holder(path)}; wait for it to end, or pass another "
                              "--workdir.") from None
    raise records.RunDirError(f"Cannot lock {path} ({e.strerror or e}); this file system does not support "
                              "flock, choose another --workdir.") from None
  since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
  os.ftruncate(fd, 0)
  os.pwrite(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": since}).encode(), 0)
  return Claim(directory, fd)
