"""The min-norm solve with K sharded by rows over 4 CPU devices, against one device.

Tolerance: as in test_minnorm_device.py, both solves refine the same float64 system to a
relative residual of at most 1e-10 from different float32 factors (one blocked and
distributed, one LAPACK), so their coefficients may differ by about cond(K) x 1e-10
relative; the test allows 1e-6 for the coefficients and 1e-7 for the predictions and
requires the same predicted classes.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rethink_jax.minnorm import sharded

FOUR_DEVICES = textwrap.dedent("""
    import functools, sys
    import jax
    jax.config.update("jax_num_cpu_devices", 4)
    import numpy as np
    from rethink_jax import data, minnorm
    from rethink_jax.minnorm import device

    assert len(jax.devices()) == 4
    m = data.load("mnist")
    x, y = m.x_train[:600].reshape(600, -1) / 255.0, m.y_train[:600]
    x_test = m.x_test[:200].reshape(200, -1) / 255.0
    one = minnorm.fit(x, y, "gaussian", bandwidth=5.0, backend="jax", devices=jax.devices()[:1])
    four = minnorm.fit(x, y, "gaussian", bandwidth=5.0, backend="jax")  # every device: sharded
    # several blocks per device (block-cyclic rows, padding), with a ridge
    rng = np.random.default_rng(0)
    xr, tr = rng.normal(size=(203, 12)), rng.normal(size=(203, 3))
    k = functools.partial(minnorm.gaussian, bandwidth=4.0)
    with jax.enable_x64(True):
      a = device.solve(k, xr, tr, ridge=1e-3, tol=1e-12, devices=jax.devices()[:1])
      b = device.solve(k, xr, tr, ridge=1e-3, tol=1e-12, tile=16)
    c = device.solve(k, xr, tr, ridge=1e-3, tol=1e-12, tile=16, arithmetic="float32x2")  # as on TPUs
    np.savez(sys.argv[1], one_alpha=one.alpha, four_alpha=four.alpha, one_res=one.residual, four_res=four.residual,
             one_pred=one.predict(x_test), four_pred=four.predict(x_test), one_norm=one.norm(), four_norm=four.norm(),
             a=a["alpha"], b=b["alpha"], a_hist=a["history"][-1], b_hist=b["history"][-1],
             c=c["alpha"], c_hist=c["history"][-1])
""")


@pytest.fixture(scope="module")
def four_device_results(tmp_path_factory):
  out = tmp_path_factory.mktemp("sharded") / "out.npz"
  proc = subprocess.run([sys.executable, "-c", FOUR_DEVICES, str(out)], capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return dict(np.load(out))


@pytest.mark.xdist_group("four_device_solve")  # one worker: the subprocess fixture runs once
def test_sharded_solve_equals_one_device_on_mnist(four_device_results):
  r = four_device_results
  assert r["one_res"] <= 1e-9 and r["four_res"] <= 1e-9, (r["one_res"], r["four_res"])
  assert np.max(np.abs(r["one_alpha"] - r["four_alpha"])) <= 1e-6 * np.max(np.abs(r["one_alpha"]))
  assert np.max(np.abs(r["one_pred"] - r["four_pred"])) <= 1e-7 * np.max(np.abs(r["one_pred"]))
  np.testing.assert_array_equal(r["one_pred"].argmax(1), r["four_pred"].argmax(1))
  assert float(r["four_norm"]) == pytest.approx(float(r["one_norm"]), rel=1e-8)


@pytest.mark.xdist_group("four_device_solve")
def test_sharded_solve_with_many_blocks_per_device_and_ridge(four_device_results):
  r = four_device_results
  assert r["a_hist"] <= 1e-12 and r["b_hist"] <= 1e-12
  np.testing.assert_allclose(r["b"], r["a"], rtol=1e-8, atol=1e-10 * np.abs(r["a"]).max())
  # double-float32 refinement on the shards converges for K rounded to float32, whose solution
  # differs from the float64 one by about cond(K) x float32 rounding
  assert r["c_hist"] <= 1e-10  # measured 1.9e-12
  np.testing.assert_allclose(r["c"], r["a"], rtol=0, atol=1e-4 * np.abs(r["a"]).max())


@pytest.mark.parametrize("n,devices,tile", [(203, 4, 16), (600, 4, 2048), (1000, 8, 64), (5, 2, 2048), (64, 1, 16)])
def test_layout_is_block_cyclic_with_little_padding(n, devices, tile):
  lay = sharded.Layout(n, devices, tile)
  assert sorted(lay.perm) == list(range(lay.n_pad))  # a permutation of the padded rows
  assert lay.block <= tile and lay.num_blocks % devices == 0
  assert 0 <= lay.n_pad - n < lay.num_blocks  # less than a row of padding per block
  owner = lambda g: np.flatnonzero(lay.perm == g * lay.block)[0] // lay.local_rows
  assert [owner(g) for g in range(lay.num_blocks)] == [g % devices for g in range(lay.num_blocks)]
  np.testing.assert_array_equal(lay.perm[lay.inverse], np.arange(lay.n_pad))


def test_layout_rejects_nonsense():
  with pytest.raises(ValueError, match="need n, num_devices, tile >= 1"):
    sharded.Layout(0, 4, 16)


def test_devices_argument_is_checked():
  from rethink_jax import minnorm

  x, y = np.random.default_rng(1).normal(size=(20, 3)), np.arange(20) % 2
  with pytest.raises(ValueError, match="devices= is for backend='jax'"):
    minnorm.fit(x, y, "linear", backend="numpy", devices=[object()])
  with pytest.raises(ValueError, match="must name at least one device"):
    minnorm.fit(x, y, "linear", backend="jax", devices=[])
