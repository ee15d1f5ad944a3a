"""Kernels as pure functions of two point sets (paper Section 5).

Each kernel maps ``x`` ``[n, d]`` and ``z`` ``[m, d]`` to the Gram block ``[n, m]``. They
work on numpy or JAX arrays (``xp`` is chosen from the inputs) so the same function builds
Gram blocks on the host and runs jitted on an accelerator.
"""

from __future__ import annotations

import functools

import numpy as np

from rethink_jax import preprocess
from rethink_jax.minnorm import checks

__all__ = ["linear", "gaussian", "laplacian", "get", "NAMES", "check_points", "check_bandwidth"]


def _xp(*arrays):
  if any(type(a).__module__.startswith("jax") for a in arrays):
    import jax.numpy as jnp
    return jnp
  return np


def check_points(x, z) -> None:
  """``x`` ``[n, d]`` and ``z`` ``[m, d]``: 2-D, the same ``d``, finite where the values are concrete
  (a NaN point would give a NaN row; a 1-D ``x`` would give a matrix of one scalar)."""
  for name, a in (("x", x), ("z", z)):
    if np.ndim(a) != 2:
      raise ValueError(f"{name} must be [n, d] points (one per row), got shape {np.shape(a)}.")
  if x.shape[1] != z.shape[1]:
    raise ValueError(f"x has {x.shape[1]} features per point and z has {z.shape[1]}; a kernel compares points of "
                     "the same dimension.")
  for name, a in (("x", x), ("z", z)):
    if preprocess.is_traced(a):
      continue
    xp = _xp(a)
    if xp.issubdtype(a.dtype, xp.inexact) and not bool(xp.all(xp.isfinite(a))):
      raise ValueError(f"{name} contains {int(xp.sum(~xp.isfinite(a)))} non-finite values (NaN or inf).")


def check_bandwidth(bandwidth, kernel: str) -> float:
  """``bandwidth`` as a float: a finite number > 0 (0 puts NaN on the diagonal, a negative one is a typo)."""
  if bandwidth is None:
    raise ValueError(f"the {kernel} kernel needs a positive bandwidth, got None.")
  bw = checks.real_number(bandwidth, "bandwidth")
  if not (np.isfinite(bw) and bw > 0):
    raise ValueError(f"the {kernel} kernel needs a finite positive bandwidth, got {bandwidth!r}.")
  return bw


def _sq_dists(x, z):
  xp = _xp(x, z)
  xx = xp.sum(x * x, axis=1)[:, None]
  zz = xp.sum(z * z, axis=1)[None, :]
  return xp.maximum(xx + zz - 2.0 * (x @ z.T), 0.0)


def linear(x, z):
  """``k(x, z) = <x, z>``: min-norm kernel regression is min-norm least squares in ``w``."""
  check_points(x, z)
  return x @ z.T


def gaussian(x, z, bandwidth: float):
  """``k(x, z) = exp(-||x - z||^2 / (2 bandwidth^2))``."""
  check_points(x, z)
  if not preprocess.is_traced(bandwidth):
    check_bandwidth(bandwidth, "gaussian")
  return _xp(x, z).exp(-_sq_dists(x, z) / (2.0 * bandwidth ** 2))


def laplacian(x, z, bandwidth: float):
  """``k(x, z) = exp(-||x - z|| / bandwidth)``."""
  check_points(x, z)
  if not preprocess.is_traced(bandwidth):
    check_bandwidth(bandwidth, "laplacian")
  xp = _xp(x, z)
  return xp.exp(-xp.sqrt(_sq_dists(x, z)) / bandwidth)


NAMES = ("linear", "gaussian", "laplacian")


def get(kernel, bandwidth: float | None = None):
  """A kernel callable from a name (with ``bandwidth`` for gaussian/laplacian) or a callable.

  Raises:
    ValueError: an unknown name, a missing or non-positive bandwidth for gaussian/laplacian, or
      a bandwidth given with the linear kernel or a callable (it would be ignored).
  """
  if bandwidth is not None and (callable(kernel) or kernel == "linear"):
    # silently ignoring it would fit another kernel than the caller meant
    what = ("a callable kernel carries its own (e.g. functools.partial)" if callable(kernel)
            else "the linear kernel has none")
    raise ValueError(f"bandwidth= is for the gaussian and laplacian kernels; {what}, got bandwidth={bandwidth!r}.")
  if callable(kernel):
    return kernel
  if kernel == "linear":
    return linear
  if kernel in ("gaussian", "laplacian"):
    return functools.partial(gaussian if kernel == "gaussian" else laplacian,
                             bandwidth=check_bandwidth(bandwidth, kernel))
  raise ValueError(f"Unknown kernel {kernel!r}; choose one of {NAMES} or pass a callable k(x, z).")
