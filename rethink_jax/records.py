"""Run directories: ``config.json``, ``metrics.jsonl``, ``summary.json``, all written atomically.

A run directory is the single source of truth for a run: tables and figures are rebuilt
from it, never copied by hand. Every file is written to a temporary name in the same
directory and renamed into place, so a killed run never leaves half a file.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import tempfile
from typing import Any, Iterable

__all__ = ["RunDirError", "atomic_write_text", "write_json", "read_json", "write_jsonl", "read_jsonl",
           "check_writable", "environment"]

CONFIG, METRICS, SUMMARY, CHECKPOINTS = "config.json", "metrics.jsonl", "summary.json", "checkpoints"


class RunDirError(OSError):
  """The run directory cannot be written, or holds a run with another config."""


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


def write_json(path, obj: Any) -> None:
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path) -> Any:
  with open(path) as f:
    return json.load(f)


def write_jsonl(path, rows: Iterable[dict]) -> None:
  atomic_write_text(path, "".join(json.dumps(r, sort_keys=True, default=_jsonable) + "\n" for r in rows))


def read_jsonl(path) -> list[dict]:
  path = pathlib.Path(path)
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _jsonable(x):
  if hasattr(x, "tolist"):
    return x.tolist()
  if isinstance(x, (set, tuple)):
    return list(x)
  return str(x)


def check_writable(workdir: str | os.PathLike) -> pathlib.Path:
  """Creates ``workdir`` and proves a file can be written there, before any training."""
  path = pathlib.Path(workdir).expanduser()
  try:
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / ".write_probe", "ok\n" * 1024)
    (path / ".write_probe").unlink()
  except OSError as e:
    raise RunDirError(f"Run directory {path} is not writable ({e.strerror or e}); choose another "
                      "--workdir or free some space.") from e
  return path


def git_hash() -> str | None:
  here = pathlib.Path(__file__).resolve().parent
  try:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=5).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return (out.stdout.strip() + ("+dirty" if dirty else "")) if out.returncode == 0 else None


def environment() -> dict[str, Any]:
  """Versions, devices and git hash: what a reader needs to reproduce a run."""
  import importlib.metadata as md
  import platform

  import jax

  versions = {}
  for pkg in ("rethink-jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy"):
    try:
      versions[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
      pass
  return {
      "versions": versions,
      "python": platform.python_version(),
      "backend": jax.default_backend(),
      "device_kinds": sorted({d.device_kind for d in jax.devices()}),
      "device_count": jax.device_count(),
      "process_count": jax.process_count(),
      "git": git_hash(),
  }


RESULTS = "results.json"


def write_results(workdir, config, dataset: str, **fields) -> pathlib.Path:
  """``results.json`` of a script that is not a training run (min-norm, Theorem 1): its
  config, data provenance and environment beside its own fields."""
  path = pathlib.Path(workdir) / RESULTS
  write_json(path, {"config": config.to_dict(), "dataset": dataset, **fields, "environment": environment()})
  return path


def peak_rss_gb() -> float:
  """Peak resident memory of this process so far, in GB (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

