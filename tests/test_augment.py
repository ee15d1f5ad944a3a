import jax
import numpy as np
import pytest

from rethink_jax import augment


def _images(n=6, h=8, w=8, c=3):
  return np.arange(n * h * w * c, dtype=np.float32).reshape(n, h, w, c)


def test_random_crop_is_a_window_of_each_image():
  x = _images()
  out = np.asarray(augment.random_crop(jax.random.key(0), x, 5))
  assert out.shape == (6, 5, 5, 3)
  offsets = set()
  for i in range(6):
    found = [(t, l) for t in range(4) for l in range(4) if np.array_equal(out[i], x[i, t:t + 5, l:l + 5])]
    assert len(found) == 1
    offsets.add(found[0])
  assert len(offsets) > 1  # positions differ across images
  np.testing.assert_array_equal(augment.random_crop(jax.random.key(0), x, 5), out)  # same key, same crops


def test_random_flip_mirrors_about_half():
  x = _images(n=400, h=2, w=3, c=1)
  out = np.asarray(augment.random_flip(jax.random.key(1), x))
  flipped = np.array([np.array_equal(out[i], x[i, :, ::-1]) for i in range(400)])
  same = np.array([np.array_equal(out[i], x[i]) for i in range(400)])
  assert np.all(flipped | same) and 150 < flipped.sum() < 250


def test_rotation_zero_is_identity_and_keeps_the_centre():
  x = np.random.default_rng(0).normal(size=(3, 9, 9, 2)).astype(np.float32)
  np.testing.assert_allclose(augment.random_rotation(jax.random.key(0), x, 0.0), x, atol=1e-5)
  out = np.asarray(augment.random_rotation(jax.random.key(0), x, 25.0))
  np.testing.assert_allclose(out[:, 4, 4], x[:, 4, 4], atol=1e-5)  # the centre pixel stays
  assert not np.allclose(out, x)


def test_rotation_keeps_a_centred_disc_and_turns_a_bar():
  h = 21
  yy, xx = np.mgrid[:h, :h] - (h - 1) / 2
  disc = np.exp(-(xx ** 2 + yy ** 2) / 18.0)[None, :, :, None].astype(np.float32)
  bar = (np.abs(yy) < 1).astype(np.float32)[None, :, :, None] * (np.abs(xx) < 8)[None, :, :, None]
  key = jax.random.key(4)
  angle = float(jax.random.uniform(key, (1,), minval=-25.0, maxval=25.0)[0])
  # a radially symmetric image is unchanged by any rotation (up to bilinear interpolation)
  np.testing.assert_allclose(augment.random_rotation(key, disc, 25.0), disc, atol=0.03)
  # a horizontal bar comes out tilted by the drawn angle: its principal axis gives the angle back
  out = np.asarray(augment.random_rotation(key, bar, 25.0))[0, :, :, 0]
  w = out.ravel()
  cx, cy = np.sum(w * xx.ravel()) / w.sum(), np.sum(w * yy.ravel()) / w.sum()
  cov = np.cov(np.stack([xx.ravel() - cx, yy.ravel() - cy]), aweights=w)
  evals, evecs = np.linalg.eigh(cov)
  axis = evecs[:, -1]
  measured = np.degrees(np.arctan2(axis[1], axis[0]))
  measured = (measured + 90) % 180 - 90
  assert abs(abs(measured) - abs(angle)) < 2.0, (measured, angle)
  assert abs(angle) > 2.0  # the key draws a visible rotation, so the check is not vacuous


def test_jittable_and_bad_input():
  x = _images()
  jax.jit(augment.random_crop, static_argnums=2)(jax.random.key(0), x, 4)
  jax.jit(augment.random_flip)(jax.random.key(0), x)
  with pytest.raises(ValueError, match="crop size"):
    augment.random_crop(jax.random.key(0), x, 9)
  with pytest.raises(ValueError, match="N, H, W, C"):
    augment.random_flip(jax.random.key(0), x[0])


@pytest.mark.parametrize("degrees, error", [(float("nan"), ValueError), (float("inf"), ValueError), (-5.0, ValueError),
                                            ("25", TypeError), (None, TypeError)])
def test_rotation_refuses_a_non_finite_or_negative_angle(degrees, error):
  with pytest.raises(error, match="random_rotation: max_degrees must be a finite number >= 0"):
    augment.random_rotation(jax.random.key(0), _images(n=1), degrees)


def test_keys_sizes_and_dtypes_are_named():
  x = _images(n=2)
  with pytest.raises(TypeError, match="random_flip: key must be a jax.random.key"):
    augment.random_flip(0, x)
  with pytest.raises(TypeError, match="random_crop: key must be a jax.random.key"):
    augment.random_crop(None, x, 4)
  with pytest.raises(ValueError, match="random_crop: crop size must be an int"):
    augment.random_crop(jax.random.key(0), x, 2.5)
  with pytest.raises(TypeError, match="random_rotation expects integer or float images"):
    augment.random_rotation(jax.random.key(0), x.astype(str), 10.0)
  # a traced angle (a sweep) is taken as given
  jax.jit(augment.random_rotation)(jax.random.key(0), x, 10.0)
