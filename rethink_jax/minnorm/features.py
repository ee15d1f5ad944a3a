"""Feature maps of Section 5: a Gabor wavelet transform (MNIST) and random convolutional
features (CIFAR-10), computed with jitted JAX convolutions in blocks of images.

With many random filters the feature matrix would not fit in memory (32,000 filters x 4
pooling cells x 50,000 images is 25 GB in float32), so :func:`random_conv_gram`
accumulates the linear kernel ``sum_filters F F^T`` filter block by filter block and the
features are never stored whole.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax import preprocess
from rethink_jax.minnorm import checks

__all__ = ["gabor_bank", "gabor_features", "random_conv_features", "random_conv_gram"]


def gabor_bank(size: int = 11, scales=(2.0, 4.0), orientations: int = 8) -> np.ndarray:
  """Complex Gabor filters ``[size, size, len(scales) * orientations]`` (Morlet-like, zero mean).

  ``psi(u) = exp(-|u|^2 / (2 s^2)) (exp(i xi <u, e_theta>) - c)`` with spatial frequency
  ``xi = 3 / (4 s) * pi`` and ``c`` chosen so each filter sums to zero, for every scale
  ``s`` and ``orientations`` angles in ``[0, pi)``.
  """
  size, orientations = checks.positive_int(size, "size"), checks.positive_int(orientations, "orientations")
  if size < 3 or size % 2 == 0:  # centred on a pixel; a 1x1 filter is all zero once its mean is removed
    raise ValueError(f"size must be an odd integer >= 3 (the filters are centred on a pixel), got {size}.")
  scales = tuple(scales) if np.ndim(scales) else (scales,)
  if not scales or not all(np.isfinite(checks.real_number(s, "scales")) and s > 0 for s in scales):
    raise ValueError(f"scales must be one or more finite numbers > 0, got {scales!r}.")
  half = size // 2
  yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
  filters = []
  for s in scales:
    envelope = np.exp(-(xx ** 2 + yy ** 2) / (2 * s ** 2))
    xi = 0.75 * np.pi / s
    for k in range(orientations):
      theta = np.pi * k / orientations
      wave = np.exp(1j * xi * (xx * np.cos(theta) + yy * np.sin(theta)))
      c = np.sum(envelope * wave) / np.sum(envelope)
      psi = envelope * (wave - c)
      with np.errstate(invalid="ignore"):  # scales too small: psi is 0, refused below
        filters.append(psi / np.sum(np.abs(psi)))
  bank = np.stack(filters, axis=-1)
  if not np.all(np.isfinite(bank)):  # the envelope underflows to 0 everywhere but the centre
    raise ValueError(f"scales {scales!r} are too small for {size}x{size} filters: the filters would be NaN; use "
                     "scales of at least about 0.1 pixel.")
  return bank


@functools.partial(jax.jit, static_argnames=("pool",))
def _gabor_block(images, real, imag, pool: int):
  x = images[..., None] if images.ndim == 3 else images  # [N, H, W, 1]
  conv = lambda f: jax.lax.conv_general_dilated(x, f[:, :, None, :], (1, 1), "SAME",
                                                dimension_numbers=("NHWC", "HWIO", "NHWC"))
  modulus = jnp.sqrt(conv(real) ** 2 + conv(imag) ** 2)
  low = jnp.mean(x, axis=-1, keepdims=True)
  feats = jnp.concatenate([low, modulus], axis=-1)
  pooled = jax.lax.reduce_window(feats, 0.0, jax.lax.add, (1, pool, pool, 1), (1, pool, pool, 1), "VALID")
  return pooled.reshape(len(x), -1) / (pool * pool)


def gabor_features(images, *, size: int = 11, scales=(2.0, 4.0), orientations: int = 8, pool: int = 4,
                   block: int = 2000) -> np.ndarray:
  """Gabor wavelet modulus features for grey images ``[N, H, W]`` or ``[N, H, W, 1]``.

  Per image: the image itself and the modulus of its convolution with each filter of
  :func:`gabor_bank` (``len(scales) * orientations`` channels), each average-pooled over
  ``pool x pool`` cells (MNIST 28x28 with ``pool=4``: 7x7 cells, 17 channels, 833 features).
  Inputs are scaled to ``[0, 1]`` when they are ``uint8``.
  """
  images = np.asarray(images)
  scale = 1 / 255.0 if images.dtype == np.uint8 else 1.0
  if images.ndim == 4 and images.shape[-1] != 1:
    raise ValueError(f"gabor_features expects grey images, got {images.shape[-1]} channels.")
  if images.ndim not in (3, 4) or 0 in images.shape:
    raise ValueError(f"images must be grey images [N, H, W] or [N, H, W, 1] with N > 0, got shape {images.shape}.")
  checks.check_real(images, "images")
  checks.check_finite(images, "images")
  pool, block = checks.positive_int(pool, "pool"), checks.positive_int(block, "block")
  if pool > min(images.shape[1:3]):  # no pooling cell would fit: zero features
    raise ValueError(f"pool must be in [1, {min(images.shape[1:3])}] for {images.shape[1]}x{images.shape[2]} "
                     f"images, got {pool}.")
  bank = gabor_bank(size, scales, orientations)
  real, imag = jnp.asarray(bank.real, jnp.float32), jnp.asarray(bank.imag, jnp.float32)
  out = [np.asarray(_gabor_block(jnp.asarray(images[i:i + block], jnp.float32) * scale, real, imag, pool))
         for i in range(0, len(images), block)]
  return np.concatenate(out).astype(np.float64)


def _random_filters(key, num_filters: int, size: int, channels: int) -> jax.Array:
  w = jax.random.normal(key, (size, size, channels, num_filters), jnp.float32)
  w = w - jnp.mean(w, axis=(0, 1, 2), keepdims=True)
  return w / jnp.linalg.norm(w.reshape(-1, num_filters), axis=0)


@functools.partial(jax.jit, static_argnames=("grid",))
def _conv_relu_pool(images, filters, bias, grid: int):
  y = jax.lax.conv_general_dilated(images, filters, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  y = jax.nn.relu(y - bias)
  n, h, w, f = y.shape
  ch, cw = h // grid, w // grid
  y = y[:, :ch * grid, :cw * grid].reshape(n, grid, ch, grid, cw, f).mean(axis=(2, 4))
  return y.reshape(n, -1)


def _standardize(images) -> np.ndarray:
  x = np.asarray(images, np.float32)
  x = x - x.mean(axis=(1, 2, 3), keepdims=True)
  return x / np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1.0 / math.sqrt(x[0].size))


RESPONSE_BYTES = 12 << 20
"""The ReLU maps one call of ``_conv_relu_pool`` may hold on CPU: a few images per call, so that
the maps are still in cache when the ReLU and the pooling read them (as the random-patch
features do, :data:`rethink_jax.minnorm.patches.RESPONSE_BYTES`)."""


def _images_per_call(num_filters: int, map_height: int, map_width: int, block: int) -> int:
  """``block`` images per call on an accelerator; on CPU as many as keep the float32 maps within
  :data:`RESPONSE_BYTES` (at least 1, at most ``block``)."""
  if jax.default_backend() != "cpu":
    return block
  return max(1, min(block, RESPONSE_BYTES // (4 * map_height * map_width * num_filters)))


def _features(key, x: np.ndarray, num_filters: int, size: int, grid: int, bias: float, block: int) -> np.ndarray:
  """float32 features of already standardized images ``x``, a few images per jitted call (the last
  call padded to the same shape, so one compiled program serves every call)."""
  filters = _random_filters(key, num_filters, size, x.shape[-1])
  n = len(x)
  chunk = _images_per_call(num_filters, x.shape[1] - size + 1, x.shape[2] - size + 1, block)
  out = np.empty((n, grid * grid * num_filters), np.float32)
  for i in range(0, n, chunk):
    xi = x[i:i + chunk]
    m = len(xi)
    if m < chunk < n:
      xi = np.concatenate([xi, np.zeros((chunk - m,) + xi.shape[1:], xi.dtype)])
    out[i:i + m] = np.asarray(_conv_relu_pool(xi, filters, bias, grid))[:m]
  return out


def _check_conv_params(key, images, name: str, num_filters, size, grid, bias, block) -> np.ndarray:
  """``images`` checked (:func:`checks.images`), and the layer's arguments against their size: a filter larger
  than the image, or more cells than the map has rows, would give NaN features (means of empty cells)."""
  preprocess.check_key(key, "random_conv_features" if name == "images" else "random_conv_gram")
  x = checks.images(images, name)
  for value, what in ((num_filters, "num_filters"), (size, "size"), (grid, "grid"), (block, "block")):
    checks.positive_int(value, what)
  h, w = x.shape[1:3]
  if size > min(h, w):
    raise ValueError(f"size must be in [1, {min(h, w)}] for {h}x{w} images, got {size}.")
  if grid > min(h, w) - size + 1:
    raise ValueError(f"grid must be in [1, {min(h, w) - size + 1}] for the {h - size + 1}x{w - size + 1} maps of "
                     f"{size}x{size} filters on {h}x{w} images, got {grid}.")
  if not np.isfinite(checks.real_number(bias, "bias")):
    raise ValueError(f"bias must be a finite number, got {bias!r}.")
  return x


def random_conv_features(key: jax.Array, images, num_filters: int, *, size: int = 6, grid: int = 2,
                         bias: float = 1.0, block: int = 1000) -> np.ndarray:
  """A random convolutional layer: random unit-norm zero-mean filters, ReLU, average pooling.

  ``images``: ``[N, H, W, C]``; each image is standardized first. Output
  ``[N, num_filters * grid * grid]`` (pooled over a ``grid x grid`` partition).
  """
  images = _check_conv_params(key, images, "images", num_filters, size, grid, bias, block)
  return _features(key, _standardize(images), num_filters, size, grid, bias, block).astype(np.float64)


def random_conv_gram(key: jax.Array, x_train, x_test, num_filters: int, *, filter_block: int = 1000,
                     size: int = 6, grid: int = 2, bias: float = 1.0, block: int = 1000,
                     dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
  """The linear kernel of :func:`random_conv_features` without storing the features.

  Returns ``(K_train [n, n], K_test_train [m, n])``, accumulated over blocks of
  ``filter_block`` filters: ``K += F_b F_b^T``. Filter block ``b`` uses ``fold_in(key, b)``,
  so the result depends on ``filter_block`` only through which filters are drawn. The
  features are cast to ``dtype`` (float32 halves the memory at full CIFAR-10: 10 GB for
  ``K_train``) and accumulated a block of rows at a time, so no second ``n x n`` array exists.
  """
  x_train = _check_conv_params(key, x_train, "x_train", num_filters, size, grid, bias, block)
  x_test = checks.images(x_test, "x_test")
  checks.same_images(x_test, "x_test", x_train)  # test features from the training images' filters and cells
  checks.positive_int(filter_block, "filter_block")
  dtype = checks.gram_dtype(dtype)
  n = len(x_train)
  x_train, x_test = _standardize(x_train), _standardize(x_test)  # once, not once per filter block
  k_train = np.zeros((n, n), dtype)
  k_test = np.zeros((len(x_test), n), dtype)
  for b, start in enumerate(range(0, num_filters, filter_block)):
    count = min(filter_block, num_filters - start)
    kb = jax.random.fold_in(key, b)
    # computed in float32: cast only if the Gram matrix is wider (no float64 round trip)
    f_tr = _features(kb, x_train, count, size, grid, bias, block).astype(dtype, copy=False)
    f_te = _features(kb, x_test, count, size, grid, bias, block).astype(dtype, copy=False)
    for i in range(0, n, block):  # a block of rows at a time: no n x n temporary beside K
      end = min(i + block, n)
      k_train[i:end, :end] += f_tr[i:end] @ f_tr[:end].T  # lower triangle only: half the products
    for i in range(0, len(x_test), block):
      k_test[i:i + block] += f_te[i:i + block] @ f_tr.T
  for i in range(0, n, block):  # mirror the lower triangle into the upper one
    end = min(i + block, n)
    k_train[i:end, end:] = k_train[end:, i:end].T
  return k_train, k_test
