"""Config checks run before anything is written, loaded or compiled.

Every engine calls :func:`check` first, and :func:`check_batch` once the training set's
size and the device count are known (still before the run directory is created), so a
bad value costs one clear line naming the key, the value and what is allowed, and leaves
nothing behind.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

__all__ = ["ConfigError", "check", "check_batch", "check_data", "check_entries", "ENGINES"]

ENGINES = ("single", "vmapped", "imagenet")


class ConfigError(ValueError):
  """A config entry has a value the engine cannot use; the message names the key."""


_MISSING = object()


def _get(config, key: str) -> Any:
  node = config
  for part in key.split("."):
    try:
      node = node[part]
    except (KeyError, TypeError, AttributeError):
      return _MISSING
  return node


def _is_int(v) -> bool:
  return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
  return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _fail(key: str, value: Any, allowed: str) -> None:
  raise ConfigError(f"config.{key} = {value!r}: must be {allowed}.")


POSITIVE_INTS = ("batch_size", "eval_batch_size", "log_every_steps", "eval_every_steps", "checkpoint_every_steps",
                 "keep_checkpoints", "data.crop", "data.image_size", "data.num_threads", "eval_train_examples")
NON_NEGATIVE_INTS = ("seed", "data.max_train", "data.max_test", "eval_test_examples")
POSITIVE_NUMBERS = ("num_epochs", "optim.lr", "optim.decay_examples")
# key: (low, high, low inclusive, high inclusive)
RANGES = {"optim.momentum": (0.0, 1.0, True, False), "optim.lr_decay": (0.0, 1.0, False, True),
          "optim.weight_decay": (0.0, math.inf, True, False), "dropout": (0.0, 1.0, True, False),
          "fit_threshold": (0.0, 1.0, False, True), "corruption.p": (0.0, 1.0, True, True)}


def _choices(engine: str) -> dict[str, tuple]:
  from rethink_jax import corruptions, data, models

  if engine == "imagenet":
    return {"model": models.NAMES + models.IMAGENET_NAMES, "data.source": ("tfds", "jpeg"),
            "corruption.kind": ("true_labels", "random_labels", "partial_labels"),
            "compute_dtype": ("float32", "bfloat16"), "conv_impl": ("xla", "im2col")}
  kinds = corruptions.LABEL_KINDS if engine == "vmapped" else corruptions.KINDS
  return {"model": models.NAMES, "data.name": data.NAMES, "data.source": data.SOURCES, "corruption.kind": kinds,
          "compute_dtype": ("float32", "bfloat16"), "conv_impl": ("xla", "im2col")}


def check(config, engine: str = "single") -> None:
  """Raises :class:`ConfigError` for the first entry of ``config`` an engine cannot use.

  Sizes and intervals must be positive integers, ``num_epochs``, ``optim.lr`` and
  ``optim.decay_examples`` positive, rates in their ranges, names known (models, datasets,
  sources, corruptions), and ``wandb.project`` a string. Entries a config does not have
  are not checked (ImageNet's config has no ``data.crop``, CIFAR-10's no ``data.image_size``).
  """
  if engine not in ENGINES:
    raise ValueError(f"Unknown engine {engine!r}; choose one of {ENGINES}.")
  for key in POSITIVE_INTS:
    v = _get(config, key)
    if v is not _MISSING and not (_is_int(v) and v > 0):
      _fail(key, v, "a positive integer")
  for key in NON_NEGATIVE_INTS:
    v = _get(config, key)
    if v is not _MISSING and not (_is_int(v) and v >= 0):
      _fail(key, v, "an integer >= 0")
  for key in POSITIVE_NUMBERS:
    v = _get(config, key)
    if v is not _MISSING and not (_is_number(v) and v > 0):
      _fail(key, v, "a finite number > 0")
  for key, (lo, hi, lo_in, hi_in) in RANGES.items():
    v = _get(config, key)
    if v is _MISSING:
      continue
    ok = _is_number(v) and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
    if not ok:
      _fail(key, v, f"a number in {'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}")
  for key, allowed in _choices(engine).items():
    v = _get(config, key)
    if v is not _MISSING and v not in allowed:
      close = difflib.get_close_matches(str(v), [str(a) for a in allowed], n=1)
      _fail(key, v, f"one of {', '.join(map(repr, allowed))}" + (f" (did you mean {close[0]!r}?)" if close else ""))
  _check_unused(config)
  for key in ("track_examples", "corruption.corrupt_test"):
    v = _get(config, key)
    if v is not _MISSING and not isinstance(v, bool):
      _fail(key, v, "True or False")
  if engine == "imagenet" and _get(config, "track_examples") is True:
    _fail("track_examples", True, "False for ImageNet (per-example records are kept by the CIFAR-10/MNIST engines)")
  if _get(config, "corruption.kind") == "cifar10n":
    from rethink_jax import corruptions

    variant = _get(config, "corruption.variant")
    if variant not in corruptions.CIFAR10N_VARIANTS:
      _fail("corruption.variant", variant, f"one of {', '.join(map(repr, corruptions.CIFAR10N_VARIANTS))} "
            "for corruption.kind = 'cifar10n'")
    path = _get(config, "corruption.labels_file")
    if not (isinstance(path, str) and path):
      _fail("corruption.labels_file", path, "the path of CIFAR-10_human.pt for corruption.kind = 'cifar10n' "
            "(from https://github.com/UCSC-REAL/cifar-10-100n)")
  project = _get(config, "wandb.project")
  if project is not _MISSING and not isinstance(project, str):
    _fail("wandb.project", project, "a string (empty: no Weights & Biases logging)")
  if project is not _MISSING and project:
    from rethink_jax import monitoring

    if not monitoring.wandb_available():
      raise ConfigError(f"config.wandb.project = {project!r} needs the wandb package, which is not installed: "
                        "pip install wandb (or leave wandb.project empty).")


def _check_unused(config) -> None:
  """A corruption setting the chosen kind does not use is refused: it would change the run's
  identity (and its directory's name) without changing what it computes."""
  from rethink_jax import corruptions

  kind = _get(config, "corruption.kind")
  if kind is _MISSING:
    return
  p = _get(config, "corruption.p")
  if p is not _MISSING and p != 0.0 and kind not in corruptions.P_KINDS:
    _fail("corruption.p", p, f"0.0 with corruption.kind = {kind!r}, which takes no probability (p is for "
          f"{' and '.join(corruptions.P_KINDS)})")
  for key in ("corruption.variant", "corruption.labels_file"):
    v = _get(config, key)
    if v is not _MISSING and v != "" and kind != "cifar10n":
      _fail(key, v, f"'' with corruption.kind = {kind!r} (it is for 'cifar10n')")
  if _get(config, "corruption.corrupt_test") is True and kind in corruptions.INPUT_KINDS:
    _fail("corruption.corrupt_test", True, f"False with corruption.kind = {kind!r}: inputs are always corrupted in "
          "both splits; corrupt_test is for the label kinds")


def check_data(config, num_train: int, num_test: int, image_shape: tuple[int, ...]) -> None:
  """``data.max_train``, ``data.max_test`` and ``data.crop`` against the data loaded, before
  anything is written: none is clamped silently."""
  for key, n, split in (("data.max_train", num_train, "training"), ("data.max_test", num_test, "test")):
    v = _get(config, key)
    if v is not _MISSING and v > n:
      _fail(key, v, f"at most the {n:,} {split} examples of the data (0: all of them)")
  crop = _get(config, "data.crop")
  if crop is not _MISSING and crop > min(image_shape[:2]):
    _fail("data.crop", crop, f"at most the images' size, {image_shape[0]}x{image_shape[1]}")


def check_batch(config, num_train: int, num_devices: int) -> None:
  """``batch_size`` must fit the training set and divide over the devices."""
  b = config.batch_size
  if b > num_train:
    _fail("batch_size", b, f"at most the {num_train} training examples")
  if b % num_devices:
    _fail("batch_size", b, f"divisible by the {num_devices} devices")


def check_entries(config, *, positive_ints=(), non_negative_ints=(), positive_numbers=(), non_negative_numbers=(),
                  positive_int_lists=(), non_negative_number_lists=(), choices=None, subsets=None) -> None:
  """Raises :class:`ConfigError` for the first listed entry of ``config`` out of its kind
  (for the scripts outside the training engine: min-norm, Theorem 1).

  ``choices``: ``{key: allowed values}``; ``subsets``: ``{key: allowed items}`` for entries
  that are non-empty lists of such items; ``non_negative_number_lists``: non-empty lists of
  finite numbers ``>= 0``.
  """
  is_list = lambda v, ok: isinstance(v, (list, tuple)) and len(v) > 0 and all(ok(e) for e in v)
  rules = [(positive_ints, lambda v: _is_int(v) and v > 0, "a positive integer"),
           (non_negative_ints, lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
           (positive_numbers, lambda v: _is_number(v) and v > 0, "a finite number > 0"),
           (non_negative_numbers, lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
           (positive_int_lists, lambda v: is_list(v, lambda e: _is_int(e) and e > 0),
            "a non-empty list of positive integers"),
           (non_negative_number_lists, lambda v: is_list(v, lambda e: _is_number(e) and e >= 0),
            "a non-empty list of finite numbers >= 0")]
  for keys, ok, allowed in rules:
    for key in keys:
      v = _get(config, key)
      if not ok(v):
        _fail(key, v, allowed)
  for key, allowed in (choices or {}).items():
    v = _get(config, key)
    if v not in allowed:
      _fail(key, v, f"one of {', '.join(map(repr, allowed))}")
  for key, allowed in (subsets or {}).items():
    v = _get(config, key)
    if not is_list(v, lambda e: e in allowed):
      _fail(key, v, f"a non-empty list of {', '.join(map(repr, allowed))}")
