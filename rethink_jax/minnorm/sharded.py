"""The min-norm solve over several devices: ``K`` sharded by rows over a Mesh (Section 5 at scale).

When more than one device takes part, :func:`rethink_jax.minnorm.device.solve` lands here.
No device ever holds more than its share of the ``n x n`` Gram matrix (``n^2 / P`` entries
on each of ``P`` devices), so ``n`` can grow with the number of devices:

* **Layout.** ``K`` is cut into ``b x b`` blocks; block row ``g`` lives on device
  ``g mod P`` (block-cyclic rows, so every device keeps working until the last panel).
  ``n`` is padded to a whole number of block rows per device with identity rows, which
  decouple from the real system.
* **Gram matrix.** Each device evaluates the kernel for its own rows, ``b`` at a time,
  against all inputs (which are small: ``n x d``).
* **Factorisation.** A right-looking blocked Cholesky in the storage precision (float32):
  for each panel ``j``, the ``b x b`` diagonal block is shared (a ``psum`` of ``b^2``
  numbers) and factored on every device, each device solves its rows of the panel, the
  panel is all-gathered (``n x b``), and each device updates its rows of the trailing
  columns. The update runs over all of a device's rows of each trailing column block,
  upper-triangle rows included (fixed shapes under ``jit``): about ``n^3 / (2P)`` flops
  per device instead of the optimal ``n^3 / (3P)``.
* **Triangular solves** run block by block with a ``psum`` of a ``b x m`` block per step.
* **Refinement** as on one device: ``r = y - (K + ridge I) alpha`` with the kernel
  recomputed from the inputs in float64 (where the device has it), each device for its
  rows, and ``alpha`` corrected with the float32 factor.

Why a factorisation and not conjugate gradients on the sharded ``K``: on Gaussian-kernel
Gram matrices CG converges too slowly to be worth its simplicity. On 10,000 MNIST images
Nystrom-preconditioned CG stopped at its 300-iteration cap with a relative residual of
1.6e-6 after 62 s, where the Cholesky reached 2.4e-11 in 11 s (``docs/results.md``), and
its iteration count grows with ``n``.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np

from rethink_jax.minnorm import doublefloat
from rethink_jax.minnorm.refinement import factor_with_jitter, refine

__all__ = ["Layout", "layout", "solve", "gram", "compiled_programs"]

AXIS = "rows"


class Layout:
  """Where each row of the padded ``n_pad x n_pad`` system lives.

  ``perm[q]`` is the global row held at physical row ``q`` (device ``q // local_rows``,
  local row ``q % local_rows``).
  """

  def __init__(self, n: int, num_devices: int, tile: int):
    if n < 1 or num_devices < 1 or tile < 1:
      raise ValueError(f"need n, num_devices, tile >= 1, got {n}, {num_devices}, {tile}.")
    # As few blocks as the tile size allows, a multiple of the device count, each as equal as can be:
    # padding is then less than one row per block.
    self.num_devices = num_devices
    self.num_blocks = num_devices * math.ceil(n / (num_devices * tile))
    self.block = math.ceil(n / self.num_blocks)
    self.n = n
    self.n_pad = self.num_blocks * self.block
    self.local_rows = self.n_pad // num_devices
    local = np.arange(self.local_rows)
    self.perm = np.concatenate([((local // self.block) * num_devices + p) * self.block + local % self.block
                                for p in range(num_devices)])
    self.inverse = np.argsort(self.perm)

  def __repr__(self) -> str:
    return (f"Layout(n={self.n}, devices={self.num_devices}, block={self.block}, blocks={self.num_blocks}, "
            f"n_pad={self.n_pad})")


def layout(n: int, num_devices: int, tile: int = 2048) -> Layout:
  """How ``n`` rows are split into blocks over ``num_devices`` devices (blocks of at most
  about ``tile`` rows, padded so every device holds as many): see :class:`Layout`."""
  return Layout(n, num_devices, tile)


def _mesh(devices: Sequence):
  import jax

  return jax.sharding.Mesh(np.asarray(devices), (AXIS,))


def _local_rows(lay: Layout):
  """Inside shard_map: the global row of each local row, and its block index."""
  import jax
  import jax.numpy as jnp

  p = jax.lax.axis_index(AXIS)
  local = jnp.arange(lay.local_rows)
  rows = ((local // lay.block) * lay.num_devices + p) * lay.block + local % lay.block
  return p, rows, rows // lay.block


def _kernel_rows(kernel: Callable, lay: Layout, x, rows_tile):
  """``k(x[rows_tile], x)`` with padded rows and columns replaced by identity rows."""
  import jax.numpy as jnp

  k = kernel(x[rows_tile], x)
  cols = jnp.arange(lay.n_pad)
  valid = (rows_tile[:, None] < lay.n) & (cols[None, :] < lay.n)
  return jnp.where(valid, k, (rows_tile[:, None] == cols[None, :]).astype(k.dtype))


@functools.lru_cache(maxsize=8)
def _programs(kernel: Callable, n: int, tile: int, devices: tuple):
  """The jitted, sharded programs for one layout (cached: one compilation per shape)."""
  import jax
  import jax.numpy as jnp
  from jax.sharding import NamedSharding, PartitionSpec as P

  lay = Layout(n, len(devices), tile)
  mesh = _mesh(devices)
  b, nb, nloc, num = lay.block, lay.num_blocks, lay.local_rows, lay.num_devices
  hi = jax.lax.Precision.HIGHEST  # no TF32 / bf16 passes in the factorisation's products
  tril = lambda a: jnp.tril(a)
  shard = lambda f, i, o: jax.jit(jax.shard_map(f, mesh=mesh, in_specs=i, out_specs=o, check_vma=False))

  def build(x):
    _, rows, _ = _local_rows(lay)

    def body(t, k_loc):
      r = jax.lax.dynamic_slice_in_dim(rows, t * b, b)
      return jax.lax.dynamic_update_slice(k_loc, _kernel_rows(kernel, lay, x, r).astype(jnp.float32), (t * b, 0))
    return jax.lax.fori_loop(0, nloc // b, body, jnp.zeros((nloc, lay.n_pad), jnp.float32))

  def diag_block(k_loc, p, j):
    """Block (j, j), shared by every device (its owner holds it)."""
    blk = jax.lax.dynamic_slice(k_loc, ((j // num) * b, j * b), (b, b))
    return jax.lax.psum(jnp.where(p == j % num, blk, 0.0), AXIS)

  def factor(k_loc, shift):
    p, rows, rblk = _local_rows(lay)
    k_loc = k_loc.at[jnp.arange(nloc), rows].add(shift)

    def panel(j, carry):
      k_loc, ok = carry
      ljj = tril(jax.lax.linalg.cholesky(diag_block(k_loc, p, j), symmetrize_input=False))
      ok = ok & jnp.all(jnp.isfinite(jnp.diagonal(ljj)))
      col = jax.lax.dynamic_slice(k_loc, (0, j * b), (nloc, b))
      sol = jax.lax.linalg.triangular_solve(ljj, col, left_side=False, lower=True, transpose_a=True)
      below = (rblk > j)[:, None]
      mine = jnp.where(below, sol, 0.0)
      new = jnp.where(below, sol, jnp.where((rblk == j)[:, None], ljj[rows % b], col))
      k_loc = jax.lax.dynamic_update_slice(k_loc, new, (0, j * b))
      gathered = jax.lax.all_gather(mine, AXIS, tiled=True)  # [n_pad, b], physical row order

      def update(k, k_loc):
        pk = jax.lax.dynamic_slice(gathered, ((k % num) * nloc + (k // num) * b, 0), (b, b))
        t = jax.lax.dynamic_slice(k_loc, (0, k * b), (nloc, b))
        return jax.lax.dynamic_update_slice(k_loc, t - jnp.matmul(mine, pk.T, precision=hi), (0, k * b))
      return jax.lax.fori_loop(j + 1, nb, update, k_loc), ok
    return jax.lax.fori_loop(0, nb, panel, (k_loc, jnp.bool_(True)))

  def cho_solve(l_loc, r):
    """``(L L^T)^-1 r`` for a replicated ``r`` [n_pad, m] in global row order."""
    p, rows, rblk = _local_rows(lay)
    r = r.astype(jnp.float32)
    m = r.shape[1]

    def fwd(j, carry):
      rl, z = carry
      ljj = tril(diag_block(l_loc, p, j))
      rj = jax.lax.psum(jnp.where(p == j % num, jax.lax.dynamic_slice(rl, ((j // num) * b, 0), (b, m)), 0.0), AXIS)
      zj = jax.lax.linalg.triangular_solve(ljj, rj, left_side=True, lower=True)
      col = jax.lax.dynamic_slice(l_loc, (0, j * b), (nloc, b))
      rl = rl - jnp.where((rblk > j)[:, None], jnp.matmul(col, zj, precision=hi), 0.0)
      return rl, jax.lax.dynamic_update_slice(z, zj, (j * b, 0))
    _, z = jax.lax.fori_loop(0, nb, fwd, (r[rows], jnp.zeros_like(r)))

    def bwd(t, x):
      j = nb - 1 - t
      ljj = tril(diag_block(l_loc, p, j))
      col = jax.lax.dynamic_slice(l_loc, (0, j * b), (nloc, b))
      s = jax.lax.psum(jnp.matmul(col.T, jnp.where((rblk > j)[:, None], x[rows], 0.0), precision=hi), AXIS)
      zj = jax.lax.dynamic_slice(z, (j * b, 0), (b, m))
      xj = jax.lax.linalg.triangular_solve(ljj, zj - s, left_side=True, lower=True, transpose_a=True)
      return jax.lax.dynamic_update_slice(x, xj, (j * b, 0))
    return jax.lax.fori_loop(0, nb, bwd, jnp.zeros_like(r))

  def matvec(x, v):
    """Local rows of ``k(x, x) @ v`` in the inputs' precision, ``b`` rows at a time."""
    _, rows, _ = _local_rows(lay)

    def body(t, out):
      r = jax.lax.dynamic_slice_in_dim(rows, t * b, b)
      return jax.lax.dynamic_update_slice(out, jnp.matmul(_kernel_rows(kernel, lay, x, r), v, precision=hi),
                                          (t * b, 0))
    return jax.lax.fori_loop(0, nloc // b, body, jnp.zeros((nloc, v.shape[1]), v.dtype))

  def matvec_doublefloat(x, v_hi, v_lo):
    """Local rows of ``k(x, x) @ (v_hi + v_lo)``: float32 entries, double-float32 products and sums."""
    _, rows, _ = _local_rows(lay)
    # the double-float products of t rows are [t, n_pad, m] several times over: keep them near 256 MB
    cap = max(1, (1 << 26) // (lay.n_pad * v_hi.shape[1]))
    t = max(d for d in range(1, b + 1) if b % d == 0 and d <= cap)

    def body(i, out):
      r = jax.lax.dynamic_slice_in_dim(rows, i * t, t)
      h, l = doublefloat.matvec(_kernel_rows(kernel, lay, x, r), v_hi, v_lo)
      return (jax.lax.dynamic_update_slice(out[0], h, (i * t, 0)), jax.lax.dynamic_update_slice(out[1], l, (i * t, 0)))
    zeros = jnp.zeros((nloc, v_hi.shape[1]), jnp.float32)
    return jax.lax.fori_loop(0, nloc // t, body, (zeros, zeros))

  def diagonal(k_loc):
    _, rows, _ = _local_rows(lay)
    return k_loc[jnp.arange(nloc), rows]

  rep, by_rows = P(), P(AXIS, None)
  return {
      "layout": lay,
      "gram": shard(build, (rep,), by_rows),
      "diagonal": shard(diagonal, (by_rows,), P(AXIS)),
      "factor": jax.jit(jax.shard_map(factor, mesh=mesh, in_specs=(by_rows, rep), out_specs=(by_rows, rep),
                                      check_vma=False), donate_argnums=0),
      "cho_solve": shard(cho_solve, (by_rows, rep), rep),
      "matvec": shard(matvec, (rep, rep), by_rows),
      "matvec_doublefloat": shard(matvec_doublefloat, (rep, rep, rep), (by_rows, by_rows)),
      "replicated": NamedSharding(mesh, rep),
  }


def gram(kernel: Callable, x: np.ndarray, devices: Sequence, *, tile: int = 2048) -> np.ndarray:
  """The padded Gram matrix built on the shards, gathered to the host in global order (for tests)."""
  import jax

  prog = _programs(kernel, len(x), tile, tuple(devices))
  lay = prog["layout"]
  x_pad = jax.device_put(_pad(np.asarray(x, np.float32), lay), prog["replicated"])
  return np.asarray(prog["gram"](x_pad))[lay.inverse]


def _pad(a: np.ndarray, lay: Layout) -> np.ndarray:
  return np.concatenate([a, np.zeros((lay.n_pad - len(a),) + a.shape[1:], a.dtype)])


def solve(kernel: Callable, x: np.ndarray, targets: np.ndarray, *, ridge: float, tol: float, devices: Sequence,
          max_refine: int = 30, tile: int = 2048, arithmetic: str = "float64") -> dict:
  """Min-norm (or ridge) coefficients of ``(k(x, x) + ridge I) alpha = targets`` with ``K``
  sharded by rows over ``devices``; the same contract and ``arithmetic`` (``"float64"``,
  ``"float32x2"``, ``"float32"``) as :func:`rethink_jax.minnorm.device.solve`. Vectors are
  kept in float64 on the host; the ``n^2`` work runs on the shards."""
  import jax
  import jax.numpy as jnp

  prog = _programs(kernel, len(x), tile, tuple(devices))
  lay = prog["layout"]
  put = lambda a: jax.device_put(a, prog["replicated"])
  x32 = put(_pad(np.asarray(x, np.float32), lay))
  y = _pad(np.asarray(targets, np.float64), lay)
  to_global = lambda phys: np.asarray(phys, np.float64)[lay.inverse]

  if arithmetic == "float64":  # the caller has float64 switched on (device.solve does)
    x_wide = put(_pad(np.asarray(x, np.float64), lay))
    apply_k = lambda alpha: to_global(prog["matvec"](x_wide, put(alpha)))
  elif arithmetic == "float32x2":
    def apply_k(alpha):
      hi = alpha.astype(np.float32)
      k_hi, k_lo = prog["matvec_doublefloat"](x32, put(hi), put((alpha - hi).astype(np.float32)))
      return to_global(k_hi) + to_global(k_lo)
  elif arithmetic == "float32":
    apply_k = lambda alpha: to_global(prog["matvec"](x32, put(alpha.astype(np.float32))))
  else:
    raise ValueError(f"arithmetic must be 'float64', 'float32x2' or 'float32', got {arithmetic!r}.")

  def factor_checked(k_loc, shift):
    chol, ok = prog["factor"](k_loc, jnp.float32(shift))
    return chol, bool(ok)

  chol, shift = factor_with_jitter(lambda: prog["gram"](x32),
                                   lambda k_loc: float(np.mean(to_global(prog["diagonal"](k_loc))[:lay.n])),
                                   factor_checked, ridge)
  # Padded rows stay zero throughout: their rows of K and of the factor are identity rows and
  # their targets are zero.
  out = refine(lambda r: np.asarray(prog["cho_solve"](chol, put(r.astype(np.float32))), np.float64),
               apply_k, y, ridge=ridge, tol=tol, max_refine=max_refine)
  return {"alpha": out["alpha"][:lay.n], "k_alpha": out["k_alpha"][:lay.n], "history": out["history"],
          "shift": shift - ridge}


def compiled_programs(kernel: Callable, n: int, d: int, outputs: int, devices: Sequence, *, tile: int = 2048
                      ) -> dict:
  """``{name: (jitted function, abstract arguments)}``: every sharded program for ``n``
  examples of ``d`` features and ``outputs`` targets over ``devices`` (for lowering checks
  with ``jax.export``; float32 throughout, as on a TPU)."""
  import jax
  import jax.numpy as jnp

  prog = _programs(kernel, n, tile, tuple(devices))
  lay = prog["layout"]
  f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
  return {"gram": (prog["gram"], (f32(lay.n_pad, d),)),
          "diagonal": (prog["diagonal"], (f32(lay.n_pad, lay.n_pad),)),
          "factor": (prog["factor"], (f32(lay.n_pad, lay.n_pad), f32())),
          "cho_solve": (prog["cho_solve"], (f32(lay.n_pad, lay.n_pad), f32(lay.n_pad, outputs))),
          "matvec": (prog["matvec"], (f32(lay.n_pad, d), f32(lay.n_pad, outputs))),
          "matvec_doublefloat": (prog["matvec_doublefloat"],
                                 (f32(lay.n_pad, d), f32(lay.n_pad, outputs), f32(lay.n_pad, outputs)))}
