"""Kernels as pure functions of two point sets (paper Section 5).

Each kernel maps ``x`` ``[n, d]`` and ``z`` ``[m, d]`` to the Gram block ``[n, m]``. They
work on numpy or JAX arrays (``xp`` is chosen from the inputs) so the same function builds
Gram blocks on the host and runs jitted on an accelerator.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["linear", "gaussian", "laplacian", "get", "NAMES"]


def _xp(*arrays):
  if any(type(a).__module__.startswith("jax") for a in arrays):
    import jax.numpy as jnp
    return jnp
  return np


def _sq_dists(x, z):
  xp = _xp(x, z)
  xx = xp.sum(x * x, axis=1)[:, None]
  zz = xp.sum(z * z, axis=1)[None, :]
  return xp.maximum(xx + zz - 2.0 * (x @ z.T), 0.0)


def linear(x, z):
  """``k(x, z) = <x, z>``: min-norm kernel regression is min-norm least squares in ``w``."""
  return x @ z.T


def gaussian(x, z, bandwidth: float):
  """``k(x, z) = exp(-||x - z||^2 / (2 bandwidth^2))``."""
  return _xp(x, z).exp(-_sq_dists(x, z) / (2.0 * bandwidth ** 2))


def laplacian(x, z, bandwidth: float):
  """``k(x, z) = exp(-||x - z|| / bandwidth)``."""
  xp = _xp(x, z)
  return xp.exp(-xp.sqrt(_sq_dists(x, z)) / bandwidth)


NAMES = ("linear", "gaussian", "laplacian")


def get(kernel, bandwidth: float | None = None):
  """A kernel callable from a name (with ``bandwidth`` for gaussian/laplacian) or a callable."""
  if callable(kernel):
    return kernel
  if kernel == "linear":
    return linear
  if kernel in ("gaussian", "laplacian"):
    if bandwidth is None or not bandwidth > 0:
      raise ValueError(f"the {kernel} kernel needs a positive bandwidth, got {bandwidth!r}.")
    return functools.partial(gaussian if kernel == "gaussian" else laplacian, bandwidth=float(bandwidth))
  raise ValueError(f"Unknown kernel {kernel!r}; choose one of {NAMES} or pass a callable k(x, z).")
