"""Small Inception of Table 1 and Figure 3 (Appendix A), with and without BatchNorm.

Conv module = conv -> BatchNorm (offset only, no scale) -> ReLU; without BatchNorm the
conv carries a bias instead, so both variants have 1,649,402 parameters.
Inception(c1, c3) = concat(conv module 1x1 c1, conv module 3x3 c3).
Downsample(c3) = concat(conv module 3x3 stride 2 c3, max pool 3x3 stride 2), SAME padding
(28 -> 14 -> 7, so the final global mean pool is over 7x7 as in the paper).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rethink_jax.models.common import conv_fn, dropout as _dropout, max_pool

# (kind, widths): the stages after the first 3x3/96 conv module, from Figure 3.
STAGES = (("inc", (32, 32)), ("inc", (32, 48)), ("down", (80,)),
          ("inc", (112, 48)), ("inc", (96, 64)), ("inc", (80, 80)), ("inc", (48, 96)), ("down", (96,)),
          ("inc", (176, 160)), ("inc", (176, 160)))

BN_MOMENTUM = 0.9   # running-average decay; the paper does not state it
BN_EPSILON = 1e-3   # TensorFlow's slim / Keras default


class ConvModule(nnx.Module):
  def __init__(self, cin: int, cout: int, kernel: int, stride: int, batch_norm: bool, dtype, rngs: nnx.Rngs,
               conv_impl: str = "xla"):
    self.conv = nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding="SAME", use_bias=not batch_norm,
                         conv_general_dilated=conv_fn(conv_impl),
                         dtype=dtype, rngs=rngs)
    self.bn = (nnx.BatchNorm(cout, use_scale=False, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype, rngs=rngs)
               if batch_norm else None)

  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = self.conv(x)
    if self.bn is not None:
      x = self.bn(x, use_running_average=not train)
    return jax.nn.relu(x)


class Inception(nnx.Module):
  def __init__(self, cin: int, c1: int, c3: int, batch_norm: bool, dtype, rngs: nnx.Rngs, conv_impl: str):
    self.b1 = ConvModule(cin, c1, 1, 1, batch_norm, dtype, rngs, conv_impl)
    self.b3 = ConvModule(cin, c3, 3, 1, batch_norm, dtype, rngs, conv_impl)

  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    return jnp.concatenate([self.b1(x, train), self.b3(x, train)], axis=-1)


class Downsample(nnx.Module):
  def __init__(self, cin: int, c3: int, batch_norm: bool, dtype, rngs: nnx.Rngs, conv_impl: str):
    self.conv = ConvModule(cin, c3, 3, 2, batch_norm, dtype, rngs, conv_impl)

  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    pooled = max_pool(x, (3, 3), (2, 2), "SAME")
    return jnp.concatenate([self.conv(x, train), pooled], axis=-1)


class InceptionSmall(nnx.Module):
  """The paper's small Inception for 28x28x3 CIFAR-10 crops."""

  def __init__(self, *, batch_norm: bool = True, num_classes: int = 10, input_shape=(28, 28, 3),
               dropout: float = 0.0, dtype=jnp.float32, conv_impl: str = "xla", rngs: nnx.Rngs):
    self.stem = ConvModule(input_shape[-1], 96, 3, 1, batch_norm, dtype, rngs, conv_impl)
    blocks, cin = [], 96
    for kind, widths in STAGES:
      if kind == "inc":
        blocks.append(Inception(cin, *widths, batch_norm, dtype, rngs, conv_impl))
        cin = sum(widths)
      else:
        blocks.append(Downsample(cin, widths[0], batch_norm, dtype, rngs, conv_impl))
        cin = cin + widths[0]
    self.blocks = nnx.List(blocks)
    self.head = nnx.Linear(cin, num_classes, dtype=dtype, rngs=rngs)
    self.dropout = dropout

  def __call__(self, x: jax.Array, *, train: bool = False, dropout_key: jax.Array | None = None) -> jax.Array:
    x = self.stem(x, train)
    for block in self.blocks:
      x = block(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = _dropout(x, self.dropout, dropout_key, train)
    return self.head(x).astype(jnp.float32)
