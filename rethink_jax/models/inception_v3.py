"""Inception V3 (Szegedy et al., 2016, "Rethinking the Inception architecture") for ImageNet,
the network of the paper's Table 2 and Figure 2a.

Layout as in the widely used reference definitions (TF-slim, Keras): every convolution is
conv (no bias) -> BatchNorm (offset only, as TF-slim's ``scale=False``) -> ReLU; stem of five
convolutions and two max pools (299 -> 35); three 35x35 blocks (Mixed_5b-d), a grid
reduction (Mixed_6a), four 17x17 blocks with factorised 7x7 convolutions (Mixed_6b-e), a
grid reduction (Mixed_7a), two 8x8 blocks with expanded filter banks (Mixed_7b-c); global
average pool, optional dropout, a linear classifier. With 1,000 classes it has 23,817,352
trainable parameters (the reference count; a test asserts it). The auxiliary classifier
(on the 17x17 grid) is optional and off by default; with it, training mode returns
``(logits, aux_logits)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rethink_jax.models.common import dropout as _dropout

BN_MOMENTUM = 0.9997   # TF-slim's Inception V3 batch_norm_decay
BN_EPSILON = 1e-3


class ConvBN(nnx.Module):
  def __init__(self, cin: int, cout: int, kernel: tuple[int, int], *, stride: int = 1, padding: str = "SAME",
               dtype, rngs: nnx.Rngs):
    self.conv = nnx.Conv(cin, cout, kernel, strides=stride, padding=padding, use_bias=False, dtype=dtype, rngs=rngs)
    self.bn = nnx.BatchNorm(cout, use_scale=False, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    return jax.nn.relu(self.bn(self.conv(x), use_running_average=not train))


class Chain(nnx.Module):
  """Convolutions applied one after the other: ``[(cout, (kh, kw)), ...]`` (stride 1, SAME)
  except where a spec carries ``(cout, kernel, stride, padding)``."""

  def __init__(self, cin: int, specs, *, dtype, rngs: nnx.Rngs):
    layers = []
    for spec in specs:
      cout, kernel, *rest = spec
      stride, padding = rest if rest else (1, "SAME")
      layers.append(ConvBN(cin, cout, kernel, stride=stride, padding=padding, dtype=dtype, rngs=rngs))
      cin = cout
    self.layers = nnx.List(layers)
    self.cout = cin

  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    for layer in self.layers:
      x = layer(x, train)
    return x


def _avg_pool_same(x: jax.Array) -> jax.Array:
  # 3x3 stride-1 average pool with SAME padding, counting only real pixels at the border
  # (TF's behaviour, which the reference weights were trained with).
  return nnx.avg_pool(x, (3, 3), strides=(1, 1), padding="SAME", count_include_pad=False)


class BlockA(nnx.Module):
  """35x35 (Mixed_5b-d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (``pool`` channels)."""

  def __init__(self, cin: int, pool: int, *, dtype, rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.b1 = Chain(cin, [(64, (1, 1))], **kw)
    self.b5 = Chain(cin, [(48, (1, 1)), (64, (5, 5))], **kw)
    self.b3 = Chain(cin, [(64, (1, 1)), (96, (3, 3)), (96, (3, 3))], **kw)
    self.bp = Chain(cin, [(pool, (1, 1))], **kw)
    self.cout = 64 + 64 + 96 + pool

  def __call__(self, x, train):
    return jnp.concatenate([self.b1(x, train), self.b5(x, train), self.b3(x, train),
                            self.bp(_avg_pool_same(x), train)], axis=-1)


class ReductionA(nnx.Module):
  """35 -> 17 (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3x3/2."""

  def __init__(self, cin: int, *, dtype, rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.b3 = Chain(cin, [(384, (3, 3), 2, "VALID")], **kw)
    self.b3d = Chain(cin, [(64, (1, 1)), (96, (3, 3)), (96, (3, 3), 2, "VALID")], **kw)
    self.cout = 384 + 96 + cin

  def __call__(self, x, train):
    pooled = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    return jnp.concatenate([self.b3(x, train), self.b3d(x, train), pooled], axis=-1)


class BlockB(nnx.Module):
  """17x17 (Mixed_6b-e): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1, width ``c7``."""

  def __init__(self, cin: int, c7: int, *, dtype, rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.b1 = Chain(cin, [(192, (1, 1))], **kw)
    self.b7 = Chain(cin, [(c7, (1, 1)), (c7, (1, 7)), (192, (7, 1))], **kw)
    self.b7d = Chain(cin, [(c7, (1, 1)), (c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))], **kw)
    self.bp = Chain(cin, [(192, (1, 1))], **kw)
    self.cout = 4 * 192

  def __call__(self, x, train):
    return jnp.concatenate([self.b1(x, train), self.b7(x, train), self.b7d(x, train),
                            self.bp(_avg_pool_same(x), train)], axis=-1)


class ReductionB(nnx.Module):
  """17 -> 8 (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3x3/2."""

  def __init__(self, cin: int, *, dtype, rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.b3 = Chain(cin, [(192, (1, 1)), (320, (3, 3), 2, "VALID")], **kw)
    self.b7 = Chain(cin, [(192, (1, 1)), (192, (1, 7)), (192, (7, 1)), (192, (3, 3), 2, "VALID")], **kw)
    self.cout = 320 + 192 + cin

  def __call__(self, x, train):
    pooled = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    return jnp.concatenate([self.b3(x, train), self.b7(x, train), pooled], axis=-1)


class BlockC(nnx.Module):
  """8x8 (Mixed_7b-c): 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | avgpool-1x1."""

  def __init__(self, cin: int, *, dtype, rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.b1 = Chain(cin, [(320, (1, 1))], **kw)
    self.b3 = Chain(cin, [(384, (1, 1))], **kw)
    self.b3_a, self.b3_b = Chain(384, [(384, (1, 3))], **kw), Chain(384, [(384, (3, 1))], **kw)
    self.b3d = Chain(cin, [(448, (1, 1)), (384, (3, 3))], **kw)
    self.b3d_a, self.b3d_b = Chain(384, [(384, (1, 3))], **kw), Chain(384, [(384, (3, 1))], **kw)
    self.bp = Chain(cin, [(192, (1, 1))], **kw)
    self.cout = 320 + 768 + 768 + 192

  def __call__(self, x, train):
    b3, b3d = self.b3(x, train), self.b3d(x, train)
    return jnp.concatenate([self.b1(x, train), self.b3_a(b3, train), self.b3_b(b3, train),
                            self.b3d_a(b3d, train), self.b3d_b(b3d, train),
                            self.bp(_avg_pool_same(x), train)], axis=-1)


class AuxHead(nnx.Module):
  """Auxiliary classifier on the 17x17 grid: avgpool 5x5/3, 1x1/128, 5x5/768 (VALID), linear."""

  def __init__(self, cin: int, num_classes: int, *, dtype, rngs):
    self.convs = Chain(cin, [(128, (1, 1)), (768, (5, 5), 1, "VALID")], dtype=dtype, rngs=rngs)
    self.head = nnx.Linear(768, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x, train):
    x = nnx.avg_pool(x, (5, 5), strides=(3, 3), padding="VALID")
    x = self.convs(x, train)
    return self.head(jnp.mean(x, axis=(1, 2))).astype(jnp.float32)


class InceptionV3(nnx.Module):
  """Inception V3 for ``[N, 299, 299, 3]`` images (any size >= 75 works; the grid shrinks).

  Args:
    num_classes: 1000 for ImageNet.
    dropout: rate before the classifier (TF-slim's default keep probability 0.8 is 0.2 here).
    aux_head: add the auxiliary classifier (training mode then returns two logits).
  """

  def __init__(self, *, num_classes: int = 1000, input_shape=(299, 299, 3), dropout: float = 0.0,
               aux_head: bool = False, dtype=jnp.float32, rngs: nnx.Rngs):
    kw = dict(dtype=dtype, rngs=rngs)
    self.stem1 = Chain(input_shape[-1], [(32, (3, 3), 2, "VALID"), (32, (3, 3), 1, "VALID"), (64, (3, 3))], **kw)
    self.stem2 = Chain(64, [(80, (1, 1), 1, "VALID"), (192, (3, 3), 1, "VALID")], **kw)
    blocks, cin = [], 192
    for make in (lambda c: BlockA(c, 32, **kw), lambda c: BlockA(c, 64, **kw), lambda c: BlockA(c, 64, **kw),
                 lambda c: ReductionA(c, **kw),
                 lambda c: BlockB(c, 128, **kw), lambda c: BlockB(c, 160, **kw), lambda c: BlockB(c, 160, **kw),
                 lambda c: BlockB(c, 192, **kw)):
      blocks.append(make(cin))
      cin = blocks[-1].cout
    self.blocks17 = nnx.List(blocks)
    self.aux = AuxHead(cin, num_classes, **kw) if aux_head else None
    self.red_b = ReductionB(cin, **kw)
    cin = self.red_b.cout
    self.blocks8 = nnx.List([BlockC(cin, **kw), BlockC(2048, **kw)])
    self.head = nnx.Linear(2048, num_classes, dtype=dtype, rngs=rngs)
    self.dropout = dropout

  def __call__(self, x: jax.Array, *, train: bool = False, dropout_key: jax.Array | None = None):
    x = self.stem1(x, train)
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    x = self.stem2(x, train)
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    for block in self.blocks17:
      x = block(x, train)
    aux = self.aux(x, train) if (self.aux is not None and train) else None
    x = self.red_b(x, train)
    for block in self.blocks8:
      x = block(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = _dropout(x, self.dropout, dropout_key, train)
    logits = self.head(x).astype(jnp.float32)
    return (logits, aux) if aux is not None else logits
