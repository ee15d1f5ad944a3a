"""Data augmentation of Table 1 and the Appendix as pure, jittable array functions.

The paper's "random crop" rows replace the centre 28x28 crop of the 32x32 CIFAR-10 image
with a 28x28 crop at a random position; the Appendix's "augmentation" adds random
horizontal flips and rotations of up to 25 degrees. Each function takes a key and a
``[N, H, W, C]`` batch and draws independently for each image of the batch. The engine
uses the key ``fold_in(augment_stream, s)`` at step ``s``, so a resumed run augments
identically.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.preprocess import check_images, check_key, is_traced

__all__ = ["random_crop", "random_flip", "random_rotation"]


def random_crop(key: jax.Array, images_NHWC: jax.typing.ArrayLike, size: int) -> jax.Array:
  """A ``size x size`` crop at a uniformly random position, independently per image."""
  key = check_key(key, "random_crop")
  images = check_images(images_NHWC, "random_crop")
  n, h, w, c = images.shape
  if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= min(h, w):
    raise ValueError(f"random_crop: crop size must be an int in [1, {min(h, w)}], got {size!r}.")
  ky, kx = jax.random.split(key)
  tops = jax.random.randint(ky, (n,), 0, h - size + 1)
  lefts = jax.random.randint(kx, (n,), 0, w - size + 1)
  crop = lambda img, t, l: jax.lax.dynamic_slice(img, (t, l, 0), (size, size, c))
  return jax.vmap(crop)(images, tops, lefts)


def random_flip(key: jax.Array, images_NHWC: jax.typing.ArrayLike) -> jax.Array:
  """Horizontal flip with probability 1/2, independently per image."""
  key = check_key(key, "random_flip")
  images = check_images(images_NHWC, "random_flip")
  flip = jax.random.bernoulli(key, 0.5, (images.shape[0],))
  return jnp.where(flip[:, None, None, None], images[:, :, ::-1, :], images)


def random_rotation(key: jax.Array, images_NHWC: jax.typing.ArrayLike, max_degrees: float) -> jax.Array:
  """Rotation about the centre by an angle uniform in ``[-max_degrees, max_degrees]``.

  Bilinear interpolation; pixels that come from outside the image are zero. The engine
  (:func:`rethink_jax.train.make_input_fn`) rotates images scaled to [0, 1], before per-image
  standardization: they enter black and count in each image's mean and variance.
  """
  key = check_key(key, "random_rotation")
  images = check_images(images_NHWC, "random_rotation")
  if not is_traced(max_degrees):  # a traced angle (a sweep) is taken as given
    d = np.asarray(max_degrees)
    if d.shape != () or d.dtype.kind not in "iuf":
      raise TypeError(f"random_rotation: max_degrees must be a finite number >= 0, got {max_degrees!r}.")
    if not np.isfinite(d) or d < 0:  # NaN would rotate every image by NaN
      raise ValueError(f"random_rotation: max_degrees must be a finite number >= 0, got {max_degrees!r}.")
  n, h, w, c = images.shape
  angles = jnp.deg2rad(jax.random.uniform(key, (n,), minval=-max_degrees, maxval=max_degrees))
  yy, xx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
  cy, cx = (h - 1) / 2.0, (w - 1) / 2.0

  def rotate(img, theta):
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    # inverse map: where in the source does each output pixel come from
    sy = cos * (yy - cy) - sin * (xx - cx) + cy
    sx = sin * (yy - cy) + cos * (xx - cx) + cx
    channel = lambda ch: jax.scipy.ndimage.map_coordinates(ch, [sy, sx], order=1, mode="constant", cval=0.0)
    return jax.vmap(channel, in_axes=2, out_axes=2)(img)

  return jax.vmap(rotate)(images.astype(jnp.float32), angles)
