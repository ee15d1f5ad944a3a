"""An in-place blocked Cholesky for Gram matrices too large for two copies (paper Section 5).

One ``n x n`` array holds both the kernel matrix and its factor: the factor ``L`` is
written into the lower triangle, ``K``'s strict upper triangle is left untouched, and
``K``'s diagonal is kept as a vector. So the residual ``K alpha - y`` can be computed in
float64 after a float32 factorisation and refined (mixed precision), with no second copy
of ``K``. At n = 60,000 the float32 array is 14.4 GB.

Tiles of ``tile`` rows go through LAPACK ``potrf`` and BLAS ``trsm``/``syrk``/``gemm``
(scipy's low-level wrappers), each on a tile-sized copy, so temporaries stay ``O(tile^2)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

__all__ = ["factor_in_place", "solve_factored", "sym_matvec", "solve_refined"]


def _potrf(dtype):
  return lapack.spotrf if dtype == np.float32 else lapack.dpotrf


def factor_in_place(a: np.ndarray, tile: int = 4096, ridge: float = 0.0) -> np.ndarray:
  """Cholesky-factors the symmetric matrix ``a`` (C order) into its lower triangle.

  Reads only the lower triangle of ``a`` (on and below the diagonal) and writes ``L``
  there; the strict upper triangle is not touched. Returns the original diagonal
  (float64), which the factorisation overwrites. ``ridge`` is added to the diagonal first.
  """
  if a.ndim != 2 or a.shape[0] != a.shape[1] or not a.flags.c_contiguous:
    raise ValueError(f"expected a C-contiguous square matrix, got {a.shape}.")
  n = len(a)
  idx = np.arange(n)
  diag = a[idx, idx].astype(np.float64)
  if ridge:
    a[idx, idx] += ridge
  potrf = _potrf(a.dtype)
  starts = list(range(0, n, tile))
  for k in starts:
    ke = min(k + tile, n)
    lkk, info = potrf(np.tril(a[k:ke, k:ke]), lower=1, clean=1)
    if info != 0:
      raise np.linalg.LinAlgError(f"matrix not positive definite (leading minor {k + info} of {n}).")
    a[k:ke, k:ke] = np.where(np.tri(ke - k, dtype=bool), lkk, a[k:ke, k:ke])
    if ke == n:
      break
    # panel: A[i, k] <- A[i, k] L_kk^-T  (solve L_kk X^T = A[i, k]^T)
    panel = scipy.linalg.solve_triangular(lkk, a[ke:, k:ke].T, lower=True, check_finite=False).T
    a[ke:, k:ke] = panel
    # trailing update of the lower triangle: A[i, j] -= P_i P_j^T for j <= i
    for i in range(ke, n, tile):
      ie = min(i + tile, n)
      pi = panel[i - ke:ie - ke]
      for j in range(ke, ie, tile):
        je = min(j + tile, n)
        upd = pi @ panel[j - ke:je - ke].T  # C-ordered result, like the tiles it updates
        if i == j:  # diagonal tile: its upper part still holds K
          a[i:ie, j:je] -= np.tril(upd)
        else:
          a[i:ie, j:je] -= upd
  return diag


def solve_factored(a: np.ndarray, b: np.ndarray, tile: int = 4096) -> np.ndarray:
  """Solves ``L L^T x = b`` with ``L`` in the lower triangle of ``a``; float64 result."""
  n = len(a)
  b = np.asarray(b, np.float64).reshape(n, -1)
  y = np.empty_like(b)
  for k in range(0, n, tile):  # forward: L y = b
    ke = min(k + tile, n)
    rhs = b[k:ke] - (a[k:ke, :k].astype(np.float64) @ y[:k] if k else 0.0)
    y[k:ke] = scipy.linalg.solve_triangular(np.tril(a[k:ke, k:ke]).astype(np.float64), rhs, lower=True,
                                            check_finite=False)
  x = np.empty_like(y)
  for k in reversed(range(0, n, tile)):  # backward: L^T x = y
    ke = min(k + tile, n)
    rhs = y[k:ke] - (a[ke:, k:ke].astype(np.float64).T @ x[ke:] if ke < n else 0.0)
    x[k:ke] = scipy.linalg.solve_triangular(np.tril(a[k:ke, k:ke]).astype(np.float64), rhs, lower=True,
                                            trans="T", check_finite=False)
  return x


def sym_matvec(a: np.ndarray, diag: np.ndarray, v: np.ndarray, tile: int = 4096) -> np.ndarray:
  """``K v`` in float64 with ``K`` stored as its strict upper triangle in ``a`` plus ``diag``."""
  n = len(a)
  v = np.asarray(v, np.float64).reshape(n, -1)
  out = diag[:, None] * v
  for i in range(0, n, tile):
    ie = min(i + tile, n)
    rows = np.triu(a[i:ie, i:].astype(np.float64), k=1)  # strict upper part of these rows
    out[i:ie] += rows @ v[i:]
    out[i:] += rows.T @ v[i:ie]
  return out


def solve_refined(a: np.ndarray, y: np.ndarray, *, ridge: float = 0.0, tile: int = 4096, steps: int = 3,
                  tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, list[float]]:
  """Factors ``K + ridge I`` in place and solves with float64 iterative refinement.

  ``a`` must hold ``K`` (at least its upper triangle and diagonal, C order); on return its
  lower triangle holds ``L``. Returns ``(alpha, diag, residual history)``, residuals
  relative ``||(K + ridge I) alpha - y|| / ||y||`` computed in float64.
  """
  y = np.asarray(y, np.float64).reshape(len(a), -1)
  # mirror the upper triangle into the lower one: the factorisation reads the lower triangle
  for i in range(0, len(a), tile):
    ie = min(i + tile, len(a))
    a[i:ie, :i] = a[:i, i:ie].T
    block = a[i:ie, i:ie]
    a[i:ie, i:ie] = np.triu(block) + np.triu(block, 1).T
  diag = factor_in_place(a, tile=tile, ridge=ridge)
  k_diag = diag + ridge
  alpha = solve_factored(a, y, tile)
  ynorm = np.linalg.norm(y)
  history = []
  for _ in range(steps + 1):
    r = y - sym_matvec(a, k_diag, alpha, tile)
    history.append(float(np.linalg.norm(r) / ynorm))
    if history[-1] <= tol or len(history) > steps:
      break
    alpha += solve_factored(a, r, tile)
  return alpha, diag, history
