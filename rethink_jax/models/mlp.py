"""Multilayer perceptrons of Table 1: MLP 1x512 and MLP 3x512 (ReLU)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from rethink_jax.models.common import dropout as _dropout


class MLP(nnx.Module):
  """``depth`` hidden layers of ``width`` ReLU units on flattened 28x28x3 inputs."""

  def __init__(self, depth: int, *, width: int = 512, num_classes: int = 10, input_shape=(28, 28, 3),
               dropout: float = 0.0, dtype=jnp.float32, rngs: nnx.Rngs):
    dims = [math.prod(input_shape)] + [width] * depth
    self.hidden = nnx.List([nnx.Linear(a, b, dtype=dtype, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.head = nnx.Linear(dims[-1], num_classes, dtype=dtype, rngs=rngs)
    self.dropout = dropout

  def __call__(self, x: jax.Array, *, train: bool = False, dropout_key: jax.Array | None = None) -> jax.Array:
    x = x.reshape(x.shape[0], -1)
    for layer in self.hidden:
      x = jax.nn.relu(layer(x))
    x = _dropout(x, self.dropout, dropout_key, train)
    return self.head(x).astype(jnp.float32)
