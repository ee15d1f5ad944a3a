import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rethink_jax import data, minnorm, records


@pytest.fixture(scope="module")
def mnist_small():
  m = data.load("mnist")
  x = m.x_train[:1000].reshape(1000, -1) / 255.0
  xt = m.x_test[:500].reshape(500, -1) / 255.0
  return x, m.y_train[:1000], xt, m.y_test[:500]


def test_kernels_match_definitions():
  rng = np.random.default_rng(0)
  x, z = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
  d = np.linalg.norm(x[:, None] - z[None], axis=-1)
  np.testing.assert_allclose(minnorm.linear(x, z), x @ z.T)
  np.testing.assert_allclose(minnorm.gaussian(x, z, 2.0), np.exp(-d ** 2 / 8.0), rtol=1e-12)
  np.testing.assert_allclose(minnorm.laplacian(x, z, 2.0), np.exp(-d / 2.0), rtol=1e-10)
  np.testing.assert_allclose(minnorm.gaussian(jnp.asarray(x), jnp.asarray(z), 2.0), np.exp(-d ** 2 / 8.0),
                             rtol=1e-5)  # the same function on JAX arrays


def test_blocked_gram_equals_dense():
  x = np.random.default_rng(1).normal(size=(37, 6))
  k = lambda a, b: minnorm.gaussian(a, b, 3.0)
  np.testing.assert_allclose(minnorm.gram(k, x, block=8), k(x, x), rtol=1e-12)
  z = x[:11]
  np.testing.assert_allclose(minnorm.gram(k, x, z, block=5), k(x, z), rtol=1e-12)


@pytest.mark.parametrize("kernel,bw", [("gaussian", 5.0), ("laplacian", 10.0)])
def test_exact_interpolation_on_real_mnist(mnist_small, kernel, bw):
  x, y, xt, yt = mnist_small
  p = minnorm.fit(x, y, kernel, bandwidth=bw, solver="cholesky")
  assert p.residual < 1e-6
  assert np.all(p.predict(x).argmax(1) == y)  # train error 0
  err = np.mean(p.predict(xt).argmax(1) != yt)
  # the full-data trend: 1.2% at 60k; with 1,000 training images the error is higher but far from chance
  assert err < 0.15, err


def test_cholesky_cg_and_lstsq_agree(mnist_small):
  x, y, _, _ = mnist_small
  x, y = x[:400], y[:400]
  chol = minnorm.fit(x, y, "gaussian", bandwidth=5.0, solver="cholesky")
  cg = minnorm.fit(x, y, "gaussian", bandwidth=5.0, solver="cg", tol=1e-12)
  k = minnorm.gaussian(x, x, 5.0)
  ls, *_ = np.linalg.lstsq(k, np.eye(10)[y], rcond=None)
  np.testing.assert_allclose(chol.alpha, ls, rtol=1e-6, atol=1e-8 * np.abs(ls).max())
  np.testing.assert_allclose(cg.alpha, chol.alpha, rtol=1e-4, atol=1e-6 * np.abs(ls).max())
  assert cg.iterations > 0 and cg.residual < 1e-10
  assert chol.norm() == pytest.approx(np.sqrt(np.trace(ls.T @ k @ ls)), rel=1e-8)


def test_linear_kernel_norm_is_norm_of_w_and_w_is_min_norm():
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=(30, 80)), rng.normal(size=30)  # n < d: interpolation
  p = minnorm.fit(x, y, "linear", solver="cholesky")
  w = p.weights[:, 0]
  assert p.norm() == pytest.approx(np.linalg.norm(x.T @ p.alpha), rel=1e-10)
  np.testing.assert_allclose(w, minnorm.min_norm_linear(x, y), rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(x @ w, y, atol=1e-9)


def test_gradient_descent_from_zero_converges_to_min_norm_solution():
  rng = np.random.default_rng(3)
  n, d = 40, 120
  x, y = rng.normal(size=(n, d)) / np.sqrt(d), rng.normal(size=n)
  w_star = minnorm.min_norm_linear(x, y)
  xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
  opt = optax.sgd(0.3)
  loss = lambda w: 0.5 * jnp.mean((xj @ w - yj) ** 2)

  @jax.jit
  def run(w, state):
    def body(_, carry):
      w, state = carry
      updates, state = opt.update(jax.grad(loss)(w), state)
      return optax.apply_updates(w, updates), state
    return jax.lax.fori_loop(0, 20000, body, (w, state))

  w0 = jnp.zeros(d)
  w_gd, _ = run(w0, opt.init(w0))
  np.testing.assert_allclose(np.asarray(w_gd), w_star, atol=2e-3)
  # any other interpolant, w* + a null-space direction, has a larger norm
  null = np.linalg.svd(x)[2][-1]
  assert np.allclose(x @ (w_star + null), y, atol=1e-8)
  assert np.linalg.norm(w_star + null) > np.linalg.norm(w_star)


def test_ridge_lowers_the_norm_and_leaves_a_residual(mnist_small):
  x, y, _, _ = mnist_small
  exact = minnorm.fit(x[:300], y[:300], "gaussian", bandwidth=5.0)
  ridge = minnorm.fit(x[:300], y[:300], "gaussian", bandwidth=5.0, ridge=1e-1)
  assert ridge.norm() < exact.norm()
  # with ridge the residual is ||(K + rI) a - y||: the solve is exact
  assert ridge.residual < 1e-8


def test_features_are_applied_to_train_and_new_inputs(mnist_small):
  x, y, xt, _ = mnist_small
  feats = lambda a: np.asarray(a).reshape(len(a), -1)[:, ::2]
  p = minnorm.fit(x[:200], y[:200], "linear", features=feats, ridge=1e-6)
  q = minnorm.fit(feats(x[:200]), y[:200], "linear", ridge=1e-6)
  np.testing.assert_allclose(p.predict(xt[:20]), q.predict(feats(xt[:20])), rtol=1e-8)


def test_bad_input():
  x = np.random.default_rng(0).normal(size=(10, 4))
  with pytest.raises(ValueError, match="non-finite"):
    minnorm.fit(np.where(x > 1, np.nan, x), np.arange(10) % 3, "linear")
  with pytest.raises(ValueError, match="10 inputs but 9 targets"):
    minnorm.fit(x, np.arange(9) % 3, "linear")
  with pytest.raises(ValueError, match=r"needs .* GiB"):
    minnorm.fit(x, np.arange(10) % 3, "gaussian", bandwidth=1.0, memory_limit=100)
  with pytest.raises(ValueError, match="bandwidth"):
    minnorm.fit(x, np.arange(10) % 3, "gaussian")
  with pytest.raises(ValueError, match="Unknown kernel"):
    minnorm.fit(x, np.arange(10) % 3, "polynomial")


def test_ill_conditioned_system_warns(mnist_small):
  x, y, _, _ = mnist_small
  # a very wide Gaussian kernel is numerically almost rank-deficient: CG cannot reach the targets
  with pytest.warns(minnorm.IllConditionedWarning, match="residual"):
    p = minnorm.fit(x[:300], y[:300], "gaussian", bandwidth=500.0, solver="cg", max_iter=30, precond_rank=5)
  assert p.residual > 1e-3 and np.all(np.isfinite(p.alpha))


def test_gabor_bank_and_features():
  bank = minnorm.gabor_bank(size=11, scales=(2.0, 4.0), orientations=8)
  assert bank.shape == (11, 11, 16) and np.iscomplexobj(bank)
  np.testing.assert_allclose(bank.sum(axis=(0, 1)), 0.0, atol=1e-12)  # zero mean: blind to constant images
  m = data.load("mnist")
  f = minnorm.gabor_features(m.x_train[:50])
  assert f.shape == (50, 7 * 7 * 17) and np.all(np.isfinite(f)) and np.all(f >= 0)
  np.testing.assert_allclose(minnorm.gabor_features(m.x_train[:50], block=7), f, rtol=1e-5, atol=1e-7)
  # a vertical bar excites vertical-edge filters more than horizontal ones
  bar = np.zeros((1, 28, 28), np.uint8)
  bar[0, 4:24, 13:15] = 255
  mod = minnorm.gabor_features(bar, pool=28)[0, 1:]  # one cell: channel order (scale, orientation)
  assert mod[0] > mod[4]  # theta = 0 (varies along x) beats theta = pi/2


def test_gabor_features_help_on_real_mnist():
  m = data.load("mnist")
  y, yt = m.y_train[:2000], m.y_test[:500]
  raw = minnorm.fit(m.x_train[:2000].reshape(2000, -1) / 255.0, y, "gaussian", bandwidth=5.0)
  err_raw = np.mean(raw.predict(m.x_test[:500].reshape(500, -1) / 255.0).argmax(1) != yt)
  gab = minnorm.fit(m.x_train[:2000], y, "gaussian", bandwidth=2.0, features=minnorm.gabor_features)
  err_gab = np.mean(gab.predict(m.x_test[:500]).argmax(1) != yt)
  assert gab.residual < 1e-6 and err_gab < err_raw, (err_gab, err_raw)


def test_random_conv_gram_equals_features_gram():
  c = data.load("cifar10")
  key = jax.random.key(0)
  # 40 rows in blocks of 16: the lower triangle is accumulated block by block, then mirrored
  ktr, kte = minnorm.random_conv_gram(key, c.x_train[:40], c.x_test[:10], 96, filter_block=32, block=16)
  feats = [minnorm.random_conv_features(jax.random.fold_in(key, b), c.x_train[:40], 32) for b in range(3)]
  f = np.concatenate(feats, axis=1)
  assert f.shape == (40, 96 * 4)
  np.testing.assert_allclose(ktr, f @ f.T, rtol=1e-6)
  np.testing.assert_array_equal(ktr, ktr.T)
  ft = np.concatenate([minnorm.random_conv_features(jax.random.fold_in(key, b), c.x_test[:10], 32)
                       for b in range(3)], axis=1)
  np.testing.assert_allclose(kte, ft @ f.T, rtol=1e-6)
  p = minnorm.fit(ktr, c.y_train[:40], "precomputed", ridge=1e-6)
  assert minnorm.predict_precomputed(p, kte).shape == (10, 10)
  with pytest.raises(ValueError, match="precomputed"):
    p.predict(c.x_test[:2])


def _conv_relu_pool_reference(x, filters, bias, grid):
  """Plain numpy: every 6x6x3 window's dot product with every filter, ReLU(. - bias), cell means."""
  windows = np.lib.stride_tricks.sliding_window_view(x, filters.shape[:2], axis=(1, 2))  # [n, h, w, c, 6, 6]
  y = np.maximum(np.einsum("nhwcij,ijcf->nhwf", windows, filters, dtype=np.float64) - bias, 0.0)
  n, h, w, f = y.shape
  ch, cw = h // grid, w // grid
  cells = [[y[:, gy * ch:(gy + 1) * ch, gx * cw:(gx + 1) * cw].mean(axis=(1, 2)) for gx in range(grid)]
           for gy in range(grid)]
  return np.stack([np.stack(row, axis=1) for row in cells], axis=1).reshape(n, -1)


def test_random_conv_features_equal_a_numpy_reference_for_any_images_per_call():
  from rethink_jax.minnorm import features

  c = data.load("cifar10")
  x = features._standardize(c.x_train[:23])
  key = jax.random.key(1)
  filters = np.asarray(features._random_filters(key, 40, 6, 3), np.float64)
  for grid in (2, 3):
    ref = _conv_relu_pool_reference(x.astype(np.float64), filters, 1.0, grid)
    # block caps the images per call: 23 in one call; 4 per call, the last one padded; 1 per call
    for block in (1000, 4, 1):
      got = features._features(key, x, 40, 6, grid, 1.0, block)
      assert got.shape == (23, grid * grid * 40) and got.dtype == np.float32
      np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5, err_msg=f"grid {grid}, block {block}")


def test_images_per_call_keeps_the_maps_within_the_budget():
  from rethink_jax.minnorm import features

  if jax.default_backend() != "cpu":  # accelerators take whole blocks
    assert features._images_per_call(1000, 27, 27, block=1000) == 1000
    return
  per_image = 4 * 27 * 27 * 1000
  chunk = features._images_per_call(1000, 27, 27, block=1000)
  assert chunk * per_image <= features.RESPONSE_BYTES < (chunk + 1) * per_image
  assert features._images_per_call(1000, 27, 27, block=2) == min(2, chunk)
  assert features._images_per_call(10**7, 27, 27, block=1000) == 1  # one image over budget: still one per call


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_in_place_cholesky_with_refinement(dtype):
  from rethink_jax.minnorm import blocked

  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(700, 20)), rng.normal(size=(700, 3))
  k = minnorm.gaussian(x, x, 4.0)
  a = np.ascontiguousarray(np.triu(k).astype(dtype))  # only K's upper triangle is needed
  alpha, diag, history, shift, k_alpha = blocked.solve_refined(a, y, tile=128, ridge=1e-4)
  assert shift == 0.0
  ref = scipy_solve(k + 1e-4 * np.eye(700), y)
  assert history[-1] < 1e-12  # float64 residual even after a float32 factorisation
  upper = np.triu(k, 1).astype(dtype).astype(np.float64)  # K as stored, in float64
  k_alpha_ref = (upper + upper.T + np.diag(diag)) @ alpha
  np.testing.assert_allclose(k_alpha, k_alpha_ref, rtol=1e-9, atol=1e-9 * np.abs(k_alpha_ref).max())
  # forward error <= cond(K + rI) x residual: cond is ~4e6 here, so ~1e-6 relative is the honest bound
  rtol = 1e-5 if dtype == np.float32 else 1e-8
  np.testing.assert_allclose(alpha, ref, rtol=rtol, atol=rtol * np.abs(ref).max())
  np.testing.assert_array_equal(np.triu(a, 1), np.triu(k, 1).astype(dtype))  # K kept: one array, not two
  np.testing.assert_allclose(np.tril(a).astype(np.float64) @ np.tril(a).astype(np.float64).T,
                             k + 1e-4 * np.eye(700), atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factor_in_place_equals_lapack_whatever_the_tile_and_panel_blocks(dtype):
  """Tiles that do not divide n, panels solved in several blocks of rows (tile 24: blocks of
  PANEL_TILES * 24 rows) or in one: the factor LAPACK gives, the upper triangle untouched."""
  import scipy.linalg

  from rethink_jax.minnorm import blocked

  rng = np.random.default_rng(2)
  x = rng.normal(size=(500, 10))
  k = minnorm.gaussian(x, x, 3.0) + 1e-1 * np.eye(500)
  ref = scipy.linalg.cholesky(k, lower=True)
  assert 500 > blocked.PANEL_TILES * 24
  for tile in (24, 128, 1000):
    a = np.ascontiguousarray(k.astype(dtype))
    diag = blocked.factor_in_place(a, tile=tile)
    np.testing.assert_allclose(np.tril(a), ref, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(np.triu(a, 1), np.triu(k.astype(dtype), 1))
    np.testing.assert_array_equal(diag, np.diag(k.astype(dtype)).astype(np.float64))


def test_factor_in_place_refuses_an_indefinite_matrix_naming_the_minor():
  from rethink_jax.minnorm import blocked

  a = np.diag([1.0, 2.0, -3.0, 4.0])
  with pytest.raises(np.linalg.LinAlgError, match="leading minor 3 of 4"):
    blocked.factor_in_place(a, tile=2)  # the breakdown in the second tile


@pytest.mark.parametrize("n", [700, 128, 1])
def test_blocked_solve_in_the_factors_precision_equals_the_float64_solve(n):
  """The refinement's corrections run in float32 on the factor in place: same answer as
  the float64 solve to float32 accuracy, for sizes that are and are not tile multiples."""
  from rethink_jax.minnorm import blocked

  rng = np.random.default_rng(1)
  x, b = rng.normal(size=(n, 20)), rng.normal(size=(n, 3)) * 1e30  # a float32 overflow unless scaled
  k = minnorm.gaussian(x, x, 4.0) + 1e-2 * np.eye(n)
  a = np.ascontiguousarray(k.astype(np.float32))
  blocked.factor_in_place(a, tile=128)
  upper = np.triu(a, 1).copy()
  x64 = blocked.solve_factored(a, b, tile=128)
  x32 = blocked.solve_factored(a, b, tile=128, dtype=np.float32)
  assert x32.dtype == np.float64 and x32.shape == (n, 3) and np.all(np.isfinite(x32))
  np.testing.assert_allclose(x32, x64, rtol=1e-3, atol=1e-4 * np.abs(x64).max())
  np.testing.assert_array_equal(np.triu(a, 1), upper)  # the solve reads L and writes nothing


def scipy_solve(a, b):
  import scipy.linalg
  return scipy.linalg.solve(a, b, assume_a="pos")


@pytest.mark.parametrize("script,args", [
    ("minnorm_mnist.py", ["--config.data.max_train=800"]),
    ("minnorm_cifar.py", ["--config.data.max_train=200", "--config.num_filters=64", "--config.filter_block=32"]),
])
def test_minnorm_scripts_end_to_end(tmp_path, script, args):
  import json
  import pathlib
  import subprocess
  import sys

  repo = pathlib.Path(__file__).resolve().parents[1]
  out = subprocess.run([sys.executable, str(repo / "experiments" / script), "--workdir", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  record = json.loads((tmp_path / "results.json").read_text())
  rows = record["results"]
  assert record["environment"]["git"] == records.git_hash()  # taken at the start: nothing changed since
  assert len(rows) >= 2 and all(r["residual"] < 1e-6 and 0.0 <= r["test_error"] < 0.9 for r in rows)
  assert "test error" in out.stdout


BAD_CONFIGS = [
    ("minnorm_cifar.py", "--config.num_filters=0", "config.num_filters = 0: must be a positive integer"),
    ("minnorm_cifar.py", "--config.ridges=(-1.0,)", "config.ridges = (-1.0,): must be a non-empty list"),
    ("minnorm_cifar.py", "--config.methods=('gauss',)", "config.methods = ('gauss',): must be a non-empty list of"),
    ("minnorm_cifar.py", "--config.data.max_train=5000", "config.data.max_train = 5000: must be at most the 2,000"),
    ("minnorm_mnist.py", "--config.raw_bandwidth=-1.0", "config.raw_bandwidth = -1.0: must be a finite number > 0"),
    ("minnorm_mnist.py", "--config.solver=lu", "config.solver = 'lu': must be one of 'auto', 'cholesky', 'cg'"),
    ("minnorm_mnist.py", "--config.features=()", "config.features = (): must be a non-empty list of 'raw', 'gabor'"),
]


@pytest.fixture(scope="module")
def bad_config_runs(tmp_path_factory):
  """Each bad config's run, each its own process (one import for all: helpers/cli_batch.py)."""
  import pathlib

  from helpers import cli_batch

  repo = pathlib.Path(__file__).resolve().parents[1]
  argvs = [[repo / "experiments" / script, "--workdir", "run", arg] for script, arg, _ in BAD_CONFIGS]
  return cli_batch.run_in_new_dirs(argvs, tmp_path_factory, "bad")  # "run" is relative to each new directory


@pytest.mark.xdist_group("minnorm_bad_configs")
@pytest.mark.parametrize("index", range(len(BAD_CONFIGS)), ids=[a for _, a, _ in BAD_CONFIGS])
def test_minnorm_scripts_refuse_bad_config_in_one_line(bad_config_runs, index):
  expected = BAD_CONFIGS[index][2]
  out, tmp_path = bad_config_runs[index]
  assert out.returncode == 2, out.stderr[-3000:]
  assert out.stderr.strip() == f"error: {expected}" or out.stderr.strip().startswith(f"error: {expected}")
  assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_float32_breakdown_is_rescued_by_a_shifted_preconditioner():
  from rethink_jax.minnorm import blocked

  rng = np.random.default_rng(1)
  x = rng.normal(size=(600, 3))
  k = minnorm.gaussian(x, x, 3.0)  # smooth kernel on few dimensions: eigenvalues far below float32 rounding
  y = k @ rng.normal(size=(600, 2))  # consistent targets, so an interpolant exists
  with pytest.raises(np.linalg.LinAlgError):
    blocked.solve_refined(np.ascontiguousarray(k.astype(np.float32)), y, tile=128)
  a = np.ascontiguousarray(k.astype(np.float32))
  alpha, _, history, shift, _ = blocked.solve_refined(a, y, tile=128, jitters=(1e-6, 1e-5, 1e-4, 1e-3))
  assert shift > 0 and history[-1] < history[0] and history[-1] < 1e-3
  r = np.linalg.norm(k.astype(np.float32).astype(np.float64) @ alpha - y) / np.linalg.norm(y)
  assert r == pytest.approx(history[-1], rel=1e-6)


def test_no_nan_predictor_bad_inputs_raise_before_any_work():
  rng = np.random.default_rng(0)
  x, labels = rng.normal(size=(40, 6)), np.arange(40) % 3
  with pytest.raises(ValueError, match=r"inputs x contain 1 non-finite values"):
    minnorm.fit(np.where(np.arange(240).reshape(40, 6) == 7, np.inf, x), labels, "linear")
  with pytest.raises(ValueError, match=r"targets contain 2 non-finite values"):
    minnorm.fit(x, np.r_[rng.normal(size=38), np.nan, np.inf], "linear")
  with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 3 classes; got \[-1\]"):
    minnorm.fit(x, np.r_[labels[:-1], -1], "linear")
  with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 3 classes; got \[7\]"):
    minnorm.fit(x, np.r_[labels[:-1], 7], "linear", num_classes=3)
  with pytest.raises(ValueError, match=r"got shape \(0, 6\)"):
    minnorm.fit(np.zeros((0, 6)), np.zeros(0, np.int32), "linear")
  with pytest.raises(ValueError, match=r"ridge must be a finite number >= 0"):
    minnorm.fit(x, labels, "linear", ridge=-1.0)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_duplicate_inputs_with_different_targets_are_named(solver):
  rng = np.random.default_rng(1)
  x, labels = rng.normal(size=(40, 60)), np.arange(40) % 3
  x[25] = x[4]
  labels[25] = (labels[4] + 1) % 3
  with pytest.raises(ValueError, match="inputs 4 and 25 are identical but their targets differ"):
    minnorm.fit(x, labels, "gaussian", bandwidth=8.0, solver=solver)
  labels[25] = labels[4]  # consistent duplicates: K is singular but an interpolant exists
  p = minnorm.fit(x, labels, "gaussian", bandwidth=8.0, solver="cg")
  assert np.all(np.isfinite(p.alpha)) and p.residual < 1e-6
  assert np.all(np.isfinite(minnorm.fit(x, np.r_[labels[:25], (labels[4] + 1) % 3, labels[26:]], "gaussian",
                                        bandwidth=8.0, ridge=1e-3).alpha))  # ridge: fine


def test_cg_whose_residual_becomes_non_finite_raises_with_the_iteration():
  from rethink_jax.minnorm import solve

  k = np.diag([1.0, 1e-300, 1.0])  # an operator that overflows: the residual turns inf, then NaN
  with np.errstate(over="ignore", invalid="ignore"), \
       pytest.raises(FloatingPointError, match=r"non-finite at iteration \d+"):
    solve._pcg(lambda v: k @ v * 1e308, np.ones((3, 1)), lambda v: v, 1e-12, 50)


def test_predict_checks_shapes_and_predictor_repr_is_short():
  rng = np.random.default_rng(2)
  x, labels = rng.normal(size=(30, 8)), np.arange(30) % 2
  p = minnorm.fit(x, labels, "gaussian", bandwidth=3.0)
  with pytest.raises(ValueError, match=r"shape \(4, 5\) \(5 features each\); the predictor was fitted on 8"):
    p.predict(np.zeros((4, 5)))
  with pytest.raises(ValueError, match=r"got shape \(0, 8\)"):
    p.predict(np.zeros((0, 8)))
  text = repr(p)
  assert text.startswith("Predictor(n=30, outputs=2, features=8, kernel=gaussian, solver=cholesky, backend=numpy, "
                         "residual=")
  assert f"norm={p.norm():.4g}" in text and len(text) < 200


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precomputed_fit_in_place_restores_the_callers_matrix(mnist_small, dtype):
  x, y, _, _ = mnist_small
  k = np.asarray(minnorm.gram(lambda a, b: minnorm.gaussian(a, b, 5.0), x[:600]), dtype)
  before = k.copy()
  copied = minnorm.fit(k, y[:600], "precomputed", ridge=1e-3, dtype=dtype)  # the same arithmetic, on a copy
  in_place = minnorm.fit(k, y[:600], "precomputed", ridge=1e-3, copy_k=False)
  np.testing.assert_array_equal(k, before)  # solved in the caller's array, then put back
  np.testing.assert_allclose(in_place.alpha, copied.alpha, rtol=1e-9, atol=1e-12)
  assert in_place.residual == pytest.approx(copied.residual, rel=1e-6, abs=1e-14)
  indefinite = (np.ones((50, 50)) - 3 * np.eye(50)).astype(dtype)  # every factorisation fails: k comes back intact
  with pytest.raises(ValueError, match="not numerically positive definite"):
    minnorm.fit(indefinite, np.arange(50) % 2, "precomputed", copy_k=False)
  np.testing.assert_array_equal(indefinite, (np.ones((50, 50)) - 3 * np.eye(50)).astype(dtype))
  with pytest.raises(ValueError, match="copy_k=False needs the Cholesky solver"):
    minnorm.fit(k, y[:600], "precomputed", copy_k=False, solver="cg")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precomputed_fit_in_place_on_a_leading_block_is_the_fit_on_those_examples(mnist_small, dtype):
  # a held-out split of a Gram matrix too large to copy: fit K[:m, :m] where it lies, predict with K[m:, :m]
  x, y, _, _ = mnist_small
  k = np.asarray(minnorm.gram(lambda a, b: minnorm.gaussian(a, b, 5.0), x[:700]), dtype)
  before, m = k.copy(), 500
  block = k[:m, :m]
  assert not block.flags.c_contiguous
  copied = minnorm.fit(np.ascontiguousarray(block), y[:m], "precomputed", ridge=1e-3, dtype=dtype)
  in_place = minnorm.fit(block, y[:m], "precomputed", ridge=1e-3, copy_k=False)
  np.testing.assert_array_equal(k, before)  # the block solved in place and put back; the rest never written
  np.testing.assert_allclose(in_place.alpha, copied.alpha, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(minnorm.predict_precomputed(in_place, k[m:, :m]),
                             minnorm.predict_precomputed(copied, k[m:, :m]), rtol=1e-9, atol=1e-12)
  for strided in (k[:m:2, :m:2], k.T[:m, :m]):  # rows not contiguous: a copy would be needed, so refused
    with pytest.raises(ValueError, match="contiguous rows"):
      minnorm.fit(strided, y[:len(strided)], "precomputed", copy_k=False)
  np.testing.assert_array_equal(k, before)


def test_fit_range_checks_labels_before_any_cast_and_checks_num_classes():
  rng = np.random.default_rng(3)
  x, labels = rng.normal(size=(20, 30)), np.arange(20) % 4  # d > n: the linear kernel interpolates
  for bad, k in ((2**64 - 1, 4), (-1, 4), (4, 4)):
    dtype = np.uint64 if bad > 2**63 else np.int64  # int64 and uint64 together would promote to float64
    y = np.concatenate([labels[:-1].astype(dtype), np.array([bad], dtype)])
    with pytest.raises(ValueError, match=rf"minnorm: labels must lie in \[0, 4\) for 4 classes; got \[{bad}\] "
                                         r"\(1 of 20 labels\)"):
      minnorm.fit(x, y, "linear", num_classes=k)
  # one huge label with num_classes unset: a clear error naming it, not a K x K identity allocation
  with pytest.raises(ValueError, match=r"largest label, 1099511627776, implies 1099511627777 classes"):
    minnorm.fit(x, np.r_[labels[:-1], 2**40], "linear")
  for k in (0, -3, True, 2.5):
    with pytest.raises(ValueError, match=r"num_classes must be an int >= 1"):
      minnorm.fit(x, labels, "linear", num_classes=k)
  # float labels with num_classes would silently be fitted as one real target: refused
  with pytest.raises(ValueError, match=r"num_classes=4 is for \[n\] integer labels, but y holds float64"):
    minnorm.fit(x, labels.astype(np.float64), "linear", num_classes=4)
  with pytest.raises(ValueError, match="integer labels or real values, got dtype bool"):
    minnorm.fit(x, labels % 2 == 0, "linear")
  # K from uint8 labels is computed as a Python int: label 255 gives 256 classes, not 255 + 1 = 0
  y8 = np.r_[labels[:-1], 255].astype(np.uint8)
  p = minnorm.fit(x, y8, "linear", ridge=1e-8)
  assert p.alpha.shape == (20, 256)
  np.testing.assert_array_equal(np.argmax(p.predict(x), axis=1), y8)
  np.testing.assert_array_equal(minnorm.encode_targets(y8), np.eye(256)[y8])  # any integer dtype, same one-hot
  np.testing.assert_allclose(minnorm.encode_targets(np.eye(3)[[0, 2]], num_classes=3), np.eye(3)[[0, 2]])


def test_kernels_refuse_bad_points_and_bandwidths_but_still_trace():
  rng = np.random.default_rng(0)
  x, z = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
  for kernel in (minnorm.gaussian, minnorm.laplacian):
    for bad in (0.0, -1.0, np.nan, np.inf):  # 0 gave a NaN diagonal, a negative one was silently accepted
      with pytest.raises(ValueError, match=rf"the {kernel.__name__} kernel needs a finite positive bandwidth"):
        kernel(x, z, bad)
    with pytest.raises(TypeError, match=r"bandwidth must be a real number, got '1' \(str\)"):
      kernel(x, z, "1")
    with pytest.raises(ValueError, match=r"x must be \[n, d\] points \(one per row\), got shape \(3,\)"):
      kernel(x[0], z, 1.0)
  with pytest.raises(ValueError, match="x has 3 features per point and z has 4"):
    minnorm.linear(x, rng.normal(size=(2, 4)))
  with pytest.raises(ValueError, match=r"z contains 2 non-finite values"):
    minnorm.laplacian(x, np.where(np.arange(12).reshape(4, 3) < 2, np.nan, z), 1.0)
  with pytest.raises(ValueError, match=r"x contains 1 non-finite values"):
    minnorm.gaussian(jnp.asarray(x).at[0, 0].set(jnp.inf), jnp.asarray(z), 1.0)  # concrete JAX arrays too
  # under jit only shapes are known: values are not checked, and a traced bandwidth is allowed
  traced = jax.jit(lambda a, b, bw: minnorm.gaussian(a, b, bw))(x, z, 2.0)
  np.testing.assert_allclose(traced, minnorm.gaussian(x, z, 2.0), rtol=1e-5)
  for bad in ("1", [1.0]):
    with pytest.raises(TypeError, match="bandwidth must be a real number"):
      minnorm.fit(x, np.arange(5) % 2, "gaussian", bandwidth=bad)
  # a bandwidth no kernel would use was silently ignored: another kernel than the caller meant
  y = np.arange(5) % 2
  with pytest.raises(ValueError, match="bandwidth= is for the gaussian and laplacian kernels; the linear kernel has"):
    minnorm.fit(x, y, "linear", bandwidth=2.0)
  with pytest.raises(ValueError, match="a callable kernel carries its own"):
    minnorm.fit(x, y, minnorm.linear, bandwidth=2.0)
  with pytest.raises(ValueError, match="a precomputed Gram matrix has none"):
    minnorm.fit(minnorm.linear(x, x) + np.eye(5), y, "precomputed", bandwidth=2.0)


def test_gram_checks_its_points_its_block_and_what_the_kernel_returns():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 3))
  with pytest.raises(ValueError, match=r"x must be \[n, d\] points"):  # was a 5 x 5 matrix of one scalar
    minnorm.gram(minnorm.linear, x[:, 0])
  with pytest.raises(ValueError, match="x has 3 features per point and z has 4"):
    minnorm.gram(minnorm.linear, x, rng.normal(size=(2, 4)))
  with pytest.raises(ValueError, match=r"x contains 4 non-finite values"):
    minnorm.gram(minnorm.linear, np.full((2, 2), np.nan))
  with pytest.raises(ValueError, match="block must be a positive integer, got 0"):
    minnorm.gram(minnorm.linear, x, block=0)
  with pytest.raises(ValueError, match=r"kernel returned shape \(\) for 5 x 5 points"):  # once broadcast silently
    minnorm.gram(lambda a, b: 1.0, x)
  with pytest.raises(ValueError, match=r"kernel returned non-finite values for rows 0:5, columns 0:5"):
    minnorm.fit(x, np.arange(5) % 2, lambda a, b: np.full((len(a), len(b)), np.nan))
  with pytest.raises(ValueError, match=r"out must have shape \(5, 5\)"):
    minnorm.gram(minnorm.linear, x, out=np.empty((4, 5)))


def test_fit_checks_every_argument_before_any_work():
  rng = np.random.default_rng(0)
  x, labels = rng.normal(size=(8, 20)), np.arange(8) % 2
  with pytest.raises(TypeError, match=r"ridge must be a real number, got '0.1' \(str\)"):
    minnorm.fit(x, labels, "linear", ridge="0.1")
  with pytest.raises(ValueError, match="tol must be a finite number >= 0, got -1"):
    minnorm.fit(x, labels, "linear", solver="cg", tol=-1)
  with pytest.raises(ValueError, match="max_iter must be a positive integer, got 0"):
    minnorm.fit(x, labels, "linear", solver="cg", max_iter=0)
  with pytest.raises(ValueError, match="precond_rank must be a positive integer, got 0"):
    minnorm.fit(x, labels, "gaussian", bandwidth=1.0, solver="cg", precond_rank=0)
  for dtype in (np.int32, np.float16):  # were reported as "Cholesky failed ... use ridge > 0"
    with pytest.raises(ValueError, match=rf"dtype must be float32 or float64 .*, got {np.dtype(dtype).name}"):
      minnorm.fit(x, labels, "linear", dtype=dtype)
  with pytest.raises(ValueError, match=r"memory_limit must be a number of bytes > 0"):
    minnorm.fit(x, labels, "linear", memory_limit=-5)
  with pytest.raises(ValueError, match=r"features returned shape \(2, 20\) for 8 inputs"):
    minnorm.fit(x, labels, "linear", features=lambda a: a[:2])
  p = minnorm.fit(x, labels, "linear")
  with pytest.raises(ValueError, match="block must be a positive integer, got 0"):
    p.predict(x, block=0)
  with pytest.raises(ValueError, match=r"inputs x_new contain 1 non-finite values"):
    p.predict(np.where(np.arange(160).reshape(8, 20) == 3, np.nan, x))
  with pytest.raises(ValueError, match="n must be an integer >= 0, got -5"):
    minnorm.memory_needed(-5)


def test_precomputed_gram_must_be_finite_and_symmetric_and_its_test_block_the_right_width():
  from rethink_jax.minnorm import solve

  labels = np.arange(5) % 3
  with pytest.raises(ValueError, match=r"x to be a square \[n, n\] Gram matrix with n > 0, got shape \(5, 4\)"):
    minnorm.fit(np.ones((5, 4)), labels, "precomputed")
  with pytest.raises(ValueError, match=r"the precomputed Gram matrix x contains 25 non-finite values"):
    minnorm.fit(np.full((5, 5), np.nan), labels, "precomputed")
  with pytest.raises(ValueError, match=r"the precomputed Gram matrix x must hold real numbers, got dtype bool"):
    minnorm.fit(np.eye(5, dtype=bool), labels, "precomputed")
  # only the upper triangle is factored: this was solved as if mirrored, with residual 1e-16
  with pytest.raises(ValueError, match=r"symmetric Gram matrix x, but x\[0, 1\] = 1 and x\[1, 0\] = 0"):
    minnorm.fit(np.triu(np.ones((5, 5))) + 5 * np.eye(5), labels, "precomputed")
  f = np.random.default_rng(0).normal(size=(150, 4))
  k = f @ f.T + np.eye(150)
  k[130, 7] += 1e-3 * k[7, 7]  # one entry, in another tile than its mirror
  with pytest.raises(ValueError, match=r"x\[7, 130\] = .* and x\[130, 7\] = "):
    solve._check_precomputed(k, tile=64)
  k[130, 7] = k[7, 130] * (1 + 1e-6)  # float32-sized rounding passes
  k[3, 4] = np.float32(k[4, 3])
  solve._check_precomputed(k, tile=64)
  p = minnorm.fit(np.eye(5) * 2, labels, "precomputed")
  with pytest.raises(ValueError, match=r"k_new_train must be \[n_new, 5\] .*, got shape \(2, 4\)"):
    minnorm.predict_precomputed(p, np.ones((2, 4)))
  with pytest.raises(ValueError, match=r"k_new_train must be \[n_new, 5\] .*, got shape \(5,\)"):
    minnorm.predict_precomputed(p, np.ones(5))  # returned a [3] vector
  with pytest.raises(ValueError, match=r"k_new_train contains 2 non-finite values"):
    minnorm.predict_precomputed(p, np.where(np.arange(10).reshape(2, 5) % 7 == 0, np.nan, 1.0))


def test_min_norm_linear_names_its_bad_arguments():
  x = np.random.default_rng(0).normal(size=(4, 6))
  with pytest.raises(ValueError, match=r"x must be \[n, \.\.\.\] with n > 0 .*, got shape \(0, 3\)"):
    minnorm.min_norm_linear(np.zeros((0, 3)), np.zeros(0))
  with pytest.raises(ValueError, match="y must hold real numbers, got dtype <U"):
    minnorm.min_norm_linear(x, np.arange(4).astype(str))  # was silently parsed as numbers
  with pytest.raises(ValueError, match="x contains 1 non-finite values"):
    minnorm.min_norm_linear(np.where(np.arange(24).reshape(4, 6) == 5, np.inf, x), np.ones(4))


def test_random_conv_features_and_gram_refuse_bad_images_and_arguments():
  key, x = jax.random.key(0), np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3)).astype(np.uint8)
  cases = [  # (arguments, error, message); each was NaN, a silently meaningless result, or a deep JAX error
      (dict(images=x, size=20), ValueError, r"size must be in \[1, 8\] for 8x8 images, got 20"),
      (dict(images=x, grid=10), ValueError, r"grid must be in \[1, 6\] for the 6x6 maps of 3x3 filters"),
      (dict(images=x, grid=0), ValueError, "grid must be a positive integer, got 0"),
      (dict(images=x, num_filters=0), ValueError, "num_filters must be a positive integer, got 0"),
      (dict(images=x, block=0), ValueError, "block must be a positive integer, got 0"),
      (dict(images=x, bias=np.nan), ValueError, "bias must be a finite number"),
      (dict(images=x[..., 0]), ValueError, r"images must be \[N, H, W, C\] images .*, got shape \(3, 8, 8\)"),
      (dict(images=x[:0]), ValueError, r"got shape \(0, 8, 8, 3\)"),
      (dict(images=np.full((2, 8, 8, 3), np.nan)), ValueError, "images contains 384 non-finite values"),
      (dict(images=x, key=0), TypeError, r"key must be a jax.random.key\(\.\.\.\), got int"),
      (dict(images=x, key=jax.random.split(key)), ValueError, "single jax.random.key"),
  ]
  for kw, error, message in cases:
    kw = {"key": key, "num_filters": 4, "size": 3, **kw}
    with pytest.raises(error, match=message):
      minnorm.random_conv_features(kw.pop("key"), kw.pop("images"), kw.pop("num_filters"), **kw)
  gram = lambda xt, **kw: minnorm.random_conv_gram(key, x, xt, 4, size=3, **kw)
  with pytest.raises(ValueError, match=r"x_test has 1 channel\(s\); the training images have 3"):
    gram(x[..., :1])  # test features came from other filters: a meaningless K_test
  with pytest.raises(ValueError, match="x_test holds 6x6 images; the training images are 8x8"):
    gram(x[:, :6, :6])
  with pytest.raises(ValueError, match="filter_block must be a positive integer, got 0"):
    gram(x, filter_block=0)
  with pytest.raises(ValueError, match="dtype must be float32 or float64 .*, got int32"):
    gram(x, dtype=np.int32)  # integer sums would truncate
  with pytest.raises(ValueError, match="x_train contains 384 non-finite values"):
    minnorm.random_conv_gram(key, np.full((2, 8, 8, 3), np.nan), x, 4, size=3)


def test_gabor_features_and_bank_refuse_bad_arguments():
  x = np.random.default_rng(0).integers(0, 255, (3, 8, 8)).astype(np.uint8)
  with pytest.raises(ValueError, match="images contains 128 non-finite values"):
    minnorm.gabor_features(np.full((2, 8, 8), np.nan), size=5)
  with pytest.raises(ValueError, match=r"pool must be in \[1, 8\] for 8x8 images, got 10"):  # was [N, 0]
    minnorm.gabor_features(x, size=5, pool=10)
  with pytest.raises(ValueError, match="pool must be a positive integer, got 0"):
    minnorm.gabor_features(x, size=5, pool=0)
  with pytest.raises(ValueError, match="block must be a positive integer, got 0"):
    minnorm.gabor_features(x, size=5, block=0)
  for bad in (x[0], x[:0]):
    with pytest.raises(ValueError, match=r"images must be grey images \[N, H, W\] or \[N, H, W, 1\] with N > 0"):
      minnorm.gabor_features(bad, size=5)
  with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
    minnorm.gabor_bank(0)
  with pytest.raises(ValueError, match="size must be an odd integer >= 3"):  # 4 gave 5x5 filters
    minnorm.gabor_bank(4)
  with pytest.raises(ValueError, match="orientations must be a positive integer, got 0"):
    minnorm.gabor_bank(5, orientations=0)
  with pytest.raises(ValueError, match=r"scales must be one or more finite numbers > 0, got \(0.0,\)"):
    minnorm.gabor_bank(5, scales=(0.0,))
  with pytest.raises(ValueError, match=r"scales \(0.001,\) are too small for 5x5 filters"):  # were NaN
    minnorm.gabor_bank(5, scales=(1e-3,))
