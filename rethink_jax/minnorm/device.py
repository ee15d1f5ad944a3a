"""The min-norm solve on a JAX device (GPU, TPU, or CPU for tests): Section 5 at scale.

``minnorm.fit(..., backend="jax")`` lands here. The Gram matrix is built on the default
device a tile of rows at a time into one buffer; the Cholesky factorisation is computed
there in the storage precision (float32), with a diagonal jitter retried if float32
rounding makes ``K + ridge I`` indefinite; then iterative refinement drives the residual
of the *exact* system down: each step computes ``r = y - (K + ridge I) alpha`` with the
kernel tiles recomputed from the inputs in float64 (where the device has float64: CPU,
GPU), and corrects ``alpha`` with the float32 factor. ``K``'s buffer is donated to the
factorisation and the refinement never needs ``K`` again, so no second ``n x n`` matrix is
kept beside the factor (whether XLA also reuses the buffer during the factorisation is
up to the platform; peak device memory has not been measured on an accelerator). The
price is one kernel evaluation (``n^2 d`` flops) per refinement step, small beside the
factorisation's ``n^3 / 3``.

On a TPU (no float64) the residual is computed in double-float32
(:mod:`rethink_jax.minnorm.doublefloat`): kernel entries in float32, their products with
``alpha`` and the sums carried in two float32s each, the vectors in float64 on the host. The
refinement then converges for ``K`` rounded to float32 (relative residual ~1e-14 against
it, measured on CPU), and the residual reported is against that matrix; against the exact
kernel it is limited by the float32 rounding of the entries (8e-7 on 600 MNIST images,
where plain float32 arithmetic stalls at 1.4e-6). Kernel entries in double-float32 too
(an ``exp`` in double-float32) would lift that limit; they are not implemented.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, Sequence

import numpy as np

from rethink_jax.minnorm.refinement import factor_with_jitter, refine

__all__ = ["accelerator_present", "float64_supported", "gram", "solve", "predict", "compiled_programs"]


def accelerator_present() -> bool:
  """Whether JAX's default backend is a GPU or TPU (``backend="auto"`` then uses this path)."""
  import jax

  return jax.default_backend() in ("gpu", "cuda", "rocm", "tpu")


def float64_supported() -> bool:
  """Whether the default backend computes in float64 (CPU and GPU do; a TPU does not, and
  its residual is computed in double-float32 instead)."""
  import jax

  return jax.default_backend() != "tpu"


def _precision():
  """float64 inside this block where the device has it, and float32 matrix products at full
  precision (no TF32 on GPUs, no single bfloat16 pass on TPUs: kernel entries and the
  factorisation need float32's accuracy). Scoped switches, not global ones."""
  import jax

  stack = contextlib.ExitStack()
  stack.enter_context(jax.default_matmul_precision("highest"))
  if float64_supported():
    stack.enter_context(jax.enable_x64(True))
  return stack


def _tiles(n: int, tile: int) -> list[int]:
  """Start rows of equal-size tiles covering ``n`` rows (the last one overlaps: one shape, one compilation)."""
  tile = min(tile, n)
  return sorted({min(i, n - tile) for i in range(0, n, tile)})


@functools.lru_cache(maxsize=8)
def _gram_update(kernel: Callable, tile: int):
  import jax

  @functools.partial(jax.jit, donate_argnums=0)
  def update(k_mat, x, z, start):
    block = kernel(jax.lax.dynamic_slice_in_dim(x, start, tile), z).astype(k_mat.dtype)
    return jax.lax.dynamic_update_slice_in_dim(k_mat, block, start, axis=0)
  return update


def gram(kernel: Callable, x, z=None, *, tile: int = 2048, dtype=np.float32):
  """``k(x, z)`` ``[n, m]`` on the default device, ``tile`` rows at a time into one buffer."""
  import jax.numpy as jnp

  x = jnp.asarray(x)
  z = x if z is None else jnp.asarray(z)
  n = x.shape[0]
  tile = min(tile, n)
  k_mat = jnp.zeros((n, z.shape[0]), dtype)
  update = _gram_update(kernel, tile)
  for start in _tiles(n, tile):
    k_mat = update(k_mat, x, z, start)
  return k_mat


@functools.lru_cache(maxsize=8)
def _rows_times(kernel: Callable, tile: int):
  """Jitted ``k(x[start:start + tile], z) @ v``."""
  import jax

  return jax.jit(lambda x, z, v, start: kernel(jax.lax.dynamic_slice_in_dim(x, start, tile), z) @ v)


def _kernel_matvec(kernel: Callable, x, z, v, tile: int):
  """``k(x, z) @ v`` without storing ``k(x, z)``: a tile of rows at a time (in the inputs' precision)."""
  import jax.numpy as jnp

  n, tile = x.shape[0], min(tile, x.shape[0])
  rows = _rows_times(kernel, tile)
  out = np.empty((n, v.shape[1]), np.dtype(v.dtype))
  for start in _tiles(n, tile):
    out[start:start + tile] = np.asarray(rows(x, z, v, start))
  return jnp.asarray(out)


@functools.lru_cache(maxsize=1)
def _factor_fns():
  import jax
  import jax.numpy as jnp
  from jax.scipy.linalg import cho_solve

  @functools.partial(jax.jit, donate_argnums=0)
  def factor(k_mat, shift):
    n = k_mat.shape[0]
    return jax.lax.linalg.cholesky(k_mat + shift * jnp.eye(n, dtype=k_mat.dtype), symmetrize_input=False)

  @jax.jit
  def correct(chol, r):
    return cho_solve((chol, True), r.astype(chol.dtype)).astype(r.dtype)
  return factor, correct


ARITHMETICS = ("auto", "float64", "float32x2", "float32")


@functools.lru_cache(maxsize=8)
def _rows_times_doublefloat(kernel: Callable, tile: int):
  """Jitted ``k(x[start:start + tile], x) @ (v_hi + v_lo)`` in double-float32."""
  import jax

  from rethink_jax.minnorm import doublefloat

  return jax.jit(lambda x, v_hi, v_lo, start: doublefloat.matvec(
      kernel(jax.lax.dynamic_slice_in_dim(x, start, tile), x), v_hi, v_lo))


def _kernel_matvec_doublefloat(kernel: Callable, x32, alpha: np.ndarray, tile: int) -> np.ndarray:
  """``k(x, x) @ alpha`` with float32 kernel entries and double-float32 products and sums;
  ``alpha`` and the result are float64 host arrays (split into / joined from two float32s)."""
  import jax.numpy as jnp

  n, m = alpha.shape
  # the double-float products of a tile are [tile, n, m] several times over: keep them near 256 MB
  tile = max(1, min(tile, n, (1 << 26) // max(n * m, 1)))
  rows = _rows_times_doublefloat(kernel, tile)
  hi = alpha.astype(np.float32)
  lo = (alpha - hi).astype(np.float32)
  hi_d, lo_d = jnp.asarray(hi), jnp.asarray(lo)
  out = np.empty((n, m), np.float64)
  for start in _tiles(n, tile):
    h, l = rows(x32, hi_d, lo_d, start)
    out[start:start + tile] = np.asarray(h, np.float64) + np.asarray(l, np.float64)
  return out


def solve(kernel: Callable, x: np.ndarray, targets: np.ndarray, *, ridge: float, tol: float,
          max_refine: int = 30, tile: int = 2048, devices: Sequence | None = None,
          arithmetic: str = "auto") -> dict:
  """Min-norm (or ridge) coefficients of ``(k(x, x) + ridge I) alpha = targets`` on the device.

  ``devices``: default every local device of JAX's default backend; with more than one,
  ``K`` is sharded by rows over them (:func:`rethink_jax.minnorm.sharded.solve`).

  ``arithmetic`` of the refinement's residual ``targets - (K + ridge I) alpha``:
  ``"float64"`` (kernel entries recomputed in float64; GPU, CPU), ``"float32x2"`` (float32
  kernel entries, products and sums in double-float32, :mod:`rethink_jax.minnorm.doublefloat`;
  the refinement then converges for ``K`` rounded to float32, and the residual is reported
  against that matrix), ``"float32"`` (plain float32: stalls near float32's precision), or
  ``"auto"``: float64 where the device has it, else float32x2 (TPU).

  Returns ``{"alpha": float64 [n, K] (host), "k_alpha": K alpha (host), "history": relative
  residuals per refinement step, "shift": the diagonal jitter factored (0.0 if none)}``.
  """
  import jax
  import jax.numpy as jnp

  if arithmetic not in ARITHMETICS:
    raise ValueError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}.")
  if arithmetic == "auto":
    arithmetic = "float64" if float64_supported() else "float32x2"
  if arithmetic == "float64" and not float64_supported():
    raise ValueError(f"arithmetic='float64' needs float64 on the device; {jax.default_backend()} has none.")
  devices = list(jax.local_devices() if devices is None else devices)
  if len(devices) > 1:
    from rethink_jax.minnorm import sharded

    with _precision():
      return sharded.solve(kernel, x, targets, ridge=ridge, tol=tol, devices=devices, max_refine=max_refine,
                           tile=tile, arithmetic=arithmetic)
  factor, correct = _factor_fns()
  with _precision(), jax.default_device(devices[0]):
    wide = jnp.float64 if arithmetic == "float64" else jnp.float32
    x_wide = jnp.asarray(x, wide)
    x32 = x_wide.astype(jnp.float32)

    def factor_checked(k_mat, shift):
      chol = factor(k_mat, jnp.asarray(shift, jnp.float32))
      return chol, bool(jnp.all(jnp.isfinite(jnp.diagonal(chol))))

    chol, shift = factor_with_jitter(lambda: gram(kernel, x32, tile=tile),
                                     lambda k_mat: float(jnp.mean(jnp.diagonal(k_mat))), factor_checked, ridge)
    if arithmetic == "float32x2":  # vectors kept in float64 on the host, the n^2 work on the device
      out = refine(lambda r: np.asarray(correct(chol, jnp.asarray(r, jnp.float32)), np.float64),
                   lambda alpha: _kernel_matvec_doublefloat(kernel, x32, alpha, tile),
                   np.asarray(targets, np.float64), ridge=ridge, tol=tol, max_refine=max_refine)
    else:
      out = refine(lambda r: correct(chol, r), lambda alpha: _kernel_matvec(kernel, x_wide, x_wide, alpha, tile),
                   jnp.asarray(targets, wide), ridge=ridge, tol=tol, max_refine=max_refine)
    return {**out, "shift": shift - ridge}


def predict(kernel: Callable, x_new: np.ndarray, x_train: np.ndarray, alpha: np.ndarray, *, tile: int = 2048
            ) -> np.ndarray:
  """Scores ``k(x_new, x_train) @ alpha`` on the device, ``tile`` new rows at a time."""
  import jax.numpy as jnp

  with _precision():
    wide = jnp.float64 if float64_supported() else jnp.float32
    z, x, a = (jnp.asarray(v, wide) for v in (x_new, x_train, alpha))
    return np.asarray(_kernel_matvec(kernel, z, x, a, tile), np.float64)


def compiled_programs(kernel: Callable, n: int, d: int, outputs: int, *, tile: int = 2048) -> dict:
  """``{name: (jitted function, abstract arguments)}``: every program the device path
  compiles for ``n`` examples of ``d`` features and ``outputs`` targets (for lowering
  checks with ``jax.export``; float32 throughout, as on a TPU)."""
  import jax
  import jax.numpy as jnp

  tile = min(tile, n)
  f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
  index = jax.ShapeDtypeStruct((), jnp.int32)
  factor, correct = _factor_fns()
  return {"gram tile": (_gram_update(kernel, tile), (f32(n, n), f32(n, d), f32(n, d), index)),
          "factor": (factor, (f32(n, n), f32())),
          "correction": (correct, (f32(n, n), f32(n, outputs))),
          "kernel rows times alpha": (_rows_times(kernel, tile), (f32(n, d), f32(n, d), f32(n, outputs), index)),
          "kernel rows times alpha, double-float32": (_rows_times_doublefloat(kernel, tile),
                                                      (f32(n, d), f32(n, outputs), f32(n, outputs), index))}
