"""The paper's randomization tests (Zhang et al., 2017, Section 2) as pure functions.

Every function takes a ``jax.random`` key and arrays and returns arrays; all of them are
jittable and shape-static. The same key always gives the same bits. The paper fixes
each corruption once for the whole run ("random labels are fixed once and consistent
across epochs"), so use :func:`apply` to corrupt a whole :class:`~rethink_jax.data.Dataset`
once, before training, never per epoch or per batch.

* true labels: nothing changes (the baseline);
* partially corrupted labels (:func:`partial_labels`): each label, independently with
  probability ``p``, is replaced by a class drawn uniformly from *all* classes, so it
  may coincide with the true one; the expected fraction changed is ``p (1 - 1/K)``;
* random labels (:func:`random_labels`): ``p = 1``;
* shuffled pixels (:func:`shuffled_pixels`): one permutation of pixel positions,
  the same for every image of train and test;
* random pixels (:func:`random_pixels`): an independent permutation for each image;
* Gaussian (:func:`gaussian`): images replaced by Gaussian noise with the data's mean
  and variance.

Beyond the paper, more realistic label noise under the same "fixed once from a key"
contract (class-dependent noise, as studied since the paper):

* :func:`transition_labels`: each label redrawn from its row of a row-stochastic noise
  matrix ``T`` (``T[i, j]`` = P(noisy label j | true label i));
* :func:`asymmetric_labels`: the standard CIFAR-10 class-pair flips
  (:data:`CIFAR10_ASYMMETRIC`: truck -> automobile, bird -> airplane, deer -> horse,
  cat <-> dog), each affected label flipped with probability ``p``;
* ``"cifar10n"``: the human labels of CIFAR-10N (:func:`load_cifar10n`).

Labels are checked where they come in. Their dtype (any integer type; floats and bools
are refused) and shape are static, so they are checked always, under ``jit`` too. Their
*values* (every label in ``[0, K)``) can be checked only when concrete: each label
function checks them when called outside a trace, *before* the labels become a JAX array
(without ``jax_enable_x64`` that cast turns ``int64`` into ``int32``, so ``2**32 + 3``
would become class 3); under ``jit`` they are taken as given, so :func:`apply` checks a
dataset's labels on the host before its jitted draws. Drawn labels can be any of the
``K`` classes whatever the input's dtype: they keep it when it holds ``K - 1`` and are
``int32`` otherwise (``uint8`` labels with ``K = 1000``, ``int8`` with ``K = 200``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.data import CIFAR10N_VARIANTS, Dataset, load_cifar10n
from rethink_jax.preprocess import check_finite, check_images, check_key, is_traced

__all__ = [
    "partial_labels", "random_labels", "partial_labels_by_index", "shuffled_pixels", "random_pixels", "gaussian",
    "transition_labels", "asymmetric_labels", "asymmetric_matrix", "CIFAR10_ASYMMETRIC", "apply", "CorruptionRecord",
    "Kind", "REGISTRY", "KINDS", "LABEL_KINDS", "INPUT_KINDS", "P_KINDS", "register", "kinds", "run_name",
]

# CIFAR-10 classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
# The class-pair flips of Patrini et al. (2017), used as "asymmetric noise" since.
CIFAR10_ASYMMETRIC = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}

_MAX_CLASSES = int(np.iinfo(np.int32).max)  # drawn labels are int32 at widest (JAX's default integer)


def _check_num_classes(num_classes, fn: str) -> int:
  if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
      or not 2 <= num_classes <= _MAX_CLASSES:
    raise ValueError(f"{fn}: num_classes must be an int in [2, 2**31 - 1], got {num_classes!r}.")
  return int(num_classes)


def _label_dtype(dtype, num_classes: int):
  """The dtype of drawn labels: the input's when it holds class ``K - 1``, else ``int32``."""
  return dtype if jnp.iinfo(dtype).max >= num_classes - 1 else jnp.int32


def _check_label_range(labels, num_classes: int, fn: str) -> None:
  """Every label in ``[0, num_classes)``, checked in the labels' own dtype; skipped under a trace."""
  y = _concrete(labels)
  if y is None or not y.size:
    return
  bad = (y < 0) | (y >= num_classes)
  if bad.any():
    raise ValueError(f"{fn}: labels must lie in [0, {num_classes}) for {num_classes} classes; got "
                     f"{np.unique(y[bad])[:5].tolist()} ({int(bad.sum())} of {y.size} labels).")


def _check_labels(labels, num_classes, fn: str) -> jax.Array:
  """``labels`` as a 1-D integer JAX array, their values in ``[0, num_classes)`` when concrete.

  The values are checked on the input as given, before ``jnp.asarray``: without
  ``jax_enable_x64`` it casts ``int64`` to ``int32`` and a huge label would wrap into a class.
  """
  num_classes = _check_num_classes(num_classes, fn)
  y = labels if isinstance(labels, jax.Array) else np.asarray(labels)  # no cast yet: int64 stays int64
  if not jnp.issubdtype(y.dtype, jnp.integer):  # also refuses bool, and object arrays of huge ints
    raise TypeError(f"{fn}: labels must be integers, got dtype {y.dtype}.")
  if y.ndim != 1:
    raise ValueError(f"{fn}: labels must be a 1-D vector, got shape {y.shape}.")
  _check_label_range(y, num_classes, fn)
  return jnp.asarray(y)


def _check_p(p, fn: str, shape: tuple[int, ...] = ()) -> None:
  """``p`` a probability in ``[0, 1]``: a scalar, or one per label (``shape``, where the function
  takes that). Its shape is checked always; its dtype and values when concrete (a traced ``p``,
  as in a ``vmap`` sweep, is a number by construction)."""
  a = None if is_traced(p) else (p if isinstance(p, jax.Array) else np.asarray(p))
  if a is not None and not (jnp.issubdtype(a.dtype, jnp.integer) or jnp.issubdtype(a.dtype, jnp.floating)):
    raise TypeError(f"{fn}: p must be a probability in [0, 1] (a number), got {p!r}.")
  p_shape = tuple(jnp.shape(p))
  if p_shape not in ((), tuple(shape)):
    raise ValueError(f"{fn}: p must be a scalar" + (f" or one probability per label, shape {tuple(shape)}" if shape
                     else "") + f"; got shape {p_shape}.")
  if a is not None:
    a = np.asarray(a)
    bad = ~((a >= 0) & (a <= 1))  # NaN is bad too
    if bad.any():
      raise ValueError(f"{fn}: p must lie in [0, 1], got " + (f"{p!r}." if not p_shape else
                       f"{np.unique(a[bad])[:5].tolist()} ({int(bad.sum())} of {a.size} values)."))


def _partial(key, labels, p, num_classes, fn: str) -> jax.Array:
  key = check_key(key, fn)
  labels = _check_labels(labels, num_classes, fn)
  _check_p(p, fn, labels.shape)
  dtype = _label_dtype(labels.dtype, num_classes)  # randint clips to its dtype: draw where K - 1 fits
  k_mask, k_class = jax.random.split(key)
  replace = jax.random.uniform(k_mask, labels.shape) < p
  drawn = jax.random.randint(k_class, labels.shape, 0, num_classes, dtype=dtype)
  return jnp.where(replace, drawn, labels.astype(dtype))


def partial_labels(key: jax.Array, labels: jax.typing.ArrayLike, p: float | jax.Array,
                   num_classes: int) -> jax.Array:
  """Partially corrupted labels (Section 2, Figure 1b/1c).

  Independently with probability ``p`` each label is replaced by a class drawn
  uniformly from all ``num_classes`` classes (it may equal the true class), as in the
  paper. ``p`` may be a traced value, so a sweep can ``vmap`` over it.

  Args:
    key: a ``jax.random.key``.
    labels: ``[N]`` integer labels in ``[0, num_classes)`` (any integer dtype; values
      checked when concrete, taken as given under ``jit``).
    p: corruption probability in ``[0, 1]``, or ``[N]`` of them, one per label (values
      checked when concrete).
    num_classes: number of classes ``K`` (static).

  Returns:
    ``[N]`` labels, of the input's dtype when it holds ``K - 1`` and ``int32`` otherwise,
    so every class can be drawn.
  """
  return _partial(key, labels, p, num_classes, "partial_labels")


def random_labels(key: jax.Array, labels: jax.typing.ArrayLike, num_classes: int) -> jax.Array:
  """Random labels (Section 2): every label drawn uniformly; equals ``partial_labels(p=1)``.

  The input labels are checked as in :func:`partial_labels` (a label outside ``[0, K)``
  is a bug upstream even if it is replaced); the output dtype is the same.
  """
  return _partial(key, labels, 1.0, num_classes, "random_labels")


def partial_labels_by_index(key: jax.Array, indices: jax.typing.ArrayLike, labels: jax.typing.ArrayLike,
                            p: float | jax.Array, num_classes: int) -> jax.Array:
  """Partially corrupted labels for examples named by their index in the dataset.

  The same law as :func:`partial_labels`, but example ``i``'s draw depends only on
  ``fold_in(key, i)``: for a dataset streamed in batches (ImageNet) the corruption is
  applied inside the train step, batch by batch, and still stays fixed across epochs,
  hosts and resumes, as the paper requires (Section 2).

  Args:
    key: a ``jax.random.key``.
    indices: ``[B]`` integer example indices in ``[0, 2**31)`` (checked when concrete).
    labels: ``[B]`` their true integer labels in ``[0, num_classes)`` (values checked
      when concrete; inside the jitted train step they are taken as given).
    p: corruption probability in ``[0, 1]`` (``1.0``: random labels).
    num_classes: number of classes ``K`` (static).

  Returns:
    ``[B]`` labels, of the input's dtype when it holds ``K - 1`` and ``int32`` otherwise.
  """
  fn = "partial_labels_by_index"
  key = check_key(key, fn)
  labels = _check_labels(labels, num_classes, fn)
  _check_p(p, fn, labels.shape)
  dtype = _label_dtype(labels.dtype, num_classes)
  indices = _check_indices(indices, labels.shape, fn)

  def one(i, label):
    k = jax.random.fold_in(key, i)
    replace = jax.random.uniform(jax.random.fold_in(k, 0)) < p
    drawn = jax.random.randint(jax.random.fold_in(k, 1), (), 0, num_classes, dtype=dtype)
    return jnp.where(replace, drawn, label.astype(dtype))
  return jax.vmap(one)(indices, labels)


def _check_indices(indices, shape: tuple[int, ...], fn: str) -> jax.Array:
  """Integer example indices shaped like the labels, in ``[0, 2**31)`` when concrete.

  Checked before ``jnp.asarray``, as labels are: a negative index would fold in as ``2**32 - 1``
  and an ``int64`` one past ``2**31`` would wrap, each silently drawing another example's label.
  """
  i = indices if isinstance(indices, jax.Array) else np.asarray(indices)
  if not jnp.issubdtype(i.dtype, jnp.integer):  # floats would fold in truncated, bools as 0 and 1
    raise TypeError(f"{fn}: indices must be integers, got dtype {i.dtype}.")
  if i.shape != tuple(shape):
    raise ValueError(f"{fn}: indices {i.shape} and labels {tuple(shape)} must have the same shape.")
  v = _concrete(i)
  if v is not None and v.size and (v.min() < 0 or v.max() > _MAX_CLASSES):
    raise ValueError(f"{fn}: indices must be example indices in [0, 2**31 - 1], got values in [{v.min()}, {v.max()}].")
  return jnp.asarray(i)


def _concrete(x) -> np.ndarray | None:
  """``x`` as a numpy array, or ``None`` under a trace (values cannot be checked there)."""
  return None if is_traced(x) else np.asarray(x)


def _check_transition(T) -> jax.Array:
  T = jnp.asarray(T)
  if T.ndim != 2 or T.shape[0] != T.shape[1] or T.shape[0] < 2:
    raise ValueError(f"T must be a square [K, K] noise matrix with K >= 2, got shape {T.shape}.")
  if not jnp.issubdtype(T.dtype, jnp.floating):
    raise TypeError(f"T must hold probabilities (a float matrix), got dtype {T.dtype}.")
  t = _concrete(T)
  if t is not None:
    if not np.isfinite(t).all():
      raise ValueError("T has NaN or infinite entries; each row must be a probability distribution.")
    if (t < 0).any():
      i, j = np.argwhere(t < 0)[0]
      raise ValueError(f"T has a negative entry T[{i}, {j}] = {t[i, j]:g}; each row must be a probability "
                       "distribution.")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-5)
    if bad.size:
      raise ValueError(f"Row {bad[0]} of T sums to {sums[bad[0]]:.6g}, not 1: T must be row-stochastic "
                       "(T[i, j] = P(noisy label j | true label i)).")
  return T


def transition_labels(key: jax.Array, labels: jax.typing.ArrayLike, T: jax.typing.ArrayLike) -> jax.Array:
  """Class-dependent label noise: each label ``i`` is replaced by a draw from row ``T[i]``.

  ``T`` is a row-stochastic ``[K, K]`` matrix, ``T[i, j] = P(noisy label j | true label i)``
  (the noise model of Patrini et al., 2017, and of most work on label noise since the
  paper's Section 2). ``T = I`` changes nothing; ``T = (1 - p) I + p/K`` is the paper's
  :func:`partial_labels`, in law. Draw it once from a key, as every corruption here.

  Args:
    key: a ``jax.random.key``.
    labels: ``[N]`` integer labels in ``[0, K)`` (checked when concrete; under ``jit``
      taken as given).
    T: ``[K, K]`` float noise matrix, rows summing to 1, no negative entry (checked when
      concrete; under ``jit`` it is taken as given).

  Returns:
    ``[N]`` labels, of the input's dtype when it holds ``K - 1`` and ``int32`` otherwise.
  """
  key = check_key(key, "transition_labels")
  T = _check_transition(T)
  labels = _check_labels(labels, T.shape[0], "transition_labels")
  logits = jnp.log(jnp.clip(T.astype(jnp.float32), 0.0, None))  # log 0 = -inf: never drawn
  # index in int32: JAX's gather cannot even form K as an int8 index (int8 labels, K = 200)
  drawn = jax.random.categorical(key, logits[labels.astype(jnp.int32)], axis=-1)
  return drawn.astype(_label_dtype(labels.dtype, T.shape[0]))


def _check_class_map(class_map, num_classes: int, fn: str) -> dict[int, int]:
  """``class_map`` (default :data:`CIFAR10_ASYMMETRIC`): int classes in ``[0, K)``, none mapped to itself."""
  class_map = CIFAR10_ASYMMETRIC if class_map is None else class_map
  if not isinstance(class_map, Mapping):
    raise TypeError(f"{fn}: class_map must be a dict {{source class: target class}}, got {type(class_map).__name__}.")
  for src, dst in class_map.items():
    if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in (src, dst)):
      raise TypeError(f"{fn}: class_map entries must be int classes, got {src!r} -> {dst!r}.")
    if not (0 <= src < num_classes and 0 <= dst < num_classes):
      raise ValueError(f"{fn}: class_map entry {src} -> {dst} is outside [0, {num_classes}).")
    if src == dst:  # T[i, i] would be set twice and the row would sum to p
      raise ValueError(f"{fn}: class_map maps class {src} to itself; leave unchanged classes out.")
  return {int(src): int(dst) for src, dst in class_map.items()}


def asymmetric_matrix(p: float, num_classes: int = 10, class_map: dict[int, int] | None = None) -> np.ndarray:
  """The noise matrix of :func:`asymmetric_labels`: ``T[i, map[i]] = p``, ``T[i, i] = 1 - p``."""
  num_classes = _check_num_classes(num_classes, "asymmetric_matrix")
  _check_p(p, "asymmetric_matrix")
  class_map = _check_class_map(class_map, num_classes, "asymmetric_matrix")
  T = np.eye(num_classes)
  for src, dst in class_map.items():
    T[src, src], T[src, dst] = 1.0 - p, p
  return T


def asymmetric_labels(key: jax.Array, labels: jax.typing.ArrayLike, p: float | jax.Array,
                      class_map: dict[int, int] | None = None, num_classes: int = 10) -> jax.Array:
  """Asymmetric (class-pair) label noise: each label of a mapped class flips to its pair with probability ``p``.

  The default map is the standard CIFAR-10 one (:data:`CIFAR10_ASYMMETRIC`: truck ->
  automobile, bird -> airplane, deer -> horse, cat <-> dog; Patrini et al., 2017); labels of
  other classes never change. Each example draws independently, fixed once from ``key``.

  Args:
    key: a ``jax.random.key``.
    labels: ``[N]`` integer labels in ``[0, num_classes)`` (checked when concrete; under
      ``jit`` taken as given).
    p: flip probability in ``[0, 1]``, or one per label (may be traced, so a sweep can ``vmap`` over it).
    class_map: ``{source class: target class}``; default :data:`CIFAR10_ASYMMETRIC`.
    num_classes: ``K`` (static).

  Returns:
    ``[N]`` labels, of the input's dtype when it holds ``K - 1`` and ``int32`` otherwise.
  """
  key = check_key(key, "asymmetric_labels")
  labels = _check_labels(labels, num_classes, "asymmetric_labels")
  _check_p(p, "asymmetric_labels", labels.shape)
  class_map = _check_class_map(class_map, num_classes, "asymmetric_labels")
  target = np.arange(num_classes)
  for src, dst in class_map.items():
    target[src] = dst
  dtype = _label_dtype(labels.dtype, num_classes)  # a target class may not fit the input's dtype
  flip = jax.random.uniform(key, labels.shape) < p
  return jnp.where(flip, jnp.asarray(target, dtype)[labels.astype(jnp.int32)], labels.astype(dtype))


def _permute_pixels(images: jax.Array, perm: jax.Array) -> jax.Array:
  n, h, w, c = images.shape
  return images.reshape(n, h * w, c)[:, perm, :].reshape(n, h, w, c)


def shuffled_pixels(key: jax.Array, images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Shuffled pixels (Section 2): one permutation of the ``H*W`` pixel positions.

  Channels of a pixel move together. The permutation depends only on ``key`` and the
  image size, so calling this on train and test with the same key applies the same
  permutation to both, as the paper does.
  """
  key = check_key(key, "shuffled_pixels")
  images = check_images(images_NHWC, "shuffled_pixels")
  h, w = images.shape[1:3]
  return _permute_pixels(images, jax.random.permutation(key, h * w))


def random_pixels(key: jax.Array, images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Random pixels (Section 2): an independent pixel permutation for each image.

  Image ``i`` is permuted with ``fold_in(key, i)``, so its permutation does not depend
  on how many images are in the batch.
  """
  key = check_key(key, "random_pixels")
  images = check_images(images_NHWC, "random_pixels")
  n, h, w, c = images.shape
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
  perms = jax.vmap(lambda k: jax.random.permutation(k, h * w))(keys)
  flat = images.reshape(n, h * w, c)
  return jnp.take_along_axis(flat, perms[:, :, None], axis=1).reshape(n, h, w, c)


def channel_moments(images_NHWC: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Per-channel mean and variance over all images and positions, ``([C], [C])``."""
  images = check_images(images_NHWC, "channel_moments").astype(jnp.float32)
  return jnp.mean(images, axis=(0, 1, 2)), jnp.var(images, axis=(0, 1, 2))


def gaussian(key: jax.Array, images_NHWC: jax.typing.ArrayLike, *,
             mean: jax.typing.ArrayLike | None = None,
             var: jax.typing.ArrayLike | None = None) -> jax.Array:
  """Gaussian inputs (Section 2): noise with the data's mean and variance.

  Moments are per channel (the default: each colour channel keeps its own mean and
  variance, which with one channel is the global moment): the paper says "matching
  mean and variance to the original image dataset", and matching per channel keeps
  strictly more of the data's first two moments than one global pair. Pass
  ``mean``/``var`` (``[C]`` or scalars) to use another set's moments, as :func:`apply`
  does to draw test noise with the train set's moments.

  Returns:
    ``float32`` images of the input's shape, on the input's scale (not clipped).
  """
  key = check_key(key, "gaussian")
  images = check_images(images_NHWC, "gaussian")  # NaN or inf would make every moment, and all noise, NaN
  for name, value in (("mean", mean), ("var", var)):
    if value is not None:
      _check_moment(value, images.shape[-1], name)
  if mean is None or var is None:
    m, v = channel_moments(images)
    mean = m if mean is None else mean
    var = v if var is None else var
  noise = jax.random.normal(key, images.shape, jnp.float32)
  return jnp.asarray(mean, jnp.float32) + jnp.sqrt(jnp.asarray(var, jnp.float32)) * noise


def _check_moment(value, channels: int, name: str) -> None:
  """A mean or variance for :func:`gaussian`: one number or one per channel, finite (a variance >= 0)."""
  a = value if isinstance(value, jax.Array) else np.asarray(value)
  if not (jnp.issubdtype(a.dtype, jnp.integer) or jnp.issubdtype(a.dtype, jnp.floating)):
    raise TypeError(f"gaussian: {name} must be a number or one per channel, got dtype {a.dtype}.")
  if a.ndim > 1 or a.size not in (1, channels):
    raise ValueError(f"gaussian: {name} must be a scalar or one value per channel, shape ({channels},); "
                     f"got shape {a.shape}.")
  check_finite(a, "gaussian", name)
  if name == "var" and not is_traced(a) and bool((a < 0).any()):  # sqrt of a negative variance is NaN
    raise ValueError(f"gaussian: var must be >= 0, got {np.asarray(value).tolist()}.")


@dataclasses.dataclass(frozen=True)
class CorruptionRecord:
  """What :func:`apply` did, for the run record.

  ``fraction_changed``: for label kinds, the fraction of train labels that differ from
  the originals; for pixel permutations, the fraction of train pixel values that
  differ; for Gaussian inputs, 1.0. ``splits``: the splits it changed (a label kind
  changes ``test`` too only with ``corrupt_test``). ``variant`` and ``labels_file_sha256``:
  the CIFAR-10N label set and the file it came from.
  """

  kind: str
  p: float | None
  key_data: tuple[int, ...]
  fraction_changed: float
  splits: tuple[str, ...]
  variant: str | None = None
  labels_file_sha256: str | None = None

  def to_dict(self) -> dict[str, Any]:
    """The record as plain values, as ``config.json`` and ``summary.json`` keep it."""
    return dataclasses.asdict(self)


_shuffled_jit = jax.jit(shuffled_pixels)
_random_jit = jax.jit(random_pixels)
_labels_jit = jax.jit(partial_labels, static_argnums=3)
_asymmetric_jit = jax.jit(asymmetric_labels)
_gaussian_jit = jax.jit(gaussian)


def _noisy_labels(kind: str, key: jax.Array, labels: np.ndarray, p: float | None, num_classes: int,
                  where: str) -> np.ndarray:
  # Inside jit the values cannot be checked, and the call casts int64 to int32 (wrapping a
  # huge label into a class): check them here, on the host, in their own dtype.
  _check_label_range(np.asarray(labels), num_classes, where)
  if kind == "asymmetric_labels":
    y = _asymmetric_jit(key, labels, float(p))
  else:
    y = _labels_jit(key, labels, 1.0 if kind == "random_labels" else float(p), num_classes)
  y = np.asarray(y)
  # Back to the dataset's dtype where every class fits it (int64 stays int64), else int32.
  return y.astype(labels.dtype) if np.iinfo(labels.dtype).max >= num_classes - 1 else y


def _labels_kind(kind: str) -> Callable:
  def corrupt(key, ds: Dataset, p, *, corrupt_test: bool, **_) -> tuple[dict, tuple, float, dict]:
    y = _noisy_labels(kind, key, ds.y_train, p, ds.num_classes, f"apply({kind!r}): {ds.name} y_train")
    new, splits = {"y_train": y}, ("train",)
    if corrupt_test:
      new["y_test"] = _noisy_labels(kind, jax.random.fold_in(key, 1), ds.y_test, p, ds.num_classes,
                                    f"apply({kind!r}): {ds.name} y_test")
      splits = ("train", "test")
    return new, splits, float(np.mean(y != ds.y_train)), {}
  return corrupt


def _true_labels(key, ds: Dataset, p, **_) -> tuple[dict, tuple, float, dict]:
  return {}, (), 0.0, {}


def _cifar10n(key, ds: Dataset, p, *, variant: str, labels_file, **_) -> tuple[dict, tuple, float, dict]:
  y, digest = load_cifar10n(labels_file, variant, clean_labels=ds.y_train)
  return ({"y_train": y.astype(ds.y_train.dtype)}, ("train",), float(np.mean(y != ds.y_train)),
          {"variant": variant, "labels_file_sha256": digest})


def _shuffled(key, ds: Dataset, p, **_) -> tuple[dict, tuple, float, dict]:
  new = {"x_train": np.asarray(_shuffled_jit(key, ds.x_train)), "x_test": np.asarray(_shuffled_jit(key, ds.x_test))}
  return new, ("train", "test"), float(np.mean(new["x_train"] != ds.x_train)), {}


def _random(key, ds: Dataset, p, **_) -> tuple[dict, tuple, float, dict]:
  new = {"x_train": np.asarray(_random_jit(jax.random.fold_in(key, 0), ds.x_train)),
         "x_test": np.asarray(_random_jit(jax.random.fold_in(key, 1), ds.x_test))}
  return new, ("train", "test"), float(np.mean(new["x_train"] != ds.x_train)), {}


def _gaussian(key, ds: Dataset, p, **_) -> tuple[dict, tuple, float, dict]:
  mean, var = channel_moments(ds.x_train)  # test noise uses the training set's moments
  new = {"x_train": np.asarray(_gaussian_jit(jax.random.fold_in(key, 0), ds.x_train, mean=mean, var=var)),
         "x_test": np.asarray(_gaussian_jit(jax.random.fold_in(key, 1), ds.x_test, mean=mean, var=var))}
  return new, ("train", "test"), 1.0, {}


@dataclasses.dataclass(frozen=True)
class Kind:
  """One randomization test, as every part of the library knows it.

  Attributes:
    label: how tables and figures name it.
    changes: ``"labels"`` or ``"inputs"``.
    corrupt: ``(key, dataset, p, *, variant, labels_file, corrupt_test) -> (new arrays,
      splits changed, fraction changed, extra record entries)``, applied once to a dataset.
    takes_p: it has a corruption probability ``p``.
    drawn: its labels are drawn from the key (so ``corrupt_test`` can draw test labels too).
    cifar10_only: it is defined on CIFAR-10's classes.
  """

  label: str
  changes: str
  corrupt: Callable[..., tuple[dict, tuple, float, dict]]
  takes_p: bool = False
  drawn: bool = False
  cifar10_only: bool = False


# Every randomization test (Section 2) and the label noise beyond the paper, declared once: a new
# kind is one entry here and its function above.
REGISTRY: dict[str, Kind] = {
    "true_labels": Kind("true labels", "labels", _true_labels),
    "partial_labels": Kind("partially corrupted labels", "labels", _labels_kind("partial_labels"), takes_p=True,
                           drawn=True),
    "random_labels": Kind("random labels", "labels", _labels_kind("random_labels"), drawn=True),
    "asymmetric_labels": Kind("CIFAR-10 class-pair flips", "labels", _labels_kind("asymmetric_labels"), takes_p=True,
                              drawn=True, cifar10_only=True),
    "cifar10n": Kind("CIFAR-10N human labels", "labels", _cifar10n, cifar10_only=True),
    "shuffled_pixels": Kind("shuffled pixels", "inputs", _shuffled),
    "random_pixels": Kind("random pixels", "inputs", _random),
    "gaussian": Kind("Gaussian", "inputs", _gaussian),
}
KINDS = tuple(REGISTRY)  # the built-in kinds; kinds() adds those registered since
LABEL_KINDS = tuple(k for k, v in REGISTRY.items() if v.changes == "labels")
INPUT_KINDS = tuple(k for k, v in REGISTRY.items() if v.changes == "inputs")
P_KINDS = tuple(k for k, v in REGISTRY.items() if v.takes_p)  # the kinds that take a probability p


def register(name: str, kind: Kind) -> None:
  """Adds a corruption of one's own under ``name``, usable as ``config.corruption.kind`` in
  every engine (a label kind in vmapped runs too), named in run directories and reports as
  the built-in ones are.

  ``kind.corrupt(key, dataset, p, *, variant, labels_file, corrupt_test)`` returns ``(new
  arrays, splits changed, fraction changed, extra record entries)``: the new arrays replace
  the dataset's (``{"y_train": ...}`` for a label kind), drawn once from ``key``. The
  engines keep the dataset's labels as the clean ones, so per-example records know which
  labels it changed. Built-in names cannot be replaced.
  """
  if not isinstance(name, str) or not name.isidentifier() or name in REGISTRY:
    raise ValueError(f"corruptions.register({name!r}): must be a new name made of letters, digits and underscores "
                     f"(taken: {', '.join(REGISTRY)}).")
  if not isinstance(kind, Kind) or kind.changes not in ("labels", "inputs") or not callable(kind.corrupt):
    raise TypeError(f"corruptions.register({name!r}, ...): must be a Kind(label, 'labels' or 'inputs', corrupt).")
  REGISTRY[name] = kind


def kinds(changes: str | None = None, takes_p: bool | None = None) -> tuple[str, ...]:
  """Every corruption name, built-in and registered (:func:`register`); only those that
  change ``changes`` (``"labels"`` or ``"inputs"``), or that take ``p`` (``takes_p``)."""
  if changes not in (None, "labels", "inputs"):  # another word would silently match nothing
    raise ValueError(f"kinds: changes must be 'labels', 'inputs' or None, got {changes!r}.")
  if takes_p not in (None, True, False):
    raise ValueError(f"kinds: takes_p must be True, False or None, got {takes_p!r}.")
  return tuple(k for k, v in REGISTRY.items()
               if (changes is None or v.changes == changes) and (takes_p is None or v.takes_p == takes_p))


def run_name(kind: str, p: float = 0.0, variant: str = "") -> str:
  """How a corruption names a run directory: ``random_labels``, ``partial_labels0.4``, ``cifar10n-worst``."""
  if not isinstance(kind, str) or kind not in REGISTRY:
    raise ValueError(f"run_name: unknown corruption {kind!r}; choose one of {kinds()}.")
  return kind + (f"{p:g}" if REGISTRY[kind].takes_p else "") + (f"-{variant}" if kind == "cifar10n" else "")


def apply(key: jax.Array, dataset: Dataset, kind: str, p: float | None = None, *, variant: str | None = None,
          labels_file: str | os.PathLike | None = None, corrupt_test: bool = False
          ) -> tuple[Dataset, CorruptionRecord]:
  """Applies one randomization test to a whole dataset, once (Section 2).

  Label corruptions change train labels only (test labels stay true, so test accuracy
  measures generalization), unless ``corrupt_test``: then the test labels are corrupted
  by the same law with the stream ``fold_in(key, 1)`` (the train labels are the same
  either way). Shuffled pixels apply one permutation to train and test. Random pixels and
  Gaussian inputs corrupt train and test with independent draws (streams
  ``fold_in(key, 0)`` and ``fold_in(key, 1)``); Gaussian test noise uses the train set's
  moments. The label kinds check the labels they corrupt lie in ``[0, num_classes)``, on the
  host and before the jitted draw (which cannot check values); drawn labels keep the
  dataset's dtype where every class fits it, else they are ``int32``.

  Args:
    key: the run's corruption key.
    dataset: the clean data.
    kind: one of :func:`kinds` (:data:`REGISTRY` says what each does).
    p: corruption probability, required for the kinds that take it (``kinds(takes_p=True)``) and only for them.
    variant: the CIFAR-10N label set (:data:`rethink_jax.data.CIFAR10N_VARIANTS`), for ``"cifar10n"`` only.
    labels_file: the CIFAR-10N file (:func:`rethink_jax.data.load_cifar10n`), for ``"cifar10n"`` only.
    corrupt_test: corrupt the test labels too (key-drawn label kinds only; CIFAR-10N has
      no test labels).

  Returns:
    ``(corrupted dataset, record)``.
  """
  key = check_key(key, "apply")
  if not isinstance(dataset, Dataset):
    raise TypeError(f"apply: dataset must be a rethink_jax.data.Dataset (data.load or data.from_arrays), got "
                    f"{type(dataset).__name__}.")
  if not isinstance(kind, str) or kind not in REGISTRY:
    raise ValueError(f"Unknown corruption {kind!r}; choose one of {kinds()}.")
  spec = REGISTRY[kind]
  if spec.takes_p != (p is not None):
    raise ValueError(f"p is required for {' and '.join(map(repr, kinds(takes_p=True)))} and only for them" +
                     (f"; got p={p!r} with {kind!r}." if p is not None else "."))
  if (kind == "cifar10n") != (variant is not None and labels_file is not None):
    raise ValueError("variant and labels_file are required for 'cifar10n' and only for it.")
  if corrupt_test and not spec.drawn:
    raise ValueError(f"corrupt_test applies to the key-drawn label corruptions only, not {kind!r}"
                     + (" (CIFAR-10N has human labels for the training set only)." if kind == "cifar10n" else "."))
  if spec.cifar10_only and (dataset.name != "cifar10" or dataset.num_classes != 10):
    raise ValueError(f"{kind!r} is defined on CIFAR-10's classes, not on {dataset.name!r}.")
  if p is not None:
    _check_p(p, "apply")
  new, splits, changed, extra = spec.corrupt(key, dataset, p, variant=variant, labels_file=labels_file,
                                             corrupt_test=corrupt_test)
  what = kind + (f" p={p}" if p is not None else "") + (f" {variant}" if variant else "") + \
      (" (test labels too)" if corrupt_test else "")
  out = dataclasses.replace(dataset, **new, provenance=f"{dataset.provenance} | corrupted: {what}")
  record = CorruptionRecord(kind=kind, p=None if p is None else float(p),
                            key_data=tuple(int(v) for v in np.ravel(jax.random.key_data(key)
                                           if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key)),
                            fraction_changed=changed, splits=splits, **extra)
  return out, record
