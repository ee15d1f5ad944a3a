"""Double-float32 arithmetic: a value as an unevaluated sum ``hi + lo`` of two float32s,
about 48 significant bits, for devices without float64 (TPU).

The min-norm solve's refinement (Section 5) needs the residual ``y - K alpha`` far more
accurately than float32 gives: ``K alpha`` of an interpolant is a sum of large terms that
cancel. With these error-free transformations the products ``K_ij alpha_j`` and their sums
are carried in double-float32, so the refinement converges for the system whose matrix
is ``K`` rounded to float32, as float64 arithmetic would.

Error-free transformations (Knuth's two-sum, Dekker's split and two-product) rely on IEEE
float32 rounding of each operation; XLA does not reassociate floating-point arithmetic
unless fast-math is switched on (it is off by default on every backend). A fused
multiply-add, where the compiler forms one, makes two-product's error term exact directly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["two_sum", "two_prod", "add", "sum_rows", "matvec", "to_float64"]

_SPLIT = 4097.0  # 2^12 + 1: splits a 24-bit float32 significand into two 12-bit halves


def two_sum(a, b):
  """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly."""
  s = a + b
  bb = s - a
  return s, (a - (s - bb)) + (b - bb)


def _split(a):
  c = _SPLIT * a
  hi = c - (c - a)
  return hi, a - hi


def two_prod(a, b):
  """``(p, e)`` with ``p = fl(a * b)`` and ``a * b = p + e`` exactly (barring overflow)."""
  p = a * b
  ah, al = _split(a)
  bh, bl = _split(b)
  return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def add(ah, al, bh, bl):
  """``(ah + al) + (bh + bl)`` in double-float32, renormalised."""
  s, e = two_sum(ah, bh)
  e = e + (al + bl)
  hi = s + e
  return hi, e - (hi - s)


def sum_rows(hi, lo):
  """Sum over the last axis of the double-float32 ``hi + lo``, pairwise (log2 depth)."""
  n = hi.shape[-1]
  width = 1 << max(n - 1, 0).bit_length()
  if width != n:  # pad with exact zeros to a power of two
    pad = [(0, 0)] * (hi.ndim - 1) + [(0, width - n)]
    hi, lo = jnp.pad(hi, pad), jnp.pad(lo, pad)
  while hi.shape[-1] > 1:
    half = hi.shape[-1] // 2
    hi, lo = add(hi[..., :half], lo[..., :half], hi[..., half:], lo[..., half:])
  return hi[..., 0], lo[..., 0]


def matvec(k_tile, v_hi, v_lo):
  """``k_tile @ (v_hi + v_lo)`` in double-float32: ``k_tile`` ``[t, n]`` float32, ``v`` ``[n, m]``.

  Each product ``k_ij v_hi,j`` is split exactly; ``k_ij v_lo,j`` is below float32's
  precision of the result and is added in float32.
  """
  def column(vh, vl):
    p, e = two_prod(k_tile, vh[None, :])
    return sum_rows(p, e + k_tile * vl[None, :])
  hi, lo = jax.vmap(column, in_axes=(1, 1), out_axes=1)(v_hi, v_lo)
  return hi, lo


def to_float64(hi, lo):
  """The double-float32 value as a float64 NumPy array (exact)."""
  import numpy as np

  return np.asarray(hi, np.float64) + np.asarray(lo, np.float64)
