"""The run directory: what a run is, what it wrote, and how to read it back.

A run directory is the single source of truth for a run; tables and figures are rebuilt
from it, never copied by hand. Every engine (single runs, vmapped runs, ImageNet) writes
the same files:

* ``config.json``: ``{"config", "identity", "seed", "num_params", "input_shape",
  "num_classes", "dataset", "num_train", "num_test", "steps_per_epoch", "corruption",
  "mesh", "engine", "environment", ...}``;
* ``metrics.jsonl``: one JSON row per log step, **appended** as training goes (on resume
  it is cut back to the restored step, so it always equals an uninterrupted run's);
* ``summary.json``: :data:`SUMMARY_FIELDS` plus the last evaluation's metrics;
* ``examples.npz`` (with ``config.track_examples``): per-example records of every
  evaluation of the training set (:class:`ExamplesLog`, :mod:`rethink_jax.dynamics`);
* ``checkpoints/``: orbax checkpoints (:mod:`rethink_jax.checkpoint`);
* ``tensorboard/``: TensorBoard event files (:mod:`rethink_jax.monitoring`).

**A run's identity** is its config without :data:`HOW_KEYS`: the entries that change
only how long a run goes, how often it logs, evaluates or checkpoints, where it writes or
how a convolution is computed. Two configs with the same identity compute the same
thing step for step, so one may resume the other's checkpoint; a longer ``num_epochs``
continues a finished run. :func:`identity_hash` names the identity in checkpoints, default
run directories and vmapped groups.

This module reads and writes files only: reading records for a report never imports the
training engine. Every file is written to a temporary name and renamed into place, so a
killed run never leaves half a file (``metrics.jsonl`` is appended line by line; a torn
last line is dropped on resume).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import resource
import subprocess
import tempfile
from typing import Any, Callable, Iterable, Sequence

from rethink_jax.configs import schema

__all__ = ["RunDirError", "RecordError", "ConfigMismatchError", "CONFIG", "METRICS", "SUMMARY", "CHECKPOINTS",
           "TENSORBOARD", "SWEEP", "SEGMENTS", "EXAMPLES", "COMPACT_SERIES", "HOW_KEYS", "NEUTRAL_DEFAULTS", "TIMING_KEYS",
           "SUMMARY_FIELDS",
           "cpu_name", "atomic_write", "atomic_write_text", "remove_stale_temp_files", "write_json", "read_json", "write_jsonl", "read_jsonl",
           "MetricsLog", "ExamplesLog", "read_examples", "SUBSET", "PREDICTIONS", "SCORES", "PREDICTION_ARRAYS", "write_subset",
           "read_subset", "write_predictions", "read_predictions", "read_npz", "compact_examples", "EXAMPLE_SERIES", "EXAMPLE_STATIC",
           "identity", "identity_hash", "identity_diff", "check_run_dir", "total_steps", "finished_summary", "read_summary",
           "make_summary", "write_sweep", "read_sweep", "check_writable", "environment", "git_hash", "write_results",
           "RESULTS", "RESULT_SCRIPTS", "RECORD_FILES", "copy_records",
           "peak_rss_gb"]

CONFIG, METRICS, SUMMARY, CHECKPOINTS, TENSORBOARD = (
    "config.json", "metrics.jsonl", "summary.json", "checkpoints", "tensorboard")
SWEEP = "sweep.json"
SEGMENTS = "segments.json"  # the processes that trained a run (rethink_jax.segments)

# Config entries that do not change what a run computes, and entries left out of the identity at
# their neutral default (added after runs were recorded without them): declared with each key
# in rethink_jax.configs.schema. "wandb" is the whole W&B subtree, as older records have it.
HOW_KEYS = schema.HOW_KEYS + ("wandb",)
NEUTRAL_DEFAULTS = schema.NEUTRAL_DEFAULTS

# Row and summary entries that are measurements of time, not results.
TIMING_KEYS = ("train_seconds", "images_per_second")

# summary.json, the same for every engine; the last evaluation's metrics (``train_accuracy``,
# ``test_accuracy``, ... or ImageNet's ``train_top1``, ``test_top1``, ``test_top5``) and
# ``best_<test metric>`` follow them.
SUMMARY_FIELDS = {
    "engine": "which engine trained it: 'single', 'vmapped' or 'imagenet'",
    "step": "the last step trained",
    "epoch": "step / steps_per_epoch",
    "train_seconds": "seconds spent in training steps (evaluation and I/O excluded)",
    "time_to_fit": "{step, epoch, seconds} of the first evaluation with fit_metric >= fit_threshold, or null",
    "fit_metric": "the evaluation metric time_to_fit watches",
    "fit_threshold": "the threshold it is held against",
    "num_params": "trainable parameters",
    "model": "config.model",
    "corruption": "the corruption record: {kind, p, key_data, fraction_changed, splits}",
    "dataset": "provenance of the data, corruption included",
    "vmapped_runs": "how many runs shared one compiled program (1 when trained alone)",
    "segments": "how many processes trained it, one after another (segments.json has each one)",
    "git": "the distinct commits of the code that trained it, in order (more than one: resumed under other code)",
}



class RunDirError(OSError):
  """The run directory cannot be written, or holds a run with another config."""


class ConfigMismatchError(RunDirError):
  """A run directory (or its checkpoints) holds a run with another configuration."""


class RecordError(ValueError):
  """A record file is missing, corrupt or of another kind; the message names the file."""


# ----------------------------------------------------------------------------- files

def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = False) -> None:
  """Calls ``write(file)`` on a temporary file beside ``path``, syncs it, renames it into
  place and syncs the directory: a reader sees the old file or the whole new one, never a
  part, and the rename survives a power cut. The file gets the permissions any new file
  gets (0644 under the usual umask 022), not the temporary file's 0600."""
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
  try:
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, "wb" if binary else "w") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


TMP_SUFFIX = ".tmp"


def _fsync_dir(directory: pathlib.Path) -> None:
  try:
    fd = os.open(directory, os.O_RDONLY)
  except OSError:  # a platform without directory descriptors
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


def remove_stale_temp_files(directory) -> list[pathlib.Path]:
  """Removes the temporary files (``.<name>.<random>.tmp``) that a write killed midway left in
  ``directory``; the run that owns the directory calls it when it starts."""
  removed = []
  for p in pathlib.Path(directory).glob(f".*{TMP_SUFFIX}"):
    if p.is_file():
      p.unlink(missing_ok=True)
      removed.append(p)
  return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
  """Writes ``text`` to ``path`` atomically (:func:`atomic_write`): a reader sees the old file or the new one."""
  atomic_write(path, lambda f: f.write(text))


def _dumps(obj: Any, **kw) -> str:
  return json.dumps(obj, sort_keys=True, default=_jsonable, allow_nan=True, **kw)


def write_json(path, obj: Any) -> None:
  """Writes ``obj`` as indented JSON with sorted keys, atomically (NaN and arrays allowed)."""
  atomic_write_text(path, _dumps(obj, indent=2) + "\n")


def read_json(path) -> Any:
  """Reads a JSON record; a missing or corrupt file raises :class:`RecordError` naming it."""
  path = pathlib.Path(path)
  try:
    with open(path) as f:
      return json.load(f)
  except (FileNotFoundError, NotADirectoryError):  # NotADirectoryError: a file given where a directory goes
    raise RecordError(f"{path} does not exist.") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise RecordError(f"{path} is not valid JSON ({e}); the file is corrupt or truncated.") from None


def write_jsonl(path, rows: Iterable[dict]) -> None:
  """Writes ``rows`` as JSON lines, one dict per line, atomically (the whole file at once)."""
  atomic_write_text(path, "".join(_dumps(r) + "\n" for r in rows))


def read_jsonl(path, *, drop_torn_tail: bool = False) -> list[dict]:
  """The rows of a JSON-lines file (``[]`` if it does not exist).

  A corrupt line raises :class:`RecordError` naming the file and line, except a last line
  without its newline when ``drop_torn_tail`` (a write cut short by a kill).
  """
  path = pathlib.Path(path)
  if not path.exists():
    return []
  try:
    text = path.read_text()
  except UnicodeDecodeError as e:
    raise RecordError(f"{path} is not text ({e}); the file is corrupt.") from None
  lines = text.split("\n")
  rows = []
  for i, line in enumerate(lines):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      if drop_torn_tail and i == len(lines) - 1:
        break
      raise RecordError(f"{path}, line {i + 1}, is not valid JSON ({e}); the file is corrupt.") from None
    if not isinstance(row, dict) or "step" not in row:
      raise RecordError(f"{path}, line {i + 1}, is not a metrics row (a JSON object with a 'step').")
    rows.append(row)
  return rows


def _jsonable(x):
  if hasattr(x, "tolist"):
    return x.tolist()
  if isinstance(x, (set, tuple)):
    return list(x)
  return str(x)


class MetricsLog:
  """``metrics.jsonl`` of one run: cut back to ``keep_until`` once, then appended row by row.

  ``keep_until`` is the restored checkpoint's step (rows after it were computed by the
  killed process and will be computed again); ``None`` starts an empty file. With
  ``write=False`` (processes other than 0) rows are kept in memory only.
  """

  def __init__(self, path: str | os.PathLike, keep_until: int | None, *, write: bool = True):
    self.path = pathlib.Path(path)
    self.write = write
    old = read_jsonl(self.path, drop_torn_tail=True) if keep_until is not None else []
    self.rows = [r for r in old if r["step"] <= keep_until] if keep_until is not None else []
    if write:
      write_jsonl(self.path, self.rows)

  def append(self, row: dict) -> None:
    """Keeps ``row`` and, when writing, appends it to the file as one line."""
    self.rows.append(row)
    if self.write:
      with open(self.path, "a") as f:
        f.write(_dumps(row) + "\n")

  @property
  def last(self) -> dict | None:
    return self.rows[-1] if self.rows else None


EXAMPLES = "examples.npz"
# examples.npz: per-evaluation arrays [num_evals, n_train] and per-example arrays [n_train].
EXAMPLE_SERIES = {"correct": "bool", "pred_is_clean_label": "bool", "margin": "float16"}
EXAMPLE_STATIC = ("corrupted", "labels", "clean_labels")


# The series a compact copy keeps (what the memorization report reads).
COMPACT_SERIES = ("correct", "pred_is_clean_label")


def read_examples(path) -> dict:
  """The arrays of an ``examples.npz`` (a run directory or the file), checked for shape, dtype
  and order (evaluation steps increasing); a missing or corrupt file raises :class:`RecordError` naming it. A compact copy
  (:func:`compact_examples`) reads the same, without ``margin``."""
  import numpy as np

  path = pathlib.Path(path)
  path = path / EXAMPLES if path.is_dir() else path
  out = read_npz(path, EXAMPLES, "examples", absent="was the run trained with config.track_examples = True?")
  if "packed_n" in out:  # a compact copy (compact_examples): bit-packed, without margin
    n = int(out.pop("packed_n"))
    for k in COMPACT_SERIES:
      if f"{k}_bits" in out:
        out[k] = np.unpackbits(out.pop(f"{k}_bits"), axis=1, count=n).astype(bool)
    series = COMPACT_SERIES
  else:
    series = tuple(EXAMPLE_SERIES)
  missing = [k for k in ("eval_steps", *series, *EXAMPLE_STATIC) if k not in out]
  if missing:
    raise RecordError(f"{path} lacks {missing}; it is not an examples record of this version.")
  kinds = {"eval_steps": "iu", "corrupted": "b", "labels": "iu", "clean_labels": "iu",
           **{k: "b" if EXAMPLE_SERIES[k] == "bool" else "f" for k in series}}
  for k, kind in kinds.items():  # a float "correct" or string labels would be counted silently wrong
    if out[k].dtype.kind not in kind:
      raise RecordError(f"{path}: {k} has dtype {out[k].dtype}, expected "
                        f"{ {'b': 'bool', 'iu': 'integers', 'f': 'floats'}[kind] }.")
  if out["eval_steps"].ndim != 1 or out["corrupted"].ndim != 1:
    raise RecordError(f"{path}: eval_steps and corrupted must be 1-D (shapes {out['eval_steps'].shape}, "
                      f"{out['corrupted'].shape}).")
  if (out["eval_steps"] < 0).any() or (np.diff(out["eval_steps"]) <= 0).any():
    raise RecordError(f"{path}: eval_steps must be increasing steps >= 0.")
  t, n = len(out["eval_steps"]), len(out["corrupted"])
  if "eval_epochs" in out and out["eval_epochs"].shape != (t,):
    raise RecordError(f"{path}: eval_epochs has shape {out['eval_epochs'].shape}, expected ({t},) like eval_steps.")
  for k in ("labels", "clean_labels"):
    if out[k].shape != (n,):
      raise RecordError(f"{path}: {k} has shape {out[k].shape}, expected ({n},) like corrupted.")
  for k in series:
    if out[k].shape != (t, n):
      raise RecordError(f"{path}: {k} has shape {out[k].shape}, expected ({t}, {n}).")
  for k in ("labels", "clean_labels"):
    if n and out[k].min() < 0:
      raise RecordError(f"{path}: {k} holds negative classes.")
  return out


def compact_examples(src, dest) -> pathlib.Path:
  """Writes (atomically) a compact copy of the ``examples.npz`` at ``src`` to ``dest``, the
  copy kept in ``results/``: the boolean series bit-packed along the examples axis (one bit
  per example and evaluation, 16x smaller than bools with a float16 margin), ``margin``
  left out, labels as uint8, compressed. :func:`read_examples` reads it as the full file
  less ``margin``: everything the memorization report uses."""
  import numpy as np

  ex = read_examples(src)
  n = len(ex["corrupted"])
  out = {"eval_steps": ex["eval_steps"], "eval_epochs": ex["eval_epochs"], "packed_n": np.int64(n),
         "corrupted": ex["corrupted"].astype(bool)}
  for k in ("labels", "clean_labels"):
    out[k] = ex[k].astype(np.uint8) if ex[k].size and 0 <= ex[k].min() and ex[k].max() < 256 else ex[k]
  for k in COMPACT_SERIES:
    out[f"{k}_bits"] = np.packbits(ex[k].astype(bool), axis=1)
  dest = pathlib.Path(dest)
  atomic_write(dest, lambda f: np.savez_compressed(f, **out), binary=True)
  return dest


SUBSET = "subset.npz"            # a subset-trained run's examples (config.subset.ratio < 1)
PREDICTIONS = "predictions.npz"  # its per-example outputs on both splits at the end of training
SCORES = "scores.npz"            # a memorization-scores sweep's estimates (rethink_jax.report), kept in results/
PREDICTION_ARRAYS = {"train_correct": "bool", "train_margin": "float16", "train_pred_is_clean_label": "bool",
                     "test_correct": "bool", "test_margin": "float16", "labels": "int", "clean_labels": "int",
                     "test_labels": "int"}


def write_subset(workdir, mask, ratio: float, index: int) -> pathlib.Path:
  """``subset.npz``: the ``[n]`` bool mask of the examples a run trains on, with its ratio and
  index (``config.subset``). A run directory that holds another subset is refused
  (:class:`ConfigMismatchError`): the subset is drawn from the run's identity, so a
  different one means other code or other data."""
  import numpy as np

  path = pathlib.Path(workdir) / SUBSET
  mask = np.asarray(mask, bool)
  if path.exists():
    saved = read_subset(path)
    if saved.shape != mask.shape or not (saved == mask).all():
      raise ConfigMismatchError(f"{path} holds another training subset ({int(saved.sum())} of {saved.size} examples, "
                                f"{int((saved != mask).sum()) if saved.shape == mask.shape else 'all'} differing) "
                                "than this run draws; refusing to resume it. Use another --workdir.")
    return path
  atomic_write(path, lambda f: np.savez_compressed(f, mask=mask, ratio=np.float64(ratio), index=np.int64(index)),
               binary=True)
  return path


def read_subset(path):
  """The ``[n]`` bool mask of a ``subset.npz`` (a run directory or the file); a missing or
  corrupt file raises :class:`RecordError` naming it."""
  path = pathlib.Path(path)
  path = path / SUBSET if path.is_dir() else path
  mask = read_npz(path, SUBSET, "subset", absent="was the run trained with config.subset.ratio < 1?",
                  required=("mask",))["mask"]
  if mask.ndim != 1 or mask.dtype != bool:
    raise RecordError(f"{path}: mask must be a [n] bool array, found {mask.dtype} of shape {mask.shape}.")
  return mask


def write_predictions(workdir, step: int, arrays: dict) -> pathlib.Path:
  """``predictions.npz`` (atomically): every example's outputs at the end of training, on the
  whole training set (in the run's subset or not) and the test set: ``train_correct``
  (predicted = the training label given), ``train_margin``, ``train_pred_is_clean_label``,
  ``test_correct``, ``test_margin``, with ``labels``, ``clean_labels`` and ``test_labels``."""
  import numpy as np

  missing = sorted(set(PREDICTION_ARRAYS) - set(arrays))
  if missing:
    raise ValueError(f"write_predictions: {missing} missing.")
  out = {k: np.asarray(arrays[k]).astype(np.float16 if kind == "float16" else (bool if kind == "bool" else np.int64))
         for k, kind in PREDICTION_ARRAYS.items()}
  path = pathlib.Path(workdir) / PREDICTIONS
  atomic_write(path, lambda f: np.savez_compressed(f, step=np.int64(step), **out), binary=True)
  return path


def read_predictions(path) -> dict:
  """The arrays of a ``predictions.npz`` (a run directory or the file), checked for kind and
  shape; a missing or corrupt file raises :class:`RecordError` naming it."""
  path = pathlib.Path(path)
  path = path / PREDICTIONS if path.is_dir() else path
  out = read_npz(path, PREDICTIONS, "predictions", required=("step", *PREDICTION_ARRAYS),
                 absent="the run is unfinished, or trained without config.subset.ratio < 1")
  n, m = len(out["labels"]), len(out["test_labels"])
  for k in PREDICTION_ARRAYS:
    want = (n,) if k.startswith("train") or k in ("labels", "clean_labels") else (m,)
    if out[k].shape != want:
      raise RecordError(f"{path}: {k} has shape {out[k].shape}, expected {want}.")
  return out


class ExamplesLog:
  """``examples.npz`` of one run (:mod:`rethink_jax.dynamics` reads it): one row per
  evaluation of the training set.

  Rows are kept in memory and the whole file is rewritten atomically by :meth:`flush`,
  which the loop calls before each checkpoint and when the run ends: rows after the last
  checkpoint would be cut back on resume anyway, so nothing a resume needs is lost, and a
  long run does not rewrite a growing file at every evaluation. ``static`` holds the
  per-example arrays fixed for the run (``corrupted``, ``labels``, ``clean_labels``). On
  resume (``keep_until`` = the restored step) the saved rows up to that step are kept,
  after checking the saved static arrays are this run's; ``None`` starts empty. Size:
  ``n_train * 4`` bytes per evaluation (two bools and a float16).
  """

  def __init__(self, path: str | os.PathLike, static: dict, keep_until: int | None, *, write: bool = True):
    import numpy as np

    self.path, self.write = pathlib.Path(path), write
    self.static = {k: np.asarray(static[k]) for k in EXAMPLE_STATIC}
    self.steps: list[int] = []
    self.epochs: list[float] = []
    self.series: dict[str, list] = {k: [] for k in EXAMPLE_SERIES}
    if keep_until is not None and self.path.exists():
      saved = read_examples(self.path)
      if "margin" not in saved:
        raise RecordError(f"{self.path} is a compact copy (records.compact_examples); a run does not resume from it.")
      for k in EXAMPLE_STATIC:
        if not np.array_equal(saved[k], self.static[k]):
          raise RecordError(f"{self.path} holds the records of other labels ({k} differs); it is not this run's.")
      keep = saved["eval_steps"] <= keep_until
      self.steps = [int(s) for s in saved["eval_steps"][keep]]
      self.epochs = [float(e) for e in saved["eval_epochs"][keep]]
      for k in EXAMPLE_SERIES:
        self.series[k] = list(saved[k][keep])
    self._dirty = True
    self.flush()

  def append(self, step: int, epoch: float, arrays: dict) -> None:
    """Adds one evaluation's per-example series (each of shape ``[n]``) at ``step`` and
    ``epoch``; written at the next :meth:`flush`."""
    import numpy as np

    n = len(self.static["corrupted"])
    for k, dtype in EXAMPLE_SERIES.items():
      a = np.asarray(arrays[k]).astype(dtype)
      if a.shape != (n,):
        raise ValueError(f"examples {k} has shape {a.shape}, expected ({n},).")
      self.series[k].append(a)
    self.steps.append(int(step))
    self.epochs.append(float(epoch))
    self._dirty = True

  def flush(self) -> None:
    """Writes the file (atomically) if rows were added since the last write."""
    if self.write and self._dirty:
      self._save()
    self._dirty = False

  def arrays(self) -> dict:
    """Everything the file holds: ``eval_steps``, ``eval_epochs``, each series stacked as
    ``[evaluations, n]``, and the run's static arrays (labels, ``corrupted``)."""
    import numpy as np

    n = len(self.static["corrupted"])
    out = {"eval_steps": np.asarray(self.steps, np.int64), "eval_epochs": np.asarray(self.epochs, np.float64)}
    for k, dtype in EXAMPLE_SERIES.items():
      out[k] = np.stack(self.series[k]).astype(dtype) if self.series[k] else np.zeros((0, n), dtype)
    return {**out, **self.static}

  def _save(self) -> None:
    import numpy as np

    atomic_write(self.path, lambda f: np.savez(f, **self.arrays()), binary=True)


# ----------------------------------------------------------------------------- identity

def _as_dict(config) -> dict:
  return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def identity(config) -> dict:
  """What a run computes: its config without :data:`HOW_KEYS`, and without the entries of
  :data:`NEUTRAL_DEFAULTS` where they hold their neutral value."""
  out = json.loads(_dumps(_as_dict(config)))
  for key in HOW_KEYS + tuple(NEUTRAL_DEFAULTS):
    *parents, leaf = key.split(".")
    node = out
    for p in parents:
      node = node.get(p) if isinstance(node, dict) else None
    if isinstance(node, dict) and leaf in node and (key not in NEUTRAL_DEFAULTS or node[leaf] == NEUTRAL_DEFAULTS[key]):
      node.pop(leaf)
      if not node and parents:  # a group of neutral keys all at their defaults (subset.*) leaves no trace
        _pop_path(out, parents)
  return out


def _pop_path(tree: dict, path: list[str]) -> None:
  *parents, leaf = path
  for p in parents:
    tree = tree[p]
  tree.pop(leaf)


def identity_hash(*configs) -> str:
  """A short hash of the identity of one config, or of a group of configs in order."""
  ids = [identity(c) for c in configs]
  text = _dumps(ids[0] if len(ids) == 1 else ids, separators=(",", ":"))
  return hashlib.sha256(text.encode()).hexdigest()[:10]


def identity_diff(saved: dict, now: dict, prefix: str = "") -> list[str]:
  """``key: saved vs now`` for every entry where two identities differ."""
  out = []
  for k in sorted(set(saved) | set(now)):
    a, b = saved.get(k, "<absent>"), now.get(k, "<absent>")
    if isinstance(a, dict) and isinstance(b, dict):
      out += identity_diff(a, b, f"{prefix}{k}.")
    elif a != b:
      out.append(f"{prefix}{k}: {a!r} (saved) vs {b!r} (now)")
  return out


def check_run_dir(workdir, config) -> dict | None:
  """Before anything is written: may ``config`` train in ``workdir``? Returns its saved config.json.

  Raises :class:`ConfigMismatchError` if the directory holds a run with another identity,
  or checkpoints without a ``config.json`` (copied in from elsewhere: they are never
  resumed silently). A missing directory is fine; this function creates nothing.
  """
  workdir = pathlib.Path(workdir).expanduser()
  cfg_path = workdir / CONFIG
  if cfg_path.exists():
    saved = read_json(cfg_path)
    if not isinstance(saved, dict) or "config" not in saved:
      raise RecordError(f"{cfg_path} is not a run's config record.")
    diff = identity_diff(identity(saved["config"]), identity(config))
    if diff:
      raise ConfigMismatchError(f"{workdir} holds a run with another config; refusing to resume it: "
                                + "; ".join(diff) + ". Use another --workdir, or the saved config.")
    return saved
  ckpt = workdir / CHECKPOINTS
  if ckpt.is_dir() and any(ckpt.iterdir()):
    raise ConfigMismatchError(f"{ckpt} holds checkpoints but {cfg_path} is missing, so nothing says which run "
                              "they belong to; refusing to resume them. Remove them or use another --workdir.")
  return None


def total_steps(config, steps_per_epoch: int) -> int:
  """The step budget: ``ceil(num_epochs * steps_per_epoch)``."""
  return int(math.ceil(config.num_epochs * steps_per_epoch))


def finished_summary(workdir, config) -> dict | None:
  """The summary of a run in ``workdir`` that already did what ``config`` asks, else ``None``.

  Finished means: same identity, a ``summary.json``, and it reached the step budget of
  ``config.num_epochs`` (or fitted, when ``config.stop_at_fit``). A longer budget than the
  one trained is not finished: the run resumes and goes on.
  """
  workdir = pathlib.Path(workdir).expanduser()
  saved = check_run_dir(workdir, config)
  if saved is None or not (workdir / SUMMARY).exists():
    return None
  summary = read_summary(workdir / SUMMARY)
  if summary["step"] >= total_steps(config, saved["steps_per_epoch"]):
    return summary
  if schema.setting(config, "stop_at_fit") and summary.get("time_to_fit") is not None:
    return summary
  return None


def make_summary(*, engine: str, step: int, steps_per_epoch: int, train_seconds: float, time_to_fit: dict | None,
                 fit_metric: str | None, fit_threshold: float | None, num_params: int, model: str,
                 corruption: dict, dataset: str, vmapped_runs: int, evaluations: Sequence[dict],
                 segments: Sequence[dict] = ()) -> dict:
  """``summary.json`` (schema: :data:`SUMMARY_FIELDS`) from the run's evaluated metric rows and
  its process segments (:mod:`rethink_jax.segments`)."""
  last = dict(evaluations[-1])
  metrics = {k: v for k, v in last.items() if k not in ("step", "epoch", "examples", "lr") + TIMING_KEYS
             and not k.startswith("batch_")}
  best = {f"best_{k}": max(r[k] for r in evaluations if k in r) for k in metrics
          if k.startswith("test_") and "loss" not in k}
  summary = {"engine": engine, "step": step, "epoch": step / steps_per_epoch, "train_seconds": train_seconds,
             "time_to_fit": time_to_fit, "fit_metric": fit_metric, "fit_threshold": fit_threshold,
             "num_params": num_params, "model": model, "corruption": corruption, "dataset": dataset,
             "vmapped_runs": vmapped_runs, "segments": len(segments),
             "git": list(dict.fromkeys(s.get("git") for s in segments)), **metrics, **best}
  return json.loads(_dumps(summary))  # as it reads back from summary.json


# ----------------------------------------------------------------------------- sweeps

def write_sweep(sweep_dir, artifact: str, runs: dict[str, dict]) -> None:
  """``sweep.json``: the paper artifact a sweep reproduces and, per run name, its ``config``, ``meta``
  (the row or level it reproduces) and ``dir`` (its run directory inside the sweep directory)."""
  if not isinstance(artifact, str) or not artifact:
    raise ValueError(f"A sweep names the paper artifact it reproduces (rethink_jax.report.ARTIFACTS), got {artifact!r}.")
  write_json(pathlib.Path(sweep_dir) / SWEEP, {"artifact": artifact, "runs": runs})


def read_summary(path) -> dict:
  """A run's ``summary.json``, checked before a report uses it: a JSON object whose ``step``
  is an integer, whose accuracies are numbers in [0, 1], whose other measurements are
  numbers (a loss may be NaN) and whose ``time_to_fit`` is null or names a step; otherwise
  :class:`RecordError` naming the file and the entry."""
  path = pathlib.Path(path)
  summary = read_json(path)
  if not isinstance(summary, dict):
    raise RecordError(f"{path} is not a run summary (a JSON object).")

  def bad(key, what):
    return RecordError(f"{path}: {key} = {summary.get(key)!r}, {what}; the file is corrupt or was edited by hand.")

  def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)

  if not (isinstance(summary.get("step"), int) and not isinstance(summary["step"], bool) and summary["step"] >= 0):
    raise bad("step", "not a step (an integer >= 0)")
  for key, value in summary.items():
    if key.endswith(("accuracy", "_top1", "_top5")):
      if not (is_number(value) and 0.0 <= value <= 1.0):
        raise bad(key, "not an accuracy (a number in [0, 1])")
    elif key.endswith("loss") or key in ("epoch", "train_seconds", "images_per_second"):
      if not (is_number(value) and (key.endswith("loss") or math.isfinite(value))):
        raise bad(key, "not a number")
  fit = summary.get("time_to_fit")
  if fit is not None and not (isinstance(fit, dict) and isinstance(fit.get("step"), int)):
    raise bad("time_to_fit", "neither null nor a {step, ...} record")
  return summary


def read_sweep(sweep_dir) -> tuple[str, dict[str, dict]]:
  """``(artifact, {name: {"meta", "config", "summary" (or None), "metrics", "dir"}})`` of a sweep.

  Every run directory must lie in the sweep directory and, where its ``config.json`` records
  a config, hold the run ``sweep.json`` lists (the same identity): a directory swapped or copied in
  from another run raises :class:`RecordError` rather than being reported under this
  run's name. Summaries are checked (:func:`read_summary`), all before a report writes anything.
  """
  sweep_dir = pathlib.Path(sweep_dir)
  spec = read_json(sweep_dir / SWEEP)
  if not isinstance(spec, dict) or not isinstance(spec.get("artifact"), str) or not isinstance(spec.get("runs"), dict):
    raise RecordError(f"{sweep_dir / SWEEP} does not name a paper artifact; it was written "
                      "by an older version or by hand. Re-run the experiment script to rewrite it.")
  out = {}
  for name, entry in spec["runs"].items():
    if not (isinstance(entry, dict) and isinstance(entry.get("config"), dict) and isinstance(entry.get("meta"), dict)):
      raise RecordError(f"{sweep_dir / SWEEP}: run {name!r} is not an entry with a config and meta; the file is "
                        "corrupt or was edited by hand.")
    dirname = entry.get("dir", name)  # sweeps written before run directories carried the hash: the name
    if not isinstance(dirname, str) or pathlib.Path(dirname).name != dirname or dirname in ("", ".", ".."):
      raise RecordError(f"{sweep_dir / SWEEP}: run {name!r} has dir {dirname!r}; a run's directory is a name "
                        "inside the sweep directory.")
    workdir = sweep_dir / dirname
    saved = read_json(workdir / CONFIG) if (workdir / CONFIG).exists() else None
    if isinstance(saved, dict) and isinstance(saved.get("config"), dict):
      diff = identity_diff(identity(saved["config"]), identity(entry["config"]))
      if diff:
        raise RecordError(f"{workdir} does not hold run {name!r} of {sweep_dir / SWEEP} ({'; '.join(diff[:3])}"
                          + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "") + "): a run directory from "
                          "elsewhere? Put the run's own directory back, or re-run the experiment script.")
    summary = read_summary(workdir / SUMMARY) if (workdir / SUMMARY).exists() else None
    out[name] = {"meta": entry["meta"], "config": entry["config"], "summary": summary,
                 "metrics": read_jsonl(workdir / METRICS, drop_torn_tail=True), "dir": str(workdir)}
  return spec["artifact"], out


# ----------------------------------------------------------------------------- environment

def check_writable(workdir: str | os.PathLike) -> pathlib.Path:
  """Creates ``workdir`` and proves a file can be written there, before any training."""
  path = pathlib.Path(workdir).expanduser()
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".write_probe.{os.getpid()}"  # one per process: processes of one run may probe at once
    atomic_write_text(probe, "ok\n" * 1024)
    probe.unlink()
  except OSError as e:
    raise RunDirError(f"Run directory {path} is not writable ({e.strerror or e}); choose another "
                      "--workdir or free some space.") from e
  return path


def git_hash() -> str | None:
  """The commit of the code that runs (``+dirty`` if tracked files differ from it), or None
  outside a git checkout: every run record and segment names it."""
  here = pathlib.Path(__file__).resolve().parent
  try:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=5).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return (out.stdout.strip() + ("+dirty" if dirty else "")) if out.returncode == 0 else None


def cpu_name() -> str:
  """The host CPU's model name (``/proc/cpuinfo`` on Linux), for records and benchmarks."""
  import platform

  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


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
      "cpu": cpu_name(),
      "backend": jax.default_backend(),
      "device_kinds": sorted({d.device_kind for d in jax.devices()}),
      "device_count": jax.device_count(),
      "process_count": jax.process_count(),
      "git": git_hash(),
  }


RESULTS = "results.json"

# The scripts outside the training engine that write results.json (the min-norm and Theorem 1
# experiments, and the benchmarks of benchmarks/); report renders each.
RESULT_SCRIPTS = ("minnorm_mnist", "minnorm_cifar", "theorem1", "train_throughput", "vmapped_sweep",
                  "minnorm_scaling", "conv_profile", "track_examples", "accelerator", "subset_runs",
                  "patch_features")

# The files that record a run or a sweep (kept in results/; checkpoints and TensorBoard
# events are not, per-example records only as compact copies).
RECORD_FILES = (CONFIG, METRICS, SUMMARY, SEGMENTS, SWEEP, RESULTS)


def write_results(workdir, config, dataset: str, *, script: str, env: dict[str, Any] | None = None,
                  **fields) -> pathlib.Path:
  """``results.json`` of a script that is not a training run (min-norm, Theorem 1, a benchmark): which
  ``script`` wrote it (one of :data:`RESULT_SCRIPTS`), its config, data provenance and
  environment beside its own fields. ``env``: the :func:`environment` taken when the script
  started (default: now); a run of hours should pass it, so that its git hash is the code
  that ran, not the checkout at the time it ends."""
  if script not in RESULT_SCRIPTS:
    raise ValueError(f"Unknown results script {script!r}; choose one of {RESULT_SCRIPTS}.")
  path = pathlib.Path(workdir) / RESULTS
  write_json(path, {"script": script, "config": config.to_dict(), "dataset": dataset, **fields,
                    "environment": env if env is not None else environment()})
  return path


def copy_records(src, dest) -> list[pathlib.Path]:
  """Copies the record files (:data:`RECORD_FILES`) of every run, sweep or results folder
  below ``src`` to the same places below ``dest``, each written atomically, a compact copy
  of each run's ``examples.npz`` (:func:`compact_examples`) and each sweep's ``scores.npz``;
  checkpoints, TensorBoard events and the per-run ``subset.npz`` and ``predictions.npz``
  stay behind (a memorization-scores report is rebuilt from ``scores.npz``). Returns the
  files written."""
  src, dest = pathlib.Path(src).expanduser(), pathlib.Path(dest).expanduser()
  if not src.is_dir():
    raise RecordError(f"{src} is not a directory of run records.")
  found = sorted(p for name in RECORD_FILES for p in src.rglob(name) if CHECKPOINTS not in p.relative_to(src).parts)
  if not found:
    raise RecordError(f"{src} holds no record file ({', '.join(RECORD_FILES)}).")
  examples = sorted(p for p in src.rglob(EXAMPLES) if CHECKPOINTS not in p.relative_to(src).parts)
  scores = sorted(p for p in src.rglob(SCORES) if CHECKPOINTS not in p.relative_to(src).parts)
  for path in found:
    read_json(path) if path.suffix == ".json" else read_jsonl(path, drop_torn_tail=True)  # corrupt: refused
  for path in examples:
    read_examples(path)
  for path in scores:
    read_npz(path, SCORES, "scores")
  written = []
  for path in found + examples + scores:
    target = dest / path.relative_to(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.name == EXAMPLES:
      compact_examples(path, target)
    elif path.name == SCORES:  # already compact: copied as it is
      atomic_write(target, lambda f, data=path.read_bytes(): f.write(data), binary=True)
    else:
      atomic_write_text(target, path.read_text())
    written.append(target)
  return written


def read_npz(path, name: str, kind: str, *, absent: str = "", required: Sequence[str] = ()) -> dict:
  """Every array of an npz record (``path``, or ``path/name`` for a directory); a missing,
  corrupt or truncated file, or one without the ``required`` arrays, raises
  :class:`RecordError` naming it (``kind`` names the record, ``absent`` says why it may be
  missing)."""
  import numpy as np

  path = pathlib.Path(path)
  path = path / name if path.is_dir() else path
  try:
    with np.load(path, allow_pickle=False) as z:
      out = {k: z[k] for k in z.files}
  except FileNotFoundError:
    raise RecordError(f"{path} does not exist" + (f" ({absent})." if absent else ".")) from None
  except Exception as e:  # numpy and zipfile raise several types for a corrupt or truncated file
    raise RecordError(f"{path} is not a readable {kind} record ({type(e).__name__}: {e}); the file is corrupt "
                      "or truncated.") from None
  missing = [k for k in required if k not in out]
  if missing:
    raise RecordError(f"{path} lacks {missing}; it is not a {kind} record of this version.")
  return out


def peak_rss_gb() -> float:
  """Peak resident memory of this process so far, in GB (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
