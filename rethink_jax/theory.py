"""Finite-sample expressivity (Theorem 1, Section 4 and Appendix) and the Rademacher
complexity argument (Section 2.3) of Zhang et al. (2017), as code that checks itself.

Theorem 1: a depth-two ReLU network with ``2n + d`` weights represents any function on
any ``n`` distinct points in ``d`` dimensions:
``c(x) = sum_j w_j max(<a, x> - b_j, 0)``. :func:`depth2_interpolant` builds it;
:func:`depthk_interpolant` builds the deeper, narrower variant (width ``O(n/k)``).

Numerics. The construction solves the lower-triangular system ``A w = y`` with
``A_ij = max(x_i - b_j, 0)``. With knots placed at ``b_j = x_(j-1) + theta * gap_j``
(``gap_j = x_(j) - x_(j-1)`` between sorted projections), forward substitution is the
slope recursion ``S_j = (y_j - y_(j-1) - theta * gap_j * S_(j-1)) / ((1 - theta) gap_j)``
whose error is damped by ``theta / (1 - theta)`` each step; the paper's midpoint choice
(``theta = 1/2``) gives an undamped alternating recursion. The diagonal of ``A`` is
``(1 - theta) gap_j``, so the condition number grows like ``range / min gap``; it is
reported by :func:`conditioning`. Everything is computed in float64 (numpy on the host;
:func:`depth2_apply` evaluates in float64 under a scoped ``jax.enable_x64``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from rethink_jax.preprocess import check_finite, check_int, check_key

__all__ = ["Depth2Params", "DepthKParams", "depth2_interpolant", "depth2_apply", "depthk_interpolant",
           "depthk_apply", "num_params", "conditioning", "RademacherEstimate", "empirical_rademacher",
           "depth2_fit_predict", "linear_fit_predict", "rademacher_signs", "summarize_rademacher",
           "DEFAULT_THETA"]

DEFAULT_THETA = 0.1


class Depth2Params(NamedTuple):
  """``c(x) = sum_j w_j relu(<a, x> - b_j)``: ``a`` [d], ``b`` [n], ``w`` [n] or [n, k]."""
  a: np.ndarray
  b: np.ndarray
  w: np.ndarray


def num_params(params) -> int:
  """Number of weights: ``2n + d`` for a scalar depth-two network (Theorem 1)."""
  if isinstance(params, Depth2Params):
    return int(params.a.size + params.b.size + params.w.size)
  if isinstance(params, DepthKParams):
    return params.num_nonzero
  raise TypeError(f"Not a network from rethink_jax.theory: {type(params).__name__}")


def _as_2d_targets(y, n: int) -> tuple[np.ndarray, bool]:
  y = np.asarray(y, np.float64)
  if y.ndim == 1:
    y2, scalar = y[:, None], True
  elif y.ndim == 2:
    y2, scalar = y, False
  else:
    raise ValueError(f"y must be [n] or [n, k], got shape {y.shape}.")
  if len(y2) != n:
    raise ValueError(f"{n} points but {len(y2)} targets.")
  if not np.all(np.isfinite(y2)):
    raise ValueError("y has non-finite values.")
  return y2, scalar


def _check_points(z, name: str = "z", flat: bool = True) -> np.ndarray:
  """``z`` as a numpy array of ``n >= 1`` finite points: ``[n, d]`` (``flat``) or ``[n, ...]``, in its own dtype."""
  z = np.asarray(z)
  if flat and z.ndim != 2:
    raise ValueError(f"{name} must be [n, d] points, got shape {z.shape}; flatten images first.")
  if z.ndim < 1:
    raise ValueError(f"{name} must be [n, ...] points, got a scalar.")
  if len(z) == 0:
    raise ValueError(f"{name} has no points.")
  if z.dtype.kind not in "biuf":
    raise TypeError(f"{name} must hold numbers, got dtype {z.dtype}.")
  if z.dtype.kind == "f" and not (np.isfinite(z.min()) and np.isfinite(z.max())):  # NaN propagates to both
    raise ValueError(f"{name} has non-finite values.")
  return z


def _check_new_points(z_new, d: int, fn: str):
  """Points to evaluate a network on: ``[m, d]``, finite when concrete (this runs under ``jit`` too)."""
  z = z_new if isinstance(z_new, jax.Array) else np.asarray(z_new)
  if z.ndim != 2 or z.shape[1] != d:
    raise ValueError(f"{fn}: z_new must be [m, {d}] points (the network's input size), got shape {z.shape}.")
  if z.dtype.kind not in "biuf" and not jnp.issubdtype(z.dtype, jnp.floating):
    raise TypeError(f"{fn}: z_new must hold numbers, got dtype {z.dtype}.")
  check_finite(z, fn, "z_new", float32=False)  # the networks are evaluated in float64
  return z


def _dedupe(z: np.ndarray, y2: np.ndarray) -> np.ndarray:
  """Indices of unique points; duplicate points must carry equal targets (else: error)."""
  _, first, inverse = np.unique(z, axis=0, return_index=True, return_inverse=True)
  inverse = inverse.reshape(-1)
  if len(first) == len(z):
    return np.arange(len(z))
  clash = np.any(y2 != y2[first[inverse]], axis=1)
  if np.any(clash):
    i = int(np.flatnonzero(clash)[0])
    j = int(first[inverse[i]])
    raise ValueError(f"Points {j} and {i} are identical but have different targets; no function, "
                     "and so no network, can fit both. Remove one of them.")
  return np.sort(first)


DEFAULT_MIN_RELATIVE_GAP = 1e-12


def _direction(z: np.ndarray, key: jax.Array, min_relative_gap: float, max_tries: int = 10
               ) -> tuple[np.ndarray, np.ndarray]:
  """A unit direction with pairwise distinct projections.

  A Gaussian direction gives distinct projections of distinct points with probability
  one. Numerically, a direction whose smallest gap is below ``min_relative_gap`` times the
  projections' scale is redrawn: the expected smallest gap of n sorted random values is
  about ``range / n^2`` (4e-10 of the range at n = 50,000), while float64 resolves about
  2e-16, so the default 1e-12 leaves some 5,000 ulps per gap.
  """
  for attempt in range(max_tries):
    a = np.asarray(jax.random.normal(jax.random.fold_in(key, attempt), (z.shape[1],)), np.float64)
    a /= np.linalg.norm(a)
    proj = z @ a
    sorted_proj = np.sort(proj)
    scale = max(np.max(np.abs(proj)), 1e-300)
    if len(proj) < 2 or np.min(np.diff(sorted_proj)) > min_relative_gap * scale:
      return a, proj
  raise ValueError(f"Could not find a direction with distinct projections in {max_tries} tries; "
                   "are some points (nearly) identical?")


def _knots_and_weights(x_sorted: np.ndarray, y_sorted: np.ndarray, theta: float, solver: str):
  n = len(x_sorted)
  gaps = np.diff(x_sorted)
  first_gap = gaps[0] if n > 1 else 1.0
  b = np.empty(n)
  b[0] = x_sorted[0] - first_gap
  b[1:] = x_sorted[:-1] + theta * gaps
  if solver == "recursion":
    # Forward substitution through slopes: S_j is c's slope after knot j; w_j = S_j - S_(j-1).
    slopes = np.empty_like(y_sorted)
    slopes[0] = y_sorted[0] / (x_sorted[0] - b[0])
    for j in range(1, n):
      slopes[j] = (y_sorted[j] - y_sorted[j - 1] - (b[j] - x_sorted[j - 1]) * slopes[j - 1]) / (x_sorted[j] - b[j])
    w = np.diff(slopes, axis=0, prepend=0.0)
  elif solver == "triangular":
    a_mat = np.maximum(x_sorted[:, None] - b[None, :], 0.0)
    w = scipy.linalg.solve_triangular(a_mat, y_sorted, lower=True)
  else:
    raise ValueError(f"solver must be 'recursion' or 'triangular', got {solver!r}.")
  return b, w


def depth2_interpolant(z: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
                       key: jax.Array | None = None, theta: float = DEFAULT_THETA,
                       solver: str = "recursion", min_relative_gap: float = DEFAULT_MIN_RELATIVE_GAP
                       ) -> Depth2Params:
  """Theorem 1: a depth-two ReLU network fitting ``y`` on ``z`` exactly, with 2n + d weights.

  Args:
    z: ``[n, d]`` points (images flattened).
    y: ``[n]`` real targets, or ``[n, k]`` (e.g. one-hot labels: then ``w`` is ``[n, k]``).
    key: ``jax.random`` key for the projection direction (default ``key(0)``).
    theta: knot position in ``(0, 1)`` between consecutive sorted projections.
    solver: ``"recursion"`` (O(n) structured forward substitution, the default) or
      ``"triangular"`` (LAPACK ``trtrs`` on the dense ``n x n`` matrix).
    min_relative_gap: smallest accepted gap between sorted projections, relative to
      their scale; a direction with a smaller gap is redrawn.

  Returns:
    :class:`Depth2Params` in float64. Duplicate points with equal targets are fitted by
    the same neuron; duplicates with different targets raise ``ValueError``.
  """
  z = _check_points(z).astype(np.float64)
  y2, scalar = _as_2d_targets(y, len(z))
  if not 0.0 < theta < 1.0:
    raise ValueError(f"theta must lie in (0, 1), got {theta}.")
  key = check_key(jax.random.key(0) if key is None else key, "depth2_interpolant")
  keep = _dedupe(z, y2)
  z, y2 = z[keep], y2[keep]
  a, proj = _direction(z, key, min_relative_gap)
  order = np.argsort(proj)
  b, w = _knots_and_weights(proj[order], y2[order], theta, solver)
  return Depth2Params(a=a, b=b, w=w[:, 0] if scalar else w)


def depth2_apply(params: Depth2Params, z_new) -> jax.Array:
  """``c(x) = sum_j w_j relu(<a, x> - b_j)`` for ``[m, d]`` points, in float64; jittable.

  Evaluated in blocks of points so memory stays ``O(block * n)``.
  """
  z_new = _check_new_points(z_new, len(params.a), "depth2_apply")
  with jax.enable_x64(True):
    return _depth2_apply64(jax.tree_util.tree_map(jnp.asarray, params), jnp.asarray(z_new, jnp.float64))


@jax.jit
def _depth2_apply64(params: Depth2Params, z: jax.Array) -> jax.Array:
  proj = z @ params.a
  w = params.w if params.w.ndim == 2 else params.w[:, None]
  block = 256
  m = proj.shape[0]
  pad = (-m) % block
  blocks = jnp.pad(proj, (0, pad)).reshape(-1, block)
  out = jax.lax.map(lambda t: jax.nn.relu(t[:, None] - params.b[None, :]) @ w, blocks).reshape(-1, w.shape[1])[:m]
  return out if params.w.ndim == 2 else out[:, 0]


def conditioning(params: Depth2Params, z) -> dict[str, float]:
  """Numbers that govern the accuracy of the construction on points ``z``.

  ``min_gap`` and ``range`` of the sorted projections, ``max_abs_weight``, and (for
  ``n <= 4000``) the 2-norm condition number of ``A``.
  """
  x = np.sort(_check_points(z).astype(np.float64) @ params.a)
  out = {"n": len(x), "min_gap": float(np.min(np.diff(x))) if len(x) > 1 else float("inf"),
         "range": float(x[-1] - x[0]), "max_abs_weight": float(np.max(np.abs(params.w)))}
  if len(x) <= 4000:
    a_mat = np.maximum(x[:, None] - params.b[None, :], 0.0)
    out["cond_A"] = float(np.linalg.cond(a_mat))
  return out


# ----------------------------------------------------------------------------- depth k

@dataclasses.dataclass(frozen=True)
class DepthKParams:
  """A ReLU network ``x -> relu(... relu(relu(x W0 + c0) W1 + c1) ...) Wout + cout``.

  ``layers`` is a list of ``(W, c)``: the first maps ``d -> 1`` (the projection
  ``relu(<a, x> - t0)``), the next ``k`` map to width ``m + 1 + 2q`` with
  ``m = ceil(n / k)`` knots each and ``q`` outputs; ``out`` maps to ``q`` outputs.
  """
  layers: tuple[tuple[np.ndarray, np.ndarray], ...]
  out: tuple[np.ndarray, np.ndarray]
  scalar: bool

  @property
  def depth(self) -> int:
    return len(self.layers) - 1

  @property
  def width(self) -> int:
    return max(w.shape[1] for w, _ in self.layers)

  @property
  def num_nonzero(self) -> int:
    mats = [m for layer in self.layers for m in layer] + list(self.out)
    return int(sum(np.count_nonzero(m) for m in mats))


def depthk_interpolant(z, y, k: int, *, key: jax.Array | None = None, theta: float = DEFAULT_THETA) -> DepthKParams:
  """The Appendix's deeper variant: ``k`` hidden layers of width ``O(n/k)`` computing the
  same function as :func:`depth2_interpolant` (same direction, knots and weights).

  Layer 1 computes the projection ``p = relu(<a, x> - t0)`` with ``t0`` below every knot
  (so ``relu(p - (b_j - t0)) = relu(<a, x> - b_j)`` for every input). Each of the next
  ``k`` layers carries ``p`` forward (it is non-negative, so ReLU leaves it), holds the
  ReLU units of its group of ``ceil(n/k)`` knots, and carries the partial sum of the
  previous groups' contributions as a positive and a negative part (two ReLU units per
  output). The output layer adds the last group. Non-zero weights: ``O(n + d + k q)``;
  width ``ceil(n/k) + 1 + 2q``.
  """
  if not isinstance(k, (int, np.integer)) or k < 1:
    raise ValueError(f"k must be a positive int, got {k!r}.")
  p2 = depth2_interpolant(z, y, key=key, theta=theta)
  w = p2.w if p2.w.ndim == 2 else p2.w[:, None]
  n, q = w.shape
  t0 = p2.b[0] - 1.0
  m = -(-n // k)
  groups = [np.arange(g * m, min((g + 1) * m, n)) for g in range(k)]
  groups = [g for g in groups if len(g)]

  layers = [(p2.a[:, None].copy(), np.array([-t0]))]
  prev_width, prev_knots = 1, None   # previous layer: [p, knots of previous group, acc+ (q), acc- (q)]
  for gi, g in enumerate(groups):
    width = 1 + len(g) + 2 * q
    W = np.zeros((prev_width, width))
    c = np.zeros(width)
    W[0, 0] = 1.0                                # carry p
    W[0, 1:1 + len(g)] = 1.0                     # knot units relu(p - (b_j - t0))
    c[1:1 + len(g)] = -(p2.b[g] - t0)
    if gi > 0:                                   # acc = previous acc + previous group's contribution
      contrib = np.zeros((prev_width, q))
      contrib[1:1 + len(prev_knots)] = w[prev_knots]
      if gi > 1:
        contrib[prev_width - 2 * q:prev_width - q] += np.eye(q)
        contrib[prev_width - q:] -= np.eye(q)
      W[:, 1 + len(g):1 + len(g) + q] = contrib
      W[:, 1 + len(g) + q:] = -contrib
    layers.append((W, c))
    prev_width, prev_knots = width, g
  # output: acc (from the last layer) + last group's contribution
  Wout = np.zeros((prev_width, q))
  Wout[1:1 + len(prev_knots)] = w[prev_knots]
  if len(groups) > 1:
    Wout[prev_width - 2 * q:prev_width - q] += np.eye(q)
    Wout[prev_width - q:] -= np.eye(q)
  return DepthKParams(layers=tuple(layers), out=(Wout, np.zeros(q)), scalar=p2.w.ndim == 1)


def depthk_apply(params: DepthKParams, z_new) -> jax.Array:
  """Evaluates a :class:`DepthKParams` network on ``[m, d]`` points in float64."""
  z_new = _check_new_points(z_new, params.layers[0][0].shape[0], "depthk_apply")
  with jax.enable_x64(True):
    h = jnp.asarray(z_new, jnp.float64)
    for W, c in params.layers:
      h = jax.nn.relu(h @ jnp.asarray(W) + jnp.asarray(c))
    out = h @ jnp.asarray(params.out[0]) + jnp.asarray(params.out[1])
    return out[:, 0] if params.scalar else out


# ----------------------------------------------------------------------------- Rademacher

class RademacherEstimate(NamedTuple):
  """``estimate`` = mean over draws of ``(1/n) sum_i sigma_i h_sigma(x_i)``, with its standard error."""
  estimate: float
  stderr: float
  values: np.ndarray


def empirical_rademacher(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
                         x: jax.typing.ArrayLike, *, num_draws: int = 10,
                         key: jax.Array | None = None) -> RademacherEstimate:
  """Empirical Rademacher complexity of a model class on a sample (Section 2.3).

  ``R_hat = E_sigma sup_h (1/n) sum_i sigma_i h(x_i)`` over classifiers with outputs in
  ``{-1, +1}``. As in the paper's argument, the sup is approximated by *training* the
  model on the random signs ``sigma`` and evaluating it on the same points:
  ``fit_predict(x, sigma)`` must return ``h(x)`` (any real scores; their sign is used).
  A class that fits every sign vector has ``R_hat = 1``, the trivial bound.

  Args:
    fit_predict: trains on ``(x, sigma)`` and returns scores on ``x``.
    x: the sample.
    num_draws: number of sign vectors.
    key: ``jax.random`` key for the signs (default ``key(0)``).
  """
  if isinstance(num_draws, bool) or not isinstance(num_draws, (int, np.integer)):
    raise TypeError(f"num_draws must be an int >= 2, got {num_draws!r}.")
  if num_draws < 2:
    raise ValueError(f"num_draws must be an int >= 2 (to report a standard error), got {num_draws}.")
  if not callable(fit_predict):
    raise TypeError(f"fit_predict must be a function (x, sigma) -> scores, got {type(fit_predict).__name__}.")
  x = _check_points(x, "x", flat=False)
  key = check_key(jax.random.key(0) if key is None else key, "empirical_rademacher")
  values = []
  for i in range(num_draws):
    sigma = rademacher_signs(key, i, len(x))
    scores = np.asarray(fit_predict(x, sigma))
    # a length-1 or [n, n] answer would broadcast against sigma; NaN has no sign
    if scores.shape not in ((len(x),), (len(x), 1)) or scores.dtype.kind not in "biuf":
      raise ValueError(f"fit_predict must return one score per point of x, shape ({len(x)},); got "
                       f"{scores.dtype} of shape {scores.shape} on draw {i}.")
    if not np.all(np.isfinite(scores)):
      raise ValueError(f"fit_predict returned NaN or infinite scores on draw {i}; its fit failed.")
    h = np.sign(scores.astype(np.float64)).reshape(-1)
    h[h == 0] = 1.0
    values.append(float(np.mean(sigma * h)))
  return summarize_rademacher(values)


def rademacher_signs(key: jax.Array, draw: int, n: int) -> np.ndarray:
  """The ``draw``-th sign vector in ``{-1, +1}^n``, from ``fold_in(key, draw)``."""
  key = check_key(key, "rademacher_signs")
  # fold_in takes a uint32: a float or negative draw would be another (or no) sign vector
  draw, n = check_int(draw, "rademacher_signs", "draw", 0, 2**32), check_int(n, "rademacher_signs", "n")
  return np.where(np.asarray(jax.random.bernoulli(jax.random.fold_in(key, draw), 0.5, (n,))), 1.0, -1.0)


def summarize_rademacher(values) -> RademacherEstimate:
  """Mean and standard error over draws of ``(1/n) sum_i sigma_i h(x_i)``.

  For a classifier trained on labels ``(sigma + 1) / 2`` with train accuracy ``acc``,
  the draw's value is ``2 acc - 1``, which is how the training engine's runs are scored.
  """
  values = np.asarray(values, np.float64)
  if values.ndim != 1 or len(values) < 2 or not np.all(np.isfinite(values)):
    raise ValueError(f"values must be a list of at least 2 finite per-draw values, got {values.tolist()!r:.80}.")
  return RademacherEstimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))), values)


def depth2_fit_predict(x, sigma) -> np.ndarray:
  """Theorem 1's network trained on ``sigma``, evaluated on ``x``: the sup is exact."""
  z = np.asarray(x).reshape(len(x), -1)
  return np.asarray(depth2_apply(depth2_interpolant(z, sigma), z))


def linear_fit_predict(x, sigma) -> np.ndarray:
  """A linear classifier ``sign(<w, x> + b)`` with ``w, b`` from least squares on ``sigma``."""
  z = np.asarray(x, np.float64).reshape(len(x), -1)
  z1 = np.concatenate([z, np.ones((len(z), 1))], axis=1)
  w, *_ = np.linalg.lstsq(z1, sigma, rcond=None)
  return z1 @ w
