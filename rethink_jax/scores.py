"""Memorization, influence and consistency scores of training examples, estimated from many runs on random subsets.

Many models are trained, each on its own random subset ``S_k`` of the ``n`` training
examples (``K`` runs). The estimators below read only two indicator arrays:

* ``masks[k, i]`` bool: training example ``i`` was in run ``k``'s subset (``i in S_k``);
* ``correct[k, i]`` bool: run ``k``, at the end of training, predicts example ``i``'s
  *given* training label (the corrupted one, for a corrupted example); for the test set,
  ``test_correct[k, j]`` the same for test example ``j``.

Definitions (probabilities over the random subset ``S`` and the training randomness):

* memorization (Feldman & Zhang, *What neural networks memorize and why: discovering the
  long tail via influence estimation*, NeurIPS 2020):
  ``mem(i) = P[correct_i | i in S] - P[correct_i | i not in S]``;
* influence of training example ``i`` on test example ``j`` (same paper):
  ``infl(i, j) = P[correct_j | i in S] - P[correct_j | i not in S]``;
* held-out accuracy ``P[correct_i | i not in S]``, and the consistency score (C-score;
  Jiang, Zhang, Talwar & Mozer, *Characterizing structural regularities of labeled data in
  overparameterized models*, ICML 2021): the expected held-out accuracy of an example over
  training subsets of a given size, averaged over subset sizes (ratios of ``n``).

Each probability is estimated by its frequency among the runs that hold the example in
(``n_in`` runs) or out (``n_out = K - n_in`` runs) of their subset, and its standard error
is the binomial one, ``sqrt(p (1 - p) / count)``; the standard error of a difference adds
the two variances (the in and out runs are disjoint, hence independent). An estimate whose
count is 0 is NaN. A binomial standard error is 0 when the frequency is 0 or 1: with few
runs it understates the uncertainty. :func:`standard_error_by_runs` shows how the error
falls as runs are added, :func:`split_half_reliability` whether the ranking of examples
by a score is reproducible.

Feldman & Zhang estimate from models trained on random 70% subsets; Jiang et al. use
subset ratios 0.1, 0.2, ..., 0.9. Any subset sampling works here: the estimators only
condition on membership.

The estimators are pure functions written in ``jax.numpy``: they accept numpy or jax arrays
(bool, or integer holding only 0 and 1) and run under ``jit``, except
:func:`split_half_reliability` and :func:`standard_error_by_runs`, which draw a numpy
permutation of the runs and return host values. Dense influence is ``[n, m]``: use
:func:`influence` only for small problems or a few training examples (``train_indices``),
and :func:`influence_topk` (blocks of training examples, memory ``O(block * m)``) otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["memorization", "heldout_accuracy", "cscore", "influence", "influence_topk", "spearman",
           "split_half_reliability", "auc", "standard_error_by_runs"]


def _indicator(x, name: str, expected: str, ndim: int | None = None, min_ndim: int = 0) -> jax.Array:
  """``x`` as a bool jax array, or a ``ValueError`` naming ``name`` and what is ``expected``."""
  if not isinstance(x, (jax.Array, np.ndarray)):
    x = np.asarray(x)
  if ndim is not None and x.ndim != ndim or x.ndim < min_ndim:
    raise ValueError(f"{name} must have shape {expected}, got shape {x.shape}.")
  if x.dtype == np.bool_:
    return jnp.asarray(x)
  if not np.issubdtype(x.dtype, np.integer):
    raise ValueError(f"{name} must be bool or integer 0/1 with shape {expected}, got dtype {x.dtype} "
                     "(probabilities are not indicators: threshold them first).")
  if not isinstance(x, jax.core.Tracer):  # values are only checked when known
    values = np.asarray(x)
    if values.size and not np.all((values == 0) | (values == 1)):
      raise ValueError(f"{name} must hold only 0 and 1 (or be bool), got values in "
                       f"[{values.min()}, {values.max()}].")
  return jnp.asarray(x) != 0


def _runs_by_examples(masks, correct, masks_name: str = "masks", correct_name: str = "correct"):
  masks = _indicator(masks, masks_name, "[..., K, n] (runs, examples)", min_ndim=2)
  correct = _indicator(correct, correct_name, "[..., K, n] (runs, examples)", min_ndim=2)
  if masks.shape != correct.shape:
    raise ValueError(f"{masks_name} {masks.shape} and {correct_name} {correct.shape} must have the same shape "
                     "[..., K, n] (runs, examples).")
  return masks, correct


def _frequency(hits, count):
  """``hits / count`` and its binomial standard error, NaN where ``count`` is 0."""
  p = hits / jnp.maximum(count, 1)
  var = p * (1 - p) / jnp.maximum(count, 1)
  empty = count == 0
  return jnp.where(empty, jnp.nan, p), jnp.where(empty, jnp.nan, var)


def memorization(masks: jax.typing.ArrayLike, correct: jax.typing.ArrayLike) -> dict[str, jax.Array]:
  """Memorization score of each training example (Feldman & Zhang, NeurIPS 2020).

  ``mem(i) = P[correct_i | i in S] - P[correct_i | i not in S]``, each probability the
  frequency among the runs holding ``i`` in (out of) their subset.

  Args:
    masks: ``[..., K, n]`` bool (or 0/1 int), ``masks[k, i]``: example ``i`` in run ``k``'s subset.
    correct: ``[..., K, n]`` bool (or 0/1 int), run ``k`` predicts example ``i``'s training label.

  Returns:
    ``{"score", "se", "p_in", "p_out"}`` float ``[..., n]`` and ``{"n_in", "n_out"}`` int32
    ``[..., n]``. ``se = sqrt(p_in (1 - p_in) / n_in + p_out (1 - p_out) / n_out)``.
    ``p_in`` is NaN where ``n_in == 0``, ``p_out`` where ``n_out == 0``, ``score`` and ``se``
    where either is.
  """
  return _memorization(*_runs_by_examples(masks, correct))


@jax.jit
def _memorization(masks, correct):
  n_in = jnp.sum(masks, axis=-2, dtype=jnp.int32)
  n_out = jnp.sum(~masks, axis=-2, dtype=jnp.int32)
  p_in, var_in = _frequency(jnp.sum(masks & correct, axis=-2, dtype=jnp.int32), n_in)
  p_out, var_out = _frequency(jnp.sum(~masks & correct, axis=-2, dtype=jnp.int32), n_out)
  return {"score": p_in - p_out, "se": jnp.sqrt(var_in + var_out), "p_in": p_in, "p_out": p_out,
          "n_in": n_in, "n_out": n_out}


def heldout_accuracy(masks: jax.typing.ArrayLike, correct: jax.typing.ArrayLike) -> dict[str, jax.Array]:
  """Held-out accuracy of each example, ``P[correct_i | i not in S]``.

  Args:
    masks: ``[..., K, n]`` bool (or 0/1 int), example ``i`` in run ``k``'s subset.
    correct: ``[..., K, n]`` bool (or 0/1 int), run ``k`` predicts example ``i``'s training label.

  Returns:
    ``{"score", "se"}`` float ``[..., n]`` (``se`` binomial, ``sqrt(p (1 - p) / n_out)``)
    and ``"n_out"`` int32 ``[..., n]``; NaN where ``n_out == 0``.
  """
  return _heldout_accuracy(*_runs_by_examples(masks, correct))


@jax.jit
def _heldout_accuracy(masks, correct):
  n_out = jnp.sum(~masks, axis=-2, dtype=jnp.int32)
  p, var = _frequency(jnp.sum(~masks & correct, axis=-2, dtype=jnp.int32), n_out)
  return {"score": p, "se": jnp.sqrt(var), "n_out": n_out}


def cscore(masks_by_ratio: Sequence[jax.typing.ArrayLike],
           correct_by_ratio: Sequence[jax.typing.ArrayLike]) -> dict[str, jax.Array]:
  """Consistency score (C-score) of each example (Jiang, Zhang, Talwar & Mozer, ICML 2021).

  The held-out accuracy of the example for subsets of each ratio, averaged over ratios.
  A ratio at which the example was never held out is left out of its average.

  Args:
    masks_by_ratio: one ``[K_r, n]`` bool mask per subset ratio (``K_r`` may differ).
    correct_by_ratio: one ``[K_r, n]`` bool correctness per ratio, shaped as its mask.

  Returns:
    ``{"score": [n]`` mean over ratios of the held-out accuracy (NaN if never held out),
    ``"se": [n]`` standard error of that mean, ``sqrt(sum_r se_r^2) / R_valid``,
    ``"per_ratio": [R, n]`` held-out accuracy per ratio (NaN where never held out)``}``.
  """
  for name, arg in (("masks_by_ratio", masks_by_ratio), ("correct_by_ratio", correct_by_ratio)):
    if not hasattr(arg, "__len__") or isinstance(arg, (str, bytes)):  # None, a generator: before len() fails
      raise TypeError(f"cscore: {name} must be a sequence of [K_r, n] arrays (one per subset ratio), got "
                      f"{type(arg).__name__}.")
  if len(masks_by_ratio) != len(correct_by_ratio) or not len(masks_by_ratio):
    raise ValueError(f"masks_by_ratio and correct_by_ratio must be sequences of the same positive length "
                     f"(one [K_r, n] array per ratio), got {len(masks_by_ratio)} and {len(correct_by_ratio)}.")
  per_ratio, var = [], []
  for r, (masks, correct) in enumerate(zip(masks_by_ratio, correct_by_ratio)):
    masks = _indicator(masks, f"masks_by_ratio[{r}]", "[K_r, n]", ndim=2)
    correct = _indicator(correct, f"correct_by_ratio[{r}]", "[K_r, n]", ndim=2)
    if masks.shape != correct.shape or (per_ratio and masks.shape[1] != per_ratio[0].shape[0]):
      raise ValueError(f"masks_by_ratio[{r}] {masks.shape} and correct_by_ratio[{r}] {correct.shape} must have "
                       "the same shape [K_r, n], with the same n for every ratio.")
    out = _heldout_accuracy(masks, correct)
    per_ratio.append(out["score"])
    var.append(out["se"] ** 2)
  return _average_over_ratios(jnp.stack(per_ratio), jnp.stack(var))


@jax.jit
def _average_over_ratios(per_ratio, var):
  valid = ~jnp.isnan(per_ratio)
  count = jnp.sum(valid, axis=0)
  none = count == 0
  score = jnp.sum(jnp.where(valid, per_ratio, 0.0), axis=0) / jnp.maximum(count, 1)
  se = jnp.sqrt(jnp.sum(jnp.where(valid, var, 0.0), axis=0)) / jnp.maximum(count, 1)
  return {"score": jnp.where(none, jnp.nan, score), "se": jnp.where(none, jnp.nan, se), "per_ratio": per_ratio}


def _train_by_test(masks, test_correct):
  masks = _indicator(masks, "masks", "[K, n] (runs, training examples)", ndim=2)
  test_correct = _indicator(test_correct, "test_correct", "[K, m] (runs, test examples)", ndim=2)
  if masks.shape[0] != test_correct.shape[0]:
    raise ValueError(f"masks {masks.shape} and test_correct {test_correct.shape} must have the same number of "
                     "runs K: masks [K, n], test_correct [K, m].")
  return masks, test_correct


def _influence(masks_f, test_f, total):
  """Influence of a block of training examples on every test example, from 0/1 float32 arrays.

  ``masks_f`` ``[K, B]``, ``test_f`` ``[K, m]``, ``total`` ``[m]`` the runs correct on each
  test example. Counts are exact: sums of 0/1 products, accumulated in float32.
  """
  n_in = jnp.sum(masks_f, axis=0)[:, None]                                               # [B, 1]
  n_out = masks_f.shape[0] - n_in
  hits_in = jnp.matmul(masks_f.T, test_f, precision=jax.lax.Precision.HIGHEST)           # [B, m]
  hits_out = total[None, :] - hits_in
  p_in, var_in = _frequency(hits_in, n_in)
  p_out, var_out = _frequency(hits_out, n_out)
  return p_in - p_out, jnp.sqrt(var_in + var_out), (n_in[:, 0] > 0) & (n_out[:, 0] > 0)


def influence(masks: jax.typing.ArrayLike, test_correct: jax.typing.ArrayLike,
              train_indices: jax.typing.ArrayLike | None = None) -> dict[str, jax.Array]:
  """Dense influence of training examples on test examples (Feldman & Zhang, NeurIPS 2020).

  ``infl(i, j) = P[correct_j | i in S] - P[correct_j | i not in S]``. The result is dense,
  ``[n, m]`` floats (2 GB for CIFAR-10's 50,000 x 10,000 in float32, twice with ``se``): use it
  for small problems or a few training examples (``train_indices``), and
  :func:`influence_topk` otherwise.

  Args:
    masks: ``[K, n]`` bool, training example ``i`` in run ``k``'s subset.
    test_correct: ``[K, m]`` bool, run ``k`` predicts test example ``j``'s label.
    train_indices: optional ``[n']`` int, the training examples to score (default: all).

  Returns:
    ``{"score", "se"}`` ``[n', m]`` float (NaN for a training example never in or never out
    of a subset), ``{"n_in", "n_out"}`` ``[n']`` int32.
  """
  masks, test_correct = _train_by_test(masks, test_correct)
  if train_indices is not None:
    if not isinstance(train_indices, jax.Array):
      train_indices = np.asarray(train_indices)  # the dtype is checked before JAX meets strings
    if train_indices.ndim != 1 or not jnp.issubdtype(train_indices.dtype, jnp.integer):
      raise ValueError(f"train_indices must be a 1-D integer array of training indices, got shape "
                       f"{train_indices.shape} and dtype {train_indices.dtype}.")
    if not isinstance(train_indices, jax.core.Tracer) and train_indices.size and (
        int(train_indices.min()) < 0 or int(train_indices.max()) >= masks.shape[1]):
      raise ValueError(f"train_indices must lie in [0, {masks.shape[1]}) (masks has n = {masks.shape[1]} "
                       f"training examples), got [{int(train_indices.min())}, {int(train_indices.max())}].")
    masks = masks[:, jnp.asarray(train_indices)]
  return _dense_influence(masks, test_correct)


@jax.jit
def _dense_influence(masks, test_correct):
  test_f = test_correct.astype(jnp.float32)
  score, se, _ = _influence(masks.astype(jnp.float32), test_f, jnp.sum(test_f, axis=0))
  return {"score": score, "se": se, "n_in": jnp.sum(masks, axis=0, dtype=jnp.int32),
          "n_out": jnp.sum(~masks, axis=0, dtype=jnp.int32)}


@functools.partial(jax.jit, static_argnames=("k",))
def _topk_block(masks_b, start, n, test_f, total, best_score, best_se, best_index, *, k):
  """One block of :func:`influence_topk`: its per-training top-k, and the per-test top-k merged.

  ``masks_b`` ``[K, B]`` float32 (padded past ``n`` with zeros), ``start`` the block's first
  training index; ``best_*`` ``[m, k]`` the running per-test top-k. Pairs with an empty in
  or out count score ``-inf`` and are never selected ahead of a real one.
  """
  block = masks_b.shape[1]
  score, se, ok = _influence(masks_b, test_f, total)                                    # [B, m]
  ok = ok & (start + jnp.arange(block) < n)
  key = jnp.where(ok[:, None], score, -jnp.inf)
  se = jnp.where(ok[:, None], se, jnp.nan)
  # per training example: over all test examples (all present in this block's product)
  train_score, train_index = jax.lax.top_k(key, k)                                       # [B, k]
  train_se = jnp.take_along_axis(se, train_index, axis=1)
  # per test example: this block's best, merged with the running best (earlier, lower indices
  # first, so ties keep the lowest training index, as a stable sort would)
  block_score, block_pos = jax.lax.top_k(key.T, min(k, block))                            # [m, kb]
  block_se = jnp.take_along_axis(se.T, block_pos, axis=1)
  merged_score = jnp.concatenate([best_score, block_score], axis=1)
  merged_se = jnp.concatenate([best_se, block_se], axis=1)
  merged_index = jnp.concatenate([best_index, (start + block_pos).astype(jnp.int32)], axis=1)
  best_score, pos = jax.lax.top_k(merged_score, k)
  best_se = jnp.take_along_axis(merged_se, pos, axis=1)
  best_index = jnp.take_along_axis(merged_index, pos, axis=1)
  return (best_score, best_se, best_index), (train_score, train_se, train_index.astype(jnp.int32))


def _finish(score, se, index):
  found = score > -jnp.inf
  return {"index": jnp.where(found, index, -1), "score": jnp.where(found, score, jnp.nan),
          "se": jnp.where(found, se, jnp.nan)}


def influence_topk(masks: jax.typing.ArrayLike, test_correct: jax.typing.ArrayLike, k: int = 10,
                   block: int = 1024) -> dict[str, dict[str, jax.Array]]:
  """The ``k`` largest influences per test example and per training example, computed in blocks.

  The estimator of :func:`influence`, computed for ``block`` training examples at a time
  (two ``[block, m]`` matrices in memory, never ``[n, m]``): the counts of a block are a
  matrix product of its masks with ``test_correct``. One compiled function serves every
  block (the last one is padded and its padding masked). A pair whose training example was
  never in or never out of a subset is never selected; where fewer than ``k`` pairs are
  valid, the rest are ``index = -1`` and NaN. Ties keep the lower index first.

  Args:
    masks: ``[K, n]`` bool, training example ``i`` in run ``k``'s subset.
    test_correct: ``[K, m]`` bool, run ``k`` predicts test example ``j``'s label.
    k: how many pairs to keep, ``1 <= k <= min(n, m)``.
    block: training examples per block.

  Returns:
    ``{"per_test": {"index": [m, k]`` int32 training indices, ``"score", "se": [m, k]}``,
    ``"per_train": {"index": [n, k]`` int32 test indices, ``"score", "se": [n, k]}}``, each
    sorted by score, largest first.
  """
  masks, test_correct = _train_by_test(masks, test_correct)
  n, m = masks.shape[1], test_correct.shape[1]
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(n, m):
    raise ValueError(f"k must be an integer in [1, min(n, m)] = [1, {min(n, m)}] (masks {masks.shape}, "
                     f"test_correct {test_correct.shape}), got {k}.")
  if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
    raise ValueError(f"block must be a positive integer, got {block}.")
  k, block = int(k), min(int(block), n)
  test_f = test_correct.astype(jnp.float32)
  total = jnp.sum(test_f, axis=0)
  best = (jnp.full((m, k), -jnp.inf, jnp.float32), jnp.full((m, k), jnp.nan, jnp.float32),
          jnp.full((m, k), -1, jnp.int32))
  per_train = []
  for start in range(0, n, block):
    masks_b = masks[:, start:start + block].astype(jnp.float32)
    if masks_b.shape[1] < block:
      masks_b = jnp.pad(masks_b, ((0, 0), (0, block - masks_b.shape[1])))
    best, train = _topk_block(masks_b, jnp.int32(start), jnp.int32(n), test_f, total, *best, k=k)
    per_train.append(train)
  train_score, train_se, train_index = (jnp.concatenate(parts)[:n] for parts in zip(*per_train))
  return {"per_test": _finish(*best), "per_train": _finish(train_score, train_se, train_index)}


def _vector(x, name: str, fn: str) -> jax.Array:
  if not isinstance(x, jax.Array):
    x = np.asarray(x)  # the dtype is checked before JAX meets None or strings
  if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == np.bool_):
    raise ValueError(f"{fn}: {name} must be real numbers, got dtype {x.dtype}"
                     + (f" ({type(x.item()).__name__})." if x.ndim == 0 and x.dtype == object else "."))
  if x.ndim != 1:
    raise ValueError(f"{fn}: {name} must have shape [n], got shape {x.shape}.")
  return jnp.asarray(x).astype(jnp.result_type(float))


def _average_ranks(x):
  """1-based ranks of ``x`` among its non-NaN entries, ties given their average rank (NaN stays NaN)."""
  ordered = jnp.sort(x)  # NaN last, and searchsorted treats it as larger than any number
  below = jnp.searchsorted(ordered, x, side="left")
  at_or_below = jnp.searchsorted(ordered, x, side="right")
  return jnp.where(jnp.isnan(x), jnp.nan, (below + at_or_below + 1) / 2)


def spearman(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike) -> jax.Array:
  """Spearman rank correlation of two vectors, over the positions where neither is NaN.

  Ties get their average rank. NaN when fewer than two positions are left or either
  vector is constant on them.

  Args:
    a: ``[n]``.
    b: ``[n]``.

  Returns:
    A float scalar in ``[-1, 1]``.
  """
  a, b = _vector(a, "a", "spearman"), _vector(b, "b", "spearman")
  if a.shape != b.shape:
    raise ValueError(f"a {a.shape} and b {b.shape} must have the same shape [n].")
  return _spearman(a, b)


@jax.jit
def _spearman(a, b):
  valid = ~(jnp.isnan(a) | jnp.isnan(b))
  ra = _average_ranks(jnp.where(valid, a, jnp.nan))
  rb = _average_ranks(jnp.where(valid, b, jnp.nan))
  count = jnp.sum(valid)
  center = (count + 1) / 2  # the mean of the ranks 1..count, ties or not
  da = jnp.where(valid, ra - center, 0.0)
  db = jnp.where(valid, rb - center, 0.0)
  denominator = jnp.sqrt(jnp.sum(da * da) * jnp.sum(db * db))
  return jnp.where((count >= 2) & (denominator > 0), jnp.sum(da * db) / jnp.where(denominator > 0, denominator, 1.0),
                   jnp.nan)


def auc(scores: jax.typing.ArrayLike, positives: jax.typing.ArrayLike) -> jax.Array:
  """Area under the ROC curve of ``scores`` for finding ``positives`` (NaN scores ignored).

  The Mann-Whitney statistic: the probability that a positive scores above a negative,
  ties counting 1/2. 1 ranks every positive first, 0 last, 0.5 is chance.

  Args:
    scores: ``[n]`` real.
    positives: ``[n]`` bool (or 0/1 int).

  Returns:
    A float scalar; NaN when no positive or no negative has a score.
  """
  scores = _vector(scores, "scores", "auc")
  positives = _indicator(positives, "positives", f"[n] = {scores.shape}", ndim=1)
  if positives.shape != scores.shape:
    raise ValueError(f"positives {positives.shape} and scores {scores.shape} must have the same shape [n].")
  return _auc(scores, positives)


@jax.jit
def _auc(scores, positives):
  valid = ~jnp.isnan(scores)
  ranks = _average_ranks(scores)
  count = jnp.sum(valid)
  pos = positives & valid
  n_pos = jnp.sum(pos)
  n_neg = count - n_pos
  # U = sum of positive ranks - n_pos (n_pos + 1) / 2; centering the ranks keeps float32 exact enough:
  # U = sum_pos (rank - (count + 1) / 2) + n_pos n_neg / 2.
  centered = jnp.sum(jnp.where(pos, ranks - (count + 1) / 2, 0.0))
  pairs = n_pos.astype(centered.dtype) * n_neg.astype(centered.dtype)
  return jnp.where(pairs > 0, 0.5 + centered / jnp.where(pairs > 0, pairs, 1.0), jnp.nan)


def _check_estimator(estimator) -> None:
  if not callable(estimator):
    raise ValueError(f"estimator must be a function (masks, correct) -> dict with 'score' and 'se', such as "
                     f"memorization or heldout_accuracy, got {estimator!r}.")


def _check_seed(seed, fn: str) -> int:
  """``seed`` as an int >= 0: ``None`` would draw a fresh split every call (not reproducible)."""
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
    raise TypeError(f"{fn}: seed must be an integer >= 0 (the seed of the permutation of the runs), got {seed!r} "
                    f"({type(seed).__name__}).")
  if seed < 0:
    raise ValueError(f"{fn}: seed must be an integer >= 0, got {seed}.")
  return int(seed)


def split_half_reliability(masks: jax.typing.ArrayLike, correct: jax.typing.ArrayLike,
                           estimator: Callable[..., dict] = memorization, seed: int = 0) -> float:
  """Split-half reliability of a score: how well two disjoint halves of the runs agree.

  The ``K`` runs are split at random into two disjoint halves (``K // 2`` and the rest, a
  numpy permutation from ``seed``), the score is estimated on each, and the Spearman
  correlation of the two estimates is returned (examples NaN in either half left out). It
  measures the reliability of a score from ``K / 2`` runs; the Spearman-Brown formula
  ``2 r / (1 + r)`` extrapolates it to ``K`` runs.

  Args:
    masks: ``[K, n]`` bool.
    correct: ``[K, n]`` bool.
    estimator: :func:`memorization` or :func:`heldout_accuracy` (any function of
      ``(masks, correct)`` returning a dict with ``"score"``).
    seed: seed of the split.

  Returns:
    The correlation, a Python float (NaN when it is undefined).
  """
  _check_estimator(estimator)
  seed = _check_seed(seed, "split_half_reliability")
  masks, correct = _runs_by_examples(masks, correct)
  if masks.ndim != 2 or masks.shape[0] < 2:
    raise ValueError(f"masks and correct must have shape [K, n] with K >= 2 runs, got {masks.shape}.")
  order = np.random.default_rng(seed).permutation(masks.shape[0])
  half = masks.shape[0] // 2
  first, second = order[:half], order[half:]
  a = estimator(masks[first], correct[first])["score"]
  b = estimator(masks[second], correct[second])["score"]
  return float(spearman(a, b))


def standard_error_by_runs(masks: jax.typing.ArrayLike, correct: jax.typing.ArrayLike,
                           runs: Sequence[int] | None = None, estimator: Callable[..., dict] = memorization,
                           seed: int = 0) -> dict[str, np.ndarray]:
  """Median standard error of a score over examples as more runs are used.

  The runs are put in a random order (a numpy permutation from ``seed``); for each ``K'``
  in ``runs`` the score is estimated from the first ``K'`` of them and the median of its
  ``se`` over the examples where it is defined is kept. It tells how many runs suffice
  for a given precision.

  Args:
    masks: ``[K, n]`` bool.
    correct: ``[K, n]`` bool.
    runs: the ``K'`` to try, each in ``[1, K]``; default 8, 16, 32, ... up to ``K``, and ``K``.
    estimator: :func:`memorization` or :func:`heldout_accuracy`.
    seed: seed of the order of the runs.

  Returns:
    ``{"runs": [R]`` int, ``"median_se": [R]`` float (NaN where no example has an estimate)``}``.
  """
  _check_estimator(estimator)
  seed = _check_seed(seed, "standard_error_by_runs")
  masks, correct = _runs_by_examples(masks, correct)
  if masks.ndim != 2 or not masks.shape[0]:
    raise ValueError(f"standard_error_by_runs: masks and correct must have shape [K, n] with K >= 1 runs, got "
                     f"{masks.shape}.")
  total = masks.shape[0]
  if runs is None:
    runs = [2 ** e for e in range(3, max(3, total.bit_length())) if 2 ** e < total] + [total]
  runs = np.asarray(runs)
  if runs.ndim != 1 or not runs.size or not np.issubdtype(runs.dtype, np.integer) or runs.min() < 1 or \
      runs.max() > total:
    raise ValueError(f"runs must be a sequence of integers in [1, K] = [1, {total}], got {runs.tolist()}.")
  order = np.random.default_rng(seed).permutation(total)
  median = [float(jnp.nanmedian(estimator(masks[order[:r]], correct[order[:r]])["se"])) for r in runs]
  return {"runs": runs, "median_se": np.asarray(median)}
