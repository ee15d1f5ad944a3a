import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rethink_jax import models
from rethink_jax.models.alexnet import local_response_norm


@pytest.mark.parametrize("name", models.NAMES)
def test_param_counts_equal_table1(name):
  model = models.create(name, rngs=nnx.Rngs(0))
  assert models.count_params(model) == models.PAPER_PARAM_COUNTS[name]


def test_table1_numbers_are_the_papers():
  assert models.PAPER_PARAM_COUNTS == {"inception_small": 1_649_402, "inception_small_nobn": 1_649_402,
                                       "alexnet_small": 1_387_786, "mlp_1x512": 1_209_866,
                                       "mlp_3x512": 1_735_178}


def test_inception_variants_differ_as_described():
  bn = nnx.state(models.create("inception_small", rngs=nnx.Rngs(0)), nnx.Param)
  nobn = nnx.state(models.create("inception_small_nobn", rngs=nnx.Rngs(0)), nnx.Param)
  bn_paths = {"/".join(map(str, p)) for p, _ in jax.tree_util.tree_leaves_with_path(bn)}
  nobn_paths = {"/".join(map(str, p)) for p, _ in jax.tree_util.tree_leaves_with_path(nobn)}
  conv_bias, bn_bias = "['conv']/['bias']", "['bn']/['bias']"
  assert any(bn_bias in p for p in bn_paths) and not any("scale" in p for p in bn_paths)
  assert not any(conv_bias in p for p in bn_paths)   # conv without bias under BN
  assert any(conv_bias in p for p in nobn_paths) and not any("['bn']" in p for p in nobn_paths)


@pytest.mark.parametrize("name", models.NAMES)
def test_forward_shapes_and_finite(name):
  model = models.create(name, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (3, 28, 28, 3))
  for train in (True, False):
    y = model(x, train=train)
    assert y.shape == (3, 10) and y.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(y)))


def test_batchnorm_train_vs_eval():
  model = models.create("inception_small", rngs=nnx.Rngs(0))
  x = 3.0 + 2.0 * jax.random.normal(jax.random.key(1), (4, 28, 28, 3))
  before = jax.tree_util.tree_leaves(nnx.state(model, nnx.BatchStat))
  y_eval = model(x, train=False)
  unchanged = jax.tree_util.tree_leaves(nnx.state(model, nnx.BatchStat))
  assert all(np.array_equal(a, b) for a, b in zip(before, unchanged))
  y_train = model(x, train=True)
  after = jax.tree_util.tree_leaves(nnx.state(model, nnx.BatchStat))
  assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # running stats moved
  assert not np.allclose(y_eval, y_train)


def test_dropout_option():
  model = models.create("mlp_1x512", rngs=nnx.Rngs(0), dropout=0.5)
  x = jnp.ones((2, 28, 28, 3))
  np.testing.assert_array_equal(model(x, train=False), model(x, train=False))
  a = model(x, train=True, dropout_key=jax.random.key(0))
  b = model(x, train=True, dropout_key=jax.random.key(1))
  assert not np.allclose(a, b)
  with pytest.raises(ValueError, match="dropout_key"):
    model(x, train=True)
  with pytest.raises(ValueError, match="dropout"):
    models.create("mlp_1x512", rngs=nnx.Rngs(0), dropout=1.0)


def test_bfloat16_compute_keeps_float32_params():
  model = models.create("alexnet_small", rngs=nnx.Rngs(0), dtype=jnp.bfloat16)
  assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))
  assert model(jnp.ones((2, 28, 28, 3))).dtype == jnp.float32


def test_lrn_matches_tensorflow_formula():
  x = np.random.default_rng(0).normal(size=(2, 3, 3, 12)).astype(np.float32)
  r, bias, alpha, beta = 4, 1.0, 0.001 / 9, 0.75
  expected = np.empty_like(x)
  for c in range(12):
    lo, hi = max(0, c - r), min(12, c + r + 1)
    sq = np.sum(x[..., lo:hi] ** 2, axis=-1)
    expected[..., c] = x[..., c] / (bias + alpha * sq) ** beta
  np.testing.assert_allclose(local_response_norm(x), expected, rtol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: the denominator far from 1
def test_lrn_gradient_equals_the_plain_formula_differentiated(scale):
  def plain(x, r=4, bias=1.0, alpha=0.001 / 9, beta=0.75):
    sq = jnp.square(x.astype(jnp.float32))
    s = jax.lax.reduce_window(sq, 0.0, jax.lax.add, (1, 1, 1, 2 * r + 1), (1, 1, 1, 1),
                              ((0, 0), (0, 0), (0, 0), (r, r)))
    return (x / jnp.power(bias + alpha * s, beta)).astype(x.dtype)

  x = scale * jax.random.normal(jax.random.PRNGKey(0), (3, 5, 5, 12))
  g = jax.random.normal(jax.random.PRNGKey(1), x.shape)
  y_ref, vjp_ref = jax.vjp(plain, x)
  y, vjp = jax.vjp(jax.jit(local_response_norm), x)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(vjp(g)[0], vjp_ref(g)[0], rtol=1e-5, atol=1e-6)
  # the normalisation really acts at this scale: the gradient is not just g
  assert float(jnp.max(jnp.abs(vjp(g)[0] - g))) > 1e-3

  xb = x.astype(jnp.bfloat16)
  yb, vjp_b = jax.vjp(local_response_norm, xb)
  assert yb.dtype == jnp.bfloat16 and vjp_b(g.astype(jnp.bfloat16))[0].dtype == jnp.bfloat16


def test_unknown_model():
  with pytest.raises(ValueError, match="Unknown model"):
    models.create("resnet50", rngs=nnx.Rngs(0))


@pytest.mark.parametrize("kernel,stride,padding,size", [((3, 3), 1, "SAME", 28), ((3, 3), 2, "SAME", 28),
                                                        ((3, 3), 2, "SAME", 7), ((5, 5), 1, "SAME", 14),
                                                        ((1, 1), 1, "SAME", 14), ((3, 3), 2, "VALID", 15),
                                                        ((1, 7), 1, "SAME", 17), ((1, 1), 2, "VALID", 9)])
def test_im2col_convolution_equals_xla_with_gradients(kernel, stride, padding, size):
  from rethink_jax.models.common import im2col_conv

  x = jnp.asarray(np.random.default_rng(0).normal(size=(2, size, size, 5)), jnp.float32)
  convs = [nnx.Conv(5, 6, kernel, strides=stride, padding=padding, rngs=nnx.Rngs(0), **kw)
           for kw in ({}, {"conv_general_dilated": im2col_conv})]
  grad = jax.grad(lambda m, x: jnp.sum(jnp.sin(m(x))), argnums=(0, 1))
  (gm_a, gx_a), (gm_b, gx_b) = grad(convs[0], x), grad(convs[1], x)
  np.testing.assert_allclose(convs[1](x), convs[0](x), atol=1e-5)
  np.testing.assert_allclose(gx_b, gx_a, atol=1e-5)
  np.testing.assert_allclose(gm_b.kernel[...], gm_a.kernel[...], rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("name", ["inception_small", "inception_small_nobn", "alexnet_small"])
def test_models_agree_across_conv_implementations(name):
  x = jnp.asarray(np.random.default_rng(1).normal(size=(4, 28, 28, 3)), jnp.float32)
  a = models.create(name, rngs=nnx.Rngs(0))
  b = models.create(name, rngs=nnx.Rngs(0), conv_impl="im2col")
  assert models.count_params(b) == models.PAPER_PARAM_COUNTS[name]
  np.testing.assert_allclose(b(x, train=True), a(x, train=True), atol=1e-4)
  with pytest.raises(ValueError, match="conv_impl"):
    models.create(name, rngs=nnx.Rngs(0), conv_impl="fft")


@pytest.mark.parametrize("shape,window,strides,padding", [
    ((3, 28, 28, 8), (3, 3), (2, 2), "SAME"),
    ((3, 15, 15, 5), (3, 3), (2, 2), "SAME"),
    ((3, 15, 15, 5), (3, 3), (2, 2), "VALID"),
    ((2, 12, 10, 4), (2, 2), (2, 2), "VALID"),
    ((2, 9, 9, 4), (3, 3), (1, 1), "SAME"),
])
def test_max_pool_equals_nnx_with_gradient_and_ties(shape, window, strides, padding):
  from rethink_jax.models.common import max_pool
  # ReLU of rounded values: most windows hold several equal maxima, as after a ReLU layer.
  x = jax.nn.relu(jnp.round(2 * jax.random.normal(jax.random.PRNGKey(1), shape)))
  reference = lambda x: nnx.max_pool(x, window, strides=strides, padding=padding)
  ours = jax.jit(lambda x: max_pool(x, window, strides, padding))
  y_ref, vjp_ref = jax.vjp(reference, x)
  y, vjp = jax.vjp(ours, x)
  g = jax.random.normal(jax.random.PRNGKey(2), y_ref.shape)
  assert y.shape == y_ref.shape
  np.testing.assert_array_equal(y, y_ref)
  # the whole gradient goes to the first maximum of each window, exactly as select_and_scatter
  np.testing.assert_array_equal(vjp(g)[0], vjp_ref(g)[0])
  assert float(jnp.mean((x == 0).astype(jnp.float32))) > 0.3  # the ties are really there


def test_max_pool_bfloat16_and_bad_padding():
  from rethink_jax.models.common import max_pool
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3)).astype(jnp.bfloat16)
  y = max_pool(x, (3, 3), (2, 2), "SAME")
  assert y.dtype == jnp.bfloat16
  np.testing.assert_array_equal(y, nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME"))
  with pytest.raises(ValueError, match="padding"):
    max_pool(x, (3, 3), (2, 2), "FULL")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_classes": 0}, ValueError, "num_classes must be an int >= 2, got 0"),
    ({"num_classes": 1}, ValueError, "num_classes must be an int >= 2, got 1"),
    ({"num_classes": 2.5}, TypeError, "num_classes must be an int >= 2"),
    ({"num_classes": "10"}, TypeError, "num_classes must be an int >= 2"),
    ({"num_classes": True}, TypeError, "num_classes must be an int >= 2"),
    ({"input_shape": (3, 28, 28)}, ValueError, r"input_shape \(3, 28, 28\) looks channels-first"),
    ({"input_shape": (28, 28)}, ValueError, r"input_shape must be \(H, W, C\), three positive ints"),
    ({"input_shape": 28}, TypeError, r"input_shape must be \(H, W, C\)"),
    ({"input_shape": (28, 0, 3)}, ValueError, r"input_shape must be \(H, W, C\)"),
    ({"dtype": "float33"}, TypeError, "dtype must be a float dtype"),
    ({"dtype": jnp.int32}, TypeError, "dtype must be a float dtype"),
    ({"conv_impl": "fft"}, ValueError, "conv_impl must be one of"),
    ({"dropout": "0.1"}, TypeError, "dropout must be a number in"),
    ({"rngs": 0}, TypeError, r"rngs must be an nnx.Rngs"),
])
def test_create_checks_its_arguments_before_building(kwargs, error, match):
  kwargs = {"rngs": nnx.Rngs(0), **kwargs}
  with pytest.raises(error, match=r"create\('mlp_1x512'\): " + match):
    models.create("mlp_1x512", **kwargs)


def test_inception_v3_input_size_and_count_params_of_nothing():
  with pytest.raises(ValueError, match=r"input_shape \(32, 32, 3\) is too small; inception_v3 needs H, W >= 75"):
    models.create("inception_v3", 1000, input_shape=(32, 32, 3), rngs=nnx.Rngs(0))
  with pytest.raises(TypeError, match="count_params: expected an nnx.Module or its parameter state, got NoneType"):
    models.count_params(None)
