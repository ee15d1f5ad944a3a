"""Per-example learning dynamics: which training examples are fitted, when, and for how long.

The paper (Section 2) shows that networks fit random labels, only more slowly. These
functions ask *which* examples are fitted *when*, from the per-example records a run
writes with ``config.track_examples = True`` (``examples.npz`` in its run directory,
:func:`rethink_jax.records.read_examples`):

* ``correct`` ``[T, n]`` bool: at evaluation ``t``, is example ``i`` classified as its
  *training* label (the corrupted one, for a corrupted example);
* ``pred_is_clean_label`` ``[T, n]`` bool: is the prediction the original (clean) label;
* ``corrupted`` ``[n]`` bool: does the training label differ from the clean one;
* ``eval_steps`` ``[T]``: the step of each evaluation.

Every function is pure and written in ``jax.numpy``: it accepts numpy or jax arrays, runs
under ``jit``, and takes any leading batch axes (``[K, T, n]`` for K runs of a sweep), the
evaluation axis second to last and the example axis last. Evaluation indices are returned,
``-1`` meaning "never"; :func:`evaluation_epochs` turns them into epochs.

Sources: Arpit et al., *A closer look at memorization in deep networks* (ICML 2017): real
examples are fitted before noisy ones; Toneva et al., *An empirical study of example
forgetting during deep neural network learning* (ICLR 2019): forgetting events and
examples learned for good. Toneva et al. count transitions between consecutive
*mini-batch presentations* of an example; here they are counted between consecutive
*evaluations* of the whole training set (every ``eval_every_steps``), so evaluating more
often can only find more of them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["first_learned", "learned_for_good", "forgetting_events", "fraction_fitted",
           "clean_predictions_before_memorized", "evaluation_epochs"]


def _bool(x, name: str, min_ndim: int) -> jax.Array:
  if not isinstance(x, jax.Array):
    x = np.asarray(x)  # the dtype is checked before JAX meets None or strings
  if x.dtype != np.bool_:
    raise TypeError(f"{name} must be a bool array, got "
                    + (f"{type(x.item()).__name__}." if x.ndim == 0 and x.dtype == object else f"{x.dtype}."))
  x = jnp.asarray(x)
  if x.ndim < min_ndim:
    raise ValueError(f"{name} must have at least {min_ndim} axes ([..., T, n] or [..., n]), got shape {x.shape}.")
  if min_ndim == 2 and x.shape[-2] == 0:
    raise ValueError(f"{name} has no evaluations (shape {x.shape}, [..., T, n] with T = 0).")
  return x


def _check_corrupted(corrupted: jax.Array, correct: jax.Array) -> None:
  """``corrupted`` ``[..., n]`` must be ``correct`` ``[..., T, n]`` without its T axis (or without
  some of its leading axes too: one corruption for every run); else it would broadcast silently."""
  if corrupted.shape[-1] != correct.shape[-1]:
    raise ValueError(f"corrupted has {corrupted.shape[-1]} examples but correct has {correct.shape[-1]}.")
  per_run = correct.shape[:-2] + correct.shape[-1:]
  if corrupted.ndim > len(per_run) or corrupted.shape != per_run[len(per_run) - corrupted.ndim:]:
    raise ValueError(f"corrupted must be [..., n] matching correct {correct.shape} without its evaluation axis, "
                     f"i.e. {per_run}; got shape {corrupted.shape}.")


def _never(index: jax.Array, happened: jax.Array) -> jax.Array:
  return jnp.where(happened, index, -1).astype(jnp.int32)


def first_learned(correct: jax.typing.ArrayLike) -> jax.Array:
  """The first evaluation at which each example is classified as its training label (Arpit et al., 2017).

  Args:
    correct: ``[..., T, n]`` bool.

  Returns:
    ``[..., n]`` int32 evaluation index, ``-1`` for an example never fitted.
  """
  correct = _bool(correct, "correct", 2)
  return _never(jnp.argmax(correct, axis=-2), jnp.any(correct, axis=-2))


def learned_for_good(correct: jax.typing.ArrayLike) -> jax.Array:
  """The evaluation from which each example stays fitted to the end (Toneva et al., 2019).

  The first ``t`` with ``correct[t:]`` all True: the example is fitted at ``t`` and never
  misclassified afterwards (within the run).

  Args:
    correct: ``[..., T, n]`` bool.

  Returns:
    ``[..., n]`` int32 evaluation index, ``-1`` when the example is not fitted at the last evaluation.
  """
  correct = _bool(correct, "correct", 2)
  steps = correct.shape[-2]
  # suffix_all[t] = all(correct[t:]); it is True on a final stretch, so its count locates the start.
  suffix_all = jnp.flip(jnp.cumprod(jnp.flip(correct, axis=-2), axis=-2), axis=-2).astype(bool)
  count = jnp.sum(suffix_all, axis=-2)
  return _never(steps - count, count > 0)


def forgetting_events(correct: jax.typing.ArrayLike) -> jax.Array:
  """Forgetting events per example: transitions from fitted to not fitted between
  consecutive evaluations (Toneva et al., 2019; see the module note on what is counted).

  Args:
    correct: ``[..., T, n]`` bool.

  Returns:
    ``[..., n]`` int32 counts.
  """
  correct = _bool(correct, "correct", 2)
  lost = jnp.logical_and(correct[..., :-1, :], jnp.logical_not(correct[..., 1:, :]))
  return jnp.sum(lost, axis=-2).astype(jnp.int32)


def fraction_fitted(correct: jax.typing.ArrayLike, corrupted: jax.typing.ArrayLike) -> dict[str, jax.Array]:
  """Fraction of training examples fitted at each evaluation, all and split by clean vs
  corrupted (Arpit et al., 2017: real examples are fitted first, noise later).

  Args:
    correct: ``[..., T, n]`` bool.
    corrupted: ``[..., n]`` bool, True where the training label is not the clean one.

  Returns:
    ``{"all", "clean", "corrupted"}``, each ``[..., T]`` float32; NaN for an empty group
    (no corrupted example in a run on true labels).
  """
  correct = _bool(correct, "correct", 2)
  corrupted = _bool(corrupted, "corrupted", 1)
  _check_corrupted(corrupted, correct)
  c = correct.astype(jnp.float32)
  noisy = corrupted[..., None, :].astype(jnp.float32)

  def mean(weights):
    total = jnp.sum(weights, axis=-1)
    return jnp.where(total > 0, jnp.sum(c * weights, axis=-1) / jnp.maximum(total, 1.0), jnp.nan)

  return {"all": jnp.mean(c, axis=-1), "clean": mean(1.0 - noisy), "corrupted": mean(noisy)}


def clean_predictions_before_memorized(correct: jax.typing.ArrayLike, pred_is_clean_label: jax.typing.ArrayLike,
                                       corrupted: jax.typing.ArrayLike) -> dict[str, jax.Array]:
  """For corrupted examples: how often the network predicted the *clean* label before it
  memorized the noisy one (the "patterns first" evidence of Arpit et al., 2017).

  An example is memorized from its :func:`learned_for_good` evaluation; one never
  memorized counts every evaluation of the run.

  Args:
    correct: ``[..., T, n]`` bool (fitted to the training, i.e. noisy, label).
    pred_is_clean_label: ``[..., T, n]`` bool.
    corrupted: ``[..., n]`` bool.

  Returns:
    ``{"clean_predictions": [..., n] int32`` evaluations before memorization at which the
    clean label was predicted, ``"evaluations": [..., n] int32`` evaluations before
    memorization (both 0 for clean examples), ``"rate": [...] float32`` their ratio summed
    over corrupted examples (NaN if there are none)}``.
  """
  correct = _bool(correct, "correct", 2)
  clean = _bool(pred_is_clean_label, "pred_is_clean_label", 2)
  corrupted = _bool(corrupted, "corrupted", 1)
  if clean.shape != correct.shape:
    raise ValueError(f"pred_is_clean_label {clean.shape} and correct {correct.shape} must have the same shape.")
  _check_corrupted(corrupted, correct)
  steps = correct.shape[-2]
  good = learned_for_good(correct)
  until = jnp.where(good >= 0, good, steps)                                   # [..., n]
  before = jnp.arange(steps)[:, None] < until[..., None, :]                   # [..., T, n]
  counts = jnp.sum(jnp.logical_and(clean, before), axis=-2) * corrupted
  evaluations = until * corrupted
  total = jnp.sum(evaluations, axis=-1)
  rate = jnp.where(total > 0, jnp.sum(counts, axis=-1) / jnp.maximum(total, 1), jnp.nan).astype(jnp.float32)
  return {"clean_predictions": counts.astype(jnp.int32), "evaluations": evaluations.astype(jnp.int32),
          "rate": rate}


def evaluation_epochs(index: np.typing.ArrayLike, eval_steps: np.typing.ArrayLike,
                      steps_per_epoch: int) -> np.ndarray:
  """Evaluation indices (as the functions above return) as epochs; ``-1`` becomes NaN.

  Args:
    index: int array of evaluation indices.
    eval_steps: ``[T]`` the step of each evaluation (``examples.npz``'s ``eval_steps``).
    steps_per_epoch: the run's steps per epoch (its ``config.json``).
  """
  index, eval_steps = np.asarray(index), np.asarray(eval_steps)
  if not np.issubdtype(index.dtype, np.integer):  # a float or bool index would be cast or misread
    raise TypeError(f"index must hold integer evaluation indices, got dtype {index.dtype}.")
  if eval_steps.dtype.kind not in "iuf":
    raise TypeError(f"eval_steps must hold steps (numbers), got dtype {eval_steps.dtype}.")
  if eval_steps.ndim != 1 or not len(eval_steps):
    raise ValueError(f"eval_steps must be a non-empty [T] array of steps, got shape {eval_steps.shape}.")
  if not np.isfinite(eval_steps).all():  # a NaN step would read as "never" (NaN), an inf one as no epoch
    raise ValueError("evaluation_epochs: eval_steps holds NaN or infinite steps.")
  spe = np.asarray(steps_per_epoch)
  if spe.shape != () or spe.dtype.kind not in "iuf":
    raise TypeError(f"steps_per_epoch must be a positive number, got {steps_per_epoch!r}.")
  if not np.isfinite(spe) or spe <= 0:  # NaN would turn every epoch into NaN, as if never reached
    raise ValueError(f"steps_per_epoch must be a positive number, got {steps_per_epoch!r}.")
  if index.size and index.max() >= len(eval_steps):
    raise ValueError(f"evaluation index {index.max()} is beyond the {len(eval_steps)} evaluations.")
  if index.size and index.min() < -1:  # -1 alone means "never"; -5 is no evaluation
    raise ValueError(f"evaluation index {index.min()} is invalid: indices lie in [0, {len(eval_steps)}), or -1 "
                     "for never.")
  epochs = eval_steps[np.clip(index, 0, None)] / steps_per_epoch
  return np.where(index >= 0, epochs, np.nan)
