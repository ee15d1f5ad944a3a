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

from rethink_jax.configs import schema

__all__ = ["ConfigError", "check", "check_sweep", "check_value", "check_batch", "check_data", "check_entries", "ENGINES"]

ENGINES = ("single", "vmapped", "imagenet")


ConfigError = schema.ConfigError  # declared with the schema, so that configs raise it without importing this module


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


def _registry(name: str, engine: str) -> tuple:
  """The names a ``"@name"`` rule of :mod:`~rethink_jax.configs.schema` allows, from the module
  each list lives in."""
  from rethink_jax import corruptions, data, models

  return {"models": models.names(), "imagenet_models": models.names() + models.IMAGENET_NAMES,
          "datasets": data.NAMES, "sources": data.SOURCES + ("arrays",),
          "corruptions": corruptions.kinds("labels") if engine == "vmapped" else corruptions.kinds()}[name]


def _interval(rule: str) -> tuple[float, float, bool, bool]:
  lo, hi = rule[1:-1].split(",")
  return float(lo), float(hi), rule[0] == "[", rule[-1] == "]"


def check_value(key: str, value: Any, rule: Any, engine: str = "single") -> None:
  """Raises :class:`ConfigError` unless ``value`` follows ``rule`` (a schema rule)."""
  if isinstance(rule, str) and rule.startswith("tuple of "):
    if not isinstance(value, (tuple, list)):
      _fail(key, value, f"a tuple, e.g. --config.{key}='(...)'")
    for element in value:
      try:
        check_value(key, element, rule[len("tuple of "):], engine)
      except ConfigError as e:
        raise ConfigError(f"config.{key} = {tuple(value)!r}: {element!r} must {str(e).split(': must ', 1)[-1]}") from None
    return
  if isinstance(rule, str) and rule.startswith("@"):
    rule = _registry(rule[1:], engine)
  if isinstance(rule, tuple):
    if value not in rule:
      close = difflib.get_close_matches(str(value), [str(a) for a in rule], n=1)
      _fail(key, value, f"one of {', '.join(map(repr, rule))}" + (f" (did you mean {close[0]!r}?)" if close else ""))
  elif rule == "int>0":
    if not (_is_int(value) and value > 0):
      _fail(key, value, "a positive integer")
  elif rule == "int>=0":
    if not (_is_int(value) and value >= 0):
      _fail(key, value, "an integer >= 0")
  elif rule == ">0":
    if not (_is_number(value) and value > 0):
      _fail(key, value, "a finite number > 0")
  elif rule == "bool":
    if not isinstance(value, bool):
      _fail(key, value, "True or False")
  elif rule == "str":
    if not isinstance(value, str):
      _fail(key, value, "a string")
  else:
    lo, hi, lo_in, hi_in = _interval(rule)
    ok = _is_number(value) and (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
      _fail(key, value, f"a number in {'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}")


def check(config, engine: str = "single") -> None:
  """Raises :class:`ConfigError` for the first entry of ``config`` an engine cannot use.

  Every key of the engine's schema (:data:`~rethink_jax.configs.schema.RUN`, or
  :data:`~rethink_jax.configs.schema.IMAGENET` for ImageNet) must be there and follow its
  rule; then the checks that involve several entries (a corruption setting its kind does
  not use, CIFAR-10N's files, W&B's package).
  """
  if engine not in ENGINES:
    raise ValueError(f"Unknown engine {engine!r}; choose one of {ENGINES}.")
  table = schema.IMAGENET if engine == "imagenet" else schema.RUN
  own_arrays = _get(config, "data.source") == "arrays"  # then data.name names the caller's arrays
  for key, spec in table.items():
    value = _get(config, key)
    if value is _MISSING:
      raise ConfigError(f"config.{key} is missing: build configs from rethink_jax.configs (an experiment's "
                        f"get_config(preset), or common.base_config()), which hold every key.")
    check_value(key, value, "str" if own_arrays and key == "data.name" else spec.rule, engine)
  if own_arrays and not _get(config, "data.name"):
    _fail("data.name", "", "the name of your arrays (rethink_jax.data.from_arrays(name, ...))")
  _check_unused(config)
  if engine == "imagenet" and _get(config, "track_examples") not in (_MISSING, False):
    _fail("track_examples", _get(config, "track_examples"), "False for ImageNet (per-example records are kept by the "
          "CIFAR-10/MNIST engines)")
  if _get(config, "corruption.kind") == "cifar10n":
    from rethink_jax import data

    variant = _get(config, "corruption.variant")
    if variant not in data.CIFAR10N_VARIANTS:
      _fail("corruption.variant", variant, f"one of {', '.join(map(repr, data.CIFAR10N_VARIANTS))} "
            "for corruption.kind = 'cifar10n'")
    path = _get(config, "corruption.labels_file")
    if not (isinstance(path, str) and path):
      _fail("corruption.labels_file", path, "the path of CIFAR-10_human.pt for corruption.kind = 'cifar10n' "
            "(from https://github.com/UCSC-REAL/cifar-10-100n)")
  project = _get(config, "wandb.project")
  if project:
    from rethink_jax import monitoring

    if not monitoring.wandb_available():
      raise ConfigError(f"config.wandb.project = {project!r} needs the wandb package, which is not installed: "
                        "pip install wandb (or leave wandb.project empty).")


def check_sweep(config) -> None:
  """Raises :class:`ConfigError` for the first ``sweep.*`` entry of a sweep's config that is
  not declared in :data:`~rethink_jax.configs.schema.SWEEP` or breaks its rule (each run of
  the sweep is then checked by :func:`check`)."""
  for name, value in config.sweep.items():
    key = f"sweep.{name}"
    if key not in schema.SWEEP:
      close = difflib.get_close_matches(key, list(schema.SWEEP), n=1)
      raise ConfigError(f"config.{key} is not a sweep entry" + (f" (did you mean {close[0]}?)" if close else "")
                        + f"; the entries are {', '.join(schema.SWEEP)}.")
    check_value(key, value, schema.SWEEP[key].rule)


def _check_unused(config) -> None:
  """A setting the chosen corruption or data source does not use is refused: it would change
  the run's identity (and its directory's name) without changing what it computes."""
  from rethink_jax import corruptions

  kind = _get(config, "corruption.kind")
  if kind is _MISSING:
    return
  p = _get(config, "corruption.p")
  if p is not _MISSING and p != 0.0 and kind not in corruptions.kinds(takes_p=True):
    _fail("corruption.p", p, f"0.0 with corruption.kind = {kind!r}, which takes no probability (p is for "
          f"{' and '.join(corruptions.kinds(takes_p=True))})")
  for key in ("corruption.variant", "corruption.labels_file"):
    v = _get(config, key)
    if v is not _MISSING and v != "" and kind != "cifar10n":
      _fail(key, v, f"'' with corruption.kind = {kind!r} (it is for 'cifar10n')")
  if _get(config, "data.source") == "sample" and _get(config, "data.data_dir") not in (_MISSING, ""):
    _fail("data.data_dir", _get(config, "data.data_dir"), "'' with data.source = 'sample' (the embedded sample reads "
          "no directory; pass --config.data.source=files to read one)")
  if _get(config, "corruption.corrupt_test") is True and kind in corruptions.kinds("inputs"):
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
  """``batch_size`` must fit the training set (a subset-trained run's subset) and divide over
  the devices."""
  from rethink_jax import subsets

  b = config.batch_size
  ratio = _get(config, "subset.ratio")
  if ratio not in (_MISSING, 1.0):
    size = subsets.subset_size(num_train, ratio)
    if b > size:
      _fail("batch_size", b, f"at most the {size} examples of each run's subset (subset.ratio = {ratio} of "
            f"{num_train})")
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
