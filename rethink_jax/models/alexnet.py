"""Small AlexNet of Table 1 (the TensorFlow CIFAR-10 tutorial network, 1,387,786 parameters).

Two blocks of conv 5x5 (64 channels, ReLU) -> max pool 3x3 stride 2 -> local response
normalisation, then fully connected 384 -> 192 -> classes. The LRN constants are the TF
tutorial's (depth_radius 4, bias 1, alpha 0.001/9, beta 0.75); the paper does not state them.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx

from rethink_jax.models.common import conv_fn, dropout as _dropout, max_pool


def _channel_window_sum(x: jax.Array, depth_radius: int) -> jax.Array:
  """Sum over the ``2 * depth_radius + 1`` neighbouring channels (zero beyond the edges)."""
  window = 2 * depth_radius + 1
  return jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 1, 1, window), (1, 1, 1, 1),
                               ((0, 0), (0, 0), (0, 0), (depth_radius, depth_radius)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def local_response_norm(x: jax.Array, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                        beta: float = 0.75) -> jax.Array:
  """``tf.nn.local_response_normalization`` over the channel axis of NHWC inputs.

  ``y = x / (bias + alpha * s) ** beta`` with ``s`` the sum of squares over the
  ``2 * depth_radius + 1`` nearest channels, computed in float32. The gradient is written
  out (a custom VJP) so that the power is taken once, in the forward pass: differentiating
  the formula makes XLA evaluate two more powers in the backward pass.
  """
  return _lrn_fwd(x, depth_radius, bias, alpha, beta)[0]


def _lrn_fwd(x, depth_radius, bias, alpha, beta):
  xf = x.astype(jnp.float32)
  denom = bias + alpha * _channel_window_sum(jnp.square(xf), depth_radius)
  scale = jnp.power(denom, -beta)
  return (xf * scale).astype(x.dtype), (xf, denom, scale)


def _lrn_bwd(depth_radius, bias, alpha, beta, res, g):
  xf, denom, scale = res
  dtype, g = g.dtype, g.astype(jnp.float32)  # the output's dtype is the input's
  # d/dx_c: g_c * scale_c - 2 alpha beta x_c * sum over c's window of g_j x_j scale_j / denom_j
  # (the channel window is symmetric, so its sum is its own transpose).
  back = _channel_window_sum(g * xf * scale / denom, depth_radius)
  return ((g * scale - (2.0 * alpha * beta) * xf * back).astype(dtype),)


local_response_norm.defvjp(_lrn_fwd, _lrn_bwd)


class AlexNetSmall(nnx.Module):
  """Small AlexNet for 28x28x3 inputs."""

  def __init__(self, *, num_classes: int = 10, input_shape=(28, 28, 3), dropout: float = 0.0,
               dtype=jnp.float32, conv_impl: str = "xla", rngs: nnx.Rngs):
    h, w, c = input_shape
    conv = conv_fn(conv_impl)
    self.conv1 = nnx.Conv(c, 64, (5, 5), dtype=dtype, conv_general_dilated=conv, rngs=rngs)
    self.conv2 = nnx.Conv(64, 64, (5, 5), dtype=dtype, conv_general_dilated=conv, rngs=rngs)
    flat = math.ceil(math.ceil(h / 2) / 2) * math.ceil(math.ceil(w / 2) / 2) * 64
    self.fc1 = nnx.Linear(flat, 384, dtype=dtype, rngs=rngs)
    self.fc2 = nnx.Linear(384, 192, dtype=dtype, rngs=rngs)
    self.head = nnx.Linear(192, num_classes, dtype=dtype, rngs=rngs)
    self.dropout = dropout

  def __call__(self, x: jax.Array, *, train: bool = False, dropout_key: jax.Array | None = None) -> jax.Array:
    for conv in (self.conv1, self.conv2):
      x = jax.nn.relu(conv(x))
      x = max_pool(x, (3, 3), (2, 2), "SAME")
      x = local_response_norm(x)
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(self.fc1(x))
    x = jax.nn.relu(self.fc2(x))
    x = _dropout(x, self.dropout, dropout_key, train)
    return self.head(x).astype(jnp.float32)
