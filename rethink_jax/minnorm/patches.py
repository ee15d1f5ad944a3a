"""Random-patch convolutional features for CIFAR-10 (Section 5), as the paper's authors' group built them.

Section 5 reports min-norm interpolation on "a random convolutional neural net with 32,000
random filters". The group's public CIFAR-10 random-feature pipelines (KeystoneML's
``RandomPatchCifar``, later ``modestyachts/nondeep``) draw the filters from the data, not
from a Gaussian: each filter is a ``size x size x C`` patch of a training image, normalized
(mean removed, divided by ``sqrt(variance + norm_eps)``), ZCA-whitened and scaled to unit
norm. Each image patch gets the same normalization and whitening before the dot product, a
symmetric rectifier ``max(0, r - a), max(0, -r - a)`` doubles the channels, and each map is
pooled into a coarse grid of regions (2 x 2 in Keystone: 8 features per filter). Features are
standard-scaled over the training set before the linear kernel.

The stages are small pure functions, each tested against a NumPy reference
(``tests/test_minnorm_patches.py``). Pixels are used on the 0-255 scale (``uint8`` as given;
float images are taken to be on that scale too), so ``norm_eps = 10`` is Keystone's value.

**Whitening folded into the filters.** With ``n(p) = (p - mean(p) 1) / sqrt(var(p) + norm_eps)``
(``var`` over the patch's ``d = size * size * C`` values, divided by ``d``), the whitener's
mean ``mu`` and symmetric matrix ``W``, and a unit-norm filter ``f``, the response is

    <f, W (n(p) - mu)> = <g, n(p)> - <g, mu>                  with g = W f
                       = <g - mean(g) 1, p> / sqrt(var(p) + norm_eps) - <g, mu>

(``<g, mean(p) 1> = <mean(g) 1, p>``; a whitener fitted on normalized patches has the constant
vector as an eigenvector, so there ``g`` sums to zero already, and the centring keeps the
identity exact for any whitener). So one plain convolution with the centred filter
``g - mean(g) 1``, times a per-position map ``1 / sqrt(var(p) + norm_eps)`` (shared by every
filter, computed once per image set by :func:`local_inv_std`), minus a per-filter bias,
equals normalizing and whitening every image patch: exact, at the cost of the convolution
alone.

**The kernel without the feature matrix.** :func:`random_patch_gram` accumulates
``K = sum_b F_b F_b^T`` over blocks of filters. Each block's features of *all* training
images exist at once (``n x 8 * filter_block`` float32, as in
:func:`~rethink_jax.minnorm.features.random_conv_gram`), so its per-feature means and
standard deviations are exact (float64 sums) and each block is scaled before it is added:
standard scaling costs one pass over the block and no second pass over the filters.

**Centring needs an intercept.** Centred training features sum to zero over the training set,
so ``K 1 = 0``: ``K`` is singular and ``K alpha = y`` has no solution for one-hot ``y``.
KeystoneML's solver fits an unpenalized intercept (it centres the labels too); here, with
``standardize``, a constant feature 1 is appended (``K + 1``, ``K_test + 1``). Because
``K_centred 1 = 0`` and every test row of ``K_centred`` sums to zero over the training set,
the min-norm interpolant of ``K + s 1 1^T`` predicts
``k_centred(x)^T K_centred^+ (y - mean(y)) + mean(y)`` for every ``s > 0``: exactly the
min-norm interpolant with an unpenalized intercept (with a ridge ``r``, the intercept is
shrunk by ``n / (n + r)`` only).

**Resuming.** With ``checkpoint=path`` the partial sums are saved atomically every
``checkpoint_every`` blocks, and a later call with the same arguments and data continues
from them; one with other arguments or data is refused (:class:`GramCheckpointError`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax import preprocess
from rethink_jax.minnorm import checks

__all__ = ["Whitener", "GramCheckpointError", "DEFAULTS", "prepare_images", "patch_positions", "extract_patches",
           "sample_patches", "normalize_patches", "fit_whitener", "whiten", "filter_bank", "fold_filters",
           "local_inv_std", "patch_responses", "symmetric_rectify", "pool_geometry", "pool_regions",
           "patch_features", "standardize_stats", "random_patch_whitener", "random_patch_filters",
           "random_patch_features", "random_patch_gram"]

# Key streams (fold_in): the whitener's patches, and the filter blocks (block b: fold_in(fold_in(key, 1), b)).
WHITENER_STREAM, FILTER_STREAM = 0, 1

DEFAULTS = {  # the featurization's free parameters (rethink_jax/configs/minnorm_cifar.py sets them from its config)
    "size": 6,                # patch (filter) side: Keystone and nondeep
    "threshold": 0.25,        # symmetric rectifier offset a: Keystone (nondeep: 1)
    "zca_eps": 0.1,           # added to the patch covariance's eigenvalues: Keystone's default
    "norm_eps": 10.0,         # added to each patch's variance, 0-255 pixels: Keystone
    "regions": 2,             # pooling regions per side: Keystone (nondeep: 3)
    "standardize": True,      # scale each feature to mean 0, variance 1 over the training set
    "whiten_patches": 100_000,  # training patches the whitener is fitted on (our choice)
}


class Whitener(NamedTuple):
  """ZCA whitener ``x -> (x - mean) @ matrix`` (``matrix`` symmetric ``[d, d]``, ``mean`` ``[d]``), float64."""
  mean: np.ndarray
  matrix: np.ndarray


class GramCheckpointError(ValueError):
  """A Gram checkpoint written for another computation (or unreadable): never silently mixed in."""


def prepare_images(images) -> np.ndarray:
  """``[N, H, W, C]`` float32 on the 0-255 scale with each image's mean subtracted.

  The mean changes no feature (every patch is centred before it is used); removing it keeps
  the float32 sums of squares of :func:`local_inv_std` accurate.
  """
  x = np.asarray(images, np.float32)
  if x.ndim != 4:
    raise ValueError(f"images must be [N, H, W, C], got shape {x.shape}.")
  return x - x.mean(axis=(1, 2, 3), keepdims=True)


def patch_positions(key: jax.Array, num: int, num_images: int, height: int, width: int,
                    size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``(image, row, col)`` int32 ``[num]`` each: uniform, with replacement, of the top-left corners of
  ``size x size`` windows inside ``height x width`` images; from ``fold_in(key, 0 / 1 / 2)``."""
  draw = lambda i, hi: jax.random.randint(jax.random.fold_in(key, i), (num,), 0, hi, jnp.int32)
  return draw(0, num_images), draw(1, height - size + 1), draw(2, width - size + 1)


@functools.partial(jax.jit, static_argnames=("size",))
def extract_patches(images, image, row, col, size: int) -> jax.Array:
  """``[num, size * size * C]``: the windows at ``(image, row, col)``, flattened in (row, column,
  channel) order (the order of an ``HWIO`` filter's first three axes)."""
  c = images.shape[-1]
  take = lambda i, r, q: jax.lax.dynamic_slice(images, (i, r, q, 0), (1, size, size, c)).reshape(-1)
  return jax.vmap(take)(image, row, col).astype(jnp.float32)


def sample_patches(key: jax.Array, images, num: int, size: int) -> jax.Array:
  """``num`` random ``size x size`` patches of ``images`` ``[N, H, W, C]`` (:func:`patch_positions`)."""
  n, h, w, _ = images.shape
  return extract_patches(jnp.asarray(images), *patch_positions(key, num, n, h, w, size), size)


def normalize_patches(patches, eps: float):
  """Each row ``p`` (last axis) to ``(p - mean(p)) / sqrt(var(p) + eps)`` (``var``: mean of squares of
  ``p - mean(p)``). NumPy in, NumPy out; JAX arrays stay JAX arrays."""
  xp = jnp if isinstance(patches, jax.Array) else np
  centred = patches - patches.mean(axis=-1, keepdims=True)
  return centred / xp.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)


def fit_whitener(patches, eps: float) -> Whitener:
  """ZCA: ``matrix = U diag(1 / sqrt(lambda + eps)) U^T`` from the eigenpairs of the patches' covariance
  (divided by the number of patches), in float64 on the host (``d x d``, ``d = 108`` for 6x6x3).

  Normalized patches all have zero mean, so the constant direction has eigenvalue 0 and is
  scaled by ``1 / sqrt(eps)``: ``eps > 0`` is needed, and it also shrinks the directions
  whose variance is below it (whitened variance ``lambda / (lambda + eps)``).
  """
  x = np.asarray(patches, np.float64)
  mean = x.mean(axis=0)
  centred = x - mean
  lam, u = np.linalg.eigh(centred.T @ centred / len(x))
  lam = np.maximum(lam, 0.0)  # rounding can leave the null direction slightly negative
  return Whitener(mean, (u / np.sqrt(lam + eps)) @ u.T)


def whiten(patches, whitener: Whitener) -> np.ndarray:
  """``(patches - mean) @ matrix``, float64."""
  return (np.asarray(patches, np.float64) - whitener.mean) @ whitener.matrix


def filter_bank(patches, whitener: Whitener, norm_eps: float) -> np.ndarray:
  """``[F, d]`` filters: each patch normalized (:func:`normalize_patches`), whitened and scaled to unit norm."""
  f = whiten(normalize_patches(np.asarray(patches, np.float64), norm_eps), whitener)
  return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def fold_filters(bank, whitener: Whitener) -> tuple[np.ndarray, np.ndarray]:
  """``(centred [F, d], bias [F])`` with ``<bank_i, W (n(p) - mu)> = <centred_i, p> / sqrt(var(p) + eps) - bias_i``
  for every patch ``p`` (module docstring): ``g = bank W``, ``bias = g mu``, ``centred = g - mean(g)``."""
  g = np.asarray(bank, np.float64) @ whitener.matrix  # W is symmetric: row i is W f_i
  return g - g.mean(axis=1, keepdims=True), g @ whitener.mean


@functools.partial(jax.jit, static_argnames=("size",))
def local_inv_std(images, size: int, eps: float) -> jax.Array:
  """``[N, H - size + 1, W - size + 1]``: ``1 / sqrt(var(p) + eps)`` of every ``size x size x C`` window ``p``."""
  window_sum = lambda v: jax.lax.reduce_window(v, 0.0, jax.lax.add, (1, size, size, v.shape[-1]), (1, 1, 1, 1),
                                               "VALID")[..., 0]
  d = size * size * images.shape[-1]
  mean = window_sum(images) / d
  var = jnp.maximum(window_sum(images * images) / d - mean * mean, 0.0)
  return jax.lax.rsqrt(var + eps)


def patch_responses(images, inv_std, filters_hwio, bias) -> jax.Array:
  """``[N, H', W', F]``: ``conv(images, filters) * inv_std - bias``; with :func:`fold_filters`' output (as
  ``[size, size, C, F]``), each filter's dot product with every normalized, whitened image patch."""
  conv = jax.lax.conv_general_dilated(images, filters_hwio, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                      precision=jax.lax.Precision.HIGHEST)
  return conv * inv_std[..., None] - bias


def symmetric_rectify(responses, threshold: float) -> jax.Array:
  """``[..., 2F]``: ``max(0, r - a)`` for the ``F`` channels, then ``max(0, -r - a)`` for them."""
  return jnp.concatenate([jax.nn.relu(responses - threshold), jax.nn.relu(-responses - threshold)], axis=-1)


def pool_geometry(map_size: int, regions: int) -> tuple[int, int]:
  """``(pool, stride)`` of ``regions`` windows per side covering a ``map_size`` map: ``stride = map_size // regions``,
  ``pool = map_size - (regions - 1) * stride`` (27 and 2: 14 and 13, Keystone's; 27 and 3: 9 and 9)."""
  if not 1 <= regions <= map_size:
    raise ValueError(f"regions must be in [1, {map_size}] for a {map_size}x{map_size} map, got {regions}.")
  stride = map_size // regions
  return map_size - (regions - 1) * stride, stride


def pool_regions(maps, regions: int) -> jax.Array:
  """``[N, m, m, K] -> [N, regions, regions, K]``: means over the windows of :func:`pool_geometry`."""
  pool, stride = pool_geometry(maps.shape[1], regions)
  total = jax.lax.reduce_window(maps, 0.0, jax.lax.add, (1, pool, pool, 1), (1, stride, stride, 1), "VALID")
  return total / (pool * pool)


@functools.partial(jax.jit, static_argnames=("regions",))
def patch_features(images, inv_std, filters_hwio, bias, threshold: float, regions: int) -> jax.Array:
  """``[N, regions * regions * 2F]`` features of prepared images (:func:`prepare_images`), in (region row,
  region column, sign, filter) order: responses, symmetric rectifier, pooling.

  Equals ``pool_regions(symmetric_rectify(r))``, computed as the two rectified halves pooled
  apart and joined after pooling: joining the full-size maps first writes and reads a
  ``[N, H', W', 2F]`` copy, which made it 1.7x slower on 2 CPU cores."""
  r = patch_responses(images, inv_std, filters_hwio, bias)
  pos = pool_regions(jax.nn.relu(r - threshold), regions)
  neg = pool_regions(jax.nn.relu(-r - threshold), regions)
  return jnp.concatenate([pos, neg], axis=-1).reshape(len(images), -1)


def standardize_stats(features, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
  """``(mean, scale)`` ``[D]`` float64 over the rows of ``features`` ``[n, D]``: ``(f - mean) * scale`` has mean 0
  and variance 1 per column. A column constant over the rows gets scale 0 (it is 0 after centring anyway).
  Sums in float64, a chunk of rows at a time (no float64 copy of ``features``)."""
  n = len(features)
  mean = np.zeros(features.shape[1])
  for i in range(0, n, chunk):
    mean += features[i:i + chunk].sum(axis=0, dtype=np.float64)
  mean /= n
  var = np.zeros(features.shape[1])
  for i in range(0, n, chunk):
    var += np.square(features[i:i + chunk] - mean).sum(axis=0)
  std = np.sqrt(var / n)
  return mean, np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)


def _scaled(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
  """``(features - mean) * scale`` in place, in the features' own dtype."""
  features -= mean.astype(features.dtype)
  features *= scale.astype(features.dtype)
  return features


def random_patch_whitener(key: jax.Array, x_train, *, size: int = 6, zca_eps: float = 0.1, norm_eps: float = 10.0,
                          whiten_patches: int = 100_000) -> Whitener:
  """The whitener of :func:`random_patch_gram`: fitted on ``whiten_patches`` normalized training patches drawn
  with ``fold_in(key, WHITENER_STREAM)``."""
  patches = sample_patches(jax.random.fold_in(key, WHITENER_STREAM), x_train, whiten_patches, size)
  return fit_whitener(normalize_patches(np.asarray(patches, np.float64), norm_eps), zca_eps)


def random_patch_filters(key: jax.Array, x_train, num_filters: int, whitener: Whitener, *, size: int = 6,
                         norm_eps: float = 10.0) -> tuple[jax.Array, jax.Array]:
  """``(filters [size, size, C, F], bias [F])`` float32 for :func:`patch_features`: ``num_filters`` training
  patches drawn with ``key``, made a bank (:func:`filter_bank`) and folded (:func:`fold_filters`)."""
  patches = sample_patches(key, x_train, num_filters, size)
  centred, bias = fold_filters(filter_bank(patches, whitener, norm_eps), whitener)
  hwio = centred.T.reshape(size, size, x_train.shape[-1], num_filters)
  return jnp.asarray(hwio, jnp.float32), jnp.asarray(bias, jnp.float32)


def _block_key(key: jax.Array, b: int) -> jax.Array:
  return jax.random.fold_in(jax.random.fold_in(key, FILTER_STREAM), b)


RESPONSE_BYTES = 4 << 20
"""The response maps one call of :func:`patch_features` may hold, by default. With 100 images
(146 MB) per call the featurization ran 1.7x slower than with 2 on 2 AMD EPYC cores
(``benchmarks/patch_features.py``), much of the difference spent in the kernel (system time)
rather than in the computation."""


def default_chunk(num_filters: int, map_height: int, map_width: int) -> int:
  """Images per :func:`patch_features` call whose ``[chunk, map_height, map_width, num_filters]`` float32 responses
  fit :data:`RESPONSE_BYTES` (at least 1): 2 for 500 filters on 27 x 27 maps."""
  return max(1, RESPONSE_BYTES // (4 * map_height * map_width * num_filters))


def _block_features(x: np.ndarray, inv_std: np.ndarray, filters, bias, threshold: float, regions: int,
                    chunk: int | None) -> np.ndarray:
  """:func:`patch_features` of prepared images ``x``, ``chunk`` images per call (``None``: :func:`default_chunk`;
  the last chunk padded, so one compiled program serves every chunk), float32 on the host."""
  n = len(x)
  chunk = chunk if chunk is not None else default_chunk(filters.shape[-1], *inv_std.shape[1:3])
  out = None
  for i in range(0, n, chunk):
    xi, si = x[i:i + chunk], inv_std[i:i + chunk]
    pad = chunk - len(xi) if n > chunk else 0
    if pad:
      xi = np.concatenate([xi, np.zeros((pad,) + xi.shape[1:], xi.dtype)])
      si = np.concatenate([si, np.zeros((pad,) + si.shape[1:], si.dtype)])
    f = np.asarray(patch_features(xi, si, filters, bias, threshold, regions))
    if out is None:
      out = np.empty((n, f.shape[1]), np.float32)
    out[i:i + chunk] = f[:len(f) - pad]
  return out


def _check_params(key, x_train, images, images_name: str, num_filters: int, filter_block: int, size: int,
                  threshold: float, regions: int, zca_eps: float, norm_eps: float, whiten_patches: int,
                  chunk: int | None) -> tuple[np.ndarray, np.ndarray]:
  """Every argument of :func:`random_patch_features` / :func:`random_patch_gram`, before any work; returns
  ``(x_train, images)`` as NumPy arrays. ``images`` must match the training images: the filters are their
  patches (so their channels) and the pooling regions are laid out for their size."""
  preprocess.check_key(key, "random_patch_features" if images_name == "images" else "random_patch_gram")
  x_train = checks.images(x_train, "x_train")
  images = checks.images(images, images_name)
  checks.same_images(images, images_name, x_train)
  h, w = x_train.shape[1:3]
  if chunk is not None and not (isinstance(chunk, (int, np.integer)) and not isinstance(chunk, bool) and chunk > 0):
    raise ValueError(f"chunk (images per call) must be a positive integer or None, got {chunk!r}.")
  for value, name in ((num_filters, "num_filters"), (filter_block, "filter_block"), (whiten_patches, "whiten_patches"),
                      (size, "size"), (regions, "regions")):
    checks.positive_int(value, name)
  if size > min(h, w):
    raise ValueError(f"size must be in [1, {min(h, w)}] for {h}x{w} images, got {size}.")
  pool_geometry(min(h, w) - size + 1, regions)
  for value, name in ((zca_eps, "zca_eps"), (norm_eps, "norm_eps")):
    if not (np.isfinite(checks.real_number(value, name)) and value > 0):
      raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
  if not np.isfinite(checks.real_number(threshold, "threshold")):
    raise ValueError(f"threshold must be a finite number, got {threshold!r}.")
  return x_train, images


def random_patch_features(key: jax.Array, x_train, images, num_filters: int, *, filter_block: int = 500,
                          size: int = 6, threshold: float = 0.25, zca_eps: float = 0.1, norm_eps: float = 10.0,
                          regions: int = 2, whiten_patches: int = 100_000, chunk: int | None = None) -> np.ndarray:
  """The unscaled features ``[N, num_filters * 2 * regions^2]`` float32 of ``images``, with the filters (drawn from
  ``x_train``) and the whitener of :func:`random_patch_gram` for the same arguments; block ``b``'s columns come
  ``b``-th. Materializes every feature: for small sets and tests."""
  x_train, images = _check_params(key, x_train, images, "images", num_filters, filter_block, size, threshold, regions,
                                  zca_eps, norm_eps, whiten_patches, chunk)
  whitener = random_patch_whitener(key, x_train, size=size, zca_eps=zca_eps, norm_eps=norm_eps,
                                   whiten_patches=whiten_patches)
  x = prepare_images(images)
  inv_std = np.asarray(local_inv_std(x, size, norm_eps))
  blocks = []
  for b, start in enumerate(range(0, num_filters, filter_block)):
    filters, bias = random_patch_filters(_block_key(key, b), x_train, min(filter_block, num_filters - start),
                                         whitener, size=size, norm_eps=norm_eps)
    blocks.append(_block_features(x, inv_std, filters, bias, threshold, regions, chunk))
  return np.concatenate(blocks, axis=1)


def _fingerprint(a) -> str:
  a = np.ascontiguousarray(a)
  return f"{a.dtype.str}{list(a.shape)}:{hashlib.sha256(a.data).hexdigest()[:32]}"


def _key_text(key: jax.Array) -> str:
  data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
  return np.asarray(data).astype(np.uint32).tobytes().hex()


def _load_checkpoint(path: str, identity: dict, shapes: tuple) -> tuple[np.ndarray, np.ndarray, int] | None:
  """``(k_train, k_test, next_block)`` saved at ``path`` for ``identity``; ``None`` if there is no file."""
  if not os.path.exists(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as z:
      saved = json.loads(str(z["identity"]))
      if saved == identity:  # the arrays are read only for the same computation
        k_train, k_test, next_block = z["k_train"], z["k_test"], int(z["next_block"])
  except (OSError, KeyError, ValueError) as e:  # not a zip, a member missing, bad JSON (a ValueError)
    raise GramCheckpointError(f"{path} is not a readable Gram checkpoint ({type(e).__name__}: {e}); delete it "
                              "to start over.") from None
  if saved != identity:
    diff = [k for k in sorted(set(saved) | set(identity)) if saved.get(k) != identity.get(k)]
    raise GramCheckpointError(f"{path} holds the partial Gram matrix of another computation (it differs in "
                              f"{', '.join(diff)}); delete it, or give this run another checkpoint path.")
  if (k_train.shape, k_test.shape) != shapes:
    raise GramCheckpointError(f"{path} holds Gram matrices of shapes {k_train.shape} and {k_test.shape}, not "
                              f"{shapes[0]} and {shapes[1]}; delete it to start over.")
  return k_train, k_test, next_block


def _save_checkpoint(path: str, identity: dict, k_train: np.ndarray, k_test: np.ndarray, next_block: int) -> None:
  from rethink_jax import records  # file writing is records' concern (temporary file, fsync, os.replace)

  records.atomic_write(path, lambda f: np.savez(f, k_train=k_train, k_test=k_test, next_block=np.int64(next_block),
                                                 identity=np.str_(json.dumps(identity, sort_keys=True))),
                       binary=True)


def random_patch_gram(key: jax.Array, x_train, x_test, num_filters: int, *, filter_block: int = 500,
                      size: int = 6, threshold: float = 0.25, zca_eps: float = 0.1, norm_eps: float = 10.0,
                      regions: int = 2, standardize: bool = True, whiten_patches: int = 100_000,
                      block: int = 1000, chunk: int | None = None, dtype=np.float64, checkpoint: str | None = None,
                      checkpoint_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """The linear kernel of the random-patch features without storing them: ``(K_train [n, n], K_test_train [m, n])``.

  ``x_train`` ``[n, H, W, C]`` and ``x_test`` are images on the 0-255 scale. The whitener is
  fitted once (:func:`random_patch_whitener`); filter block ``b`` (``filter_block`` filters,
  the last one shorter) draws its patches with ``fold_in(fold_in(key, 1), b)``, computes the
  features of all training and test images (``chunk`` images per jitted call, by default
  :func:`default_chunk`'s cache-sized count), standard-scales
  both with the training block's exact per-feature statistics when ``standardize``, and adds
  ``F_b F_b^T`` (lower triangle, ``block`` rows at a time, in ``dtype``) and ``F_test,b F_b^T``;
  with ``standardize``, 1 is added to every entry at the end (the intercept feature, module
  docstring: centred features alone make ``K`` singular).
  Peak memory: the two Gram matrices, the prepared images and one block's features
  (``(n + m) * 8 * filter_block`` float32 with 2 x 2 regions).

  ``checkpoint``: a ``.npz`` path. After every ``checkpoint_every`` blocks (and after the
  last) the partial sums and the next block's index are written to a temporary file that
  then replaces ``path``, so a killed run leaves the previous checkpoint whole; a call whose
  arguments and data match it continues from it, and one that differs (key, filter count or
  block, any parameter, ``dtype``, the images) raises :class:`GramCheckpointError` naming
  what differs. ``block`` and ``chunk`` change only memory and speed and are not checked.
  """
  x_train, x_test = _check_params(key, x_train, x_test, "x_test", num_filters, filter_block, size, threshold, regions,
                                  zca_eps, norm_eps, whiten_patches, chunk)
  block = checks.positive_int(block, "block")
  checkpoint_every = checks.positive_int(checkpoint_every, "checkpoint_every")
  n, m = len(x_train), len(x_test)
  dtype = checks.gram_dtype(dtype)
  num_blocks = -(-num_filters // filter_block)
  params = dict(num_filters=num_filters, filter_block=filter_block, size=size, threshold=float(threshold),
                zca_eps=float(zca_eps), norm_eps=float(norm_eps), regions=regions, standardize=bool(standardize),
                whiten_patches=whiten_patches)
  state = None
  if checkpoint:
    identity = dict(params, featurization="random_patches/1", key=_key_text(key), dtype=dtype.name,
                    x_train=_fingerprint(x_train), x_test=_fingerprint(x_test))
    state = _load_checkpoint(checkpoint, identity, ((n, n), (m, n)))
  k_train, k_test, start = state if state else (np.zeros((n, n), dtype), np.zeros((m, n), dtype), 0)
  if start < num_blocks:
    whitener = random_patch_whitener(key, x_train, size=size, zca_eps=zca_eps, norm_eps=norm_eps,
                                     whiten_patches=whiten_patches)
    xs = [prepare_images(x_train), prepare_images(x_test)]  # once, not once per filter block
    inv_std = [np.asarray(local_inv_std(x, size, norm_eps)) for x in xs]
  for b in range(start, num_blocks):
    count = min(filter_block, num_filters - b * filter_block)
    filters, bias = random_patch_filters(_block_key(key, b), x_train, count, whitener, size=size, norm_eps=norm_eps)
    f_tr, f_te = (_block_features(x, s, filters, bias, threshold, regions, chunk) for x, s in zip(xs, inv_std))
    if standardize:
      mean, scale = standardize_stats(f_tr)
      f_tr, f_te = _scaled(f_tr, mean, scale), _scaled(f_te, mean, scale)
    f_tr, f_te = f_tr.astype(dtype, copy=False), f_te.astype(dtype, copy=False)
    for i in range(0, n, block):  # a block of rows at a time: no n x n temporary beside K
      end = min(i + block, n)
      k_train[i:end, :end] += f_tr[i:end] @ f_tr[:end].T  # lower triangle (and diagonal tiles) only
    for i in range(0, m, block):
      k_test[i:i + block] += f_te[i:i + block] @ f_tr.T
    del f_tr, f_te
    if checkpoint and ((b + 1 - start) % checkpoint_every == 0 or b + 1 == num_blocks):
      _save_checkpoint(checkpoint, identity, k_train, k_test, b + 1)
  for i in range(0, n, block):  # mirror the lower triangle into the upper one
    end = min(i + block, n)
    k_train[i:end, end:] = k_train[end:, i:end].T
  if standardize:  # the intercept feature: a constant 1 (module docstring)
    k_train += 1.0
    k_test += 1.0
  return k_train, k_test
