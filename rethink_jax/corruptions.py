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
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.data import Dataset

__all__ = [
    "partial_labels", "random_labels", "partial_labels_by_index", "shuffled_pixels", "random_pixels", "gaussian",
    "apply", "CorruptionRecord", "KINDS", "LABEL_KINDS", "INPUT_KINDS",
]

LABEL_KINDS = ("true_labels", "partial_labels", "random_labels")
INPUT_KINDS = ("shuffled_pixels", "random_pixels", "gaussian")
KINDS = LABEL_KINDS + INPUT_KINDS


def _check_key(key) -> jax.Array:
  key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    if key.shape != ():
      raise ValueError(f"Expected a single PRNG key, got a key array of shape {key.shape}.")
    return key
  if key.dtype == jnp.uint32 and key.shape == (2,):  # legacy jax.random.PRNGKey
    return key
  raise TypeError(f"Expected a jax.random.key(...), got {key.dtype} array of shape {key.shape}.")


def _check_labels(labels, num_classes) -> jax.Array:
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise TypeError(f"labels must be integers, got dtype {labels.dtype}.")
  if labels.ndim != 1:
    raise ValueError(f"labels must be a 1-D vector, got shape {labels.shape}.")
  if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
    raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
  return labels


def _check_p(p) -> None:
  try:
    value = float(p)
  except TypeError:  # a tracer (p under jit/vmap) or an array: cannot be checked here
    return
  if not 0.0 <= value <= 1.0:  # also rejects NaN
    raise ValueError(f"Corruption probability p must lie in [0, 1], got {p!r}.")


def _check_images(images, fn: str) -> jax.Array:
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"{fn} expects [N, H, W, C] images, got shape {images.shape}.")
  if not (jnp.issubdtype(images.dtype, jnp.integer) or jnp.issubdtype(images.dtype, jnp.floating)):
    raise TypeError(f"{fn} expects integer or float images, got {images.dtype}.")
  return images


def partial_labels(key: jax.Array, labels: jax.typing.ArrayLike, p: float | jax.Array,
                   num_classes: int) -> jax.Array:
  """Partially corrupted labels (Section 2, Figure 1b/1c).

  Independently with probability ``p`` each label is replaced by a class drawn
  uniformly from all ``num_classes`` classes (it may equal the true class), as in the
  paper. ``p`` may be a traced value, so a sweep can ``vmap`` over it.

  Args:
    key: a ``jax.random.key``.
    labels: ``[N]`` integer labels.
    p: corruption probability in ``[0, 1]``.
    num_classes: number of classes ``K`` (static).

  Returns:
    ``[N]`` labels of the same dtype.
  """
  key = _check_key(key)
  labels = _check_labels(labels, num_classes)
  _check_p(p)
  k_mask, k_class = jax.random.split(key)
  replace = jax.random.uniform(k_mask, labels.shape) < p
  drawn = jax.random.randint(k_class, labels.shape, 0, num_classes, dtype=labels.dtype)
  return jnp.where(replace, drawn, labels)


def random_labels(key: jax.Array, labels: jax.typing.ArrayLike, num_classes: int) -> jax.Array:
  """Random labels (Section 2): every label drawn uniformly; equals ``partial_labels(p=1)``."""
  return partial_labels(key, labels, 1.0, num_classes)


def partial_labels_by_index(key: jax.Array, indices: jax.typing.ArrayLike, labels: jax.typing.ArrayLike,
                            p: float | jax.Array, num_classes: int) -> jax.Array:
  """Partially corrupted labels for examples named by their index in the dataset.

  The same law as :func:`partial_labels`, but example ``i``'s draw depends only on
  ``fold_in(key, i)``: for a dataset streamed in batches (ImageNet) the corruption is
  applied inside the train step, batch by batch, and still stays fixed across epochs,
  hosts and resumes, as the paper requires (Section 2).

  Args:
    key: a ``jax.random.key``.
    indices: ``[B]`` non-negative example indices.
    labels: ``[B]`` their true integer labels.
    p: corruption probability in ``[0, 1]`` (``1.0``: random labels).
    num_classes: number of classes ``K`` (static).

  Returns:
    ``[B]`` labels of the same dtype.
  """
  key = _check_key(key)
  labels = _check_labels(labels, num_classes)
  _check_p(p)
  indices = jnp.asarray(indices)
  if indices.shape != labels.shape:
    raise ValueError(f"indices {indices.shape} and labels {labels.shape} must have the same shape.")

  def one(i, label):
    k = jax.random.fold_in(key, i)
    replace = jax.random.uniform(jax.random.fold_in(k, 0)) < p
    drawn = jax.random.randint(jax.random.fold_in(k, 1), (), 0, num_classes, dtype=labels.dtype)
    return jnp.where(replace, drawn, label)
  return jax.vmap(one)(indices, labels)


def _permute_pixels(images: jax.Array, perm: jax.Array) -> jax.Array:
  n, h, w, c = images.shape
  return images.reshape(n, h * w, c)[:, perm, :].reshape(n, h, w, c)


def shuffled_pixels(key: jax.Array, images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Shuffled pixels (Section 2): one permutation of the ``H*W`` pixel positions.

  Channels of a pixel move together. The permutation depends only on ``key`` and the
  image size, so calling this on train and test with the same key applies the same
  permutation to both, as the paper does.
  """
  key = _check_key(key)
  images = _check_images(images_NHWC, "shuffled_pixels")
  h, w = images.shape[1:3]
  return _permute_pixels(images, jax.random.permutation(key, h * w))


def random_pixels(key: jax.Array, images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Random pixels (Section 2): an independent pixel permutation for each image.

  Image ``i`` is permuted with ``fold_in(key, i)``, so its permutation does not depend
  on how many images are in the batch.
  """
  key = _check_key(key)
  images = _check_images(images_NHWC, "random_pixels")
  n, h, w, c = images.shape
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
  perms = jax.vmap(lambda k: jax.random.permutation(k, h * w))(keys)
  flat = images.reshape(n, h * w, c)
  return jnp.take_along_axis(flat, perms[:, :, None], axis=1).reshape(n, h, w, c)


def channel_moments(images_NHWC: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Per-channel mean and variance over all images and positions, ``([C], [C])``."""
  images = _check_images(images_NHWC, "channel_moments").astype(jnp.float32)
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
  key = _check_key(key)
  images = _check_images(images_NHWC, "gaussian")
  if mean is None or var is None:
    m, v = channel_moments(images)
    mean = m if mean is None else mean
    var = v if var is None else var
  noise = jax.random.normal(key, images.shape, jnp.float32)
  return jnp.asarray(mean, jnp.float32) + jnp.sqrt(jnp.asarray(var, jnp.float32)) * noise


@dataclasses.dataclass(frozen=True)
class CorruptionRecord:
  """What :func:`apply` did, for the run record.

  ``fraction_changed``: for label kinds, the fraction of train labels that differ from
  the originals; for pixel permutations, the fraction of train pixel values that
  differ; for Gaussian inputs, 1.0.
  """

  kind: str
  p: float | None
  key_data: tuple[int, ...]
  fraction_changed: float
  splits: tuple[str, ...]

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


_shuffled_jit = jax.jit(shuffled_pixels)
_random_jit = jax.jit(random_pixels)
_labels_jit = jax.jit(partial_labels, static_argnums=3)
_gaussian_jit = jax.jit(gaussian)


def apply(key: jax.Array, dataset: Dataset, kind: str, p: float | None = None
          ) -> tuple[Dataset, CorruptionRecord]:
  """Applies one randomization test to a whole dataset, once (Section 2).

  Label corruptions change train labels only (test labels stay true, so test accuracy
  measures generalization). Shuffled pixels apply one permutation to train and test.
  Random pixels and Gaussian inputs corrupt train and test with independent draws
  (streams ``fold_in(key, 0)`` and ``fold_in(key, 1)``); Gaussian test noise uses the
  train set's moments.

  Args:
    key: the run's corruption key.
    dataset: the clean data.
    kind: one of :data:`KINDS`.
    p: corruption probability, required for ``"partial_labels"`` and only for it.

  Returns:
    ``(corrupted dataset, record)``.
  """
  key = _check_key(key)
  if kind not in KINDS:
    raise ValueError(f"Unknown corruption {kind!r}; choose one of {KINDS}.")
  if (kind == "partial_labels") != (p is not None):
    raise ValueError("p is required for 'partial_labels' and only for it" +
                     (f"; got p={p!r} with {kind!r}." if p is not None else "."))
  if p is not None:
    _check_p(p)
  x_tr, y_tr, x_te = dataset.x_train, dataset.y_train, dataset.x_test
  splits: tuple[str, ...] = ("train", "test")
  if kind == "true_labels":
    new, splits, changed = {}, (), 0.0
  elif kind in ("partial_labels", "random_labels"):
    q = 1.0 if kind == "random_labels" else float(p)
    y = np.asarray(_labels_jit(key, y_tr, q, dataset.num_classes)).astype(y_tr.dtype)
    new, splits, changed = {"y_train": y}, ("train",), float(np.mean(y != y_tr))
  elif kind == "shuffled_pixels":
    new = {"x_train": np.asarray(_shuffled_jit(key, x_tr)), "x_test": np.asarray(_shuffled_jit(key, x_te))}
  elif kind == "random_pixels":
    new = {"x_train": np.asarray(_random_jit(jax.random.fold_in(key, 0), x_tr)),
           "x_test": np.asarray(_random_jit(jax.random.fold_in(key, 1), x_te))}
  else:  # gaussian
    mean, var = channel_moments(x_tr)
    new = {"x_train": np.asarray(_gaussian_jit(jax.random.fold_in(key, 0), x_tr, mean=mean, var=var)),
           "x_test": np.asarray(_gaussian_jit(jax.random.fold_in(key, 1), x_te, mean=mean, var=var))}
  if kind in ("shuffled_pixels", "random_pixels"):
    changed = float(np.mean(new["x_train"] != x_tr))
  elif kind == "gaussian":
    changed = 1.0
  out = dataclasses.replace(dataset, **new,
                            provenance=f"{dataset.provenance} | corrupted: {kind}" + (f" p={p}" if p is not None else ""))
  record = CorruptionRecord(kind=kind, p=None if p is None else float(p),
                            key_data=tuple(int(v) for v in np.ravel(jax.random.key_data(key)
                                           if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key)),
                            fraction_changed=changed, splits=splits)
  return out, record
