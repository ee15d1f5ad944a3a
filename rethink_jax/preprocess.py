"""The paper's input preprocessing as pure, jittable array functions.

Appendix A of Zhang et al. (2017): CIFAR-10 images are divided by 255, centre-cropped
to 28x28 and whitened per image with TensorFlow's ``per_image_standardization``. All
functions take ``[N, H, W, C]`` batches and are shape-static, so they compile once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["check_images", "to_unit", "center_crop", "per_image_standardization", "cifar10_paper", "PAPER_CROP"]

PAPER_CROP = 28


def check_images(images: jax.typing.ArrayLike, fn: str) -> jax.Array:
  """``images`` as a jax array if it is an ``[N, H, W, C]`` batch of integers or floats;
  otherwise the error names ``fn``, the function that was given it (every image function of
  the library, here and in :mod:`rethink_jax.corruptions`, checks its input so)."""
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"{fn} expects [N, H, W, C] images, got shape {images.shape}.")
  if not (jnp.issubdtype(images.dtype, jnp.integer) or jnp.issubdtype(images.dtype, jnp.floating)):
    raise TypeError(f"{fn} expects integer or float images, got {images.dtype}.")
  return images


def to_unit(images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Pixel values on the 0..255 scale (uint8 or float) to float32 divided by 255."""
  images = check_images(images_NHWC, "to_unit")
  return images.astype(jnp.float32) / 255.0


def center_crop(images_NHWC: jax.typing.ArrayLike, size: int) -> jax.Array:
  """Central ``size x size`` window; offsets round down as in ``tf.image.resize_with_crop_or_pad``."""
  images = check_images(images_NHWC, "center_crop")
  h, w = images.shape[1:3]
  if not isinstance(size, int) or not 0 < size <= min(h, w):
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
