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
  with pytest.raises(ValueError, match="only for"):
    C.apply(jax.random.key(0), cifar, "random_labels", p=0.3)
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    C.apply(jax.random.key(0), cifar, "partial_labels", p=2.0)


# ----------------------------------------------------------------------------- realistic label noise

def test_transition_identity_changes_nothing_and_same_key_same_labels():
  labels = jnp.asarray(np.random.default_rng(0).integers(0, 10, 5000), jnp.int32)
  np.testing.assert_array_equal(C.transition_labels(jax.random.key(0), labels, np.eye(10)), labels)
  T = np.full((10, 10), 0.05) + 0.5 * np.eye(10)
  a, b = (C.transition_labels(jax.random.key(3), labels, T) for _ in range(2))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, C.transition_labels(jax.random.key(4), labels, T))
  assert a.dtype == labels.dtype


def test_transition_follows_its_rows():
  n = 20000
  labels = jnp.zeros(n, jnp.int32).at[n // 2:].set(1)
  T = np.array([[0.7, 0.3, 0.0], [0.0, 0.1, 0.9], [1 / 3, 1 / 3, 1 / 3]])
  y = np.asarray(jax.jit(C.transition_labels)(jax.random.key(1), labels, T))
  for src in (0, 1):
    drawn = y[np.asarray(labels) == src]
    for dst in range(3):
      q = T[src, dst]
      assert _within_binomial(float(np.mean(drawn == dst)), q, len(drawn)), (src, dst)


@pytest.mark.parametrize("T, match", [
    (np.eye(3)[:2], "square"),
    (np.array([[0.5, 0.6], [0.0, 1.0]]), "Row 0 .* sums to 1.1"),
    (np.array([[1.2, -0.2], [0.0, 1.0]]), "negative entry T\\[0, 1\\]"),
    (np.array([[np.nan, 1.0], [0.0, 1.0]]), "NaN"),
])
def test_transition_rejects_bad_matrices(T, match):
  with pytest.raises(ValueError, match=match):
    C.transition_labels(jax.random.key(0), jnp.zeros(4, jnp.int32), T)


def test_transition_rejects_labels_outside_the_matrix():
  with pytest.raises(ValueError, match=r"\[0, 2\)"):
    C.transition_labels(jax.random.key(0), jnp.array([0, 2]), np.eye(2))


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_asymmetric_flips_only_mapped_classes_within_binomial_bounds(p):
  labels = jnp.asarray(np.tile(np.arange(10), 2000), jnp.int32)
  y = np.asarray(C.asymmetric_labels(jax.random.key(7), labels, p))
  y0 = np.asarray(labels)
  untouched = ~np.isin(y0, list(C.CIFAR10_ASYMMETRIC))
  np.testing.assert_array_equal(y[untouched], y0[untouched])  # airplane, automobile, frog, horse, ship
  for src, dst in C.CIFAR10_ASYMMETRIC.items():
    rows = y[y0 == src]
    assert set(np.unique(rows)) <= {src, dst}
    assert _within_binomial(float(np.mean(rows == dst)), p, len(rows)), src
  # in law, the same as transition_labels with its matrix
  T = C.asymmetric_matrix(p)
  np.testing.assert_allclose(T.sum(1), 1.0)
  assert T[3, 5] == T[5, 3] == p and T[9, 1] == p and T[0, 0] == 1.0


def test_asymmetric_is_jittable_in_p_and_checks_p():
  labels = jnp.arange(10, dtype=jnp.int32)
  sweep = jax.vmap(lambda p: C.asymmetric_labels(jax.random.key(0), labels, p))(jnp.array([0.0, 1.0]))
  np.testing.assert_array_equal(sweep[0], labels)
  np.testing.assert_array_equal(sweep[1], [0, 1, 0, 5, 7, 3, 6, 7, 8, 1])
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    C.asymmetric_labels(jax.random.key(0), labels, 1.5)


def test_apply_asymmetric_and_corrupted_test_labels(cifar):
  key = jax.random.key(5)
  out, rec = C.apply(key, cifar, "asymmetric_labels", p=0.4)
  assert rec.kind == "asymmetric_labels" and rec.splits == ("train",)
  np.testing.assert_array_equal(out.y_test, cifar.y_test)  # clean by default, as in the paper
  both, rec2 = C.apply(key, cifar, "asymmetric_labels", p=0.4, corrupt_test=True)
  np.testing.assert_array_equal(both.y_train, out.y_train)  # train labels are the same either way
  assert rec2.splits == ("train", "test") and not np.array_equal(both.y_test, cifar.y_test)
  with pytest.raises(ValueError, match="key-drawn"):
    C.apply(key, cifar, "true_labels", corrupt_test=True)
  with pytest.raises(ValueError, match="CIFAR-10's classes"):
    C.apply(key, data.load("mnist"), "asymmetric_labels", p=0.4)


def _torch_style_file(path, table):
  """A file laid out as torch.save writes a dict of numpy arrays (a zip holding <name>/data.pkl)."""
  import pickle
  import zipfile

  with zipfile.ZipFile(path, "w") as z:
    z.writestr("CIFAR-10_human/data.pkl", pickle.dumps(table, protocol=2))
    z.writestr("CIFAR-10_human/version", "3\n")
    z.writestr("CIFAR-10_human/byteorder", "little")


def _cifar10n_table(clean, rng):
  noisy = lambda q: np.where(rng.random(len(clean)) < q, rng.integers(0, 10, len(clean)), clean)
  return {"clean_label": clean.astype(np.int64), "aggre_label": noisy(0.1), "worse_label": noisy(0.4),
          "random_label1": noisy(0.2), "random_label2": noisy(0.2), "random_label3": noisy(0.2)}


def test_cifar10n_loader_reads_the_published_layout_and_checks_the_order(tmp_path, cifar):
  rng = np.random.default_rng(0)
  clean = np.concatenate([cifar.y_train, rng.integers(0, 10, 300)])  # the file covers more than the run uses
  table = _cifar10n_table(clean, rng)
  path = tmp_path / "CIFAR-10_human.pt"
  _torch_style_file(path, table)
  for variant, key in data.CIFAR10N_VARIANTS.items():
    labels, digest = data.load_cifar10n(path, variant, clean_labels=cifar.y_train)
    np.testing.assert_array_equal(labels, table[key][:len(cifar.y_train)])
    assert len(digest) == 64
  out, rec = C.apply(jax.random.key(0), cifar, "cifar10n", variant="worst", labels_file=path)
  np.testing.assert_array_equal(out.y_train, table["worse_label"][:len(cifar.y_train)])
  assert rec.variant == "worst" and rec.fraction_changed == pytest.approx(np.mean(out.y_train != cifar.y_train))
  np.save(tmp_path / "labels.npy", table)  # the same dict as a .npy
  np.testing.assert_array_equal(data.load_cifar10n(tmp_path / "labels.npy", "aggregate")[0], table["aggre_label"])
  with pytest.raises(ValueError, match="canonical order"):
    data.load_cifar10n(path, "aggregate", clean_labels=cifar.y_train[::-1])
  with pytest.raises(ValueError, match="Unknown CIFAR-10N variant"):
    data.load_cifar10n(path, "noisiest")
  with pytest.raises(FileNotFoundError, match="UCSC-REAL"):
    data.load_cifar10n(tmp_path / "absent.pt", "aggregate")


def test_cifar10n_loader_refuses_code_and_corrupt_files(tmp_path):
  import pickle
  import zipfile

  evil = tmp_path / "evil.pt"
  with zipfile.ZipFile(evil, "w") as z:
    z.writestr("x/data.pkl", pickle.dumps({"clean_label": np.zeros(3, int), "run": print}))
  with pytest.raises(ValueError, match="refusing to load builtins.print"):
    data.load_cifar10n(evil, "aggregate")
  truncated = tmp_path / "truncated.pt"
  _torch_style_file(truncated, _cifar10n_table(np.zeros(50, int), np.random.default_rng(0)))
  truncated.write_bytes(truncated.read_bytes()[:200])
  with pytest.raises(ValueError, match="not a CIFAR-10N label file"):
    data.load_cifar10n(truncated, "aggregate")
  np.save(tmp_path / "plain.npy", np.zeros(5, int))  # an array, not the dict of label sets
  with pytest.raises(ValueError, match="not a dict of label arrays"):
    data.load_cifar10n(tmp_path / "plain.npy", "aggregate")
  wrong = tmp_path / "wrong.npz"
  np.savez(wrong, clean_label=np.zeros(5, int), aggre_label=np.full(5, 12))
  with pytest.raises(ValueError, match="classes 0..9"):
    data.load_cifar10n(wrong, "aggregate")


# ----------------------------------------------------------------------------- label ranges and dtypes

@pytest.mark.parametrize("dtype, k", [(np.uint8, 300), (np.int8, 200), (np.uint8, 10)])
def test_drawn_labels_reach_every_class_whatever_the_input_dtype(dtype, k):
  key, n = jax.random.key(0), 20000
  labels = np.zeros(n, dtype)
  want = np.dtype(dtype) if np.iinfo(dtype).max >= k - 1 else np.dtype(np.int32)  # input's dtype where K - 1 fits
  draws = {"random_labels": C.random_labels(key, labels, k),
           "partial_labels": C.partial_labels(key, labels, 0.99, k),
           "partial_labels (jit)": jax.jit(C.partial_labels, static_argnums=3)(key, labels, 1.0, k),
           "partial_labels_by_index": C.partial_labels_by_index(key, np.arange(n), labels, 1.0, k),
           "transition_labels": C.transition_labels(key, labels, np.full((k, k), 1.0 / k))}
  for name, out in draws.items():
    out = np.asarray(out)
    assert out.dtype == want, (name, out.dtype)
    assert set(np.unique(out)) == set(range(k)), (name, out.min(), out.max())  # ~67+ draws per class
  top = k - 1  # a class-pair target above the input dtype's range
  flipped = C.asymmetric_labels(key, np.arange(10, dtype=dtype), 1.0, class_map={5: top}, num_classes=k)
  assert flipped.dtype == want and int(flipped[5]) == top


_LABEL_FNS = {
    "partial_labels": lambda y: C.partial_labels(jax.random.key(0), y, 0.0, 10),
    "random_labels": lambda y: C.random_labels(jax.random.key(0), y, 10),
    "partial_labels_by_index": lambda y: C.partial_labels_by_index(jax.random.key(0), np.arange(len(y)), y, 0.0, 10),
    "transition_labels": lambda y: C.transition_labels(jax.random.key(0), y, np.eye(10)),
    "asymmetric_labels": lambda y: C.asymmetric_labels(jax.random.key(0), y, 0.0),
}


@pytest.mark.parametrize("fn", list(_LABEL_FNS))
@pytest.mark.parametrize("bad", [2**32 + 3, -1, 10])
def test_label_functions_refuse_labels_outside_the_classes_before_any_cast(fn, bad):
  # 2**32 + 3 as int64 becomes class 3 if cast to int32 first (JAX without x64 does exactly that)
  y = np.array([0, 1, bad, 2], np.int64)
  with pytest.raises(ValueError, match=rf"{fn}: labels must lie in \[0, 10\) .*got \[{bad}\] \(1 of 4"):
    _LABEL_FNS[fn](y)
  with pytest.raises(TypeError, match=f"{fn}: labels must be integers"):
    _LABEL_FNS[fn](np.array([0, 1, 1, 0], bool))  # bools are not labels, anywhere


def _synthetic(y_train, y_test, k, name="synthetic"):
  img = lambda n: np.zeros((n, 2, 2, 1), np.uint8)
  return data.Dataset(name=name, x_train=img(len(y_train)), y_train=y_train, x_test=img(len(y_test)), y_test=y_test,
                      num_classes=k, provenance="test")


def test_apply_checks_labels_on_the_host_and_draws_every_class():
  key = jax.random.key(1)
  ds = _synthetic(np.arange(20, dtype=np.int64) % 10, np.arange(5, dtype=np.int64), 10)
  out, _ = C.apply(key, ds, "partial_labels", p=0.5)
  assert out.y_train.dtype == np.int64  # the dataset's dtype, where every class fits it
  ds.y_train[3] = 2**32 + 3  # edited after validation: the jitted draw would see class 3
  with pytest.raises(ValueError, match=r"apply\('partial_labels'\): synthetic y_train: labels must lie in \[0, 10\)"
                                       r".*\[4294967299\]"):
    C.apply(key, ds, "partial_labels", p=0.0)
  ds.y_test[0] = -1
  ds.y_train[3] = 3
  with pytest.raises(ValueError, match=r"synthetic y_test: .*got \[-1\]"):
    C.apply(key, ds, "random_labels", corrupt_test=True)
  wide = _synthetic(np.zeros(20000, np.uint8), np.zeros(5, np.uint8), 300)  # uint8 cannot hold class 299
  out, _ = C.apply(key, wide, "random_labels")
  assert out.y_train.dtype == np.int32 and set(np.unique(out.y_train)) == set(range(300))


def test_cifar10n_loader_names_the_bad_labels(tmp_path):
  path = tmp_path / "bad.npz"
  np.savez(path, clean_label=np.zeros(5, np.int64), aggre_label=np.array([0, 1, 2**40, 3, -2], np.int64))
  with pytest.raises(ValueError, match=r"aggre_label must hold CIFAR-10 classes 0..9 .*got \[-2, 1099511627776\] "
                                       r"\(2 of 5 labels\)"):
    data.load_cifar10n(path, "aggregate")


def test_register_adds_a_kind_every_check_knows_and_refuses_the_built_in_names(monkeypatch):
  from rethink_jax import validation
  from rethink_jax.configs import common

  monkeypatch.setattr(C, "REGISTRY", dict(C.REGISTRY))  # the registration ends with the test

  def every_other(key, ds, p, **_):
    y = ds.y_train.copy()
    y[::2] = (y[::2] + 1) % ds.num_classes
    return {"y_train": y}, ("train",), float(np.mean(y != ds.y_train)), {}

  with pytest.raises(ValueError, match="must be a new name"):
    C.register("random_labels", C.Kind("x", "labels", every_other))
  with pytest.raises(TypeError, match="must be a Kind"):
    C.register("every_other", C.Kind("x", "pixels", every_other))
  config = common.override(common.base_config(), **{"corruption.kind": "every_other"})
  with pytest.raises(validation.ConfigError, match="corruption.kind = 'every_other'"):
    validation.check(config)
  C.register("every_other", C.Kind("every other label moved", "labels", every_other))
  validation.check(config)
  validation.check(config, "vmapped")
  assert "every_other" in C.kinds("labels") and "every_other" not in C.kinds(takes_p=True)
  assert "every_other" not in C.KINDS and C.run_name("every_other") == "every_other"
  sample = data.load("cifar10", source="sample")
  out, record = C.apply(jax.random.key(0), sample, "every_other")
  assert record.fraction_changed == 0.5 and (out.y_train[1::2] == sample.y_train[1::2]).all()
  assert "corrupted: every_other" in out.provenance


# ----------------------------------------------------------------------------- bad input, named

def test_gaussian_refuses_non_finite_images_and_bad_moments():
  key, x = jax.random.key(0), np.zeros((2, 2, 2, 3), np.float32)
  with pytest.raises(ValueError, match="gaussian: images holds NaN or infinite"):
    C.gaussian(key, np.full((2, 2, 2, 1), np.inf, np.float32))
  with pytest.raises(ValueError, match=r"gaussian: var must be >= 0, got -1.0"):
    C.gaussian(key, x, mean=0.0, var=-1.0)
  with pytest.raises(ValueError, match="gaussian: mean holds NaN or infinite"):
    C.gaussian(key, x, mean=np.nan, var=1.0)
  with pytest.raises(ValueError, match=r"gaussian: mean must be a scalar or one value per channel, shape \(3,\)"):
    C.gaussian(key, x, mean=np.zeros(2), var=1.0)
  with pytest.raises(TypeError, match="gaussian: var must be a number"):
    C.gaussian(key, x, mean=0.0, var="1")
  # traced moments (as apply passes them) are taken as given: still jittable
  assert jax.jit(C.gaussian)(key, x, mean=jnp.zeros(3), var=jnp.ones(3)).shape == x.shape


def test_p_arrays_are_checked_per_label_and_non_numbers_refused():
  key, y = jax.random.key(0), np.arange(4)
  with pytest.raises(ValueError, match=r"partial_labels: p must lie in \[0, 1\], got \[5.0\] \(1 of 4 values\)"):
    C.partial_labels(key, y, np.array([0.1, 0.2, 0.3, 5.0]), 10)
  with pytest.raises(ValueError, match=r"partial_labels: p must be a scalar or one probability per label, shape \(4"):
    C.partial_labels(key, y, np.array([0.1, 0.2]), 10)
  for p in ("0.5", None):
    with pytest.raises(TypeError, match="partial_labels: p must be a probability"):
      C.partial_labels(key, y, p, 10)
  with pytest.raises(ValueError, match=r"asymmetric_matrix: p must be a scalar; got shape \(2,\)"):
    C.asymmetric_matrix(np.array([0.1, 0.2]))
  # one probability per label is allowed: 0 keeps a label, 1 redraws it
  np.testing.assert_array_equal(C.partial_labels(key, y, np.zeros(4), 10), y)


def test_partial_labels_by_index_refuses_negative_and_non_integer_indices():
  key, y = jax.random.key(0), np.zeros(2, np.int32)
  with pytest.raises(ValueError, match=r"partial_labels_by_index: indices must be example indices in \[0, 2\*\*31"):
    C.partial_labels_by_index(key, np.array([0, -1]), y, 0.5, 10)
  with pytest.raises(TypeError, match="partial_labels_by_index: indices must be integers, got dtype float"):
    C.partial_labels_by_index(key, np.array([0.5, 1.0]), y, 0.5, 10)
  # traced indices (inside the ImageNet train step) are taken as given
  jitted = jax.jit(C.partial_labels_by_index, static_argnums=4)
  eager = C.partial_labels_by_index(key, np.arange(2), y, 0.5, 10)
  np.testing.assert_array_equal(jitted(key, jnp.arange(2), y, 0.5, 10), eager)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"class_map": {-1: 1}}, ValueError, r"asymmetric_matrix: class_map entry -1 -> 1 is outside \[0, 10\)"),
    ({"class_map": {1: 1}}, ValueError, "asymmetric_matrix: class_map maps class 1 to itself"),
    ({"class_map": {"a": 1}}, TypeError, "asymmetric_matrix: class_map entries must be int classes"),
    ({"class_map": [(9, 1)]}, TypeError, "asymmetric_matrix: class_map must be a dict"),
    ({"num_classes": 0}, ValueError, "asymmetric_matrix: num_classes must be an int"),
    ({"num_classes": 3}, ValueError, r"class_map entry 9 -> 1 is outside \[0, 3\)"),
])
def test_asymmetric_matrix_checks_its_map_as_asymmetric_labels_does(kwargs, error, match):
  with pytest.raises(error, match=match):
    C.asymmetric_matrix(0.3, **kwargs)
  if "class_map" in kwargs:
    with pytest.raises(error, match=match.replace("asymmetric_matrix", "asymmetric_labels")):
      C.asymmetric_labels(jax.random.key(0), np.arange(4), 0.3, **kwargs)


def test_names_keys_and_datasets_are_checked(cifar):
  with pytest.raises(ValueError, match="run_name: unknown corruption 'nope'"):
    C.run_name("nope")
  with pytest.raises(ValueError, match="kinds: changes must be 'labels', 'inputs' or None, got 'pixels'"):
    C.kinds("pixels")
  with pytest.raises(TypeError, match="apply: dataset must be a rethink_jax.data.Dataset .* got dict"):
    C.apply(jax.random.key(0), {"x_train": cifar.x_train}, "random_labels")
  with pytest.raises(TypeError, match="apply: p must be a probability"):
    C.apply(jax.random.key(0), cifar, "partial_labels", p="0.5")
  for key in (None, "abc", 3):
    with pytest.raises(TypeError, match="apply: key must be a jax.random.key"):
      C.apply(key, cifar, "random_labels")
