"""Pieces shared by the networks: dropout with an explicit key, max pooling with a fast
gradient, and convolution as im2col."""

from __future__ import annotations

import functools

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


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
  out = -(-size // s)
  total = max((out - 1) * s + k - size, 0)
  return total // 2, total - total // 2


def _pool_pads(h: int, w: int, window, strides, padding) -> tuple[tuple[int, int], tuple[int, int]]:
  """``((top, bottom), (left, right))`` for ``padding``: "SAME", "VALID" or those pairs."""
  (kh, kw), (sh, sw) = window, strides
  if padding == "SAME":
    return _same_pads(h, kh, sh), _same_pads(w, kw, sw)
  if padding == "VALID":
    return (0, 0), (0, 0)
  if isinstance(padding, str):
    raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}.")
  return tuple(tuple(p) for p in padding)


def _window_views(x, window, strides, padding, fill: float = -jnp.inf) -> list[jax.Array]:
  """The ``kh * kw`` strided views of ``x`` padded with ``fill``, one per window offset, in
  row-major window order; element ``[n, i, j, c]`` of view ``k`` is the ``k``-th element of
  output position ``(i, j)``'s window. ``padding``: "SAME", "VALID" or ``((top, bottom),
  (left, right))``."""
  (kh, kw), (sh, sw) = window, strides
  _, h, w, _ = x.shape
  pads = _pool_pads(h, w, window, strides, padding)
  if any(any(p) for p in pads):
    x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
  oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
  return [x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :] for i in range(kh) for j in range(kw)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def max_pool(x: jax.Array, window: tuple[int, int] = (3, 3), strides: tuple[int, int] = (2, 2),
             padding: str = "SAME") -> jax.Array:
  """Max pooling of an NHWC array; the same values and gradient as ``nnx.max_pool``.

  The forward pass is the elementwise maximum of the window's strided views. The backward
  pass gives each output's gradient to the first maximum of its window in row-major order,
  which is what XLA's ``select_and_scatter`` (the gradient of ``nnx.max_pool``) does, ties
  included; but it is written as selects and pads at output resolution, interleaved once
  into the input's shape, which XLA fuses, where ``select_and_scatter`` runs about ten
  times slower than PyTorch's pooling on CPU.
  ``window`` and ``strides`` are tuples (static arguments); ``padding`` is "SAME" or "VALID".
  """
  return functools.reduce(jnp.maximum, _window_views(x, window, strides, padding))


def _max_pool_fwd(x, window, strides, padding):
  y = max_pool(x, window, strides, padding)
  return y, (x, y)


def _shifted(a: jax.Array, axis: int, shift: int, length: int) -> jax.Array:
  """``b`` with ``b[m] = a[m - shift]`` along ``axis`` for ``m < length``, zero outside ``a``."""
  config = [(0, 0, 0)] * a.ndim
  config[axis] = (shift, length - shift - a.shape[axis], 0)
  return jax.lax.pad(a, jnp.zeros((), a.dtype), config)


def _max_pool_bwd(window, strides, padding, res, g):
  x, y = res
  (kh, kw), (sh, sw) = window, strides
  _, h, w, _ = x.shape
  pad_h, pad_w = _pool_pads(h, w, window, strides, padding)
  views = _window_views(x, window, strides, padding)
  # Index of each window's first maximum in row-major order; counting down makes the
  # first match win, as in XLA's select_and_scatter (the gradient of nnx.max_pool).
  index_dtype = jnp.int8 if len(views) < 128 else jnp.int32
  first = jnp.full(y.shape, len(views), index_dtype)
  for k in reversed(range(len(views))):
    first = jnp.where(views[k] == y, jnp.asarray(k, index_dtype), first)
  zeros = jnp.zeros_like(g)
  # Padded input row R = stride * p + i receives output p's gradient through window
  # offset i. Split the padded rows (and columns) by R mod stride: within one class every
  # offset's contribution is the output-sized selected gradient shifted by a whole number
  # of rows, so the gradient is built at output resolution and interleaved once, instead
  # of padding each offset's gradient back to the input's size and adding them up.
  rows, cols = -(-(pad_h[0] + h) // sh), -(-(pad_w[0] + w) // sw)
  classes = []
  for a in range(sh):
    for b in range(sw):
      total = None
      # Window offsets in decreasing order: select_and_scatter adds the windows in
      # row-major order, so the same sums in the same order, bit for bit.
      for i in reversed(range(a, kh, sh)):
        for j in reversed(range(b, kw, sw)):
          term = jnp.where(first == i * kw + j, g, zeros)
          term = _shifted(_shifted(term, 1, i // sh, rows), 2, j // sw, cols)
          total = term if total is None else total + term
      classes.append(jnp.zeros((g.shape[0], rows, cols, g.shape[3]), g.dtype) if total is None else total)
  grid = jnp.stack(classes, axis=3).reshape(g.shape[0], rows, cols, sh, sw, g.shape[3])
  grid = grid.transpose(0, 1, 3, 2, 4, 5).reshape(g.shape[0], rows * sh, cols * sw, g.shape[3])
  return (grid[:, pad_h[0]:pad_h[0] + h, pad_w[0]:pad_w[0] + w, :],)


max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


def _patches(lhs, kh: int, kw: int, window_strides, padding):
  """``[N, OH, OW, kh*kw*C]``: the shifted, strided views of the zero-padded input, side by side."""
  return jnp.concatenate(_window_views(lhs, (kh, kw), window_strides, padding, fill=0.0), axis=-1)


def _plain(lhs, dilations, feature_group_count, dimension_numbers) -> bool:
  dilated = any(d != 1 for d in dilations[0] or ()) or any(d != 1 for d in dilations[1] or ())
  return not dilated and feature_group_count == 1 and lhs.ndim == 4 and _is_nhwc_hwio(dimension_numbers)


def im2col_conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                feature_group_count=1, precision=None, **kwargs):
  """``lax.conv_general_dilated`` for NHWC inputs and HWIO kernels as one matrix product.

  The ``kh * kw`` shifted (and strided) views of the padded input are concatenated along
  channels into ``[N, OH, OW, kh*kw*C]`` and multiplied by the kernel reshaped to
  ``[kh*kw*C, O]``; a 1x1 convolution is a plain matrix product. The backward pass is then
  matrix products and slice-adds. Same arguments and result as ``lax.conv_general_dilated``
  (pass it to ``nnx.Conv(conv_general_dilated=...)``: parameters and initialisation are
  unchanged); dilations and grouped convolutions fall back to XLA's convolution.
  """
  if not _plain(lhs, (lhs_dilation, rhs_dilation), feature_group_count, dimension_numbers):
    return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision, **kwargs)
  kh, kw, cin, cout = rhs.shape
  cols = _patches(lhs, kh, kw, tuple(window_strides), padding)
  return jnp.einsum("nhwk,ko->nhwo", cols, rhs.reshape(kh * kw * cin, cout), precision=precision,
                    preferred_element_type=kwargs.get("preferred_element_type"))


def _is_nhwc_hwio(dimension_numbers) -> bool:
  if dimension_numbers is None:
    return False  # lax's default is NCHW/OIHW
  if isinstance(dimension_numbers, tuple) and all(isinstance(d, str) for d in dimension_numbers):
    return dimension_numbers == ("NHWC", "HWIO", "NHWC")
  lhs, rhs, out = dimension_numbers  # ConvDimensionNumbers of index tuples
  return tuple(lhs) == (0, 3, 1, 2) and tuple(rhs) == (3, 2, 0, 1) and tuple(out) == (0, 3, 1, 2)


CONV_IMPLS = ("xla", "im2col")


def conv_fn(conv_impl: str):
  """The ``conv_general_dilated`` for ``nnx.Conv``: XLA's convolution or :func:`im2col_conv`."""
  if conv_impl not in CONV_IMPLS:
    raise ValueError(f"conv_impl must be one of {CONV_IMPLS}, got {conv_impl!r}.")
  return {"xla": jax.lax.conv_general_dilated, "im2col": im2col_conv}[conv_impl]

