import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rethink_jax import data, preprocess


def _numpy_standardize(x):
  """Independent float64 computation of tf.image.per_image_standardization."""
  x = x.astype(np.float64)
  n = x[0].size
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  std = x.std(axis=(1, 2, 3), keepdims=True)
  return (x - mean) / np.maximum(std, 1.0 / np.sqrt(n))


def test_standardization_matches_numpy_formula():
  x = np.random.default_rng(0).integers(0, 256, (5, 7, 9, 3)).astype(np.float32)
  got = np.asarray(preprocess.per_image_standardization(x))
  np.testing.assert_allclose(got, _numpy_standardize(x), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(got.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
  np.testing.assert_allclose(got.std(axis=(1, 2, 3)), 1.0, rtol=1e-4)


def test_standardization_constant_image_is_zero_not_nan():
  x = np.full((2, 4, 4, 3), 7.0, np.float32)
  got = np.asarray(preprocess.per_image_standardization(x))
  assert np.all(np.isfinite(got)) and np.all(got == 0.0)
  # A near-constant image is divided by 1/sqrt(N), not by its tiny std.
  y = x.copy()
  y[0, 0, 0, 0] += 1e-3
  got = np.asarray(preprocess.per_image_standardization(y))
  np.testing.assert_allclose(got, _numpy_standardize(y), atol=1e-4)


def test_center_crop_takes_the_middle():
  x = np.arange(2 * 32 * 32 * 3).reshape(2, 32, 32, 3)
  got = np.asarray(preprocess.center_crop(x, 28))
  np.testing.assert_array_equal(got, x[:, 2:30, 2:30, :])
  odd = np.arange(1 * 5 * 5 * 1).reshape(1, 5, 5, 1)
  np.testing.assert_array_equal(np.asarray(preprocess.center_crop(odd, 2)), odd[:, 1:3, 1:3, :])


def test_paper_pipeline_on_real_sample():
  ds = data.load("cifar10")
  x = ds.x_train[:16]
  got = np.asarray(jax.jit(preprocess.cifar10_paper)(x))
  assert got.shape == (16, 28, 28, 3) and got.dtype == np.float32
  expected = _numpy_standardize(x[:, 2:30, 2:30, :] / 255.0)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_to_unit_range():
  got = np.asarray(preprocess.to_unit(np.array([[[[0, 255, 51]]]], np.uint8)))
  np.testing.assert_allclose(got, [[[[0.0, 1.0, 0.2]]]], rtol=1e-6)


@pytest.mark.parametrize("bad", [np.zeros((32, 32, 3)), np.zeros((2, 32, 32))])
def test_bad_shapes_raise(bad):
  with pytest.raises(ValueError, match="N, H, W, C"):
    preprocess.cifar10_paper(bad)


def test_bad_crop_and_dtype_raise():
  with pytest.raises(ValueError, match="size"):
    preprocess.center_crop(np.zeros((1, 8, 8, 3)), 9)
  with pytest.raises(TypeError, match="integer or float"):
    preprocess.to_unit(jnp.zeros((1, 2, 2, 1), bool))


def test_check_images_refuses_nan_and_non_numbers_before_jax_but_not_under_jit():
  x = np.zeros((1, 4, 4, 1), np.float32)
  x[0, 1, 2, 0] = np.nan
  with pytest.raises(ValueError, match="per_image_standardization: images holds NaN or infinite"):
    preprocess.per_image_standardization(x)
  with pytest.raises(ValueError, match="to_unit: images holds NaN or infinite"):
    preprocess.to_unit(jnp.full((1, 2, 2, 1), jnp.inf))  # a concrete device array, checked on its device
  with pytest.raises(ValueError, match=r"to_unit: images holds values beyond float32's range \(up to 1e\+300\)"):
    preprocess.to_unit(np.full((1, 2, 2, 1), -1e300))  # float64 that JAX would have cast to -inf
  np.testing.assert_allclose(preprocess.to_unit(np.full((1, 2, 2, 1), 255.0)), 1.0)  # float64 in range: fine
  with pytest.raises(TypeError, match="center_crop expects integer or float images, got <U1"):
    preprocess.center_crop(np.full((1, 2, 2, 1), "a"), 1)
  with pytest.raises(TypeError, match="integer or float images, got object"):
    preprocess.to_unit(np.empty((1, 1, 1, 1), object))
  assert np.isnan(jax.jit(preprocess.per_image_standardization)(x)).all()  # traced: values unknown, no check


def test_center_crop_size_takes_numpy_ints_not_bools():
  x = np.zeros((1, 4, 4, 1), np.uint8)
  assert preprocess.center_crop(x, np.int64(2)).shape == (1, 2, 2, 1)
  with pytest.raises(ValueError, match="center_crop size must be an int"):
    preprocess.center_crop(x, True)


@pytest.mark.parametrize("key, error", [(None, TypeError), (0, TypeError), ("abc", TypeError),
                                        (np.zeros(2, np.int32), TypeError),
                                        (jax.random.split(jax.random.key(0)), ValueError)])
def test_check_key_names_the_function_and_the_argument(key, error):
  with pytest.raises(error, match=r"f: rng must be a (single )?jax\.random\.key"):
    preprocess.check_key(key, "f", "rng")
  assert preprocess.check_key(jax.random.PRNGKey(0), "f").shape == (2,)  # legacy keys still work
