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
