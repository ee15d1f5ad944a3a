import jax
import numpy as np
import pytest

from rethink_jax import data, theory


def _cifar_points(shared_data, n):
  """n real CIFAR-10 training images, flattened: the shared full set if present, else the sample."""
  try:
    path = shared_data("cifar10.npz")
    with np.load(path) as f:
      x = f["x_train"][:n]
  except pytest.skip.Exception:
    x = data.load("cifar10").x_train[:n]
  return x.reshape(len(x), -1).astype(np.float64)


def test_depth2_fits_random_labels_on_sample_exactly():
  ds = data.load("cifar10")
  z = ds.x_train.reshape(len(ds.x_train), -1)
  y = np.random.default_rng(0).integers(0, 10, len(z))
  params = theory.depth2_interpolant(z, y.astype(float))
  assert theory.num_params(params) == 2 * len(z) + z.shape[1]  # exactly 2n + d (Theorem 1)
  out = np.asarray(theory.depth2_apply(params, z))
  assert np.max(np.abs(out - y)) < 1e-6
  assert np.all(np.rint(out) == y)


@pytest.mark.slow
def test_depth2_fits_10000_random_labels_on_real_cifar(shared_data):
  z = _cifar_points(shared_data, 10_000)
  n = len(z)
  y = np.random.default_rng(1).integers(0, 10, n)
  onehot = np.eye(10)[y]
  params = theory.depth2_interpolant(z, onehot)
  out = np.asarray(theory.depth2_apply(params, z))
  residual = float(np.max(np.abs(out - onehot)))
  print(f"n={n}: max residual {residual:.3e}, {theory.conditioning(params, z)}")
  assert residual < 1e-6
  assert np.mean(out.argmax(1) == y) == 1.0  # zero training error
  scalar = theory.depth2_interpolant(z, y.astype(float))
  assert theory.num_params(scalar) == 2 * n + z.shape[1]


def test_solvers_agree_and_match_the_matrix():
  rng = np.random.default_rng(0)
  z = rng.normal(size=(300, 20))
  y = rng.normal(size=300)
  rec = theory.depth2_interpolant(z, y, solver="recursion")
  tri = theory.depth2_interpolant(z, y, solver="triangular")
  np.testing.assert_allclose(rec.w, tri.w, rtol=1e-7, atol=1e-9 * np.abs(tri.w).max())
  x = np.sort(z @ rec.a)
  a_mat = np.maximum(x[:, None] - rec.b[None, :], 0.0)
  assert np.all(np.triu(a_mat, 1) == 0) and np.all(np.diag(a_mat) > 0)  # lower-triangular, positive diagonal
  assert np.all(rec.b[1:] > x[:-1]) and np.all(rec.b < x)  # b_1 < x_1 < b_2 < ... < b_n < x_n


def test_interleaving_and_generalisation_is_chance():
  ds = data.load("cifar10")
  z, zt = ds.x_train.reshape(2000, -1), ds.x_test.reshape(500, -1)
  y = np.random.default_rng(2).integers(0, 10, 2000)
  params = theory.depth2_interpolant(z, np.eye(10)[y])
  train_acc = np.mean(np.asarray(theory.depth2_apply(params, z)).argmax(1) == y)
  test_acc = np.mean(np.asarray(theory.depth2_apply(params, zt)).argmax(1) == ds.y_test)
  assert train_acc == 1.0
  assert test_acc < 0.2  # it memorises random labels: chance (0.1) on held-out images


@pytest.mark.parametrize("k", [1, 3, 7])
def test_depthk_same_function_width_and_count(k):
  ds = data.load("cifar10")
  z = ds.x_train[:700].reshape(700, -1)
  n, d = z.shape
  y = np.random.default_rng(3).integers(0, 10, n).astype(float)
  params = theory.depthk_interpolant(z, y, k)
  out = np.asarray(theory.depthk_apply(params, z))
  assert np.max(np.abs(out - y)) < 1e-6
  assert params.depth == k and params.width == -(-n // k) + 3  # ceil(n/k) knots + p + acc+/-
  assert params.num_nonzero <= d + 4 * n + 5 * k + 3  # O(n + d + k) non-zero weights
  # the same function as the depth-2 network, also off the training points
  zt = ds.x_test[:50].reshape(50, -1)
  two = theory.depth2_interpolant(z, y)
  np.testing.assert_allclose(theory.depthk_apply(params, zt), theory.depth2_apply(two, zt), rtol=1e-6, atol=1e-5)


def test_duplicates():
  z = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
  params = theory.depth2_interpolant(z, np.array([1.0, 2.0, 1.0]))  # same label: fine
  np.testing.assert_allclose(theory.depth2_apply(params, z), [1.0, 2.0, 1.0], atol=1e-9)
  with pytest.raises(ValueError, match="Points 0 and 2 are identical"):
    theory.depth2_interpolant(z, np.array([1.0, 2.0, 5.0]))


def test_bad_input():
  with pytest.raises(ValueError, match=r"\[n, d\]"):
    theory.depth2_interpolant(np.zeros((2, 3, 4)), np.zeros(2))
  with pytest.raises(ValueError, match="2 points but 3 targets"):
    theory.depth2_interpolant(np.eye(2), np.zeros(3))
  with pytest.raises(ValueError, match="non-finite"):
    theory.depth2_interpolant(np.array([[np.nan, 0.0], [1.0, 1.0]]), np.zeros(2))
  with pytest.raises(ValueError, match="theta"):
    theory.depth2_interpolant(np.eye(2), np.zeros(2), theta=1.0)
  with pytest.raises(ValueError, match="k must be"):
    theory.depthk_interpolant(np.eye(2), np.zeros(2), 0)


def test_apply_is_jittable_and_float64():
  params = theory.depth2_interpolant(np.eye(3), np.array([1.0, -1.0, 2.0]))
  out = theory.depth2_apply(params, np.eye(3))
  assert out.dtype == np.float64
  assert jax.numpy.ones(1).dtype == np.float32  # x64 stays scoped, not global


def test_rademacher_of_theorem1_network_is_one():
  z = data.load("cifar10").x_train[:200].reshape(200, -1)
  est = theory.empirical_rademacher(theory.depth2_fit_predict, z, num_draws=4)
  assert est.estimate == 1.0 and est.stderr == 0.0


def test_rademacher_of_linear_model_with_d_below_n_is_small():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1000, 20))
  est = theory.empirical_rademacher(theory.linear_fit_predict, x, num_draws=8)
  # E[sup] for a linear class with d + 1 = 21 parameters on 1000 points is about sqrt(2 d / (pi n)) ~ 0.1
  assert 0.02 < est.estimate < 0.3 and est.stderr < 0.05
  with pytest.raises(ValueError, match="num_draws"):
    theory.empirical_rademacher(theory.linear_fit_predict, x, num_draws=1)


def test_theorem1_script_end_to_end(tmp_path):
  import subprocess
  import sys

  script = __import__("pathlib").Path(__file__).resolve().parents[1] / "experiments" / "theorem1.py"
  out = subprocess.run([sys.executable, str(script), "--workdir", str(tmp_path), "--config.sizes=(100,300)",
                        "--config.rademacher.n=120", "--config.rademacher.num_draws=2",
                        "--config.rademacher.train.batch_size=32"],
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  import json
  results = json.loads((tmp_path / "results.json").read_text())
  assert [r["n"] for r in results["theorem1"]] == [100, 300]
  assert all(r["train_accuracy"] == 1.0 and r["max_residual"] < 1e-6 for r in results["theorem1"])
  rad = results["rademacher"]
  assert rad["Theorem 1 depth-2 network"]["estimate"] == 1.0
  assert any(k.startswith("mlp_1x512") for k in rad) and "Empirical Rademacher" in out.stdout


BAD_CONFIGS = [
    ("--config.sizes=(0,)", "config.sizes = (0,): must be a non-empty list of positive integers."),
    ("--config.sizes=(5000,)", "config.sizes asks for 5000 images: must be at most the 2000 training images."),
    ("--config.rademacher.num_draws=1", "config.rademacher.num_draws = 1: must be an integer >= 2"),
    ("--config.theta=1.5", "config.theta = 1.5: must be a number in (0, 1)."),
    ("--config.rademacher.train.batch_size=0", "config.rademacher.train.batch_size = 0: must be a positive integer."),
]


@pytest.fixture(scope="module")
def bad_config_runs(tmp_path_factory):
  """Each bad config's run, each its own process (one import for all: helpers/cli_batch.py)."""
  import pathlib

  from helpers import cli_batch

  script = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "theorem1.py"
  argvs = [[script, "--workdir", "run", arg] for arg, _ in BAD_CONFIGS]
  return cli_batch.run_in_new_dirs(argvs, tmp_path_factory, "bad")  # "run" is relative to each new directory


@pytest.mark.xdist_group("theorem1_bad_configs")
@pytest.mark.parametrize("index", range(len(BAD_CONFIGS)), ids=[a for a, _ in BAD_CONFIGS])
def test_theorem1_script_refuses_bad_config_in_one_line(bad_config_runs, index):
  expected = BAD_CONFIGS[index][1]
  out, tmp_path = bad_config_runs[index]
  assert out.returncode == 2 and out.stderr.strip().startswith(f"error: {expected}"), out.stderr[-3000:]
  assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("scores, match", [
    (lambda x, s: np.full(len(x), np.nan), "fit_predict returned NaN or infinite scores on draw 0"),
    (lambda x, s: s[:1], r"fit_predict must return one score per point of x, shape \(4,\); got float64 of shape \(1"),
    (lambda x, s: np.ones((len(x), len(x))), r"one score per point of x, shape \(4,\); got float64 of shape \(4, 4\)"),
])
def test_rademacher_refuses_scores_that_are_not_one_finite_number_per_point(scores, match):
  with pytest.raises(ValueError, match=match):
    theory.empirical_rademacher(scores, np.eye(4), num_draws=2)


def test_rademacher_sample_draws_and_key_are_checked():
  x, fit = np.eye(3), theory.linear_fit_predict
  with pytest.raises(ValueError, match="x has no points"):
    theory.empirical_rademacher(fit, np.zeros((0, 3)), num_draws=2)
  with pytest.raises(ValueError, match="x has non-finite values"):
    theory.empirical_rademacher(fit, np.full((3, 3), np.nan), num_draws=2)
  with pytest.raises(ValueError, match="x must be"):
    theory.empirical_rademacher(fit, 3.0, num_draws=2)
  for n in (2.5, "3", True):
    with pytest.raises(TypeError, match="num_draws must be an int >= 2"):
      theory.empirical_rademacher(fit, x, num_draws=n)
  with pytest.raises(TypeError, match="empirical_rademacher: key must be a jax.random.key"):
    theory.empirical_rademacher(fit, x, num_draws=2, key=0)
  with pytest.raises(TypeError, match="depth2_interpolant: key must be a jax.random.key"):
    theory.depth2_interpolant(x, np.ones(3), key=1)
  with pytest.raises(ValueError, match="values must be a list of at least 2 finite"):
    theory.summarize_rademacher([])
  key = jax.random.key(0)
  for error, message, kwargs in (
      (ValueError, r"draw must be an integer in \[0, 4294967296\), got -1", dict(draw=-1, n=4)),
      (TypeError, r"draw must be an integer in \[0, 4294967296\), got 1.0", dict(draw=1.0, n=4)),
      (TypeError, r"draw must be an integer in \[0, 4294967296\), got True", dict(draw=True, n=4)),
      (ValueError, "n must be an integer >= 1, got 0", dict(draw=0, n=0)),
      (TypeError, "n must be an integer >= 1, got '4'", dict(draw=0, n="4"))):
    with pytest.raises(error, match=f"rademacher_signs: {message}"):
      theory.rademacher_signs(key, **kwargs)
  signs = theory.rademacher_signs(key, np.int64(3), 6)
  assert signs.shape == (6,) and set(np.unique(signs)) <= {-1.0, 1.0}


def test_networks_refuse_points_of_the_wrong_size_or_nan():
  z = np.random.default_rng(0).normal(size=(5, 3))
  p2, pk = theory.depth2_interpolant(z, np.arange(5.0)), theory.depthk_interpolant(z, np.arange(5.0), 2)
  for apply, params, fn in ((theory.depth2_apply, p2, "depth2_apply"), (theory.depthk_apply, pk, "depthk_apply")):
    with pytest.raises(ValueError, match=rf"{fn}: z_new must be \[m, 3\] points"):
      apply(params, z[:, :2])
    with pytest.raises(ValueError, match=rf"{fn}: z_new must be \[m, 3\] points"):
      apply(params, z[0])
    with pytest.raises(ValueError, match=f"{fn}: z_new holds NaN or infinite values"):
      apply(params, np.full((1, 3), np.nan))
    assert np.isfinite(apply(params, np.full((1, 3), 1e39))).all()  # float64 throughout: beyond float32 is fine
