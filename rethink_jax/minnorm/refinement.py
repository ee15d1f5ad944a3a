"""Mixed-precision pieces shared by the device solves (one device, and sharded): the float32
factorisation with a diagonal jitter fallback, and iterative refinement against the exact
system in the wider precision (Section 5's interpolants solved to a residual near 1e-10
from a float32 factor)."""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["JITTERS", "factor_with_jitter", "refine"]

JITTERS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3)  # diagonal shifts tried, relative to K's mean diagonal


def factor_with_jitter(build: Callable, mean_diagonal: Callable, factor: Callable, ridge: float):
  """Factors ``K + (ridge + jitter * mean diagonal) I`` for the first jitter of :data:`JITTERS`
  whose float32 factorisation succeeds; returns ``(factor, shift)``.

  ``build()`` makes ``K`` (again after a failure: ``factor`` may consume its buffer),
  ``factor(K, shift)`` returns ``(factor, ok)``.
  """
  k_mat = build()
  scale = mean_diagonal(k_mat) or 1.0
  for jitter in JITTERS:
    if jitter:  # the donated buffer now holds a failed factor: rebuild K
      k_mat = build()
    shift = ridge + jitter * scale
    chol, ok = factor(k_mat, shift)
    del k_mat
    if ok:
      return chol, shift
  raise np.linalg.LinAlgError("K + ridge I is not positive definite in float32, even with a diagonal jitter "
                              "of 1e-3 of its mean diagonal.")


def refine(correct: Callable, apply_k: Callable, y, *, ridge: float, tol: float, max_refine: int) -> dict:
  """Iterative refinement of ``(K + ridge I) alpha = y``: ``alpha += correct(r)`` with
  ``r = y - K alpha - ridge alpha`` and ``apply_k(alpha) = K alpha`` in the wide precision.

  Stops at a relative residual ``<= tol``, when a step gains less than 10% (the float32
  factor's limit), or after ``max_refine`` steps; returns the best step's ``alpha`` and
  ``k_alpha`` (float64, host) and the relative residual of every step (``history``).
  """
  alpha = y * 0
  r, history, best = y, [], None
  y_norm = float(np.linalg.norm(np.asarray(y)))
  for _ in range(max_refine + 1):
    alpha = alpha + correct(r)
    k_alpha = apply_k(alpha)
    r = y - k_alpha - ridge * alpha
    history.append(float(np.linalg.norm(np.asarray(r))) / y_norm)
    if not np.isfinite(history[-1]):
      raise FloatingPointError(f"The refinement's residual became non-finite at step {len(history) - 1}.")
    if best is None or history[-1] < best[0]:
      best = (history[-1], alpha, k_alpha)
    if history[-1] <= tol or (len(history) > 1 and history[-1] > 0.9 * history[-2]):
      break  # converged, or stalled at the precision the float32 factor allows
  _, alpha, k_alpha = best
  return {"alpha": np.asarray(alpha, np.float64), "k_alpha": np.asarray(k_alpha, np.float64), "history": history}

