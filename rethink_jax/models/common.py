"""Pieces shared by the CIFAR-10 networks."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def dropout(x: jax.Array, rate: float, key: jax.Array | None, train: bool) -> jax.Array:
  """Inverted dropout with an explicit key; identity when not training or rate is 0."""
  if not train or rate == 0.0:
    return x
  if key is None:
    raise ValueError("dropout > 0 in training needs a dropout_key.")
  keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
  return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)
