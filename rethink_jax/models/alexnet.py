"""Small AlexNet of Table 1 (the TensorFlow CIFAR-10 tutorial network, 1,387,786 parameters).

Two blocks of conv 5x5 (64 channels, ReLU) -> max pool 3x3 stride 2 -> local response
normalisation, then fully connected 384 -> 192 -> classes. The LRN constants are the TF
tutorial's (depth_radius 4, bias 1, alpha 0.001/9, beta 0.75); the paper does not state them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from rethink_jax.models.common import conv_fn, dropout as _dropout, max_pool


def local_response_norm(x: jax.Array, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                        beta: float = 0.75) -> jax.Array:
  """``tf.nn.local_response_normalization`` over the channel axis of NHWC inputs."""
  sq = jnp.square(x.astype(jnp.float32))
  window = 2 * depth_radius + 1
  summed = jax.lax.reduce_window(sq, 0.0, jax.lax.add, (1, 1, 1, window), (1, 1, 1, 1),
                                 ((0, 0), (0, 0), (0, 0), (depth_radius, depth_radius)))
  return (x / jnp.power(bias + alpha * summed, beta)).astype(x.dtype)


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
