"""Random training subsets: each run of a group trains on its own subset, drawn once.

The estimators of memorization, influence and consistency (:mod:`rethink_jax.scores`)
compare an example's predictions by models that trained on it with those by models that
did not. Each run draws its subset from its own key (``config.subset.ratio``, the stream
``"subset"`` of :func:`rethink_jax.train.stream_keys`), so the subset is a function of the
run's identity; it is saved in the run directory (``subset.npz``) and checked again on
resume.

Every subset of a ratio has the same size, ``subset_size(n, ratio)``, so runs of one group
take the same number of steps per epoch and train as one vmapped program.
"""

from __future__ import annotations

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax.preprocess import check_int, check_key

__all__ = ["subset_size", "draw_mask", "mask_indices"]


def _check(n, ratio, fn: str) -> tuple[int, float]:
  """``(n, ratio)`` as an int >= 1 and a float in (0, 1], or one error naming ``fn``: a float ``n``
  (``10.7``) would be truncated, a bool taken for 1 or 0, and a string ``ratio`` read as a number."""
  n = check_int(n, fn, "n (a number of examples)")
  if isinstance(ratio, (bool, str, bytes)) or not (isinstance(ratio, numbers.Real) or np.ndim(ratio) == 0 and
                                                   getattr(ratio, "dtype", np.dtype(object)).kind in "iuf"):
    raise TypeError(f"{fn}: ratio must be a number in (0, 1], got {ratio!r} ({type(ratio).__name__}).")
  ratio = float(ratio)
  if not (math.isfinite(ratio) and 0.0 < ratio <= 1.0):
    raise ValueError(f"{fn}: ratio must be in (0, 1], got {ratio!r}.")
  return n, ratio


def subset_size(n: int, ratio: float) -> int:
  """How many of ``n`` examples a subset of ``ratio`` holds: ``round(ratio * n)``, at least 1."""
  n, ratio = _check(n, ratio, "subset_size")
  return max(1, min(n, int(round(ratio * n))))


@functools.partial(jax.jit, static_argnums=(1, 2))
def _draw(key: jax.Array, n: int, size: int) -> jax.Array:
  chosen = jax.random.permutation(key, n)[:size]
  return jnp.zeros((n,), bool).at[chosen].set(True)


def draw_mask(key: jax.Array, n: int, ratio: float) -> jax.Array:
  """A uniformly random subset of ``subset_size(n, ratio)`` of ``n`` examples, as a ``[n]`` bool
  mask: the first ``size`` entries of ``permutation(key, n)``. Pure: the same key gives the
  same subset."""
  key = check_key(key, "draw_mask")
  n, ratio = _check(n, ratio, "draw_mask")
  return _draw(key, n, subset_size(n, ratio))


def mask_indices(mask: np.typing.ArrayLike) -> np.ndarray:
  """The examples of a subset, in their order in the dataset (``int32``). A run that trains on
  ``x[mask_indices(mask)]`` alone sees the same batches as a run with that subset."""
  mask = np.asarray(mask)
  if mask.ndim != 1 or mask.dtype != bool:
    raise ValueError(f"mask must be a [n] bool array, got {mask.dtype} of shape {mask.shape}.")
  return np.flatnonzero(mask).astype(np.int32)
