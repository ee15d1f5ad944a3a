"""Min-norm interpolation: ``K alpha = y`` solved directly (Cholesky) or iteratively (CG).

Section 5 of the paper: SGD from zero on a linear model stays in the span of the data,
``w = X^T alpha``, and converges to the minimum-norm interpolant, ``K alpha = y`` with
``K = X X^T`` (or any kernel). ``fit`` returns a predictor in the style of
neural-tangents' ``predict`` functions.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Callable, Sequence

import numpy as np
import numpy.typing as npt
import scipy.linalg

from rethink_jax.minnorm import blocked, checks, device, kernels as kernels_lib


__all__ = ["fit", "predict_precomputed", "Predictor", "gram", "min_norm_linear", "encode_targets", "memory_needed", "IllConditionedWarning"]


class IllConditionedWarning(UserWarning):
  """The kernel system is ill-conditioned; the residual says how far the solution is from exact."""


def encode_targets(y, num_classes: int | None = None, encoding: str = "onehot") -> np.ndarray:
  """Integer labels to ``[n, K]`` targets (``onehot``, or ``centered``: one-hot minus 1/K);
  real targets ``[n]`` or ``[n, K]`` are returned as float64 ``[n, K]``.

  Labels are any integer dtype (not bool), checked to lie in ``[0, num_classes)`` in that
  dtype, before any cast; ``num_classes`` defaults to the largest label + 1 (computed as a
  Python int, so ``uint8`` label 255 gives 256 classes, not 0). ``num_classes`` is for
  integer labels only: given with real targets it must equal their column count.

  Raises ``ValueError`` for labels outside ``[0, num_classes)``, a ``num_classes`` that is
  not an int >= 1, targets too large for memory (a huge label with ``num_classes`` unset),
  non-finite real targets, or an empty or wrongly shaped ``y``.
  """
  y = np.asarray(y)
  if y.ndim not in (1, 2) or len(y) == 0:
    raise ValueError(f"targets must be [n] labels or [n] / [n, K] real values with n > 0, got shape {y.shape}.")
  if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
    raise ValueError(f"targets must be integer labels or real values, got dtype {y.dtype}.")
  if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                  or num_classes < 1):
    raise ValueError(f"num_classes must be an int >= 1 (or None: the largest label + 1), got {num_classes!r}.")
  labels = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
  if not labels:
    if num_classes is not None and (y.ndim == 1 or y.shape[1] != num_classes):
      # float labels would be fitted as one real target each: say so rather than ignore num_classes
      raise ValueError(f"num_classes={num_classes} is for [n] integer labels, but y holds {y.dtype} values of "
                       f"shape {y.shape}; pass labels as integers (y.astype(int)), or real targets without "
                       "num_classes.")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
      raise ValueError(f"targets contain {int(np.sum(~np.isfinite(y)))} non-finite values (NaN or inf).")
    return y[:, None] if y.ndim == 1 else y
  k = int(y.max()) + 1 if num_classes is None else int(num_classes)  # Python ints: no uint8/uint64 wrap
  bad = (y < 0) | (y >= k)  # in y's own dtype, before the cast below
  if bad.any():
    raise ValueError(f"minnorm: labels must lie in [0, {k}) for {k} classes; got {np.unique(y[bad])[:5].tolist()} "
                     f"({int(bad.sum())} of {len(y)} labels).")
  if encoding not in ("onehot", "centered"):
    raise ValueError(f"encoding must be 'onehot' or 'centered', got {encoding!r}.")
  if len(y) * k * 8 > _available_memory():  # e.g. one label 2**40 with num_classes unset
    why = (f"the largest label, {int(y.max())}, implies {k} classes: is it a bad label? Pass num_classes"
           if num_classes is None else f"num_classes={k} is too many")
    raise ValueError(f"{len(y)} labels need {len(y) * k * 8 / 2**30:.3g} GiB of float64 [n, K] targets, more "
                     f"than is available; {why}.")
  out = np.zeros((len(y), k))
  out[np.arange(len(y)), y.astype(np.intp)] = 1.0  # safe: 0 <= y < k
  if encoding == "centered":
    out -= 1.0 / k
  return out


def gram(kernel: Callable, x: np.ndarray, z: np.ndarray | None = None, *, block: int = 4096,
         dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
  """The Gram matrix ``k(x, z)`` computed block by block into one preallocated array.

  Blocks bound the temporary memory to ``block x m`` and keep each BLAS call small;
  for ``z is None`` only blocks on or below the diagonal are computed and mirrored.
  ``x`` ``[n, d]`` and ``z`` ``[m, d]`` are checked first (2-D, same ``d``, finite), and
  each block the kernel returns (shape, finiteness: a callable kernel may return anything).
  """
  block = checks.positive_int(block, "block")
  sym = z is None
  z = x if sym else z
  kernels_lib.check_points(x, z)
  n, m = len(x), len(z)
  if out is not None and np.shape(out) != (n, m):
    raise ValueError(f"out must have shape ({n}, {m}) for {n} x {m} points, got {np.shape(out)}.")
  out = np.empty((n, m), dtype=dtype) if out is None else out
  for i in range(0, n, block):
    xi = x[i:i + block]
    for j in range(0, (i + block) if sym else m, block):
      kb = kernel(xi, z[j:j + block])
      if np.shape(kb) != (len(xi), min(block, m - j)):
        raise ValueError(f"kernel returned shape {np.shape(kb)} for {len(xi)} x {min(block, m - j)} points; "
                         "k(x, z) must return [len(x), len(z)].")
      out[i:i + block, j:j + block] = kb
      if not np.all(np.isfinite(out[i:i + block, j:j + block])):  # one pass over a block: cheap beside k itself
        raise ValueError(f"kernel returned non-finite values for rows {i}:{i + len(xi)}, columns "
                         f"{j}:{j + min(block, m - j)} of finite inputs.")
      if sym and j < i:
        out[j:j + block, i:i + block] = out[i:i + block, j:j + block].T
  return out


def memory_needed(n: int, dtype=np.float64) -> int:
  """Bytes of one ``n x n`` Gram matrix."""
  if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
    raise ValueError(f"n must be an integer >= 0, got {n!r}.")
  return n * n * np.dtype(dtype).itemsize


def _available_memory() -> int:
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return 8 << 30


def _matvec_blocked(k_mat: np.ndarray, v: np.ndarray, block: int = 4096) -> np.ndarray:
  """``K v`` in float64 from a (possibly float32) stored ``K``, a block of rows at a time."""
  out = np.empty((k_mat.shape[0], v.shape[1]))
  for i in range(0, k_mat.shape[0], block):
    out[i:i + block] = k_mat[i:i + block].astype(np.float64) @ v
  return out


def _pcg(matvec: Callable, y: np.ndarray, precond: Callable, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
  """Preconditioned conjugate gradient for SPD systems with several right-hand sides."""
  x = np.zeros_like(y)
  r = y.copy()
  zv = precond(r)
  p = zv.copy()
  rz = np.sum(r * zv, axis=0)
  ynorm = np.linalg.norm(y)
  for it in range(1, max_iter + 1):
    kp = matvec(p)
    step = rz / np.maximum(np.sum(p * kp, axis=0), 1e-300)
    if not np.all(np.isfinite(step)):  # breakdown on a (numerically) singular system: keep the last iterate
      return x, it
    x += p * step
    r -= kp * step
    rnorm = np.linalg.norm(r)
    if not np.isfinite(rnorm):
      raise FloatingPointError(f"CG's residual became non-finite at iteration {it}; the system is singular or "
                               "badly scaled. Use ridge > 0 or solver='cholesky'.")
    if rnorm <= tol * ynorm:
      return x, it
    zv = precond(r)
    rz_new = np.sum(r * zv, axis=0)
    p = zv + p * (rz_new / np.maximum(rz, 1e-300))
    rz = rz_new
  return x, max_iter


def _nystrom_preconditioner(k_mat: np.ndarray, ridge: float, rank: int, seed: int = 0) -> Callable:
  """Preconditioner from the top eigenpairs of a Nystrom approximation (as in EigenPro/Falkon).

  With ``K ~ U diag(s) U^T`` (top ``rank``), ``P^-1 = U diag(mu/(s+ridge)) U^T + (I - U U^T)``
  scaled so the flattened spectrum starts at ``mu``, the ``rank+1``-th eigenvalue.
  """
  n = len(k_mat)
  rng = np.random.default_rng(seed)
  idx = np.sort(rng.choice(n, size=min(n, 4 * rank), replace=False))
  k_nm = k_mat[:, idx].astype(np.float64)
  k_mm = k_nm[idx]
  s_mm, v_mm = np.linalg.eigh(k_mm + 1e-10 * np.trace(k_mm) / len(idx) * np.eye(len(idx)))
  keep = s_mm > 1e-12 * s_mm.max()
  u = k_nm @ (v_mm[:, keep] / np.sqrt(s_mm[keep]))   # Nystrom features: K ~ u u^T
  q, r = np.linalg.qr(u)
  s, vv = np.linalg.eigh(r @ r.T)
  order = np.argsort(s)[::-1]
  s, vecs = s[order], q @ vv[:, order]
  top, mu = vecs[:, :rank], max(s[min(rank, len(s) - 1)], 1e-12) + ridge
  scale = mu / (s[:rank] + ridge)

  def apply(v):
    proj = top.T @ v
    return v - top @ proj + top @ (proj * scale[:, None])
  return apply


@dataclasses.dataclass(repr=False)
class Predictor:
  """A fitted min-norm (or ridge) kernel interpolant.

  Attributes:
    alpha: ``[n, K]`` dual coefficients (``K alpha = y``).
    residual: relative residual ``||K alpha - y|| / ||y||`` in float64, always computed.
    solver, iterations, seconds, backend: how it was solved (``backend="jax"``: ``predict``
      runs on the device too).
  """

  alpha: np.ndarray
  residual: float
  solver: str
  iterations: int
  seconds: float
  _kernel: Callable
  _x_train: np.ndarray
  _features: Callable | None
  _quad: float
  _is_linear: bool
  kernel_name: str = "callable"
  backend: str = "numpy"

  def __repr__(self) -> str:
    n, k = self.alpha.shape
    d = "precomputed" if self._kernel is None else self._x_train.shape[1]
    return (f"Predictor(n={n}, outputs={k}, features={d}, kernel={self.kernel_name}, solver={self.solver}, "
            f"backend={self.backend}, "
            f"residual={self.residual:.2e}, norm={self.norm():.4g}, iterations={self.iterations}, "
            f"seconds={self.seconds:.1f})")

  def predict(self, x_new, block: int = 4096) -> np.ndarray:
    """Scores ``[n_new, K]`` = ``k(x_new, x_train) @ alpha``, blockwise."""
    if self._kernel is None:
      raise ValueError("This predictor was fitted on a precomputed kernel: use predict_precomputed(p, k_new_train).")
    block = checks.positive_int(block, "block")
    z = _prepare(x_new, self._features, "x_new")
    if z.shape[1] != self._x_train.shape[1]:
      raise ValueError(f"predict got inputs of shape {np.shape(x_new)} ({z.shape[1]} features each); the predictor "
                       f"was fitted on {self._x_train.shape[1]} features per example.")
    if self.backend == "jax":
      return device.predict(self._kernel, z, self._x_train, self.alpha, tile=block)
    out = np.empty((len(z), self.alpha.shape[1]))
    for i in range(0, len(z), block):
      out[i:i + block] = gram(self._kernel, z[i:i + block], self._x_train, block=block) @ self.alpha
    return out

  def norm(self) -> float:
    """RKHS norm ``sqrt(trace(alpha^T K alpha))``; for the linear kernel, ``||X^T alpha||``."""
    return float(np.sqrt(max(self._quad, 0.0)))

  @property
  def weights(self) -> np.ndarray:
    """``w = X^T alpha`` (linear kernel only): the primal min-norm solution."""
    if not self._is_linear:
      raise AttributeError("weights exist for the linear kernel only.")
    return self._x_train.T @ self.alpha


def _prepare(x, features, name: str = "x") -> np.ndarray:
  x = np.asarray(x)
  if x.ndim < 2 or x.shape[0] == 0 or x.size == 0:
    raise ValueError(f"inputs {name} must be [n, ...] with n > 0 examples of at least one value, got shape "
                     f"{x.shape}.")
  if not (np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)):
    raise ValueError(f"inputs {name} must be real numbers, got dtype {x.dtype}.")
  bad = checks.count_nonfinite(x)
  if bad:
    raise ValueError(f"inputs {name} contain {bad} non-finite values (NaN or inf).")
  if features is not None:
    n = len(x)
    x = np.asarray(features(x))
    if x.ndim < 1 or len(x) != n:
      raise ValueError(f"features returned shape {x.shape} for {n} inputs; it must return one row per input.")
  x = x.reshape(len(x), -1).astype(np.float64)
  if not np.all(np.isfinite(x)):
    raise ValueError("features of the inputs contain non-finite values.")
  return x


def _check_duplicates(z: np.ndarray, targets: np.ndarray) -> None:
  """Identical inputs with different targets: no interpolant exists (ridge 0); say which rows.

  Rows are compared through a random projection first (one matrix-vector product), then
  exactly where two projections agree.
  """
  h = z @ np.random.default_rng(0).standard_normal(z.shape[1])
  order = np.argsort(h, kind="stable")
  for j in np.flatnonzero(h[order][1:] == h[order][:-1]):
    a, b = sorted((int(order[j]), int(order[j + 1])))
    if np.array_equal(z[a], z[b]) and not np.array_equal(targets[a], targets[b]):
      raise ValueError(f"inputs {a} and {b} are identical but their targets differ, so no interpolant exists; "
                       "use ridge > 0.")


def _check_precomputed(k: np.ndarray, tile: int = 1024, rtol: float = 1e-4) -> None:
  """Refuses a precomputed Gram matrix ``x`` with non-finite entries or that is not symmetric: the
  Cholesky path reads only its upper triangle, so a non-symmetric one would be solved as if
  mirrored, with a tiny residual.

  One pass over pairs of tiles ``(K[I, J], K[J, I]^T)``: ``K - K^T`` whole would be a second
  ``n x n`` matrix (14 GB at n = 60,000 in float32), and tile by tile every entry is read once,
  from cache, like the finiteness check it shares the pass with (a few seconds at n = 60,000,
  beside minutes of factorisation). Tiles are first compared exactly (a Gram matrix mirrored or
  made by ``F @ F.T`` is exactly symmetric); only unequal ones are compared relative to
  ``sqrt(K_ii K_jj)``, which bounds ``|K_ij|`` for a Gram matrix, so float32 rounding passes.
  """
  n = len(k)
  root_diag = np.sqrt(np.abs(np.diagonal(k).astype(np.float64)))
  for i in range(0, n, tile):
    for j in range(i, n, tile):
      a, b = k[i:i + tile, j:j + tile], k[j:j + tile, i:i + tile].T
      if not (np.isfinite(a).all() and np.isfinite(b).all()):
        checks.check_finite(k, "the precomputed Gram matrix x")  # counts them all, and raises
      if np.array_equal(a, b):
        continue
      a64, b64 = a.astype(np.float64), b.astype(np.float64)
      scale = np.maximum(np.outer(root_diag[i:i + tile], root_diag[j:j + tile]), np.maximum(np.abs(a64), np.abs(b64)))
      bad = np.argwhere(np.abs(a64 - b64) > rtol * scale)
      if len(bad):
        r, c = bad[0]
        raise ValueError(f"kernel='precomputed' needs a symmetric Gram matrix x, but x[{i + r}, {j + c}] = "
                         f"{a64[r, c]:.6g} and x[{j + c}, {i + r}] = {b64[r, c]:.6g}.")


def fit(x: npt.ArrayLike, y: npt.ArrayLike, kernel: str | Callable = "gaussian", *,
        bandwidth: float | None = None, ridge: float = 0.0, solver: str = "auto",
        features: Callable | None = None, num_classes: int | None = None, encoding: str = "onehot",
        tol: float = 1e-10, max_iter: int = 1000, precond_rank: int = 200, dtype: npt.DTypeLike | None = None,
        memory_limit: int | None = None, backend: str = "auto", copy_k: bool = True,
        devices: Sequence | None = None) -> Predictor:
  """Solves ``(K + ridge I) alpha = y`` for the min-norm kernel interpolant (Section 5).

  Args:
    x: ``[n, ...]`` training inputs (flattened), or raw inputs for ``features``.
    y: ``[n]`` integer labels (encoded by ``encoding``) or real targets ``[n]``/``[n, K]``.
      Labels are checked to lie in ``[0, num_classes)`` before any cast (:func:`encode_targets`).
    kernel: ``"linear"``, ``"gaussian"``, ``"laplacian"``, a callable ``k(x, z)``, or
      ``"precomputed"`` (then ``x`` is the ``[n, n]`` Gram matrix: finite and symmetric, checked tile by tile).
    bandwidth: for the gaussian and laplacian kernels (required there, refused with any other kernel).
    ridge: ``0`` for exact interpolation; a small value for the paper's "l2 regularization".
    solver: ``"cholesky"`` (in-place blocked factorisation with float64 iterative
      refinement, one copy of K), ``"cg"`` (Nystrom-preconditioned conjugate gradient) or
      ``"auto"`` (Cholesky: measured faster and exact at every size that fits in memory).
    features: a function applied to inputs first (e.g. :func:`gabor_features`).
    num_classes: ``K`` for integer labels (default: the largest label + 1); an int >= 1.
    encoding: ``"onehot"`` or ``"centered"`` (one-hot minus ``1/K``), for integer labels.
    dtype: precision of the stored Gram matrix (default float64 when it fits in
      ``memory_limit``, else float32; residuals are always computed in float64).
    memory_limit: bytes the Gram matrix may use (default: available memory).
    copy_k: for ``kernel="precomputed"`` with the Cholesky solver: ``False`` solves in the
      caller's array (float32 or float64, C order) and restores it before returning, so no
      second ``n x n`` matrix is allocated (the array is briefly overwritten: do not share
      it with another thread meanwhile). A leading block ``K[:m, :m]`` of a C-order Gram
      matrix works too, in place: a fit on the first ``m`` examples with no copy, whose
      predictions on the others are ``predict_precomputed(p, K[m:, :m])`` (a held-out split
      of a Gram matrix too large to copy).
    backend: ``"numpy"`` (the host path above), ``"jax"`` (Gram matrix, float32 Cholesky and
      float64 refinement on JAX's default device, :mod:`rethink_jax.minnorm.device`; Cholesky
      only, kernels given by name or as jax-traceable callables, not ``"precomputed"``), or
      ``"auto"``: ``"jax"`` when a GPU or TPU is present, else ``"numpy"``.
    devices: for ``backend="jax"``, the devices to solve on (default: every local device
      of JAX's default backend). With more than one, ``K`` is sharded by rows over them
      (:mod:`rethink_jax.minnorm.sharded`), so ``n`` can exceed what one device holds.

  Returns:
    A :class:`Predictor`.

  Raises:
    ValueError: bad shapes, non-finite values, out-of-range arguments, a precomputed Gram
      matrix that is not symmetric, or one that does not fit (the message says how much it needs).
    TypeError: a ``bandwidth``, ``ridge``, ``tol`` or ``memory_limit`` that is not a number.
  """
  t0 = time.perf_counter()
  precomputed = isinstance(kernel, str) and kernel == "precomputed"
  # the arguments first, before the features or the Gram matrix cost anything
  if precomputed and bandwidth is not None:
    raise ValueError(f"bandwidth= is for the gaussian and laplacian kernels; a precomputed Gram matrix has none, got "
                     f"bandwidth={bandwidth!r}.")
  k_fn = None if precomputed else kernels_lib.get(kernel, bandwidth)
  if not (np.isfinite(checks.real_number(ridge, "ridge")) and ridge >= 0):
    raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}.")
  if not (np.isfinite(checks.real_number(tol, "tol")) and tol >= 0):
    raise ValueError(f"tol must be a finite number >= 0, got {tol!r}.")
  checks.positive_int(max_iter, "max_iter")
  checks.positive_int(precond_rank, "precond_rank")
  if dtype is not None:
    dtype = checks.gram_dtype(dtype)
  if memory_limit is not None and not checks.real_number(memory_limit, "memory_limit") > 0:
    raise ValueError(f"memory_limit must be a number of bytes > 0 (or None: available memory), got {memory_limit!r}.")
  if precomputed:
    z = np.asarray(x)
    if z.ndim != 2 or z.shape[0] != z.shape[1] or len(z) == 0:
      raise ValueError(f"kernel='precomputed' needs x to be a square [n, n] Gram matrix with n > 0, got shape "
                       f"{z.shape}.")
    checks.check_real(z, "the precomputed Gram matrix x")
    _check_precomputed(z)
  else:
    z = _prepare(x, features)
  targets = encode_targets(y, num_classes, encoding)
  if len(targets) != len(z):
    raise ValueError(f"{len(z)} inputs but {len(targets)} targets.")
  if not precomputed and ridge == 0:
    _check_duplicates(z, targets)
  if solver not in ("auto", "cholesky", "cg"):
    raise ValueError(f"solver must be 'auto', 'cholesky' or 'cg', got {solver!r}.")
  if backend not in ("auto", "numpy", "jax"):
    raise ValueError(f"backend must be 'auto', 'numpy' or 'jax', got {backend!r}.")
  if backend == "auto":
    backend = "jax" if device.accelerator_present() and not precomputed and solver != "cg" else "numpy"
  if backend == "jax" and (precomputed or solver == "cg"):
    raise ValueError("backend='jax' computes K from the inputs and factors it (Cholesky): use backend='numpy' for "
                     "kernel='precomputed' or solver='cg'.")
  if devices is not None and (backend != "jax" or len(devices) == 0):
    raise ValueError(f"devices= is for backend='jax' and must name at least one device; got backend={backend!r} "
                     f"and {len(devices)} devices.")
  if backend == "jax":
    return _fit_on_device(k_fn, z, targets, ridge=ridge, tol=tol, features=features, t0=t0, devices=devices,
                          kernel_name=kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "callable"))
  n = len(z)
  limit = memory_limit or int(0.8 * _available_memory())
  if dtype is None:
    dtype = np.float64 if memory_needed(n, np.float64) <= limit else np.float32
  if not precomputed and memory_needed(n, dtype) > limit:
    raise ValueError(f"The {n} x {n} Gram matrix needs {memory_needed(n, dtype) / 2**30:.1f} GiB in "
                     f"{np.dtype(dtype).name}; only {limit / 2**30:.1f} GiB may be used. Use a subset, or a "
                     "machine with more memory.")
  in_place = precomputed and not copy_k
  if in_place:
    if solver == "cg" or not (blocked.rows_contiguous(z) and z.dtype in (np.float32, np.float64)
                              and z.flags.writeable):
      raise ValueError("copy_k=False needs the Cholesky solver and a writable float32 or float64 Gram matrix with "
                       "contiguous rows (C order, or a leading block K[:m, :m] of one); got "
                       f"solver={solver!r}, dtype {z.dtype}.")
    k_mat, dtype = z, z.dtype
  else:
    k_mat = np.array(z, dtype=dtype, order="C") if precomputed else gram(k_fn, z, dtype=dtype)
  if solver == "auto":
    # Measured on MNIST (benchmarks/minnorm_scaling.py): the in-place Cholesky with refinement
    # is exact and faster than the Nystrom-preconditioned CG at every size that fits in memory
    # (20k: 37 s against 263 s, and CG stalls at a 2e-4 residual), and both need K stored.
    solver = "cholesky"
  iterations = 0
  if solver == "cholesky":
    # A float32 K may lose positive definiteness to rounding: then a small diagonal shift is
    # factored instead and used only to precondition the refinement against K itself.
    scale = float(np.mean(np.diagonal(k_mat))) or 1.0
    jitters = tuple(scale * j for j in (1e-6, 1e-5, 1e-4, 1e-3)) if np.dtype(dtype) == np.float32 else ()
    try:
      alpha, _, history, shift, k_alpha = blocked.solve_refined(
          k_mat, targets, ridge=ridge, tol=tol, jitters=jitters, restore=in_place,
          lower_holds_k=not precomputed)  # gram() fills both triangles
    except np.linalg.LinAlgError as e:
      raise ValueError(f"Cholesky failed: K + ridge I is not numerically positive definite ({e}). Use "
                       "ridge > 0.") from e
    if shift:
      warnings.warn(f"K + ridge I was not positive definite in {np.dtype(dtype).name}; factored K + "
                    f"{shift:.1e} I and refined against K (relative residual {history[-1]:.1e}).",
                    IllConditionedWarning)
    iterations = len(history) - 1  # refinement steps
  else:
    matvec = lambda v: _matvec_blocked(k_mat, v) + ridge * v
    precond = _nystrom_preconditioner(k_mat, ridge, min(precond_rank, n - 1))
    alpha, iterations = _pcg(matvec, targets, precond, tol, max_iter)
    k_alpha = _matvec_blocked(k_mat, alpha)
  if not np.all(np.isfinite(alpha)):
    raise FloatingPointError(f"The {solver} solve produced non-finite coefficients; the system is singular or "
                             "badly scaled. Use ridge > 0.")
  residual = float(np.linalg.norm(k_alpha + ridge * alpha - targets) / np.linalg.norm(targets))
  quad = float(np.sum(alpha * k_alpha))
  if residual > 1e-3:
    warnings.warn(f"Relative residual {residual:.2e} after solving with {solver}: the system is "
                  "ill-conditioned at this size; use ridge > 0 or more iterations.", IllConditionedWarning)
  return Predictor(alpha=alpha, residual=residual, solver=solver, iterations=iterations,
                   seconds=time.perf_counter() - t0, _kernel=k_fn, _x_train=z, _features=features,
                   _quad=quad, _is_linear=k_fn is kernels_lib.linear,
                   kernel_name=kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "callable"))


def _fit_on_device(k_fn, z, targets, *, ridge, tol, features, t0, kernel_name, devices) -> Predictor:
  out = device.solve(k_fn, z, targets, ridge=ridge, tol=tol, devices=devices)
  alpha, k_alpha, history = out["alpha"], out["k_alpha"], out["history"]
  if out["shift"]:
    warnings.warn(f"K + ridge I was not positive definite in float32 on the device; factored K + "
                  f"{out['shift']:.1e} I and refined against K (relative residual {history[-1]:.1e}).",
                  IllConditionedWarning)
  if not np.all(np.isfinite(alpha)):
    raise FloatingPointError("The device solve produced non-finite coefficients; use ridge > 0.")
  residual = float(np.linalg.norm(k_alpha + ridge * alpha - targets) / np.linalg.norm(targets))
  if residual > 1e-3:
    warnings.warn(f"Relative residual {residual:.2e} after the device solve: the system is ill-conditioned at "
                  "this size; use ridge > 0.", IllConditionedWarning)
  return Predictor(alpha=alpha, residual=residual, solver="cholesky", iterations=len(history) - 1,
                   seconds=time.perf_counter() - t0, _kernel=k_fn, _x_train=z, _features=features,
                   _quad=float(np.sum(alpha * k_alpha)), _is_linear=k_fn is kernels_lib.linear,
                   kernel_name=kernel_name, backend="jax")


def predict_precomputed(predictor: Predictor, k_new_train) -> np.ndarray:
  """Scores from a precomputed cross-kernel ``[n_new, n]`` (for ``kernel='precomputed'``)."""
  k = np.asarray(k_new_train)
  n = len(predictor.alpha)
  if k.ndim != 2 or k.shape[1] != n:
    raise ValueError(f"k_new_train must be [n_new, {n}] (one column per training example), got shape {k.shape}.")
  checks.check_real(k, "k_new_train")
  scores = k.astype(np.float64, copy=False) @ predictor.alpha
  # A non-finite entry makes its row of scores non-finite (inf * 0 is NaN too): checking the small
  # [n_new, K] result spares a second pass over k_new_train, which the product reads once.
  if not np.all(np.isfinite(scores)):
    checks.check_finite(k, "k_new_train")
    raise FloatingPointError("the scores overflowed: k_new_train's entries are too large for float64.")
  return scores


def min_norm_linear(x, y) -> np.ndarray:
  """The primal minimum-norm least-squares solution ``w`` of ``X w = y`` (Section 5).

  For ``n < d`` it interpolates and equals ``X^T (X X^T)^-1 y``, the limit of gradient
  descent from zero; computed with LAPACK's SVD-based least squares (``gelsd``).
  """
  x, y = np.asarray(x), np.asarray(y)
  if x.ndim < 1 or len(x) == 0 or x.size == 0:
    raise ValueError(f"x must be [n, ...] with n > 0 examples of at least one value, got shape {x.shape}.")
  if y.ndim not in (1, 2):
    raise ValueError(f"y must be [n] or [n, K] targets, got shape {y.shape}.")
  checks.check_real(x, "x")
  checks.check_real(y, "y")
  x, y = x.astype(np.float64).reshape(len(x), -1), y.astype(np.float64)
  if len(x) != len(y):
    raise ValueError(f"{len(x)} inputs but {len(y)} targets.")
  checks.check_finite(x, "x")
  checks.check_finite(y, "y")
  w, *_ = scipy.linalg.lstsq(x, y, lapack_driver="gelsd")
  return w
