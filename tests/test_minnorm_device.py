"""The JAX path of the min-norm solve (``backend="jax"``), forced on CPU, against the numpy path.

Tolerance: both paths solve the same float64 system to a relative residual of at most
1e-10 (the numpy path with a float64 factor, the JAX path with a float32 factor and float64
refinement), so their coefficients differ by at most about cond(K) x 1e-10 relative:
measured 1e-12 to 4e-8 on these MNIST systems; the tests allow 1e-6 for the coefficients
and 1e-7 for the predictions, and require the same predicted classes.
"""

import numpy as np
import pytest

from rethink_jax import data, minnorm
from rethink_jax.minnorm import device


@pytest.fixture(scope="module")
def mnist():
  m = data.load("mnist")
  return m.x_train[:800].reshape(800, -1) / 255.0, m.y_train[:800], m.x_test[:300].reshape(300, -1) / 255.0


def _agree(a, b, x_new):
  assert b.backend == "jax" and a.backend == "numpy"
  assert a.residual <= 1e-9 and b.residual <= 1e-9, (a.residual, b.residual)
  assert np.max(np.abs(a.alpha - b.alpha)) <= 1e-6 * np.max(np.abs(a.alpha))
  pa, pb = a.predict(x_new), b.predict(x_new)
  assert np.max(np.abs(pa - pb)) <= 1e-7 * np.max(np.abs(pa))
  np.testing.assert_array_equal(pa.argmax(1), pb.argmax(1))
  assert b.norm() == pytest.approx(a.norm(), rel=1e-8)


@pytest.mark.parametrize("kernel,bandwidth,n", [("gaussian", 5.0, 800), ("laplacian", 10.0, 800), ("linear", None, 500)])
def test_jax_path_equals_numpy_path_on_mnist(mnist, kernel, bandwidth, n):
  x, y, x_test = mnist
  a = minnorm.fit(x[:n], y[:n], kernel, bandwidth=bandwidth, backend="numpy")
  b = minnorm.fit(x[:n], y[:n], kernel, bandwidth=bandwidth, backend="jax")
  _agree(a, b, x_test)


def test_jax_path_equals_numpy_path_on_random_data_with_ridge():
  rng = np.random.default_rng(3)
  x, targets = rng.normal(size=(700, 40)), rng.normal(size=(700, 3))
  a = minnorm.fit(x, targets, "gaussian", bandwidth=4.0, ridge=1e-2, backend="numpy")
  b = minnorm.fit(x, targets, "gaussian", bandwidth=4.0, ridge=1e-2, backend="jax")
  np.testing.assert_allclose(b.alpha, a.alpha, rtol=1e-7, atol=1e-9 * np.abs(a.alpha).max())
  np.testing.assert_allclose(b.predict(x[:50] + 0.1), a.predict(x[:50] + 0.1), rtol=1e-7, atol=1e-10)


def test_device_gram_tiles_cover_every_row():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(37, 5)).astype(np.float32)
  k = np.asarray(device.gram(minnorm.linear, x, tile=8))  # 37 rows: tiles start at 0, 8, 16, 24, 29
  np.testing.assert_allclose(k, x @ x.T, rtol=1e-5, atol=1e-5)


def test_backend_choice_and_errors():
  rng = np.random.default_rng(5)
  x, y = rng.normal(size=(30, 4)), np.arange(30) % 2
  assert not device.accelerator_present()  # this suite runs on CPU
  assert minnorm.fit(x, y, "gaussian", bandwidth=2.0).backend == "numpy"  # auto: numpy on CPU
  with pytest.raises(ValueError, match="backend must be 'auto', 'numpy' or 'jax'"):
    minnorm.fit(x, y, "gaussian", bandwidth=2.0, backend="gpu")
  with pytest.raises(ValueError, match="use backend='numpy' for kernel='precomputed' or solver='cg'"):
    minnorm.fit(x, y, "gaussian", bandwidth=2.0, backend="jax", solver="cg")
  with pytest.raises(ValueError, match="non-finite"):  # checked before anything reaches the device
    minnorm.fit(np.where(x > 1.5, np.nan, x), y, "linear", backend="jax")


def test_doublefloat_transformations_are_exact():
  from rethink_jax.minnorm import doublefloat

  rng = np.random.default_rng(7)
  a = (rng.normal(size=10_000) * 10.0 ** rng.integers(-8, 8, 10_000)).astype(np.float32)
  b = (rng.normal(size=10_000) * 10.0 ** rng.integers(-8, 8, 10_000)).astype(np.float32)
  s, e = (np.asarray(v, np.float64) for v in doublefloat.two_sum(a, b))
  np.testing.assert_array_equal(s + e, a.astype(np.float64) + b.astype(np.float64))  # exact in float64
  p, e = (np.asarray(v, np.float64) for v in doublefloat.two_prod(a, b))
  np.testing.assert_array_equal(p + e, a.astype(np.float64) * b.astype(np.float64))  # 48 bits: exact in float64
  # a sum of 1,000 terms that cancel: double-float32 keeps what float32 loses
  terms = np.concatenate([rng.normal(size=500) * 1e4, rng.normal(size=500)]).astype(np.float32)
  terms = np.concatenate([terms, -terms[:500]]).astype(np.float32)
  exact = np.sum(terms[500:1000].astype(np.float64))
  hi, lo = doublefloat.sum_rows(terms[None], np.zeros_like(terms)[None])
  assert abs(doublefloat.to_float64(hi, lo)[0] - exact) <= 1e-12 * np.sum(np.abs(terms))


def test_doublefloat_refinement_converges_where_float32_stalls(mnist):
  """The TPU path (no float64), run on CPU: plain float32 residuals stall near 1e-6;
  double-float32 residuals converge for K rounded to float32 (its own matvec: 1e-12), and
  the solution's residual against the exact K is then limited only by that rounding."""
  import functools

  import jax

  x, y, _ = mnist
  x32 = x[:600].astype(np.float32)
  targets = minnorm.encode_targets(y[:600], None, "onehot")
  k_fn = functools.partial(minnorm.gaussian, bandwidth=5.0)
  plain = device.solve(k_fn, x32, targets, ridge=0.0, tol=1e-12, arithmetic="float32")
  paired = device.solve(k_fn, x32, targets, ridge=0.0, tol=1e-12, arithmetic="float32x2")
  wide = device.solve(k_fn, x32, targets, ridge=0.0, tol=1e-12, arithmetic="float64")
  assert min(plain["history"]) > 1e-7  # float32 accumulation: stalls
  assert paired["history"][-1] <= 1e-12 and wide["history"][-1] <= 1e-12
  with jax.enable_x64(True):
    k64 = np.asarray(jax.jit(k_fn)(x32.astype(np.float64), x32.astype(np.float64)))
  true_residual = lambda a: np.linalg.norm(k64 @ a - targets) / np.linalg.norm(targets)
  assert true_residual(paired["alpha"]) < true_residual(plain["alpha"])
  assert true_residual(paired["alpha"]) < 2e-6  # float32 rounding of the kernel entries
  with pytest.raises(ValueError, match="arithmetic must be one of"):
    device.solve(k_fn, x32, targets, ridge=0.0, tol=1e-12, arithmetic="float16")
