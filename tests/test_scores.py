"""rethink_jax.scores against plain numpy loops over runs, and on synthetic runs with planted memorization."""

import jax
import numpy as np
import pytest

from rethink_jax import scores


def _runs(seed, runs, n, rate=0.7, accuracy=0.8):
  rng = np.random.default_rng(seed)
  return rng.random((runs, n)) < rate, rng.random((runs, n)) < accuracy


def _frequency_loop(masks, correct, inside):
  """P[correct | in] (inside=True) or P[correct | out] per example and its binomial se, by a loop over runs."""
  runs, n = masks.shape
  hits, count = np.zeros(n), np.zeros(n)
  for k in range(runs):
    where = masks[k] if inside else ~masks[k]
    count += where
    hits += where & correct[k]
  with np.errstate(invalid="ignore", divide="ignore"):
    p = hits / count
    return p, p * (1 - p) / count, count


def _influence_loop(masks, test_correct):
  runs, n = masks.shape
  score, se = np.full((n, test_correct.shape[1]), np.nan), np.full((n, test_correct.shape[1]), np.nan)
  for i in range(n):
    inside, outside = masks[:, i], ~masks[:, i]
    if inside.any() and outside.any():
      p_in, p_out = test_correct[inside].mean(0), test_correct[outside].mean(0)
      score[i] = p_in - p_out
      se[i] = np.sqrt(p_in * (1 - p_in) / inside.sum() + p_out * (1 - p_out) / outside.sum())
  return score, se


@pytest.fixture(scope="module")
def planted():
  """K = 200 runs on random 70% subsets: clean examples correct with probability 0.9 in or out,
  planted mislabeled ones 0.95 when in and 0.05 when out."""
  rng = np.random.default_rng(0)
  runs, n = 200, 1000
  masks = rng.random((runs, n)) < 0.7
  mislabeled = np.zeros(n, bool)
  mislabeled[rng.choice(n, 50, replace=False)] = True
  p = np.where(mislabeled, np.where(masks, 0.95, 0.05), 0.9)
  return masks, rng.random((runs, n)) < p, mislabeled


def test_memorization_equals_a_loop_over_runs():
  masks, correct = _runs(1, 30, 40)
  out = scores.memorization(masks, correct)
  p_in, var_in, n_in = _frequency_loop(masks, correct, True)
  p_out, var_out, n_out = _frequency_loop(masks, correct, False)
  np.testing.assert_allclose(out["p_in"], p_in, rtol=1e-6)
  np.testing.assert_allclose(out["p_out"], p_out, rtol=1e-6)
  np.testing.assert_allclose(out["score"], p_in - p_out, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out["se"], np.sqrt(var_in + var_out), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(out["n_in"], n_in)
  np.testing.assert_array_equal(out["n_out"], n_out)
  assert out["n_in"].dtype == np.int32 and out["n_out"].dtype == np.int32
  # 0/1 integers are read as bools
  np.testing.assert_array_equal(scores.memorization(masks.astype(np.int32), correct.astype(np.uint8))["score"],
                                out["score"])


def test_heldout_accuracy_equals_a_loop_over_runs():
  masks, correct = _runs(2, 25, 30)
  out = scores.heldout_accuracy(masks, correct)
  p, var, count = _frequency_loop(masks, correct, False)
  np.testing.assert_allclose(out["score"], p, rtol=1e-6)
  np.testing.assert_allclose(out["se"], np.sqrt(var), rtol=1e-5, atol=1e-7)
  np.testing.assert_array_equal(out["n_out"], count)


def test_cscore_equals_a_loop_over_ratios_and_runs():
  n = 30
  parts = [_runs(10 + r, runs, n, rate=rate) for r, (runs, rate) in enumerate([(12, 0.2), (20, 0.5), (9, 0.9)])]
  masks_by_ratio, correct_by_ratio = [m for m, _ in parts], [c for _, c in parts]
  out = scores.cscore(masks_by_ratio, correct_by_ratio)
  per_ratio, var = zip(*[_frequency_loop(m, c, False)[:2] for m, c in parts])
  per_ratio, var = np.array(per_ratio), np.array(var)
  np.testing.assert_allclose(out["per_ratio"], per_ratio, rtol=1e-6)
  assert np.isnan(per_ratio).any()  # at ratio 0.9 with 9 runs, some examples are never held out
  with np.errstate(invalid="ignore"):
    valid = (~np.isnan(per_ratio)).sum(0)
    np.testing.assert_allclose(out["score"], np.nanmean(per_ratio, axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["se"], np.sqrt(np.nansum(var, axis=0)) / valid, rtol=1e-5, atol=1e-7)


def test_dense_influence_equals_a_loop_over_runs():
  masks, _ = _runs(3, 24, 15)
  masks[:, 0] = True  # never held out: NaN
  test_correct = _runs(4, 24, 11)[1]
  out = scores.influence(masks, test_correct)
  score, se = _influence_loop(masks, test_correct)
  assert out["score"].shape == (15, 11)
  np.testing.assert_allclose(out["score"], score, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out["se"], se, rtol=1e-5, atol=1e-6)
  assert np.isnan(out["score"][0]).all()
  np.testing.assert_array_equal(out["n_in"], masks.sum(0))
  rows = scores.influence(masks, test_correct, train_indices=np.array([7, 2]))
  np.testing.assert_array_equal(rows["score"], np.asarray(out["score"])[[7, 2]])


def _dense_topk(score, se, k, axis):
  """Top-k of a dense [n, m] matrix along ``axis`` (0: per test, 1: per train), NaN last, stable."""
  key = np.where(np.isnan(score), -np.inf, score)
  if axis == 0:
    key, se = key.T, se.T
  index = np.argsort(-key, axis=1, kind="stable")[:, :k]
  ordered = np.maximum(np.sort(key, axis=1)[:, ::-1], -10.0)  # scores lie in [-1, 1]
  return index, np.take_along_axis(key, index, 1), np.take_along_axis(se, index, 1), ordered


@pytest.mark.parametrize("block", [3, 7, 64])
def test_influence_topk_equals_topk_of_dense(block):
  runs, n, m, k = 40, 45, 23, 5  # block 3 < k; block 7: the last of 7 blocks padded; block 64 > n: one block
  masks, _ = _runs(5, runs, n, rate=0.5)
  masks[:, 3], masks[:, 30] = True, False  # never out, never in: never selected
  test_correct = _runs(6, runs, m, accuracy=0.6)[1]
  dense = scores.influence(masks, test_correct)
  score, se = np.asarray(dense["score"]), np.asarray(dense["se"])
  out = scores.influence_topk(masks, test_correct, k=k, block=block)
  for name, axis, rows in (("per_test", 0, m), ("per_train", 1, n)):
    got = {key: np.asarray(v) for key, v in out[name].items()}
    index, top, top_se, ordered = _dense_topk(score, se, k, axis)
    assert got["index"].shape == (rows, k) and got["index"].dtype == np.int32
    finite = np.isfinite(top)
    np.testing.assert_allclose(got["score"][finite], top[finite], atol=1e-6)
    assert (np.isnan(got["score"]) == ~finite).all() and (got["index"][~finite] == -1).all()
    # every selected index points at its score and se in the dense matrix (ties may pick either)
    for key, dense_value in (("score", score), ("se", se)):
      pairs = dense_value if axis == 1 else dense_value.T
      np.testing.assert_allclose(np.take_along_axis(pairs, np.maximum(got["index"], 0), 1)[finite],
                                 got[key][finite], atol=1e-6)
    # where the k + 1 largest are all distinct, the indices and se are the dense ones
    distinct = np.all(np.diff(ordered[:, :k + 1], axis=1) < -1e-6, axis=1)
    assert distinct.any()
    np.testing.assert_array_equal(got["index"][distinct], index[distinct])
    np.testing.assert_allclose(got["se"][distinct], top_se[distinct], atol=1e-6)
    assert np.all(np.diff(np.where(finite, got["score"], -10.0), axis=1) <= 0)  # sorted, largest first
  assert (out["per_test"]["index"] != 3).all() and (out["per_test"]["index"] != 30).all()
  assert np.isnan(np.asarray(out["per_train"]["score"])[[3, 30]]).all()


def test_influence_topk_compiles_its_block_once():
  masks, _ = _runs(7, 16, 50)
  test_correct = _runs(8, 16, 17)[1]  # shapes used by no other test
  before = scores._topk_block._cache_size()
  scores.influence_topk(masks, test_correct, k=3, block=13)  # 4 blocks, the last padded
  assert scores._topk_block._cache_size() == before + 1


def test_leading_batch_axes_and_jit():
  a, b = _runs(9, 20, 12), _runs(10, 20, 12)
  masks, correct = np.stack([a[0], b[0]]), np.stack([a[1], b[1]])
  batched = jax.jit(scores.memorization)(masks, correct)
  for j, (m, c) in enumerate((a, b)):
    one = scores.memorization(m, c)
    for key in one:
      np.testing.assert_allclose(batched[key][j], one[key], atol=1e-6)
  jitted = jax.jit(scores.heldout_accuracy)(*a)
  np.testing.assert_allclose(jitted["score"], scores.heldout_accuracy(*a)["score"], atol=1e-6)
  np.testing.assert_allclose(jax.jit(scores.cscore)([a[0], b[0]], [a[1], b[1]])["score"],
                             scores.cscore([a[0], b[0]], [a[1], b[1]])["score"], atol=1e-6)
  test_correct = _runs(11, 20, 6)[1]
  np.testing.assert_allclose(jax.jit(scores.influence)(a[0], test_correct)["score"],
                             scores.influence(a[0], test_correct)["score"], atol=1e-6)
  topk = jax.jit(scores.influence_topk, static_argnames=("k", "block"))(a[0], test_correct, k=2, block=5)
  np.testing.assert_allclose(topk["per_test"]["score"], scores.influence_topk(a[0], test_correct, 2, 5)[
      "per_test"]["score"], atol=1e-6)
  x = np.arange(12.0)
  assert float(jax.jit(scores.spearman)(x, x ** 3)) == pytest.approx(1.0)
  assert float(jax.jit(scores.auc)(x, x > 5)) == pytest.approx(1.0)


def test_nan_where_never_in_or_never_out():
  masks, correct = _runs(12, 10, 5)
  masks[:, 0], masks[:, 1] = True, False
  mem = scores.memorization(masks, correct)
  assert np.isnan(mem["score"][:2]).all() and np.isnan(mem["se"][:2]).all()
  assert np.isnan(mem["p_out"][0]) and not np.isnan(mem["p_in"][0])
  assert np.isnan(mem["p_in"][1]) and not np.isnan(mem["p_out"][1])
  assert not np.isnan(mem["score"][2:]).any()
  held = scores.heldout_accuracy(masks, correct)
  assert np.isnan(held["score"][0]) and np.isnan(held["se"][0]) and not np.isnan(held["score"][1:]).any()
  c = scores.cscore([masks, masks], [correct, correct])
  assert np.isnan(c["score"][0]) and np.isnan(c["se"][0]) and not np.isnan(c["score"][1:]).any()


def test_planted_mislabels_score_highest(planted):
  masks, correct, mislabeled = planted
  mem = scores.memorization(masks, correct)
  assert float(scores.auc(mem["score"], mislabeled)) > 0.99
  held = scores.heldout_accuracy(masks, correct)
  assert float(scores.auc(held["score"], ~mislabeled)) > 0.99  # the mislabeled are rarely right when held out


def test_split_half_reliability(planted):
  masks, correct, _ = planted
  rng = np.random.default_rng(1)
  # no signal: every example correct with probability 0.9 in or out
  noise = scores.split_half_reliability(masks, rng.random(masks.shape) < 0.9)
  assert abs(noise) < 0.15
  # planted: only 5% of the examples differ, the others are 0 plus noise, so the rank
  # correlation over all examples is bounded by the between-group share of rank variance
  assert scores.split_half_reliability(masks, correct) > noise + 0.05
  # a graded population (P[correct | out] uniform in [0.05, 0.9], 0.95 when in): reliable
  graded = rng.random(masks.shape) < np.where(masks, 0.95, rng.uniform(0.05, 0.9, masks.shape[1]))
  assert scores.split_half_reliability(masks, graded) > 0.8
  assert scores.split_half_reliability(masks, graded, estimator=scores.heldout_accuracy, seed=3) > 0.8
  assert isinstance(scores.split_half_reliability(masks, graded), float)


def test_standard_errors_shrink_with_runs(planted):
  masks, correct, _ = planted
  out = scores.standard_error_by_runs(masks, correct)
  np.testing.assert_array_equal(out["runs"], [8, 16, 32, 64, 128, 200])
  assert np.all(np.diff(out["median_se"]) < 0), out
  held = scores.standard_error_by_runs(masks, correct, runs=(32, 64, 200), estimator=scores.heldout_accuracy)
  assert np.all(np.diff(held["median_se"]) < 0), held


def test_spearman():
  rng = np.random.default_rng(13)
  x = rng.normal(size=50)
  assert float(scores.spearman(x, np.exp(x))) == pytest.approx(1.0)
  assert float(scores.spearman(x, -x ** 3)) == pytest.approx(-1.0)
  assert np.isnan(float(scores.spearman(x, np.ones(50))))
  stats = pytest.importorskip("scipy.stats")
  a, b = rng.integers(0, 6, 60).astype(float), rng.integers(0, 4, 60).astype(float)  # many ties
  b += a
  a[[3, 8]], b[[8, 20]] = np.nan, np.nan
  keep = ~(np.isnan(a) | np.isnan(b))
  assert float(scores.spearman(a, b)) == pytest.approx(stats.spearmanr(a[keep], b[keep]).statistic, abs=1e-6)


def test_auc():
  x = np.arange(20.0)
  positives = x >= 15
  assert float(scores.auc(x, positives)) == 1.0
  assert float(scores.auc(-x, positives)) == 0.0
  assert float(scores.auc(np.ones(20), positives)) == 0.5
  rng = np.random.default_rng(14)
  assert float(scores.auc(rng.normal(size=20000), rng.random(20000) < 0.3)) == pytest.approx(0.5, abs=0.02)
  # the Mann-Whitney count, ties 1/2, NaN scores left out
  s = np.array([0.1, 0.4, 0.4, np.nan, 0.9, 0.2])
  p = np.array([0, 1, 0, 1, 1, 0], bool)
  pos, neg = s[p & ~np.isnan(s)], s[~p & ~np.isnan(s)]
  expected = np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])
  assert float(scores.auc(s, p)) == pytest.approx(expected)
  assert np.isnan(float(scores.auc(x, np.zeros(20, bool))))


def test_bad_input_is_one_clear_error():
  masks, correct = _runs(15, 10, 8)
  with pytest.raises(ValueError, match="masks .* and correct .* same shape"):
    scores.memorization(masks, correct[:, :5])
  with pytest.raises(ValueError, match="correct must be bool or integer 0/1"):
    scores.memorization(masks, np.full(masks.shape, 0.3))
  with pytest.raises(ValueError, match="masks must hold only 0 and 1"):
    scores.heldout_accuracy(masks.astype(int) * 2, correct)
  with pytest.raises(ValueError, match=r"masks must have shape \[\.\.\., K, n\]"):
    scores.memorization(masks[0], correct[0])
  with pytest.raises(ValueError, match="masks_by_ratio and correct_by_ratio"):
    scores.cscore([masks, masks], [correct])
  with pytest.raises(ValueError, match=r"masks_by_ratio\[1\]"):
    scores.cscore([masks, masks[:, :3]], [correct, correct[:, :3]])
  with pytest.raises(ValueError, match="same number of runs"):
    scores.influence(masks, correct[:4])
  with pytest.raises(ValueError, match="train_indices"):
    scores.influence(masks, correct, train_indices=np.array([0, 8]))
  with pytest.raises(ValueError, match="k must be an integer"):
    scores.influence_topk(masks, correct, k=9)
  with pytest.raises(ValueError, match="block"):
    scores.influence_topk(masks, correct, k=2, block=0)
  with pytest.raises(ValueError, match="a .* and b .* same shape"):
    scores.spearman(np.arange(3.0), np.arange(4.0))
  with pytest.raises(ValueError, match="positives"):
    scores.auc(np.arange(3.0), np.array([0.2, 0.5, 0.9]))
  with pytest.raises(ValueError, match="runs must be"):
    scores.standard_error_by_runs(masks, correct, runs=(4, 11))
  with pytest.raises(ValueError, match="estimator"):
    scores.split_half_reliability(masks, correct, estimator="memorization")
  # None, strings, generators, bools and unseeded splits: one sentence naming the function, never JAX's error
  with pytest.raises(ValueError, match=r"spearman: b must be real numbers, got dtype object \(NoneType\)"):
    scores.spearman(np.arange(3.0), None)
  with pytest.raises(ValueError, match="auc: scores must be real numbers, got dtype <U"):
    scores.auc(["a", "b"], np.array([True, False]))
  with pytest.raises(ValueError, match="train_indices must be a 1-D integer array"):
    scores.influence(masks, correct, train_indices="0")
  with pytest.raises(TypeError, match="cscore: masks_by_ratio must be a sequence"):
    scores.cscore((m for m in [masks]), [correct])
  with pytest.raises(ValueError, match="k must be an integer"):
    scores.influence_topk(masks, correct, k=True)
  with pytest.raises(TypeError, match="split_half_reliability: seed must be an integer >= 0"):
    scores.split_half_reliability(masks, correct, seed=None)  # a fresh, unreproducible split every call
  with pytest.raises(ValueError, match="standard_error_by_runs: seed must be an integer >= 0"):
    scores.standard_error_by_runs(masks, correct, seed=-1)
  with pytest.raises(ValueError, match="standard_error_by_runs: .* K >= 1 runs"):
    scores.standard_error_by_runs(masks[:0], correct[:0])
