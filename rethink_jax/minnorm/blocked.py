"""An in-place blocked Cholesky for Gram matrices too large for two copies (paper Section 5).

One ``n x n`` array holds both the kernel matrix and its factor: the factor ``L`` is
written into the lower triangle, ``K``'s strict upper triangle is left untouched, and
``K``'s diagonal is kept as a vector. So the residual ``K alpha - y`` can be computed in
float64 after a float32 factorisation and refined (mixed precision), with no second copy
of ``K``. At n = 60,000 the float32 array is 14.4 GB.

Everything works tile by tile (LAPACK ``potrf``, BLAS ``trsm`` and ``gemm`` through scipy
and numpy) with a few tile-sized buffers allocated once: large temporaries would be
``mmap``-ed and page-faulted afresh on every use, which at n = 60,000 cost as much system
time as the arithmetic itself (measured).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack

__all__ = ["rows_contiguous", "factor_in_place", "solve_factored", "sym_matvec", "solve_refined", "DEFAULT_TILE"]

DEFAULT_TILE = 2048
PANEL_TILES = 8  # rows of a panel solved per call, in tiles


def _tiles(n: int, tile: int) -> list[tuple[int, int]]:
  return [(s, min(s + tile, n)) for s in range(0, n, tile)]


def rows_contiguous(a: np.ndarray) -> bool:
  """A square matrix whose rows each lie contiguously: C order, or a leading block
  ``K[:m, :m]`` of a larger C-order matrix (BLAS reads it with the parent's row stride)."""
  return (a.ndim == 2 and a.shape[0] == a.shape[1] and a.strides[1] == a.itemsize
          and a.strides[0] >= a.shape[1] * a.itemsize)


def _check(a: np.ndarray) -> None:
  if not rows_contiguous(a):
    raise ValueError(f"expected a square matrix with contiguous rows (C order, or a leading block of one), got shape "
                     f"{a.shape}, strides {a.strides}.")


def factor_in_place(a: np.ndarray, tile: int = DEFAULT_TILE, ridge: float = 0.0) -> np.ndarray:
  """Cholesky-factors the symmetric matrix ``a`` (rows contiguous: C order, or a leading block
  of a C-order matrix) into its lower triangle.

  Reads only the lower triangle of ``a`` (on and below the diagonal) and writes ``L``
  there; the strict upper triangle is not touched. Returns the original diagonal
  (float64), which the factorisation overwrites. ``ridge`` is added to the diagonal first.
  """
  _check(a)
  n = len(a)
  idx = np.arange(n)
  diag = a[idx, idx].astype(np.float64)
  if ridge:
    a[idx, idx] += ridge
  single = a.dtype == np.float32
  potrf, trsm = (lapack.spotrf, blas.strsm) if single else (lapack.dpotrf, blas.dtrsm)
  tiles = _tiles(n, tile)
  buf = np.empty((tile, tile), a.dtype)
  # the panel's triangular solve works on Fortran-order copies of PANEL_TILES tiles of rows,
  # which BLAS overwrites in place: twice the rate of one solve per tile on the C-order
  # rows, which the wrapper copies in and out (measured at n = 16,384)
  panel_rows = min(n, PANEL_TILES * tile)
  panel_buf = np.empty(tile * panel_rows, a.dtype)
  lower = np.tril(np.ones((tile, tile), a.dtype))
  for t, (k, ke) in enumerate(tiles):
    h = ke - k
    lkk, info = potrf(np.tril(a[k:ke, k:ke]), lower=1, clean=1)
    if info != 0:
      raise np.linalg.LinAlgError(f"matrix not positive definite (leading minor {k + info} of {n}).")
    np.copyto(a[k:ke, k:ke], lkk, where=lower[:h, :h].astype(bool))
    # panel: A[i, k] <- A[i, k] L_kk^-T, i.e. L_kk X^T = A[i, k]^T, a block of rows at a time
    for r in range(ke, n, panel_rows):
      re = min(r + panel_rows, n)
      xt = panel_buf[:h * (re - r)].reshape((h, re - r), order="F")
      np.copyto(xt, a[r:re, k:ke].T)
      a[r:re, k:ke] = trsm(1.0, lkk, xt, side=0, lower=1, overwrite_b=1).T
    # trailing update of the lower triangle: A[i, j] -= P_i P_j^T for j <= i
    for ti, (i, ie) in enumerate(tiles[t + 1:], t + 1):
      pi = a[i:ie, k:ke]
      for j, je in tiles[t + 1:ti + 1]:
        upd = buf[:ie - i, :je - j]
        np.matmul(pi, a[j:je, k:ke].T, out=upd)
        if i == j:  # diagonal tile: its upper part still holds K
          np.multiply(upd, lower[:ie - i, :je - j], out=upd)
        a[i:ie, j:je] -= upd
  return diag


def solve_factored(a: np.ndarray, b: np.ndarray, tile: int = DEFAULT_TILE, *, dtype=np.float64) -> np.ndarray:
  """Solves ``L L^T x = b`` with ``L`` in the lower triangle of ``a``.

  ``dtype`` is the precision of the arithmetic: float64 (the default) converts each tile of
  a float32 ``L`` as it goes; ``a.dtype`` works on ``L`` in place, panel by panel, with no
  conversion. For the corrections of iterative refinement the two are equally good: their
  error is that of the float32 factor itself (about cond(K) times float32 rounding), which
  the refinement removes either way, and the float64 residual decides the answer's accuracy.
  """
  n = len(a)
  dtype = np.dtype(dtype)
  if dtype == a.dtype:
    return _solve_factored_in_place(a, b, tile)
  b = np.asarray(b, np.float64).reshape(n, -1)
  tiles = _tiles(n, tile)
  buf = np.empty((tile, tile))

  def block(i, ie, j, je):  # a float64 copy of one tile, into the one buffer
    out = buf[:ie - i, :je - j]
    np.copyto(out, a[i:ie, j:je])
    return out

  y = np.empty_like(b)
  for t, (k, ke) in enumerate(tiles):  # forward: L y = b
    rhs = b[k:ke].copy()
    for j, je in tiles[:t]:
      rhs -= block(k, ke, j, je) @ y[j:je]
    y[k:ke] = blas.dtrsm(1.0, np.tril(block(k, ke, k, ke)), rhs, lower=1)
  x = np.empty_like(y)
  for t in reversed(range(len(tiles))):  # backward: L^T x = y
    k, ke = tiles[t]
    rhs = y[k:ke].copy()
    for i, ie in tiles[t + 1:]:
      rhs -= block(i, ie, k, ke).T @ x[i:ie]
    x[k:ke] = blas.dtrsm(1.0, np.tril(block(k, ke, k, ke)), rhs, lower=1, trans_a=1)
  return x


def _solve_factored_in_place(a: np.ndarray, b: np.ndarray, tile: int) -> np.ndarray:
  """:func:`solve_factored` in ``a``'s own precision: one product per row (or column)
  panel of ``L``, read where it lies (BLAS takes the row stride), and a triangular solve
  per diagonal tile. ``b`` is scaled to unit norm first so float32 cannot overflow."""
  n = len(a)
  b = np.asarray(b, np.float64).reshape(n, -1)
  scale = float(np.max(np.abs(b))) or 1.0
  trsm = blas.strsm if a.dtype == np.float32 else blas.dtrsm
  y = (b / scale).astype(a.dtype)
  tiles = _tiles(n, tile)
  for k, ke in tiles:  # forward: L y = b
    if k:
      y[k:ke] -= a[k:ke, :k] @ y[:k]
    y[k:ke] = trsm(1.0, np.tril(a[k:ke, k:ke]), y[k:ke], lower=1)
  for k, ke in reversed(tiles):  # backward: L^T x = y
    if ke < n:
      y[k:ke] -= a[ke:, k:ke].T @ y[ke:]
    y[k:ke] = trsm(1.0, np.tril(a[k:ke, k:ke]), y[k:ke], lower=1, trans_a=1)
  return y.astype(np.float64) * scale


def sym_matvec(a: np.ndarray, diag: np.ndarray, v: np.ndarray, tile: int = DEFAULT_TILE) -> np.ndarray:
  """``K v`` in float64 with ``K`` stored as its strict upper triangle in ``a`` plus ``diag``."""
  n = len(a)
  v = np.asarray(v, np.float64).reshape(n, -1)
  out = diag[:, None] * v
  tiles = _tiles(n, tile)
  buf = np.empty((tile, tile))
  strict_upper = np.triu(np.ones((tile, tile)), k=1)
  for t, (i, ie) in enumerate(tiles):
    for j, je in tiles[t:]:
      blk = buf[:ie - i, :je - j]
      np.copyto(blk, a[i:ie, j:je])
      if i == j:
        np.multiply(blk, strict_upper[:ie - i, :je - j], out=blk)
      out[i:ie] += blk @ v[j:je]
      out[j:je] += blk.T @ v[i:ie]
  return out


def solve_refined(a: np.ndarray, y: np.ndarray, *, ridge: float = 0.0, tile: int = DEFAULT_TILE, steps: int = 3,
                  tol: float = 1e-12, jitters: tuple[float, ...] = (), restore: bool = False,
                  lower_holds_k: bool = False) -> tuple[np.ndarray, np.ndarray, list[float], float, np.ndarray]:
  """Factors ``K + ridge I`` in place and solves with float64 iterative refinement.

  ``a`` must hold ``K`` (at least its upper triangle and diagonal, C order); on return its
  lower triangle holds ``L``. If the factorisation breaks down (a float32 ``K`` whose
  smallest eigenvalues are below the factorisation's rounding error), each shift ``s`` in
  ``jitters`` is tried in turn: ``K + (ridge + s) I`` is factored and used only as the
  preconditioner of the refinement, whose residual stays that of ``K + ridge I`` (so the
  answer still interpolates, to the residual reported), with up to ``4 * steps`` steps.
  With ``restore=True``, ``a`` holds ``K`` again on return (its upper triangle mirrored back
  and its diagonal restored), so a caller's matrix can be solved in place and reused.
  ``lower_holds_k=True`` says that ``a``'s lower triangle holds ``K`` too (a full symmetric
  Gram matrix), which saves mirroring the upper triangle into it before the first
  factorisation.

  Returns:
    ``(alpha, diag, residual history, shift used, K alpha)``, residuals relative
    ``||(K + ridge I) alpha - y|| / ||y||`` computed in float64, and ``K alpha`` (float64)
    from the last residual, so the caller needs no further pass over ``K``.
  """
  _check(a)
  y = np.asarray(y, np.float64).reshape(len(a), -1)
  n = len(a)
  idx = np.arange(n)
  diag = a[idx, idx].astype(np.float64)
  tiles = _tiles(n, tile)

  def mirror_upper():  # the factorisation reads the lower triangle; K's upper one is never written
    for t, (i, ie) in enumerate(tiles):
      for j, je in tiles[:t]:
        a[i:ie, j:je] = a[j:je, i:ie].T
      blk = a[i:ie, i:ie]
      low = np.tril_indices(ie - i, -1)
      blk[low] = blk.T[low]
    a[idx, idx] = diag

  shift = 0.0
  for attempt, s in enumerate((0.0,) + tuple(jitters)):
    if attempt or not lower_holds_k:
      mirror_upper()
    try:
      factor_in_place(a, tile=tile, ridge=ridge + s)
      shift = s
      break
    except np.linalg.LinAlgError:
      if attempt == len(jitters):
        if restore:
          mirror_upper()
        raise
  k_diag = diag + ridge
  max_steps = steps * 4 if shift else steps
  # Corrections in the factor's own precision (see solve_factored); residuals in float64.
  alpha = solve_factored(a, y, tile, dtype=a.dtype)
  ynorm = np.linalg.norm(y)
  history = []
  for _ in range(max_steps + 1):
    k_alpha = sym_matvec(a, k_diag, alpha, tile)  # (K + ridge I) alpha
    r = y - k_alpha
    history.append(float(np.linalg.norm(r) / ynorm))
    if history[-1] <= tol or len(history) > max_steps:
      break
    alpha += solve_factored(a, r, tile, dtype=a.dtype)
  if restore:
    mirror_upper()
  return alpha, diag, history, shift, k_alpha - ridge * alpha
