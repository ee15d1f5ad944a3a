"""The paper's input preprocessing as pure, jittable array functions.

Appendix A of Zhang et al. (2017): CIFAR-10 images are divided by 255, centre-cropped
to 28x28 and whitened per image with TensorFlow's ``per_image_standardization``. All
functions take ``[N, H, W, C]`` batches and are shape-static, so they compile once.

The argument checks every pure array function of the library shares live here too
(:func:`check_images`, :func:`check_key`, :func:`check_finite`, :func:`is_traced`): shapes
and dtypes are static, so they are checked always, under ``jit`` too; values (NaN, ranges)
only when concrete, since a traced value has none yet.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_images", "check_int", "check_key", "check_finite", "is_traced", "to_unit", "center_crop",
           "per_image_standardization", "cifar10_paper", "PAPER_CROP"]

PAPER_CROP = 28


def is_traced(x) -> bool:
  """Whether ``x`` is being traced (under ``jit``, ``vmap``, ``grad``): its values are then unknown."""
  return isinstance(x, jax.core.Tracer)


def check_finite(x, fn: str, name: str, *, float32: bool = True) -> None:
  """Raises a ``ValueError`` naming ``fn`` and ``name`` if the float array ``x`` holds NaN or inf.

  Skipped under a trace. A numpy array is checked on the host (its min and max: no copy), a
  concrete JAX array on its device (one scalar comes back), so no big array is moved. With
  ``float32`` (the caller computes in float32), a float64 numpy array must also fit in float32's
  range: the cast would turn larger values into inf.
  """
  if is_traced(x) or not jnp.issubdtype(x.dtype, jnp.floating) or not x.size:
    return
  if isinstance(x, jax.Array):
    finite = bool(jnp.isfinite(x).all())
  else:
    lo, hi = x.min(), x.max()  # NaN propagates through min and max
    finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if finite and float32 and x.dtype.itemsize > 4 and max(-lo, hi) > np.finfo(np.float32).max:
      raise ValueError(f"{fn}: {name} holds values beyond float32's range (up to {max(-lo, hi):.3g}), which the "
                       "cast to float32 would turn into inf; rescale them.")
  if not finite:
    raise ValueError(f"{fn}: {name} holds NaN or infinite values.")


def check_int(value, fn: str, name: str, low: int = 1, high: int | None = None) -> int:
  """``value`` as an int in ``[low, high)`` (``high=None``: no upper bound): a Python or NumPy
  integer or a concrete 0-d integer array, not a bool and not a float such as ``2.0`` (it would
  be truncated); otherwise a ``TypeError`` (wrong kind) or ``ValueError`` (out of range) naming
  ``fn`` and ``name``."""
  allowed = f">= {low}" if high is None else f"in [{low}, {high})"
  if isinstance(value, bool):
    raise TypeError(f"{fn}: {name} must be an integer {allowed}, got {value!r}.")
  try:
    number = operator.index(value)
  except TypeError:
    raise TypeError(f"{fn}: {name} must be an integer {allowed}, got {value!r} ({type(value).__name__}).") from None
  if number < low or (high is not None and number >= high):
    raise ValueError(f"{fn}: {name} must be an integer {allowed}, got {number}.")
  return number


def check_key(key, fn: str, name: str = "key") -> jax.Array:
  """``key`` if it is one ``jax.random.key(...)`` (or a legacy ``PRNGKey``, ``uint32[2]``), traced or not;
  otherwise a ``TypeError`` (a ``ValueError`` for an array of keys) naming ``fn`` and ``name``."""
  if not isinstance(key, (jax.Array, np.ndarray)):  # None, ints, strings: before JAX tries to read them
    raise TypeError(f"{fn}: {name} must be a jax.random.key(...), got {type(key).__name__}.")
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    if key.shape != ():
      raise ValueError(f"{fn}: {name} must be a single jax.random.key(...), got a key array of shape {key.shape}.")
    return key
  if key.dtype == np.uint32 and key.shape == (2,):  # legacy jax.random.PRNGKey
    return jnp.asarray(key)
  raise TypeError(f"{fn}: {name} must be a jax.random.key(...), got a {key.dtype} array of shape {key.shape}.")


def check_images(images: jax.typing.ArrayLike, fn: str) -> jax.Array:
  """``images`` as a jax array if it is an ``[N, H, W, C]`` batch of integers or finite floats;
  otherwise the error names ``fn``, the function that was given it (every image function of
  the library, here, in :mod:`rethink_jax.corruptions` and :mod:`rethink_jax.augment`, checks its
  input so). NaN and inf
  are looked for only in concrete arrays (:func:`check_finite`)."""
  if not isinstance(images, jax.Array):
    images = np.asarray(images)  # the dtype is checked before JAX meets strings or objects
  if images.ndim != 4:
    raise ValueError(f"{fn} expects [N, H, W, C] images, got shape {images.shape}.")
  if not (jnp.issubdtype(images.dtype, jnp.integer) or jnp.issubdtype(images.dtype, jnp.floating)):
    raise TypeError(f"{fn} expects integer or float images, got {images.dtype}.")
  check_finite(images, fn, "images")
  return jnp.asarray(images)


def to_unit(images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Pixel values on the 0..255 scale (uint8 or float) to float32 divided by 255."""
  images = check_images(images_NHWC, "to_unit")
  return images.astype(jnp.float32) / 255.0


def center_crop(images_NHWC: jax.typing.ArrayLike, size: int) -> jax.Array:
  """Central ``size x size`` window; offsets round down as in ``tf.image.resize_with_crop_or_pad``."""
  images = check_images(images_NHWC, "center_crop")
  h, w = images.shape[1:3]
  if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= min(h, w):
    raise ValueError(f"center_crop size must be an int in [1, {min(h, w)}], got {size!r}.")
  top, left = (h - size) // 2, (w - size) // 2
  return images[:, top:top + size, left:left + size, :]


def per_image_standardization(images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Per-image whitening, the formula of ``tf.image.per_image_standardization``.

  ``(x - mean) / max(std, 1 / sqrt(num_elements))`` with mean and (population) std over
  all pixels and channels of each image; a constant image maps to zeros.
  """
  x = check_images(images_NHWC, "per_image_standardization").astype(jnp.float32)
  num_elements = x.shape[1] * x.shape[2] * x.shape[3]
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  std = jnp.std(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) / jnp.maximum(std, 1.0 / jnp.sqrt(float(num_elements)))


def cifar10_paper(images_NHWC: jax.typing.ArrayLike, crop: int = PAPER_CROP) -> jax.Array:
  """The paper's CIFAR-10 pipeline (Appendix A): ``/255``, centre crop 28x28, per-image whitening."""
  return per_image_standardization(center_crop(to_unit(images_NHWC), crop))
