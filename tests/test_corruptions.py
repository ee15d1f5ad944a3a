import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rethink_jax import corruptions as C
from rethink_jax import data


@pytest.fixture(scope="module")
def cifar():
  return data.load("cifar10")


def _within_binomial(changed: float, q: float, n: int, sigmas: float = 5.0) -> bool:
  return abs(changed - q) <= sigmas * np.sqrt(q * (1 - q) / n) + 1e-12


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.8, 1.0])
def test_partial_labels_fraction_matches_p(p):
  n, k = 20000, 10
  labels = jnp.asarray(np.random.default_rng(1).integers(0, k, n), jnp.int32)
  out = C.partial_labels(jax.random.key(3), labels, p, k)
  changed = float(jnp.mean(out != labels))
  assert _within_binomial(changed, p * (1 - 1 / k), n), (p, changed)
  assert out.dtype == labels.dtype and int(out.min()) >= 0 and int(out.max()) < k
  if p == 0.0:
    np.testing.assert_array_equal(out, labels)


def test_random_labels_are_uniform_and_independent_of_truth():
  n, k = 30000, 10
  labels = jnp.zeros(n, jnp.int32)
  out = np.asarray(C.random_labels(jax.random.key(0), labels, k))
  counts = np.bincount(out, minlength=k)
  # chi-square with 9 dof: 99.9% quantile is 27.9
  chi2 = np.sum((counts - n / k) ** 2 / (n / k))
  assert chi2 < 27.9, counts


def test_same_key_same_bits_different_key_differs(cifar):
  y = cifar.y_train
  a = C.random_labels(jax.random.key(5), y, 10)
  b = C.random_labels(jax.random.key(5), y, 10)
  c = C.random_labels(jax.random.key(6), y, 10)
  np.testing.assert_array_equal(a, b)
  assert np.mean(np.asarray(a) != np.asarray(c)) > 0.5
  x = cifar.x_train[:8]
  np.testing.assert_array_equal(C.random_pixels(jax.random.key(1), x), C.random_pixels(jax.random.key(1), x))
  assert not np.array_equal(C.random_pixels(jax.random.key(1), x), C.random_pixels(jax.random.key(2), x))


def _sorted_pixels(x):
  n, h, w, c = x.shape
  flat = np.asarray(x).reshape(n, h * w, c)
  # sort pixels (as RGB tuples) per image: the multiset of pixels
  order = np.lexsort(flat.transpose(2, 0, 1)[::-1], axis=-1)
  return np.take_along_axis(flat, order[..., None], axis=1)


@pytest.mark.parametrize("fn", [C.shuffled_pixels, C.random_pixels])
def test_permutations_preserve_each_images_pixels(cifar, fn):
  x = cifar.x_train[:32]
  out = np.asarray(fn(jax.random.key(0), x))
  assert out.shape == x.shape and out.dtype == x.dtype
  np.testing.assert_array_equal(_sorted_pixels(out), _sorted_pixels(x))
  assert np.mean(out != x) > 0.9


def _recover_permutation(x, out):
  """Per image, the source position of each output pixel, using unique synthetic pixels."""
  n, h, w, c = x.shape
  return np.argsort(np.asarray(x).reshape(n, h * w)[:, :])[np.arange(n)[:, None], np.asarray(out).reshape(n, h * w)]


def test_shuffled_pixels_one_permutation_for_all_images_and_calls():
  h = w = 8
  base = np.arange(h * w, dtype=np.int32).reshape(1, h, w, 1)
  train = np.repeat(base, 5, axis=0)
  test = np.repeat(base, 3, axis=0)
  key = jax.random.key(7)
  a = np.asarray(C.shuffled_pixels(key, train))
  b = np.asarray(C.shuffled_pixels(key, test))
  assert all(np.array_equal(a[0], a[i]) for i in range(5))
  np.testing.assert_array_equal(a[0], b[0])  # same permutation across splits / calls
  assert not np.array_equal(a[0], base[0])


def test_shuffled_pixels_moves_channels_together():
  x = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 3)).astype(np.uint8)
  x[..., 1] = x[..., 0] // 2
  out = np.asarray(C.shuffled_pixels(jax.random.key(1), x))
  np.testing.assert_array_equal(out[..., 1], out[..., 0] // 2)


def test_random_pixels_differs_across_images_and_is_batch_independent():
  h = w = 8
  base = np.arange(h * w, dtype=np.int32).reshape(1, h, w, 1)
  x = np.repeat(base, 6, axis=0)
  out = np.asarray(C.random_pixels(jax.random.key(2), x))
  distinct = {out[i].tobytes() for i in range(6)}
  assert len(distinct) == 6
  # image i's permutation depends on (key, i) only, not on the batch size
  np.testing.assert_array_equal(np.asarray(C.random_pixels(jax.random.key(2), x[:3])), out[:3])


def test_gaussian_matches_per_channel_moments(cifar):
  x = cifar.x_train
  out = np.asarray(C.gaussian(jax.random.key(0), x))
  assert out.shape == x.shape and out.dtype == np.float32
  xf = x.astype(np.float64)
  np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), xf.mean(axis=(0, 1, 2)), atol=0.2)
  np.testing.assert_allclose(out.std(axis=(0, 1, 2)), xf.std(axis=(0, 1, 2)), rtol=0.005)
  # no pixel-wise correlation with the source images
  assert abs(np.corrcoef(out.ravel()[:100000], xf.ravel()[:100000])[0, 1]) < 0.02


def test_everything_is_jittable(cifar):
  key, x, y = jax.random.key(0), cifar.x_train[:16], cifar.y_train[:16]
  for fn in (C.shuffled_pixels, C.random_pixels):
    np.testing.assert_array_equal(jax.jit(fn)(key, x), fn(key, x))
  # same bits from the key; XLA fusion may round the affine map differently
  np.testing.assert_allclose(jax.jit(C.gaussian)(key, x), C.gaussian(key, x), rtol=1e-6, atol=1e-3)
  jitted = jax.jit(C.partial_labels, static_argnums=3)
  np.testing.assert_array_equal(jitted(key, y, 0.3, 10), C.partial_labels(key, y, 0.3, 10))
  # p may be traced, so a sweep can vmap over it
  ps = jnp.array([0.0, 1.0])
  out = jax.vmap(lambda p: C.partial_labels(key, y, p, 10))(ps)
  np.testing.assert_array_equal(out[0], y)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bad_p_raises(p):
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    C.partial_labels(jax.random.key(0), jnp.zeros(4, jnp.int32), p, 10)


def test_bad_inputs_raise():
  key = jax.random.key(0)
  with pytest.raises(TypeError, match="integers"):
    C.random_labels(key, jnp.zeros(4, jnp.float32), 10)
  with pytest.raises(ValueError, match="1-D"):
    C.random_labels(key, jnp.zeros((4, 1), jnp.int32), 10)
  with pytest.raises(ValueError, match="num_classes"):
    C.random_labels(key, jnp.zeros(4, jnp.int32), 1)
  with pytest.raises(ValueError, match="N, H, W, C"):
    C.random_pixels(key, jnp.zeros((4, 4, 3)))
  with pytest.raises(TypeError, match="PRNG key|jax.random.key"):
    C.shuffled_pixels(jnp.zeros(3, jnp.float32), jnp.zeros((1, 4, 4, 3)))


def test_apply_once_and_records(cifar):
  key = jax.random.key(11)
  out, rec = C.apply(key, cifar, "partial_labels", p=0.5)
  np.testing.assert_array_equal(out.y_test, cifar.y_test)  # test labels stay true
  np.testing.assert_array_equal(out.x_train, cifar.x_train)
  assert rec.kind == "partial_labels" and rec.p == 0.5 and rec.splits == ("train",)
  assert rec.fraction_changed == pytest.approx(np.mean(out.y_train != cifar.y_train))
  assert _within_binomial(rec.fraction_changed, 0.45, len(cifar.y_train))
  again, _ = C.apply(key, cifar, "partial_labels", p=0.5)
  np.testing.assert_array_equal(again.y_train, out.y_train)  # fixed by the key

  sh, rec = C.apply(key, cifar, "shuffled_pixels")
  perm_train = _recover_permutation(np.arange(1024).reshape(1, 32, 32, 1),
                                    C.shuffled_pixels(key, np.arange(1024).reshape(1, 32, 32, 1)))
  assert sh.x_train.shape == cifar.x_train.shape and rec.splits == ("train", "test")
  flat = lambda a: a.reshape(len(a), 1024, 3)
  np.testing.assert_array_equal(flat(sh.x_train), flat(cifar.x_train)[:, perm_train[0]])
  np.testing.assert_array_equal(flat(sh.x_test), flat(cifar.x_test)[:, perm_train[0]])

  g, rec = C.apply(key, cifar, "gaussian")
  assert g.x_train.dtype == np.float32 and rec.fraction_changed == 1.0
  np.testing.assert_allclose(g.x_test.mean(axis=(0, 1, 2)), cifar.x_train.mean(axis=(0, 1, 2)), atol=1.0)

  t, rec = C.apply(key, cifar, "true_labels")
  assert rec.fraction_changed == 0.0 and t.y_train is cifar.y_train
  assert list(rec.to_dict()["key_data"]) == np.ravel(jax.random.key_data(key)).tolist()


def test_apply_rejects_bad_arguments(cifar):
  with pytest.raises(ValueError, match="Unknown corruption"):
    C.apply(jax.random.key(0), cifar, "flipped_labels")
  with pytest.raises(ValueError, match="p is required"):
    C.apply(jax.random.key(0), cifar, "partial_labels")
  with pytest.raises(ValueError, match="only for it"):
    C.apply(jax.random.key(0), cifar, "random_labels", p=0.3)
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    C.apply(jax.random.key(0), cifar, "partial_labels", p=2.0)
